r"""The width-sweep experiment of 01_nonlinearity: random features and least squares.

A one-hidden-layer network :math:`x \mapsto W_2^\top \sigma(W_1 x + b_1)` on an interval
is fitted as a *random-feature* model: ``W1`` and ``b1`` are drawn once and frozen, and
only the output weights ``W2`` are fitted, by linear least squares. Fitting is then exact
and fast, so the sup error against the width ``m`` shows what the architecture can
express, not how well an optimiser trains it.

The random features. Hidden unit j computes :math:`\sigma(w_j (x - c_j))` with

* a *knot* :math:`c_j`, the point where the unit's pre-activation is 0 (ReLU's kink,
  sigmoid's midpoint), spread at random over the interval: one knot uniform in each of m
  equal cells (see ``random_features``);
* a slope :math:`w_j \sim N(0, s^2)`; the default ``scale`` s = 4 on [-pi, pi] gives
  transitions of width about 1/4, narrow enough to resolve sin(3x) and the kink of |x|,
  broad enough that widths of a few hundred cover the interval.

In the note's notation this is ``W1[j] = w_j`` and ``b1[j] = -w_j c_j``.

The experiment calls the learner's own ``hidden_features``, ``fit_output_layer`` and
``sup_error`` (passed in as arguments), so the curves are computed with their code. No
reference is imported: this module is part of the student install.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "TARGETS",
    "WIDTHS",
    "SweepResult",
    "decay_exponents",
    "forward_stack",
    "grids",
    "polynomial_gaps",
    "polynomial_baseline",
    "random_features",
    "run_width_sweeps",
    "width_sweep",
]

Array = np.ndarray
Fn = Callable[[Array], Array]

#: The activations of the experiment: three non-polynomials and two polynomials.
ACTIVATIONS: dict[str, Fn] = {
    "sigmoid": lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),  # 1/(1+e^-z), without overflow
    "tanh": np.tanh,
    "ReLU": lambda z: np.maximum(z, 0.0),
    "z²": np.square,
    "z³": lambda z: z * z * z,
}

#: Degree of the polynomial activations (the others are absent).
POLY_DEGREE = {"z²": 2, "z³": 3}

#: The targets of the experiment, functions of a (N,) grid.
TARGETS: dict[str, Fn] = {
    "|x|": np.abs,
    "sin(3x)": lambda x: np.sin(3.0 * x),
}

DOMAIN = (-np.pi, np.pi)

#: Defaults of the sweep, read when ``run_width_sweeps`` is called (tests shrink them).
#: Widths 2, 4, ..., 1024 with a fit grid of 2048 points: the least-squares problem stays
#: overdetermined, and the notebook stays within its 30-s budget (one lstsq of a
#: 2048 x 1024 matrix costs about 0.3 s on 2 cores; widths of a few thousand would need
#: a fit grid of several thousand points and cost seconds per fit).
WIDTHS = tuple(2**k for k in range(1, 11))
SEEDS = (0, 1, 2)
N_FIT = 2048
N_EVAL = 4001


def grids(n_fit: int = 2048, n_eval: int = 4001, domain: tuple[float, float] = DOMAIN
          ) -> tuple[Array, Array]:
    """The fit grid and the (finer, offset) evaluation grid, both of shape (N, 1).

    The evaluation grid is uniform with an odd number of points, so it contains the midpoint
    (0 on [-pi, pi], the kink of |x|), and most of its points lie between fit points: the
    sup error measures the network between the points it was fitted on.
    """
    lo, hi = domain
    x_fit = np.linspace(lo, hi, n_fit)[:, None]
    x_eval = np.linspace(lo, hi, n_eval)[:, None]
    return x_fit, x_eval


def random_features(m: int, rng: np.random.Generator, *, d: int = 1, scale: float = 4.0,
                    domain: tuple[float, float] = DOMAIN) -> tuple[Array, Array]:
    r"""Random hidden-layer weights ``W1`` (m, d) and biases ``b1`` (m,).

    ``W1 ~ N(0, scale^2)`` and ``b1[j] = -W1[j] @ c_j``, so that unit j's pre-activation
    crosses 0 at its knot ``c_j``, inside the domain. For d = 1 the knots are *stratified*:
    the domain is cut into m equal cells and each holds one knot, uniform within it (a
    jittered grid). Independent uniform knots would put pairs of knots a tiny distance
    apart; least squares then combines such a pair into a near-jump that fits the grid
    points and spikes between them (ReLU shows it first). For d > 1 the knots are uniform.
    """
    if m < 1:
        raise ValueError(f"random_features: the width m must be at least 1, got {m}.")
    lo, hi = domain
    W1 = scale * rng.standard_normal((m, d))
    if d == 1:
        knots = (lo + (np.arange(m) + rng.uniform(size=m)) * (hi - lo) / m)[:, None]
    else:
        knots = rng.uniform(lo, hi, size=(m, d))
    b1 = -np.sum(W1 * knots, axis=1)
    return W1, b1


def forward_stack(x: Array, weights: Sequence[Array], biases: Sequence[Array],
                  sigma: Fn | None = None) -> Array:
    """Run a stack of affine layers layer by layer on a batch x (N, n_0) -> (N, n_L).

    ``sigma`` (if given) is applied after every layer but the last, as in an MLP with a
    linear output layer; ``sigma=None`` gives the stack without activation.
    """
    h = x
    for layer, (W, b) in enumerate(zip(weights, biases, strict=True)):
        h = h @ W.T + b
        if sigma is not None and layer < len(weights) - 1:
            h = sigma(h)
    return h


def polynomial_baseline(target: Fn, degree: int, x_fit: Array, x_eval: Array) -> float:
    """Sup error on ``x_eval`` of the least-squares polynomial of ``degree`` fitted on ``x_fit``.

    The direct fit the polynomial networks are compared with: a network with sigma = z^k
    computes a polynomial of degree <= k in x, so on the same fit grid its least-squares
    fit can at best equal this one. (``Polynomial.fit`` maps the grid to [-1, 1] first,
    which keeps the Vandermonde matrix well conditioned.)
    """
    x_fit, x_eval = np.ravel(x_fit), np.ravel(x_eval)
    poly = np.polynomial.Polynomial.fit(x_fit, target(x_fit), degree)
    return float(np.max(np.abs(poly(x_eval) - target(x_eval))))


def width_sweep(targets: Mapping[str, Fn], sigma: Fn, widths: Sequence[int],
                seeds: Sequence[int], *, hidden_features: Callable, fit_output_layer: Callable,
                sup_error: Callable, x_fit: Array, x_eval: Array, scale: float = 4.0,
                domain: tuple[float, float] = DOMAIN, progress: Callable | None = None,
                ) -> dict[str, Array]:
    """Sup error of the least-squares random-feature network, per target, width and seed.

    For each seed and width m: draw ``W1, b1 = random_features(m, rng)`` with a generator
    seeded by ``(seed, m)``, compute ``H = hidden_features(x_fit, W1, b1, sigma)``, fit the
    output weights of all targets at once, ``W2 = fit_output_layer(H, Y)`` with ``Y`` of
    shape (N, T) (one least-squares solve serves every target), and measure ``sup_error``
    of each target's network on ``x_eval``. The three functions are the learner's.

    Returns
    -------
    dict target name -> ndarray (len(widths), len(seeds)) of sup errors.
    """
    names = list(targets)
    Y = np.stack([targets[t](x_fit[:, 0]) for t in names], axis=1)
    errors = {t: np.empty((len(widths), len(seeds))) for t in names}
    for i, m in enumerate(widths):
        for k, seed in enumerate(seeds):
            rng = np.random.default_rng([seed, m])
            W1, b1 = random_features(m, rng, d=x_fit.shape[1], scale=scale, domain=domain)
            W2 = fit_output_layer(hidden_features(x_fit, W1, b1, sigma), Y)
            H_eval = hidden_features(x_eval, W1, b1, sigma)
            for col, t in enumerate(names):
                prediction = H_eval @ W2[:, col]
                errors[t][i, k] = sup_error(lambda x, p=prediction: p,
                                            lambda x, t=t: targets[t](x[:, 0]), x_eval)
            if progress is not None:
                progress()
    return errors


@dataclass
class SweepResult:
    """Sup errors of every (target, activation) pair, and the polynomial baselines."""

    widths: Array
    seeds: Array
    errors: dict[tuple[str, str], Array] = field(default_factory=dict)
    baselines: dict[tuple[str, int], float] = field(default_factory=dict)

    def summary(self) -> str:
        """One line per (target, activation): the median sup error at the smallest and
        largest width, and the polynomial baseline of the polynomial activations."""
        lines = []
        for (target, act), err in self.errors.items():
            med = np.median(err, axis=1)
            line = (f"{target:8s} {act:8s} m = {self.widths[0]:<4d} {med[0]:.2e}   "
                    f"m = {self.widths[-1]:<4d} {med[-1]:.2e}")
            if act in POLY_DEGREE:
                line += (f"   least-squares polynomial of degree {POLY_DEGREE[act]}: "
                         f"{self.baselines[(target, POLY_DEGREE[act])]:.2e}")
            lines.append(line)
        return "\n".join(lines)


def run_width_sweeps(*, hidden_features: Callable, fit_output_layer: Callable,
                     sup_error: Callable, widths: Sequence[int] | None = None,
                     seeds: Sequence[int] | None = None, targets: Mapping[str, Fn] | None = None,
                     activations: Mapping[str, Fn] | None = None, n_fit: int | None = None,
                     n_eval: int | None = None, scale: float = 4.0, progress: bool = True,
                     ) -> SweepResult:
    """Every activation on every target, with a progress bar; see ``width_sweep``.

    BLAS runs on one thread during the sweep (see ``_one_blas_thread``).

    The default fit grid has twice as many points as the widest network, so that the
    least-squares problem stays overdetermined and the network is judged between the
    points it was fitted on.
    """
    widths = WIDTHS if widths is None else widths
    seeds = SEEDS if seeds is None else seeds
    targets = TARGETS if targets is None else targets
    activations = ACTIVATIONS if activations is None else activations
    x_fit, x_eval = grids(N_FIT if n_fit is None else n_fit, N_EVAL if n_eval is None else n_eval)
    result = SweepResult(widths=np.asarray(widths), seeds=np.asarray(seeds))
    for tname, target in targets.items():
        for degree in sorted(set(POLY_DEGREE.values())):
            result.baselines[(tname, degree)] = polynomial_baseline(target, degree, x_fit, x_eval)
    bar = _progress_bar(len(activations) * len(widths) * len(seeds)) if progress else None
    try:
        with _one_blas_thread():
            for aname, sigma in activations.items():
                if bar is not None:
                    bar.set_description(f"sigma = {aname}")
                errors = width_sweep(
                    targets, sigma, widths, seeds, hidden_features=hidden_features,
                    fit_output_layer=fit_output_layer, sup_error=sup_error, x_fit=x_fit,
                    x_eval=x_eval, scale=scale,
                    progress=None if bar is None else lambda: bar.update(1))
                for tname in targets:
                    result.errors[(tname, aname)] = errors[tname]
    finally:
        if bar is not None:
            bar.close()
    return result


def decay_exponents(result: SweepResult, target: str, activation: str, *,
                    min_width: int = 16) -> list[float]:
    r"""The exponent k of a power law error ~ m^k, fitted per seed over widths >= min_width.

    A least-squares line through (log m, log error): k = -2 means the error falls by 4
    when the width doubles. One exponent per seed, in the order of ``result.seeds``.
    """
    widths = np.asarray(result.widths)
    keep = widths >= min_width
    errors = result.errors[(target, activation)][keep]
    return [float(np.polyfit(np.log(widths[keep]), np.log(errors[:, k]), 1)[0])
            for k in range(errors.shape[1])]


def polynomial_gaps(result: SweepResult, min_width: int = 8) -> dict[tuple[str, str], float]:
    """For each polynomial activation: the largest relative gap, over widths >= ``min_width``
    and all seeds, between the network's sup error and the direct least-squares polynomial's.

    0 up to rounding means the polynomial network lands exactly on the polynomial fit. (Below
    k + 1 units a z^k network cannot span all polynomials of degree k, hence ``min_width``.)
    """
    gaps = {}
    keep = np.asarray(result.widths) >= min_width
    for (target, act), err in result.errors.items():
        if act in POLY_DEGREE:
            base = result.baselines[(target, POLY_DEGREE[act])]
            gaps[(target, act)] = float(np.max(np.abs(err[keep] - base)) / base)
    return gaps


def _one_blas_thread():
    """Limit BLAS to one thread for the sweep, where threadpoolctl is installed.

    The least-squares problems are small (at most 2048 x 1024). On a machine whose cores
    are busy (an autograder running several notebooks at once), a multi-threaded OpenBLAS
    spins and waits: one lstsq of 2048 x 1024 took 3.0 s with two threads and 0.47 s with
    one, and the whole notebook 2 min 37 s against 13 s. On idle cores one thread costs at
    most a factor 2 on this part.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # not a pinned package: without it, the sweep runs as it is
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _progress_bar(total: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="fit", desc="width sweep")
