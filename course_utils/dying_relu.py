r"""Dying ReLU, measured: the fraction of hidden units that output zero on a whole dataset.

A ReLU unit whose pre-activation is negative on every example outputs 0 everywhere and,
since ReLU'(z) = 0 for z < 0, receives no gradient: nothing can bring it back. This module
trains a one-hidden-layer ReLU network on scikit-learn's bundled digits (1797 images of
8 x 8 pixels, shipped with the package: no download) with plain mini-batch SGD in NumPy,
and measures the dead fraction before and after training. A learning rate that is too large,
or a badly chosen initial bias, kills most units.

Shapes: ``N`` examples, ``d`` = 64 inputs, ``m`` hidden units, ``D`` = 10 classes; a batch is
one example per row, ``W1`` has shape ``(m, d)`` and a layer computes ``x @ W1.T + b1``.

Example
-------
>>> results = dying_relu_experiment(progress=False)
>>> [(r.label, r.dead_before, r.dead_after) for r in results]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from course_utils.data import load_digits_arrays
from course_utils.units import relu as _relu
from course_utils.units import relu_grad as _relu_grad

__all__ = [
    "DEFAULT_SETTINGS",
    "FAILURE_SETTINGS",
    "DyingReluResult",
    "FixResult",
    "Unit",
    "fixes_experiment",
    "fixes_table",
    "MLPParams",
    "Setting",
    "accuracy",
    "dead_fraction",
    "dying_relu_experiment",
    "format_results",
    "hidden_activations",
    "init_mlp",
    "load_digits_pixels",
    "train_mlp",
]


def load_digits_pixels() -> tuple[np.ndarray, np.ndarray]:
    r"""The digits (``course_utils.data``), pixels scaled to [0, 1].

    Returns
    -------
    X : ndarray, shape (1797, 64), float64 in [0, 1] (pixel intensity / 16)
    y : ndarray, shape (1797,), int64, the digit 0-9
    """
    X, y = load_digits_arrays()
    return X / 16.0, y


@dataclass
class MLPParams:
    """Weights of the network ``x -> W2 relu(W1 x + b1) + b2`` (arrays of float64)."""

    W1: np.ndarray  # (m, d)
    b1: np.ndarray  # (m,)
    W2: np.ndarray  # (D, m)
    b2: np.ndarray  # (D,)

    def copy(self) -> MLPParams:
        return MLPParams(self.W1.copy(), self.b1.copy(), self.W2.copy(), self.b2.copy())


def init_mlp(d: int, m: int, D: int, rng: np.random.Generator, bias: float = 0.0) -> MLPParams:
    r"""He-normal hidden weights, the hidden biases all set to ``bias``.

    Parameters
    ----------
    d, m, D : int, input size, hidden width, number of classes
    rng : numpy.random.Generator
    bias : float, default 0.0, initial value of every hidden bias (a very negative one
        starts units dead)
    """
    for name, value in (("d", d), ("m", m), ("D", D)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"init_mlp: {name} must be a positive integer, got {value!r}.")
    W1 = rng.normal(0.0, np.sqrt(2.0 / d), size=(m, d))
    W2 = rng.normal(0.0, np.sqrt(1.0 / m), size=(D, m))
    return MLPParams(W1, np.full(m, float(bias)), W2, np.zeros(D))


def hidden_activations(params: MLPParams, X: np.ndarray,
                       relu: Callable[[np.ndarray], np.ndarray] = _relu) -> np.ndarray:
    """The hidden layer ``relu(X @ W1.T + b1)``, shape (N, m)."""
    return np.asarray(relu(X @ params.W1.T + params.b1))


def dead_fraction(H: np.ndarray) -> float:
    r"""Fraction of units (columns of ``H``) that are zero on every example (row).

    Parameters
    ----------
    H : ndarray, shape (N, m), the hidden activations on a whole data set

    Returns
    -------
    float in [0, 1]
    """
    H = np.asarray(H)
    if H.ndim != 2 or H.shape[0] == 0 or H.shape[1] == 0:
        raise ValueError(f"dead_fraction: expected a non-empty (N, m) array, got shape {H.shape}.")
    return float(np.mean(np.all(H == 0, axis=0)))


def accuracy(params: MLPParams, X: np.ndarray, y: np.ndarray,
             relu: Callable[[np.ndarray], np.ndarray] = _relu) -> float:
    """Fraction of examples whose largest output is the true class."""
    scores = hidden_activations(params, X, relu) @ params.W2.T + params.b2
    return float(np.mean(np.argmax(scores, axis=1) == y))


def train_mlp(params: MLPParams, X: np.ndarray, y: np.ndarray, *, lr: float, epochs: int = 5,
              batch_size: int = 32, rng: np.random.Generator,
              relu: Callable[[np.ndarray], np.ndarray] = _relu,
              relu_grad: Callable[[np.ndarray], np.ndarray] = _relu_grad,
              progress: bool = True, desc: str = "training") -> MLPParams:
    r"""Mini-batch SGD on the softmax cross-entropy; returns trained copies of the weights.

    Parameters
    ----------
    params : MLPParams, the initial weights (left unchanged)
    X : ndarray, shape (N, d); y : ndarray, shape (N,), int labels in [0, D)
    lr : float, the learning rate
    epochs, batch_size : int
    rng : numpy.random.Generator, shuffles the examples each epoch
    relu, relu_grad : the activation and its derivative (the learner's may be passed)
    progress : bool, show a tqdm progress bar over the mini-batches
    """
    if not lr > 0:
        raise ValueError(f"train_mlp: lr must be positive, got {lr!r}.")
    p = params.copy()
    # Underflow of exp (a probability of exactly 0) is harmless; overflow is not hidden.
    with np.errstate(under="ignore"):
        _sgd(p, X, y, lr=lr, epochs=epochs, batch_size=batch_size, rng=rng, act=relu,
             act_grad=relu_grad, progress=progress, desc=desc)
    return p


def _sgd(p: MLPParams, X: np.ndarray, y: np.ndarray, *, lr: float, epochs: int,
         batch_size: int, rng: np.random.Generator, act: Callable, act_grad: Callable,
         slope_grad: Callable | None = None, a: float | None = None, progress: bool = False,
         desc: str = "training") -> tuple[float | None, bool]:
    r"""Mini-batch SGD on the softmax cross-entropy, updating ``p`` in place.

    ``act(z)``, ``act_grad(z)``; with ``slope_grad`` they are called as ``act(z, a)`` and
    ``act_grad(z, a)``, and the slope ``a`` is learned too, from ``slope_grad(z, a,
    upstream)`` = dL/da. Returns the final slope (None without one) and whether training
    diverged (W1 or the slope left the finite floats; training stops there).
    """
    N, D = X.shape[0], p.W2.shape[0]
    onehot = np.eye(D)[y]
    steps = [(epoch, start) for epoch in range(epochs) for start in range(0, N, batch_size)]
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=desc, leave=False)
    order = None
    for _epoch, start in steps:
        if start == 0:
            order = rng.permutation(N)
        idx = order[start:start + batch_size]
        xb, yb = X[idx], onehot[idx]
        z = xb @ p.W1.T + p.b1
        h = np.asarray(act(z) if slope_grad is None else act(z, a))
        scores = h @ p.W2.T + p.b2
        scores = scores - scores.max(axis=1, keepdims=True)
        prob = np.exp(scores)
        prob /= prob.sum(axis=1, keepdims=True)
        g_scores = (prob - yb) / len(idx)             # dL/dscores, (B, D)
        g_h = g_scores @ p.W2                          # dL/dh, (B, m)
        g_z = g_h * np.asarray(act_grad(z) if slope_grad is None else act_grad(z, a))
        if slope_grad is not None:
            a = a - lr * float(slope_grad(z, a, g_h))
        p.W2 -= lr * (g_scores.T @ h)
        p.b2 -= lr * g_scores.sum(axis=0)
        p.W1 -= lr * (g_z.T @ xb)
        p.b1 -= lr * g_z.sum(axis=0)
        if not (np.isfinite(p.W1).all() and (a is None or np.isfinite(a))):
            return a, True
    return a, False


@dataclass(frozen=True)
class Setting:
    """One training run of the experiment: a label, the learning rate, the initial bias."""

    label: str
    lr: float
    bias: float = 0.0


@dataclass(frozen=True)
class DyingReluResult:
    """Dead fractions before and after training, and the final training accuracy."""

    label: str
    lr: float
    bias: float
    dead_before: float
    dead_after: float
    accuracy: float


DEFAULT_SETTINGS: tuple[Setting, ...] = (
    Setting("good: lr = 0.1, bias 0", lr=0.1),
    Setting("lr too large: lr = 2", lr=2.0),
    Setting("bad bias: lr = 0.1, bias -1", lr=0.1, bias=-1.0),
    Setting("bad bias: lr = 0.1, bias -2", lr=0.1, bias=-2.0),
)


def dying_relu_experiment(settings: Sequence[Setting] = DEFAULT_SETTINGS, *, hidden: int = 64,
                          epochs: int = 5, batch_size: int = 32, seed: int = 0,
                          relu: Callable[[np.ndarray], np.ndarray] = _relu,
                          relu_grad: Callable[[np.ndarray], np.ndarray] = _relu_grad,
                          progress: bool = True) -> list[DyingReluResult]:
    r"""Train one network per setting on the digits; measure the dead fraction before and after.

    Every setting starts from the same weights (seed ``seed``) except for the hidden bias,
    and sees the same order of mini-batches, so the settings differ only in what they name.

    Returns
    -------
    list of DyingReluResult, one per setting, in order
    """
    X, y = load_digits_pixels()
    results = []
    for setting in settings:
        rng = np.random.default_rng(seed)
        params = init_mlp(X.shape[1], hidden, int(y.max()) + 1, rng, bias=setting.bias)
        before = dead_fraction(hidden_activations(params, X, relu))
        trained = train_mlp(params, X, y, lr=setting.lr, epochs=epochs, batch_size=batch_size,
                            rng=rng, relu=relu, relu_grad=relu_grad, progress=progress,
                            desc=setting.label)
        results.append(DyingReluResult(
            setting.label, setting.lr, setting.bias, before,
            dead_fraction(hidden_activations(trained, X, relu)), accuracy(trained, X, y, relu)))
    return results


def format_results(results: Sequence[DyingReluResult]) -> str:
    """A plain-text table: setting, dead before, dead after, training accuracy."""
    width = max([len("setting")] + [len(r.label) for r in results])
    lines = [f"{'setting':<{width}}  dead before  dead after  accuracy"]
    for r in results:
        lines.append(f"{r.label:<{width}}  {r.dead_before:>11.1%}  {r.dead_after:>10.1%}"
                     f"  {r.accuracy:>8.1%}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# The fixes: the same two failures with units that keep a gradient for z < 0

#: The two ways section 3 kills ReLU units, as the fixes experiment replays them.
FAILURE_SETTINGS: tuple[Setting, ...] = (
    Setting("lr too large: lr = 2", lr=2.0),
    Setting("bad bias: lr = 0.1, bias -2", lr=0.1, bias=-2.0),
)


@dataclass(frozen=True)
class Unit:
    r"""A hidden unit for the fixes experiment: ``sigma(z)``, ``sigma_grad(z)``; with
    ``slope_grad`` a PReLU, called as ``sigma(z, a)``, whose one slope ``a`` (from ``a0``)
    is learned by SGD from ``slope_grad(z, a, upstream)`` = dL/da."""

    label: str
    sigma: Callable
    sigma_grad: Callable
    slope_grad: Callable | None = None
    a0: float = 0.25


@dataclass(frozen=True)
class FixResult:
    """One unit, setting and seed: the units negative on every example (for ReLU: dead)
    before and after training, the training accuracy, the learned slope (PReLU), and
    whether training diverged (a weight or the slope left the finite floats)."""

    unit: str
    setting: str
    seed: int
    negative_before: float
    negative_after: float
    accuracy: float
    slope: float | None
    diverged: bool


def _negative_fraction(Z: np.ndarray) -> float:
    """Fraction of units (columns) whose pre-activation is < 0 on every example (row)."""
    return float(np.mean(np.all(Z < 0, axis=0)))


def _train_unit(unit: Unit, setting: Setting, seed: int, *, hidden: int, epochs: int,
                batch_size: int, X: np.ndarray, y: np.ndarray) -> FixResult:
    """``train_mlp``'s run with ``unit`` in the hidden layer (and its slope, for PReLU)."""
    rng = np.random.default_rng(seed)
    p = init_mlp(X.shape[1], hidden, int(y.max()) + 1, rng, bias=setting.bias)
    a0 = unit.a0 if unit.slope_grad is not None else None
    before = _negative_fraction(X @ p.W1.T + p.b1)
    # A diverging run overflows on purpose here: it is recorded, not hidden, and not raised.
    with np.errstate(under="ignore", over="ignore", invalid="ignore"):
        a, diverged = _sgd(p, X, y, lr=setting.lr, epochs=epochs, batch_size=batch_size,
                           rng=rng, act=unit.sigma, act_grad=unit.sigma_grad,
                           slope_grad=unit.slope_grad, a=a0)
        if diverged:
            return FixResult(unit.label, setting.label, seed, before, float("nan"),
                             float("nan"), a, True)
        Z = X @ p.W1.T + p.b1
        H = np.asarray(unit.sigma(Z) if a is None else unit.sigma(Z, a))
        acc = float(np.mean(np.argmax(H @ p.W2.T + p.b2, axis=1) == y))
    return FixResult(unit.label, setting.label, seed, before, _negative_fraction(Z), acc, a,
                     False)


def fixes_experiment(units: Sequence[Unit], settings: Sequence[Setting] = FAILURE_SETTINGS,
                     seeds: Sequence[int] = (0, 1, 2), *, hidden: int = 64, epochs: int = 5,
                     batch_size: int = 32, progress: bool = True) -> list[FixResult]:
    r"""Each unit in each failure setting, over ``seeds``, on the digits.

    For a unit, setting and seed: the same initial weights and mini-batch order as ReLU's
    run (``dying_relu_experiment``'s protocol), so the units differ only in the unit.

    Returns
    -------
    list of FixResult, unit by unit, then setting, then seed
    """
    X, y = load_digits_pixels()
    runs = [(u, s, seed) for u in units for s in settings for seed in seeds]
    if progress:
        from tqdm.auto import tqdm

        runs = tqdm(runs, desc="units x settings x seeds", leave=False)
    return [_train_unit(u, s, seed, hidden=hidden, epochs=epochs, batch_size=batch_size,
                        X=X, y=y) for u, s, seed in runs]


def fixes_table(results: Sequence[FixResult]) -> str:
    """Per unit and setting: the range over seeds of the units negative on every example
    after training, and of the training accuracy ('diverged' where a run did)."""
    groups: dict[tuple[str, str], list[FixResult]] = {}
    for r in results:
        groups.setdefault((r.unit, r.setting), []).append(r)
    width = max([len("unit")] + [len(u) for u, _ in groups])
    swidth = max([len("setting")] + [len(s) for _, s in groups])
    lines = [f"{'unit':<{width}}  {'setting':<{swidth}}  z < 0 everywhere   accuracy"]

    def span(values, fmt):
        return f"{fmt(min(values))} to {fmt(max(values))}"

    for (unit, setting), rows in groups.items():
        if any(r.diverged for r in rows):
            text = f"diverged in {sum(r.diverged for r in rows)} of {len(rows)} seeds"
        else:
            text = (f"{span([r.negative_after for r in rows], lambda v: f'{v:.0%}'):>16}"
                    f"   {span([r.accuracy for r in rows], lambda v: f'{v:.0%}')}")
        lines.append(f"{unit:<{width}}  {setting:<{swidth}}  {text}")
    return "\n".join(lines)
