r"""The experiments of 04_numerical_stability: vanishing and exploding gradients, and the remedies.

The notebook's learner writes ``mlp_forward``, ``mlp_backward`` and ``layer_gradient_norms``;
the grid of activation x initialisation is computed with the learner's own
``layer_gradient_norms`` (passed in). The remedies need a network the graded functions do not
cover (pre-activations normalised per example, half precision), so this module has its own
small engine, ``forward_backward``, tested against ``torch.autograd``.

Every experiment draws from ``np.random.default_rng(seed)`` in the order
``layer_gradient_norms`` documents: the weights ``init(width, width, rng)`` layer by layer,
then the batch ``x = rng.standard_normal((32, width))``, with ``dL/dy = ones / 32``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from course_utils.units import ACTIVATIONS

try:  # a progress bar for the longer loops; plain iteration without tqdm
    from tqdm.auto import tqdm
except ImportError:  # pragma: no cover
    def tqdm(iterable, **_):
        return iterable

__all__ = [
    "ACTIVATIONS",
    "BAND",
    "BATCH",
    "INITS",
    "clip_by_global_norm",
    "float16_gradient_norms",
    "float_limits",
    "forward_backward",
    "gradient_norm_grid",
    "grid_summary",
    "growth_per_layer",
    "in_band",
    "jacobian_singular_values",
    "loss_scale_sweep",
    "make_network",
    "normal_init",
    "remedy_norms",
    "singular_value_summary",
]

#: Batch size of every experiment (as in ``layer_gradient_norms``).
BATCH = 32

#: Per-layer gradient norms inside this band count as healthy in the remedies experiment.
BAND = (1e-3, 1e3)




def normal_init(fan_in, fan_out, rng):
    """W ~ N(0, 1) entrywise, shape (fan_out, fan_in): the naive initialisation."""
    return rng.standard_normal((fan_out, fan_in))


def _xavier(fan_in, fan_out, rng):
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_out, fan_in))


def _he(fan_in, fan_out, rng):
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_out, fan_in))


#: name -> init(fan_in, fan_out, rng), the three initialisations of the experiments.
INITS: dict[str, Callable] = {"N(0,1)": normal_init, "Xavier": _xavier, "He": _he}


def float_limits(dtypes: Iterable = (np.float16, np.float32, np.float64)) -> list[dict]:
    """One row per dtype: bits, eps, smallest subnormal and normal, largest, exp overflow.

    ``exp_overflow`` is log(max): exp(z) is inf for z above it (about 11.09, 88.72, 709.78).
    """
    rows = []
    for dtype in dtypes:
        info = np.finfo(dtype)
        rows.append({
            "dtype": np.dtype(dtype).name,
            "bits": info.bits,
            "eps": float(info.eps),
            "smallest_subnormal": float(info.smallest_subnormal),
            "smallest_normal": float(info.smallest_normal),
            "max": float(info.max),
            "exp_overflow": float(np.log(np.float64(info.max))),
        })
    return rows


def make_network(depth, width, init, seed, batch=BATCH):
    """(weights, x, dL_dy) drawn as ``layer_gradient_norms`` documents, float64."""
    rng = np.random.default_rng(seed)
    weights = [init(width, width, rng) for _ in range(depth)]
    x = rng.standard_normal((batch, width))
    return weights, x, np.ones((batch, width)) / batch


def _matmul(a, b):
    """a @ b; float16 operands are multiplied with float32 accumulation and rounded back to
    float16, as GPU tensor cores do (and far faster than NumPy's float16 matmul)."""
    if a.dtype == np.float16 and b.dtype == np.float16:
        return (a.astype(np.float32) @ b.astype(np.float32)).astype(np.float16)
    return a @ b


def _forward(x, weights, sigma, normalize, eps, layer_norm=None):
    activations, pre, scales = [x], [], []
    a = x
    for W in weights:
        z = _matmul(a, W.T)
        if layer_norm is not None:   # the learner's: gamma = 1, beta = 0
            ones = np.ones(z.shape[1], dtype=z.dtype)
            z, ln_cache = layer_norm[0](z, ones, np.zeros_like(ones), eps=eps)
            scales.append(ln_cache)
        elif normalize:
            scale = np.sqrt(z.var(axis=1, keepdims=True) + eps).astype(z.dtype)
            z = (z - z.mean(axis=1, keepdims=True)) / scale
            scales.append(scale)
        a = sigma(z)
        pre.append(z)
        activations.append(a)
    return activations, pre, scales


def _backward(cache, weights, sigma_grad, dL_dy, normalize, layer_norm=None):
    activations, pre, scales = cache
    upstream = dL_dy
    grads = [None] * len(weights)
    for layer in reversed(range(len(weights))):
        delta = sigma_grad(pre[layer]) * upstream
        if layer_norm is not None:
            delta = layer_norm[1](scales[layer], delta)[0]
        elif normalize:
            zl = pre[layer]
            delta = (delta - delta.mean(axis=1, keepdims=True)
                     - zl * (delta * zl).mean(axis=1, keepdims=True)) / scales[layer]
        grads[layer] = _matmul(delta.T, activations[layer])
        upstream = _matmul(delta, weights[layer])
    return grads, upstream


def forward_backward(x, weights, sigma, sigma_grad, dL_dy, *, normalize=False, eps=1e-5,
                     layer_norm=None):
    r"""Per-layer weight gradients of the note's MLP, optionally normalising pre-activations.

    Plain:       z^(l) = a^(l-1) W^(l)T,                     a^(l) = sigma(z^(l))
    normalize:   u^(l) = a^(l-1) W^(l)T,  z^(l) = (u - mean(u)) / sqrt(var(u) + eps),
                 mean and variance over each example's n_l units (layer normalisation
                 without a learned scale and shift), then a^(l) = sigma(z^(l)).

    ``layer_norm = (layer_norm_forward, layer_norm_backward)``, 04's graded pair, does the
    normalisation instead (with gamma = 1, beta = 0 and this ``eps``): the same formulas.

    Computes in the dtype of ``x`` and ``weights``; float16 stays float16 (matrix products
    accumulate in float32, as on a GPU). Floating-point exceptions are silenced: the
    experiments want to see the inf, nan and 0.

    Returns
    -------
    grads : list of L arrays, dL/dW^(l) with the weights' shapes.
    dL_dx : ndarray (N, n_0).
    """
    with np.errstate(all="ignore"):
        cache = _forward(x, weights, sigma, normalize, eps, layer_norm)
        return _backward(cache, weights, sigma_grad, dL_dy, normalize, layer_norm)


def _norms(grads) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.array([np.linalg.norm(np.asarray(g, dtype=np.float64)) for g in grads])


def gradient_norm_grid(layer_gradient_norms, *, depth=50, width=64, seed=0,
                       activations=("sigmoid", "tanh", "relu"),
                       inits=("N(0,1)", "Xavier", "He")) -> dict[tuple[str, str], np.ndarray]:
    """{(activation, init): norms (depth,)} computed by the given ``layer_gradient_norms``.

    Every pair uses a fresh ``np.random.default_rng(seed)``, so the pairs differ only in
    sigma and init.
    """
    grid = {}
    pairs = [(act, init) for act in activations for init in inits]
    for act, init in tqdm(pairs, desc="activation x init", leave=False):
        sigma, sigma_grad = ACTIVATIONS[act]
        grid[act, init] = np.asarray(layer_gradient_norms(
            depth, width, sigma, sigma_grad, INITS[init], np.random.default_rng(seed)))
    return grid


def growth_per_layer(norms) -> float:
    r"""The factor by which a gradient norm grows per layer on its way to the input.

        (||dL/dW^(1)|| / ||dL/dW^(L)||) ** (1 / (L - 1))

    The geometric mean of the L - 1 layer-to-layer ratios: above 1 the gradient explodes
    towards the input, below 1 it vanishes. ``norms`` is (L,), layer 1 first.
    """
    norms = np.asarray(norms, dtype=np.float64)
    if norms.ndim != 1 or norms.size < 2:
        raise ValueError(f"growth_per_layer: need the norms of at least 2 layers, got shape "
                         f"{norms.shape}.")
    with np.errstate(all="ignore"):
        return float((norms[0] / norms[-1]) ** (1.0 / (norms.size - 1)))


def grid_summary(grids: dict) -> str:
    """A table over seeds of ``gradient_norm_grid`` results: {seed: grid} -> text.

    One row per (activation, init): the layer-1 and layer-L norms and the growth per layer
    (``growth_per_layer``), each as the range (min to max) over the seeds.
    """
    def span(values, fmt):
        return f"{fmt(min(values))} to {fmt(max(values))}"

    sci, fac = (lambda v: f"{v:.1e}"), (lambda v: f"x{v:.2f}")
    first = next(iter(grids.values()))
    depth = len(next(iter(first.values())))
    lines = [f"{'sigma, init':16} {'layer 1 norm':>22} {f'layer {depth} norm':>22} "
             f"{'growth per layer':>18}   ({len(grids)} seeds: min to max)"]
    for key in first:
        runs = [grid[key] for grid in grids.values()]
        lines.append(f"{key[0] + ', ' + key[1]:16} {span([r[0] for r in runs], sci):>22} "
                     f"{span([r[-1] for r in runs], sci):>22} "
                     f"{span([growth_per_layer(r) for r in runs], fac):>18}")
    return "\n".join(lines)


def jacobian_singular_values(depth, width, activation, init, seed=0) -> np.ndarray:
    r"""Singular values of da^(l)/dx for the first example, for every depth l.

        J^(l) = diag(sigma'(z^(l))) W^(l) ... diag(sigma'(z^(1))) W^(1)

    The gradient reaching layer 1 from layer l is J^(l)T applied to the upstream vector, so
    the singular values of J^(l) are the factors by which it can grow or shrink.

    Returns
    -------
    ndarray (depth, width): row l-1 holds the singular values of J^(l), largest first.
    """
    sigma, sigma_grad = ACTIVATIONS[activation]
    weights, x, _ = make_network(depth, width, INITS[init], seed)
    a, jac = x[0], np.eye(width)
    out = np.empty((depth, width))
    with np.errstate(all="ignore"):
        for layer, W in enumerate(weights):
            z = W @ a
            jac = sigma_grad(z)[:, None] * (W @ jac)
            a = sigma(z)
            out[layer] = np.linalg.svd(jac, compute_uv=False)
    return out


def singular_value_summary(runs: dict) -> str:
    """A table over seeds of ``jacobian_singular_values`` results: {label: [svs per seed]}.

    One row per label: the range of the largest singular value over all layers and seeds,
    its growth per layer of depth (``(s_L / s_1) ** (1 / (L - 1))``), and the fraction of
    singular values that are 0 (below 1e-12 of the largest) at layer 1.
    """
    lines = [f"{'sigma, init':16} {'largest, any layer':>20} {'growth per layer':>18} "
             f"{'zero at layer 1':>16}   ({len(next(iter(runs.values())))} seeds)"]
    for label, svs in runs.items():
        largest = [np.asarray(s)[:, 0] for s in svs]
        growth = [growth_per_layer(top[::-1]) for top in largest]
        zero = [float(np.mean(s[0] < 1e-12 * s[0, 0])) for s in svs]
        low, high = min(map(min, largest)), max(map(max, largest))
        lines.append(f"{label:16} {f'{low:.2g} to {high:.2g}':>20} "
                     f"{f'x{min(growth):.2f} to x{max(growth):.2f}':>18} "
                     f"{f'{min(zero):.0%} to {max(zero):.0%}':>16}")
    return "\n".join(lines)


def remedy_norms(depth=50, width=64, seed=0, layer_norm=None
                 ) -> dict[str, dict[str, np.ndarray]]:
    """The note's three remedies, each as {"before": norms, "after": norms}.

    - change z (normalise):  ReLU with N(0,1) weights, without and with normalisation
      (by ``layer_norm``, the learner's (forward, backward) pair, when given);
    - change W (initialise): ReLU with N(0,1) weights, then with He weights;
    - change sigma':         sigmoid with Xavier weights, then tanh with the same weights.
    """
    def norms(activation, init, normalize=False):
        weights, x, dL_dy = make_network(depth, width, INITS[init], seed)
        grads, _ = forward_backward(x, weights, *ACTIVATIONS[activation], dL_dy,
                                    normalize=normalize,
                                    layer_norm=layer_norm if normalize else None)
        return _norms(grads)

    return {
        "change z: normalise": {"before": norms("relu", "N(0,1)"),
                                "after": norms("relu", "N(0,1)", normalize=True)},
        "change W: He init": {"before": norms("relu", "N(0,1)"),
                              "after": norms("relu", "He")},
        "change σ': tanh": {"before": norms("sigmoid", "Xavier"),
                            "after": norms("tanh", "Xavier")},
    }


def in_band(norms, band=BAND) -> bool:
    """True when every per-layer norm is finite and inside ``band`` (low, high)."""
    norms = np.asarray(norms, dtype=np.float64)
    return bool(np.all(np.isfinite(norms)) and np.all((norms >= band[0]) & (norms <= band[1])))


def clip_by_global_norm(grads, max_norm):
    r"""Rescale all gradients together so that their joint norm is at most ``max_norm``.

        g <- g * min(1, max_norm / ||(g^(1), ..., g^(L))||)

    The direction of the update is kept; so is the ratio between layers.

    Returns
    -------
    (clipped list of arrays, the global norm before clipping)
    """
    if max_norm <= 0:
        raise ValueError(f"clip_by_global_norm: max_norm must be positive, got {max_norm}.")
    total = float(np.sqrt(sum(np.sum(np.square(np.asarray(g, np.float64))) for g in grads)))
    factor = min(1.0, max_norm / total) if total > 0 and np.isfinite(total) else 1.0
    return [g * factor for g in grads], total


def float16_gradient_norms(depth, width, activation, init, *, seed=0, upstream=1.0,
                           loss_scale=1.0, dtype=np.float16) -> tuple[np.ndarray, np.ndarray]:
    r"""The same network in half precision, with optional loss scaling.

    The weights and batch are drawn in float64 (as ``make_network``), then cast to
    ``dtype``; dL/dy = ``upstream`` * ones / N, multiplied by ``loss_scale`` before the
    backward pass (in ``dtype``) and divided by it afterwards, in float64.

    Returns
    -------
    norms : ndarray (depth,), float64: per-layer gradient norms after unscaling
        (0 where every entry underflowed, inf or nan where something overflowed).
    zero_fraction : ndarray (depth,): the fraction of each gradient's entries that are 0.
    """
    weights, x, dL_dy = make_network(depth, width, INITS[init], seed)
    sigma, sigma_grad = ACTIVATIONS[activation]
    with np.errstate(all="ignore"):
        seed_grad = (dL_dy * upstream * loss_scale).astype(dtype)
        grads, _ = forward_backward(x.astype(dtype), [W.astype(dtype) for W in weights],
                                    sigma, sigma_grad, seed_grad)
        unscaled = [np.asarray(g, np.float64) / loss_scale for g in grads]
    zero_fraction = np.array([np.mean(g == 0) for g in unscaled])
    return _norms(unscaled), zero_fraction


def loss_scale_sweep(depth, width, activation, init, scales, *, seed=0, upstream=1e-6):
    """float16 gradients against the loss scale S, measured against the float64 run.

    One float16 forward pass, then one backward pass per scale (as ``float16_gradient_norms``).

    Returns
    -------
    rel_error : ndarray (len(scales),): the median over layers of
        | ||g16^(l)|| / ||g64^(l)|| - 1 |, inf where any layer overflowed (inf or nan).
    zero_fraction : ndarray (len(scales),): the fraction of all gradient entries that are 0.
    """
    exact, _ = float16_gradient_norms(depth, width, activation, init, seed=seed,
                                      upstream=upstream, dtype=np.float64)
    weights, x, dL_dy = make_network(depth, width, INITS[init], seed)
    sigma, sigma_grad = ACTIVATIONS[activation]
    weights16 = [W.astype(np.float16) for W in weights]
    rel_error, zero_fraction = [], []
    with np.errstate(all="ignore"):
        cache = _forward(x.astype(np.float16), weights16, sigma, False, 0.0)
        for scale in tqdm(scales, desc="loss scales", leave=False):
            seed_grad = (dL_dy * upstream * scale).astype(np.float16)
            grads, _ = _backward(cache, weights16, sigma_grad, seed_grad, False)
            unscaled = [np.asarray(g, np.float64) / scale for g in grads]
            norms = _norms(unscaled)
            if not np.all(np.isfinite(norms)):
                rel_error.append(np.inf)
            else:
                rel_error.append(float(np.median(np.abs(norms / exact - 1))))
            zero_fraction.append(float(np.mean([np.mean(g == 0) for g in unscaled])))
    return np.array(rel_error), np.array(zero_fraction)
