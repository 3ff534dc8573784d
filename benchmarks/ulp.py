"""Measuring floating-point accuracy: ULP distances, a 50-digit ground truth, test grids.

Used by ``benchmarks/accuracy.py`` and ``tests/test_reference_accuracy.py``
(``from benchmarks import ulp``).

* ``ulp_distance(a, b)``: how many representable floats lie between two floats of one dtype
  (signs, +-0, subnormals, inf handled; nan is 0 from nan and inf from anything else).
* ``error_in_ulps(y, truth)``: the error of computed values against an exact value, in
  units of the last place of the exact value (fractional: 0.5 is a correct rounding).
* ``TRUTH``: each reference function's definition in mpmath at 50 significant digits.
* ``grid(dtype)``: the test points, from the smallest subnormal to the largest float.
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath
import numpy as np

DPS = 50

# --------------------------------------------------------------------------------------
# ULPs
# --------------------------------------------------------------------------------------

_INT = {np.dtype(np.float64): np.int64, np.dtype(np.float32): np.int32,
        np.dtype(np.float16): np.int16}


def _ordered(x: np.ndarray) -> np.ndarray:
    """Integers in the order of the floats: consecutive floats differ by 1, -0.0 == 0.0."""
    itype = _INT[x.dtype]
    bits = x.view(itype).astype(np.int64)
    top = np.int64(np.iinfo(itype).min)
    return np.where(bits < 0, top - bits, bits)


def ulp_distance(a, b) -> np.ndarray:
    """Number of floats of ``a``'s dtype from ``a`` to ``b`` (elementwise, float64 array).

    0 for equal values (0.0 and -0.0 are equal; nan and nan are equal here), 1 for
    neighbours (the largest float and inf are neighbours), inf when exactly one is nan.
    Both are rounded to ``a``'s dtype first (float16, float32 or float64).
    """
    a = np.asarray(a)
    dtype = a.dtype if a.dtype.kind == "f" else np.dtype(np.float64)
    a = np.asarray(a, dtype=dtype)
    b = np.asarray(b, dtype=dtype)
    a, b = np.broadcast_arrays(a, b)
    oa, ob = _ordered(np.ascontiguousarray(a)), _ordered(np.ascontiguousarray(b))
    same_side = (oa >= 0) == (ob >= 0)
    exact = np.abs(np.where(same_side, oa - ob, 0)).astype(np.float64)
    apart = np.abs(oa).astype(np.float64) + np.abs(ob).astype(np.float64)
    d = np.where(same_side, exact, apart)
    na, nb = np.isnan(a), np.isnan(b)
    return np.where(na & nb, 0.0, np.where(na | nb, np.inf, d))


def ulp_of(t: np.ndarray, dtype) -> np.ndarray:
    """The unit in the last place of ``t`` rounded to ``dtype``, as float64 (>= tiniest)."""
    dtype = np.dtype(dtype)
    below_max = np.nextafter(np.finfo(dtype).max, dtype.type(0))
    with np.errstate(over="ignore"):
        r = np.abs(np.asarray(t, dtype=np.float64).astype(dtype))
    r = np.where(np.isfinite(r), np.minimum(r, below_max), 0).astype(dtype)
    return np.spacing(r).astype(np.float64)


def error_in_ulps(y, hi, lo=None) -> np.ndarray:
    """|y - truth| in ULPs of the truth, where truth = hi + lo (float64 double-double).

    ``y`` is float32 or float64. Where the truth is +-inf or nan, 0 if y equals it
    (nan matches nan; a truth beyond the dtype's range matches the infinity it rounds to)
    and inf otherwise; ``lo`` defaults to 0 (enough for float32).
    """
    y = np.asarray(y)
    dtype = y.dtype
    hi = np.asarray(hi, dtype=np.float64)
    lo = np.zeros_like(hi) if lo is None else np.asarray(lo, dtype=np.float64)
    with np.errstate(over="ignore"):
        t_rounded = hi.astype(dtype)
    special = ~np.isfinite(t_rounded) | ~np.isfinite(y)
    yy = np.where(special, 0.0, y.astype(np.float64))
    hh = np.where(special, 0.0, hi)
    ll = np.where(special, 0.0, lo)
    with np.errstate(over="ignore"):
        err = np.abs((yy - hh) - ll) / ulp_of(hh, dtype)
    same = ((y.astype(np.float64) == hi) | (np.isnan(y) & np.isnan(hi))
            | (np.isinf(y) & (y == t_rounded)))  # beyond the dtype's range: inf is exact
    return np.where(special, np.where(same, 0.0, np.inf), err)


# --------------------------------------------------------------------------------------
# Ground truth
# --------------------------------------------------------------------------------------

mp = mpmath.mp


def _sig(x):
    return 1 / (1 + mp.exp(-x))


def _sp(x):
    return mp.log1p(mp.exp(x))


def _swish(z, beta):
    return z * _sig(beta * z)


def _swish_grad(z, beta):
    x = beta * z
    return _sig(x) + x * _sig(x) * _sig(-x)


def _swish_grad_beta(z, beta):
    x = beta * z
    return z * z * _sig(x) * _sig(-x)


def _mish_delta(z):
    return mp.sech(_sp(z)) ** 2


def _mish_grad(z):
    return _mish_delta(z) * _swish(z, 1) + mp.tanh(_sp(z))


def _kink(z, a):
    return z if z >= 0 else a * z


#: SELU's constants as the paper gives them (Klambauer et al. 2017), read at the working
#: precision when used.
SELU_ALPHA = "1.6732632423543772848170429916717"
SELU_LAMBDA = "1.0507009873554804934193349852946"


def _gelu(z):
    if abs(z) > 45:  # beyond, z Phi(z) rounds to z or to 0 (and mpmath's erfc overflows)
        return z if z > 0 else mp.mpf(0)
    return z * mp.ncdf(z)


def _gelu_grad(z):
    if abs(z) > 45:
        return mp.mpf(1 if z > 0 else 0)
    return mp.ncdf(z) + z * mp.npdf(z)


def _gelu_tanh(z):
    # (1 + tanh(u)) / 2 = 1 / (1 + e^(-2u)): the same number, without the cancellation
    u = mp.sqrt(2 / mp.pi) * (z + mp.mpf("0.044715") * z**3)
    return z / (1 + mp.exp(-2 * u))


def _elu(z, alpha, scale=1):
    alpha, scale = mp.mpf(alpha), mp.mpf(scale)
    return scale * (z if z > 0 else alpha * mp.expm1(z))


def _elu_grad(z, alpha, scale=1):
    alpha, scale = mp.mpf(alpha), mp.mpf(scale)
    return scale * (mp.mpf(1) if z >= 0 else alpha * mp.exp(z))


#: name -> f(z, **params) on mpf numbers; the definitions of the note, evaluated so that
#: 50 digits survive (sech directly rather than 1 - tanh**2, log1p, 1 - s as s(-x)).
TRUTH: dict[str, Callable] = {
    "sigmoid": lambda z: _sig(z),
    "sigmoid_grad": lambda z: _sig(z) * _sig(-z),
    "relu": lambda z: z if z >= 0 else mp.mpf(0),
    "relu_grad": lambda z: mp.mpf(1 if z >= 0 else 0),
    "leaky_relu": lambda z, a=0.01: _kink(z, mp.mpf(a)),
    "leaky_relu_grad": lambda z, a=0.01: mp.mpf(1) if z >= 0 else mp.mpf(a),
    "prelu": lambda z, a: _kink(z, mp.mpf(a)),
    "prelu_grad": lambda z, a: mp.mpf(1) if z >= 0 else mp.mpf(a),
    "swish": lambda z, beta=1.0: _swish(z, mp.mpf(beta)),
    "swish_grad": lambda z, beta=1.0: _swish_grad(z, mp.mpf(beta)),
    "swish_grad_beta": lambda z, beta=1.0: _swish_grad_beta(z, mp.mpf(beta)),
    "mish": lambda z: z * mp.tanh(_sp(z)),
    "mish_grad": _mish_grad,
    "mish_delta": _mish_delta,
    "softplus": _sp,
    "log_sigmoid": lambda z: -_sp(-z),
    "gelu": _gelu,
    "gelu_grad": _gelu_grad,
    "gelu_tanh": _gelu_tanh,
    "elu": lambda z, alpha=1.0: _elu(z, alpha),
    "elu_grad": lambda z, alpha=1.0: _elu_grad(z, alpha),
    "selu": lambda z: _elu(z, SELU_ALPHA, SELU_LAMBDA),
    "selu_grad": lambda z: _elu_grad(z, SELU_ALPHA, SELU_LAMBDA),
}
TRUTH["stable_sigmoid"] = TRUTH["sigmoid"]

#: Interior roots of the derivatives, at beta = 1 (swish's root scales as 1/beta).
ROOTS = {"swish_grad": -1.2784645427610738, "mish_grad": -1.1924312145154952,
         "gelu_grad": -0.7517915246935645}


#: Half-width of the window around a derivative's root (in beta * z) inside which the bar
#: is an absolute error of 4 eps instead of 4 ULP: there the value passes through 0, so
#: its ULP shrinks without bound while any float formula errs by a few eps of the terms
#: that cancel (about 0.3 in size). 0.1 is where relative accuracy of 4 ULP resumes for a
#: formula that cancels only in the one unavoidable subtraction.
ROOT_WINDOW = 0.1


def near_root(name: str, z, **params) -> np.ndarray:
    """Mask of the points of ``z`` within ROOT_WINDOW of ``name``'s root (see ROOTS)."""
    z = np.asarray(z, dtype=np.float64)
    if name not in ROOTS:
        return np.zeros(z.shape, dtype=bool)
    beta = params.get("beta", 1.0)
    zf = np.where(np.isfinite(z), z, 0.0)
    with np.errstate(over="ignore"):
        x = beta * zf
    return np.isfinite(z) & (np.abs(x - ROOTS[name]) <= ROOT_WINDOW) & (beta != 0)


#: (function, parameters) measured by the accuracy test and benchmark.
CASES: list[tuple[str, dict]] = [
    ("sigmoid", {}),
    ("sigmoid_grad", {}),
    ("relu", {}),
    ("relu_grad", {}),
    ("leaky_relu", {}),
    ("leaky_relu_grad", {}),
    ("prelu", {"a": 0.25}),
    ("prelu_grad", {"a": 0.25}),
    ("swish", {}),
    ("swish", {"beta": 1.7}),
    ("swish_grad", {}),
    ("swish_grad", {"beta": 1.7}),
    ("swish_grad_beta", {}),
    ("swish_grad_beta", {"beta": 0.3}),
    ("mish", {}),
    ("mish_grad", {}),
    ("mish_delta", {}),
    ("stable_sigmoid", {}),
    ("softplus", {}),
    ("log_sigmoid", {}),
    ("gelu", {}),
    ("gelu_grad", {}),
    ("gelu_tanh", {}),
    ("elu", {}),
    ("elu", {"alpha": 0.5}),
    ("elu_grad", {}),
    ("elu_grad", {"alpha": 0.5}),
    ("selu", {}),
    ("selu_grad", {}),
]


def case_id(name: str, params: dict) -> str:
    """'swish(beta=1.7)' or 'mish'."""
    inner = ", ".join(f"{k}={v}" for k, v in params.items())
    return f"{name}({inner})" if inner else name


def truth(name: str, z, **params) -> tuple[np.ndarray, np.ndarray]:
    """``(hi, lo)``: the exact value at each float of ``z`` as a float64 double-double.

    +-inf inputs take the limit (the value at +-1e400), nan gives nan; a value beyond the
    float64 range is +-inf in ``hi``.
    """
    f = TRUTH[name]
    z = np.asarray(z, dtype=np.float64)
    hi = np.empty(z.shape)
    lo = np.empty(z.shape)
    with mp.workdps(DPS):
        for i, v in np.ndenumerate(z):
            if np.isnan(v):
                hi[i], lo[i] = np.nan, np.nan
                continue
            x = mp.mpf(v) if np.isfinite(v) else mp.mpf("1e400") * (1 if v > 0 else -1)
            t = f(x, **params)
            h = float(t)
            hi[i] = h
            lo[i] = float(t - h) if np.isfinite(h) else 0.0
    return hi, lo


# --------------------------------------------------------------------------------------
# Grids
# --------------------------------------------------------------------------------------


def grid(dtype, n_log: int = 1200, n_lin: int = 1600, seed: int = 0) -> np.ndarray:
    """Test points of ``dtype``, sorted, unique, including +-inf and nan (last).

    * ``n_log`` magnitudes log-spaced from the smallest subnormal to the largest finite
      float, both signs, jittered so that they are not all round numbers;
    * ``n_lin`` points on [-50, 50] (a linspace and as many uniform random points);
    * the edges: +-0, the smallest subnormal and normal, the largest float, and points
      around the thresholds of exp/log1p/float32 and PyTorch (20, 36.7, 88.7, 103.9,
      709.8, 745.1, 1e4, 1e30) and the derivatives' roots (with their float neighbours).
    """
    dtype = np.dtype(dtype)
    fi = np.finfo(dtype)
    rng = np.random.default_rng(seed)
    tiny_sub = float(fi.smallest_subnormal)
    lo_e, hi_e = np.log10(tiny_sub), np.log10(float(fi.max))
    with np.errstate(over="ignore"):
        mags = 10.0 ** (np.linspace(lo_e, hi_e, n_log) + rng.uniform(-0.01, 0.01, n_log))
    mags = np.clip(mags, tiny_sub, float(fi.max))
    lin = np.concatenate([np.linspace(-50, 50, n_lin // 2 + 1),
                          rng.uniform(-50, 50, n_lin - n_lin // 2 - 1)])
    edges = [0.0, tiny_sub, float(fi.smallest_normal), float(fi.max), 1.0, 1e-8, 0.5]
    for t in (3.0, 20.0, 36.7, 37.5, 38.5, 88.7, 89.5, 103.9, 104.5, 709.8, 710.5, 745.1,
              746.0, 1e4, 1e30):
        edges += list(t + np.linspace(-1.0, 1.0, 9))
    for r in ROOTS.values():
        edges += list(r + np.linspace(-0.01, 0.01, 21))
    pts = np.concatenate([mags, -mags, lin, edges, -np.asarray(edges)])
    with np.errstate(over="ignore"):
        pts = pts.astype(dtype)
    pts = pts[np.isfinite(pts)]
    for r in ROOTS.values():
        c = np.asarray(r, dtype=dtype)
        pts = np.concatenate([pts, [np.nextafter(c, dtype.type(-np.inf))], [c],
                              [np.nextafter(c, dtype.type(np.inf))]])
    pts = np.unique(pts)
    return np.concatenate([pts, np.array([-np.inf, np.inf, -0.0, np.nan], dtype=dtype)])
