r"""Reference activations of 02_activation_units and their derivatives (NumPy).

Every function takes an array_like of any shape (0-d included) or a Python scalar,
float32 or float64 (integers and Python scalars are computed in float64), and returns a
new array of the same shape and float dtype. No RuntimeWarning on any input; +-inf give
the limit; nan propagates. Derivatives follow the note: ReLU'(0) = 1, PReLU'(0) = 1.

How the numbers are computed
----------------------------
* Everything is evaluated in float64 and rounded once to the input's dtype. For float32
  input that single rounding is the only error that matters (the float64 work is ~2**29
  times finer), so float32 results are correctly rounded (within 0.5 ULP, measured).
* ``exp`` is only ever applied to a number <= 0: each formula is written in terms of
  ``E = exp(-|x|)`` with one branch for x < 0 and one for x >= 0, so nothing overflows and
  no branch subtracts nearly equal numbers except at a derivative's root.
* The rational functions of E (the mish family; swish's z/(1 + E) and its derivatives)
  are evaluated in double-double arithmetic (Dekker/Knuth error-free sums and products),
  so that the only errors left in float64 are exp's (<= 0.6 ULP) and the final rounding.
* A product ``m * exp(x)`` whose ``exp(x)`` would be subnormal (x < -700) is formed as
  ``(m * exp(x/2)) * exp(x/2)``: the precision a subnormal would lose is never lost.
* Swish's gate argument ``beta * z`` is formed exactly, as a float64 sum ``x + x_lo``
  (Dekker's product), so a beta that is not a power of two costs no accuracy.
* Overflow to +-inf of a true value beyond the largest float and underflow to 0 are the
  correctly rounded results, so they are computed silently.

``benchmarks/accuracy.py`` and ``tests/test_reference_accuracy.py`` measure every function
against a 50-digit mpmath ground truth over the whole float range: within 4 ULP everywhere
(measured: <= 2.2 ULP in float64, 0.5 in float32), and within 4 eps absolute in a window of
0.1 around a derivative's root (swish' at beta z = -1.2785, mish' at z = -1.1924), where the
value passes through 0 and no float formula can be relative-accurate (measured: 0.03 eps).
The cost is speed: about 1 s per million values for the mish and swish families, 0.1 s
for sigmoid; PyTorch is the fast path, this is the yardstick.
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = [
    "sigmoid",
    "sigmoid_grad",
    "relu",
    "relu_grad",
    "leaky_relu",
    "leaky_relu_grad",
    "prelu",
    "prelu_grad",
    "prelu_grad_a",
    "swish",
    "swish_grad",
    "swish_grad_beta",
    "mish",
    "mish_grad",
    "mish_delta",
    "numerical_derivative",
]

#: exp(-|x|) is 0 in float64 below x = -745.2. Exponential arguments are clipped to
#: [-_CLIP, _CLIP]: it turns +-inf into finite numbers with the same result and keeps
#: x * exp(-|x|) away from inf * 0. Mish's z * e^z is 0 for z < -800; Swish's
#: z * e^(beta z) and z**2 * e^(beta z) can be non-zero down to beta z = -2165 (huge z,
#: tiny beta), so its gate argument is clipped at 2400.
_CLIP_MISH = 800.0
_CLIP = 2400.0

# --------------------------------------------------------------------------------------
# Shared plumbing: input conversion, the result, parameters, safe exponentials.
# --------------------------------------------------------------------------------------


def _quiet(fn):
    """Silence overflow and underflow inside ``fn``: there they are the correct rounding."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(over="ignore", under="ignore"):
            return fn(*args, **kwargs)

    return wrapper


def _as_float(z, name):
    """``(z as a new float64 array, the dtype of the result)``; TypeError for non-reals."""
    arr = np.asarray(z)
    if arr.dtype.kind in "biu":
        out = np.dtype(np.float64)
    elif arr.dtype.kind == "f":
        out = arr.dtype
    else:
        raise TypeError(
            f"{name}: z must hold real numbers (a float, an int or an array of them), "
            f"got an array of dtype {arr.dtype}."
        )
    return arr.astype(np.float64), out


def _result(y, dtype):
    """A new ndarray of ``dtype`` (0-d for a 0-d input), rounded once from float64."""
    return np.asarray(y, dtype=np.float64).astype(dtype)


def _param(value, what, name):
    """A finite real scalar parameter (``a`` or ``beta``) as a Python float."""
    arr = np.asarray(value)
    if arr.ndim != 0 or arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: {what} must be a real scalar, got {value!r}.")
    value = float(arr)
    if not math.isfinite(value):
        raise ValueError(f"{name}: {what} must be finite, got {value}.")
    return value


def _times_exp(m, x):
    """``m * exp(x)`` for -2800 <= x <= 0, accurate even where exp(x) is subnormal or 0.

    Below x = -700, exp(x) loses bits to the subnormal range (or is 0) while m * exp(x)
    need not be small, so the product is formed through exp(x/2) (or exp(x/4) below
    -1400), each of which is a normal float.
    """
    out = m * np.exp(x)
    if np.any(x < -700.0):  # rare: skip the extra exponentials otherwise
        half = np.exp(0.5 * x)
        quarter = np.exp(0.25 * x)
        out = np.where(x >= -700.0, out, np.where(
            x >= -1400.0, (m * half) * half, (((m * quarter) * quarter) * quarter) * quarter))
    return out


def _two_product(beta, z):
    """``(x, x_lo)`` with ``x + x_lo == beta * z`` exactly, x = fl(beta * z), z finite.

    Dekker's product on the mantissas (frexp), so no intermediate overflows. ``x`` is
    clipped to [-800, 800] (x_lo = 0 there): beyond, every gate is exactly 0 or 1.
    """
    x = beta * z
    mb, eb = np.frexp(beta)
    mz, ez = np.frexp(z)
    split = 134217729.0  # 2**27 + 1
    bh = split * mb - (split * mb - mb)
    bl = mb - bh
    zh = split * mz - (split * mz - mz)
    zl = mz - zh
    p = mb * mz
    err = ((bh * zh - p) + bh * zl + bl * zh) + bl * zl
    lo = np.ldexp(err, eb + ez)
    inside = np.abs(x) <= _CLIP
    return np.clip(x, -_CLIP, _CLIP), np.where(inside, lo, 0.0)


def _gate(z, beta):
    """Swish's gate argument for every z, infinities included.

    Returns ``(zf, x, x_lo, zinf)``: z with +-inf replaced by 0, the clipped gate
    argument ``x + x_lo = beta * z`` (+-800 where beta * z is +-inf, 0 where beta = 0),
    and the mask of infinite z.
    """
    zinf = np.isinf(z)
    zf = np.where(zinf, 0.0, z)
    x, lo = _two_product(beta, zf)
    if beta != 0.0:
        x = np.where(zinf, math.copysign(_CLIP, beta) * np.sign(z), x)
    return zf, x, lo, zinf


def _over_1pe(num, e, power=1):
    """``num / (1 + e)**power`` for 0 <= e <= 1, without the rounding of 1 + e.

    1 + e = p + q exactly (Fast2Sum, as 1 >= e), and 1/(p + q) = (1/p)(1 - q/p) to far
    below an ulp, so the only roundings are the divisions.
    """
    p = 1.0 + e
    q = (1.0 - p) + e
    r = num / p
    for _ in range(power - 1):
        r = r / p
    return r - r * (power * (q / p))


# Double-double arithmetic: a pair (hi, lo) of float64 arrays with hi + lo exact to ~2**-104
# relative. The rational functions of E = exp(-|z|) below are evaluated in it, so that the
# only errors left are exp's (<= 0.6 ulp on NumPy 2) and the final rounding.


def _fast_two_sum(a, b):
    s = a + b
    return s, b - (s - a)


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _split(a):
    c = 134217729.0 * a  # 2**27 + 1; |a| < 1e300 here
    hi = c - (c - a)
    return hi, a - hi


def _two_prod(a, b):
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _dd_add(a, b):
    s, e = _two_sum(a[0], b[0])
    return _fast_two_sum(s, e + (a[1] + b[1]))


def _dd_mul(a, b):
    p, e = _two_prod(a[0], b[0])
    return _fast_two_sum(p, e + (a[0] * b[1] + a[1] * b[0]))


def _dd_div(a, b):
    q1 = a[0] / b[0]
    p, e = _two_prod(q1, b[0])
    r = ((a[0] - p) - e + a[1]) - q1 * b[1]
    return _fast_two_sum(q1, r / b[0])


def _dd(a):
    return a, np.zeros_like(a)


def _dd_times_exp(m, x):
    """``m * exp(x)`` rounded once, for a double-double m and x <= 0 (see _times_exp)."""
    direct = _dd_mul(m, _dd(np.exp(x)))[0]
    if not np.any(x < -700.0):
        return direct
    return np.where(x >= -700.0, direct, _times_exp(m[0], x))


def _sigmoid_parts(x, lo=0.0):
    """``(E, s)`` with E = exp(-|x + lo|) and s = sigmoid(x + lo), for |lo| << |x| or lo = 0."""
    sign = np.where(x < 0, -1.0, 1.0)
    e = np.exp(-np.abs(x))
    e = e - e * (sign * lo)  # exp(-|x| - sign*lo) to first order; lo is below 1 ulp of x
    s = _over_1pe(np.where(x < 0, e, 1.0), e)
    return e, s


def _gate_dd(x, lo):
    """Double-double pieces of the gate at x + lo: ``(E, 1 + E, 1 + lo)``, E = exp(-|x + lo|)."""
    sign = np.where(x < 0, -1.0, 1.0)
    e = np.exp(-np.abs(x))
    e_dd = _fast_two_sum(e, -e * (sign * lo))
    return e_dd, _dd_add(_dd(np.ones_like(e)), e_dd), _two_sum(1.0, lo)


def _big_scale(zf):
    """2**-64 where |z| > 2**900 (so that Dekker's split cannot overflow), else 1."""
    return np.where(np.abs(zf) > 2.0**900, 2.0**-64, 1.0)


# --------------------------------------------------------------------------------------
# Sigmoid
# --------------------------------------------------------------------------------------


@_quiet
def sigmoid(z):
    r"""Logistic sigmoid, computed without overflow.

        sigmoid(z) = 1 / (1 + exp(-z))

    Parameters
    ----------
    z : array_like, any shape, float32 or float64 (ints and scalars: float64)

    Returns
    -------
    ndarray of z's shape and float dtype, in [0, 1]; sigmoid(-inf) = 0, sigmoid(inf) = 1.

    Notes
    -----
    Stable form: with E = exp(-|z|) <= 1, sigmoid(z) = 1/(1 + E) for z >= 0 and
    E/(1 + E) for z < 0, so exp never sees a positive argument.

    See Also
    --------
    sigmoid_grad, course_utils.reference.stability.log_sigmoid

    Examples
    --------
    >>> sigmoid([-1000.0, 0.0, 1000.0])
    array([0. , 0.5, 1. ])
    """
    x, dtype = _as_float(z, "sigmoid")
    return _result(_sigmoid_parts(x)[1], dtype)


@_quiet
def sigmoid_grad(z):
    r"""Derivative of the sigmoid with respect to z.

        sigmoid'(z) = sigmoid(z) * (1 - sigmoid(z)) = E / (1 + E)**2,  E = exp(-|z|)

    Parameters
    ----------
    z : array_like, any shape, float32 or float64

    Returns
    -------
    ndarray of z's shape and float dtype, in [0, 0.25]; 0 at +-inf.

    Notes
    -----
    The symmetric form E/(1 + E)**2 stays relative-accurate in both tails: it is not
    ``s * (1 - s)``, which is exactly 0 in float64 once s rounds to 1 (z > 36.7).

    See Also
    --------
    sigmoid

    Examples
    --------
    >>> sigmoid_grad([0.0, 40.0])
    array([2.50000000e-01, 4.24835426e-18])
    """
    x, dtype = _as_float(z, "sigmoid_grad")
    e = np.exp(-np.abs(x))
    return _result(_over_1pe(e, e, power=2), dtype)


# --------------------------------------------------------------------------------------
# ReLU, Leaky ReLU, PReLU
# --------------------------------------------------------------------------------------


def relu(z):
    r"""Rectified linear unit.

        relu(z) = z if z >= 0 else 0   (= max(z, 0))

    Parameters
    ----------
    z : array_like, any shape, float32 or float64

    Returns
    -------
    ndarray of z's shape and float dtype.

    See Also
    --------
    relu_grad, leaky_relu

    Examples
    --------
    >>> relu([-2.0, 0.0, 3.0])
    array([0., 0., 3.])
    """
    x, dtype = _as_float(z, "relu")
    return _result(np.maximum(x, 0.0), dtype)


def relu_grad(z):
    r"""Derivative of ReLU with respect to z.

        relu'(z) = 1 if z >= 0 else 0

    Parameters
    ----------
    z : array_like, any shape, float32 or float64

    Returns
    -------
    ndarray of z's shape and float dtype, of 0s and 1s (nan for nan).

    Notes
    -----
    At the kink the note's convention holds: relu'(0) = relu'(-0.0) = 1 (PyTorch uses 0).

    See Also
    --------
    relu

    Examples
    --------
    >>> relu_grad([-2.0, 0.0, 3.0])
    array([0., 1., 1.])
    """
    x, dtype = _as_float(z, "relu_grad")
    return _result(np.heaviside(x, 1.0), dtype)


@_quiet
def _leaky(z, a, name):
    x, dtype = _as_float(z, name)
    a = _param(a, "a", name)
    neg = x < 0
    if a == 0.0:
        y = np.where(neg, 0.0, x)  # a * (-inf) would be nan; the limit is 0
    else:
        y = np.where(neg, a * x, x)
    return _result(y, dtype)


def _leaky_grad(z, a, name):
    x, dtype = _as_float(z, name)
    a = _param(a, "a", name)
    y = np.where(x < 0, a, 1.0)
    return _result(np.where(np.isnan(x), np.nan, y), dtype)


def leaky_relu(z, a=0.01):
    r"""Leaky ReLU: the identity for z >= 0, a fixed small slope below.

        leaky_relu(z) = z if z >= 0 else a * z

    Parameters
    ----------
    z : array_like, any shape, float32 or float64
    a : float, default 0.01  (the slope for z < 0; a = 0 gives ReLU)

    Returns
    -------
    ndarray of z's shape and float dtype.

    See Also
    --------
    leaky_relu_grad, prelu

    Examples
    --------
    >>> leaky_relu([-2.0, 0.0, 3.0])
    array([-0.02,  0.  ,  3.  ])
    """
    return _leaky(z, a, "leaky_relu")


def leaky_relu_grad(z, a=0.01):
    r"""Derivative of Leaky ReLU with respect to z.

        leaky_relu'(z) = 1 if z >= 0 else a

    Parameters
    ----------
    z : array_like, any shape, float32 or float64
    a : float, default 0.01

    Returns
    -------
    ndarray of z's shape and float dtype.

    Notes
    -----
    At the kink the note's convention holds: the derivative at 0 is 1.

    See Also
    --------
    leaky_relu

    Examples
    --------
    >>> leaky_relu_grad([-2.0, 0.0, 3.0])
    array([0.01, 1.  , 1.  ])
    """
    return _leaky_grad(z, a, "leaky_relu_grad")


def prelu(z, a):
    r"""Parametric ReLU: Leaky ReLU whose slope ``a`` is learned (one per layer).

        prelu(z) = z if z >= 0 else a * z

    Parameters
    ----------
    z : array_like, any shape, float32 or float64
    a : float  (the learned slope; 0.25 is PyTorch's initial value)

    Returns
    -------
    ndarray of z's shape and float dtype.

    See Also
    --------
    prelu_grad, prelu_grad_a, leaky_relu

    Examples
    --------
    >>> prelu([-2.0, 0.0, 3.0], a=0.25)
    array([-0.5,  0. ,  3. ])
    """
    return _leaky(z, a, "prelu")


def prelu_grad(z, a):
    r"""Derivative of PReLU with respect to z.

        prelu'(z) = 1 if z >= 0 else a

    Parameters
    ----------
    z : array_like, any shape, float32 or float64
    a : float

    Returns
    -------
    ndarray of z's shape and float dtype.

    Notes
    -----
    At the kink the note's convention holds: prelu'(0) = 1 (PyTorch uses a there).

    See Also
    --------
    prelu, prelu_grad_a

    Examples
    --------
    >>> prelu_grad([-2.0, 0.0, 3.0], a=0.25)
    array([0.25, 1.  , 1.  ])
    """
    return _leaky_grad(z, a, "prelu_grad")


@_quiet
def prelu_grad_a(z, a, upstream):
    r"""Gradient of the loss with respect to PReLU's slope, summed over all positions.

        dL/da = sum_i upstream_i * (z_i if z_i < 0 else 0)

    as in the note: d prelu(z)/da is z for z < 0 and 0 otherwise, and the one slope of a
    layer collects the contributions of every position of its feature map.

    Parameters
    ----------
    z : array_like, any shape, float32 or float64  (the pre-activations)
    a : float  (the slope; the gradient does not depend on it)
    upstream : array_like, z's shape  (dL/d prelu(z))

    Returns
    -------
    float (a Python float, summed in float64 with exact accumulation).

    Notes
    -----
    A position where upstream is 0 contributes 0, even at z = -inf; a nan anywhere in z or
    upstream makes the sum nan.

    See Also
    --------
    prelu, prelu_grad

    Examples
    --------
    >>> prelu_grad_a([-2.0, 1.0, -0.5], a=0.25, upstream=[1.0, 5.0, 2.0])
    -3.0
    """
    x, _ = _as_float(z, "prelu_grad_a")
    _param(a, "a", "prelu_grad_a")
    up, _ = _as_float(upstream, "prelu_grad_a")
    if up.shape != x.shape:
        raise ValueError(
            f"prelu_grad_a: upstream must have z's shape {x.shape}, got {up.shape}."
        )
    if np.isnan(x).any() or np.isnan(up).any():
        return float("nan")  # nan propagates into the sum
    active = (x < 0) & (up != 0)
    terms = np.where(active, up, 0.0) * np.where(active, x, 0.0)
    if np.all(np.isfinite(terms)):
        return float(math.fsum(terms.ravel().tolist()))
    with np.errstate(invalid="ignore"):  # inf - inf: the sum is undefined, nan
        return float(np.sum(terms))


# --------------------------------------------------------------------------------------
# Swish
# --------------------------------------------------------------------------------------


@_quiet
def swish(z, beta=1.0):
    r"""Swish (SiLU for beta = 1): z gated by a sigmoid of itself.

        swish(z) = z * sigmoid(beta * z) = z / (1 + exp(-beta * z))

    Parameters
    ----------
    z : array_like, any shape, float32 or float64
    beta : float, default 1.0  (0 gives the line z/2; large beta approaches ReLU)

    Returns
    -------
    ndarray of z's shape and float dtype. Limits: swish(inf) = inf, swish(-inf) = 0 for
    beta > 0 (mirrored for beta < 0; +-inf for beta = 0).

    Notes
    -----
    Stable form: x = beta*z, E = exp(-|x|); swish = z/(1 + E) for x >= 0 and
    z*E/(1 + E) for x < 0, with z*E formed so that a subnormal E loses nothing.

    See Also
    --------
    swish_grad, swish_grad_beta, sigmoid

    Examples
    --------
    >>> swish([-1.0, 0.0, 2.0])
    array([-0.26894142,  0.        ,  1.76159416])
    >>> swish(4.0, beta=0.0)
    array(2.)
    """
    x0, dtype = _as_float(z, "swish")
    beta = _param(beta, "beta", "swish")
    zf, x, lo, zinf = _gate(x0, beta)
    e_dd, one_e, one_lo = _gate_dd(x, lo)
    k = _big_scale(zf)
    m = _dd_div(_dd(zf * k), one_e)  # z / (1 + E)
    pos = _dd_mul(m, _dd(np.ones_like(zf)))[0]
    neg = _dd_times_exp(_dd_mul(m, one_lo), -np.abs(x))  # ... * exp(x + lo)
    neg = np.where(x <= -_CLIP, 0.0, neg)  # |z| e^(beta z) < 1e309 e^-2400 = 0
    y = np.where(x < 0, neg, pos) / k
    y = np.where(zinf & (x > -_CLIP), x0, y)  # the gate tends to 1/2 or 1: swish -> z
    return _result(y, dtype)


@_quiet
def swish_grad(z, beta=1.0):
    r"""Derivative of Swish with respect to z.

        swish'(z) = s + beta * z * s * (1 - s),  with s = sigmoid(beta * z)

    Parameters
    ----------
    z : array_like, any shape, float32 or float64
    beta : float, default 1.0  (0 gives 1/2 everywhere; large beta approaches relu')

    Returns
    -------
    ndarray of z's shape and float dtype; 1 at z -> inf and 0 at z -> -inf (beta > 0).

    Notes
    -----
    Stable form, x = beta*z, E = exp(-|x|): swish' = (1 + E + x*E)/(1 + E)**2 for x >= 0
    (a sum of positive terms) and E*(1 + E + x)/(1 + E)**2 for x < 0, which cancels
    only where it must, at the root x = -1.2785 (there it is accurate to a few eps).

    See Also
    --------
    swish, swish_grad_beta

    Examples
    --------
    >>> swish_grad([-50.0, 0.0, 50.0])
    array([-9.45087426e-21,  5.00000000e-01,  1.00000000e+00])
    """
    x0, dtype = _as_float(z, "swish_grad")
    beta = _param(beta, "beta", "swish_grad")
    _, x, lo, _ = _gate(x0, beta)
    e_dd, one_e, one_lo = _gate_dd(x, lo)
    den = _dd_mul(one_e, one_e)
    xt = _dd_add(_dd(x), _dd(lo))  # the exact beta * z
    # x < 0: E (1 + E + x) / (1 + E)**2, with the factor E = exp(x + lo) applied last
    num_neg = _dd_add(_dd_add(_dd(np.ones_like(x)), xt), e_dd)
    neg = _dd_times_exp(_dd_mul(_dd_div(num_neg, den), one_lo), -np.abs(x))
    # x >= 0: (1 + E + x E) / (1 + E)**2, all terms positive
    pos = _dd_div(_dd_add(one_e, _dd_mul(xt, e_dd)), den)[0]
    return _result(np.where(x < 0, neg, pos), dtype)


@_quiet
def swish_grad_beta(z, beta=1.0):
    r"""Derivative of Swish with respect to its gate parameter beta.

        d swish / d beta = z**2 * s * (1 - s),  with s = sigmoid(beta * z)

    Used for a learnable beta (03's ``SwishFunction`` backward).

    Parameters
    ----------
    z : array_like, any shape, float32 or float64
    beta : float, default 1.0

    Returns
    -------
    ndarray of z's shape and float dtype, >= 0; 0 at z = +-inf when beta != 0
    (inf when beta = 0, where it is z**2/4).

    Notes
    -----
    Stable form: with x = beta*z, E = exp(-|x|), the value is (z*sqrt(E))**2/(1 + E)**2,
    which neither overflows early nor underflows early.

    See Also
    --------
    swish, swish_grad

    Examples
    --------
    >>> swish_grad_beta([0.0, 1.0, 100.0])
    array([0.00000000e+00, 1.96611933e-01, 3.72007598e-40])
    """
    x0, dtype = _as_float(z, "swish_grad_beta")
    beta = _param(beta, "beta", "swish_grad_beta")
    zf, x, lo, zinf = _gate(x0, beta)
    sign = np.where(x < 0, -1.0, 1.0)
    e_dd, one_e, _ = _gate_dd(x, lo)
    den = _dd_mul(one_e, one_e)
    # w = z exp(-|x + lo|/2), so that the value is w**2 / (1 + E)**2
    small = np.abs(zf) <= 2.0**500  # then w**2 cannot overflow
    zs = np.where(small, zf, 0.0)
    h = np.exp(-0.5 * np.abs(x))
    w = _dd_mul(_dd_mul(_dd(zs), _dd(h)), _two_sum(1.0, -0.5 * sign * lo))
    y = _dd_div(_dd_mul(w, w), den)[0]
    # beyond |x| = 1400 (exp(-|x|/2) subnormal) or for |z| > 2**500 (beta < 2**-490):
    # w by halves, in plain float64 (a few ulp)
    w_far = _times_exp(zf, -0.5 * np.abs(x))
    w_far = w_far - w_far * (0.5 * sign * lo)
    w_far = w_far / (1.0 + e_dd[0])
    far = w_far * w_far
    y = np.where((np.abs(x) > 1400.0) | ~small, far, y)
    y = np.where(np.abs(x) >= _CLIP, 0.0, y)  # z**2 e^-|beta z| < 1e617 e^-2400 = 0
    y = np.where(zinf & (x == 0.0), np.inf, y)
    return _result(y, dtype)


# --------------------------------------------------------------------------------------
# Mish
# --------------------------------------------------------------------------------------


@_quiet
def mish(z):
    r"""Mish: z times the tanh of the softplus of z.

        mish(z) = z * tanh(ln(1 + exp(z)))

    Parameters
    ----------
    z : array_like, any shape, float32 or float64

    Returns
    -------
    ndarray of z's shape and float dtype; mish(inf) = inf, mish(-inf) = 0.

    Notes
    -----
    With e^{softplus(z)} = 1 + exp(z), tanh(softplus(z)) is a rational function of
    E = exp(-|z|) with only positive terms:

        z <= 0:  tanh(softplus(z)) = E (E + 2) / (E (E + 2) + 2)        (~ E = e^z)
        z >  0:  tanh(softplus(z)) = (1 + 2E) / (1 + 2E + 2E**2)        (-> 1)

    so no tanh, log or cancellation is needed.

    See Also
    --------
    mish_grad, mish_delta, course_utils.reference.stability.softplus

    Examples
    --------
    >>> mish([-1000.0, 0.0, 1000.0])
    array([  -0.,    0., 1000.])
    """
    x, dtype = _as_float(z, "mish")
    xc = np.clip(x, -_CLIP_MISH, _CLIP_MISH)
    e = np.exp(-np.abs(xc))
    # z <= 0: mish = z (E + 2) / (E (E + 2) + 2) * E, the last factor possibly subnormal
    e2 = _two_sum(e, 2.0)
    n = _dd_add(_dd_mul(_dd(e), e2), _dd(np.full_like(e, 2.0)))
    neg = _dd_times_exp(_dd_div(_dd_mul(_dd(xc), e2), n), -np.abs(xc))
    # z > 0: mish = z (1 + 2E) / (1 + 2E + 2E**2); beyond 800 that is z itself
    num = _two_sum(1.0, 2.0 * e)
    den = _dd_add(num, _dd_mul(_dd(e), _dd(2.0 * e)))
    pos = np.where(x > _CLIP_MISH, x, _dd_mul(_dd(xc), _dd_div(num, den))[0])
    return _result(np.where(x <= 0, neg, pos), dtype)


@_quiet
def mish_grad(z):
    r"""Derivative of Mish with respect to z.

        mish'(z) = Delta(z) * swish(z) + mish(z) / z
                 = sech^2(softplus(z)) * z * sigmoid(z) + tanh(softplus(z))

    Parameters
    ----------
    z : array_like, any shape, float32 or float64

    Returns
    -------
    ndarray of z's shape and float dtype; 1 at inf, 0 at -inf, 0.6 at z = 0
    (mish(z)/z -> tanh(ln 2) = 3/5).

    Notes
    -----
    Stable form, E = exp(-|z|), written as one fraction of positive terms except at
    the root z = -1.1924 (there it is accurate to a few eps):

        z <= 0:  E (E**3 + 4 E**2 + (6 + 4z) E + 4 (1 + z)) / (E**2 + 2E + 2)**2
        z >  0:  (1 + 4E + (6 + 4z) E**2 + 4 (1 + z) E**3) / (1 + 2E + 2E**2)**2

    See Also
    --------
    mish, mish_delta, swish

    Examples
    --------
    >>> mish_grad([-1000.0, 0.0, 1000.0])
    array([-0. ,  0.6,  1. ])
    """
    x, dtype = _as_float(z, "mish_grad")
    xc = np.clip(x, -_CLIP_MISH, _CLIP_MISH)
    e = np.exp(-np.abs(xc))
    ed = _dd(e)
    c1 = _two_sum(6.0, 4.0 * xc)  # 6 + 4z
    c0 = _two_sum(4.0, 4.0 * xc)  # 4 (1 + z)
    # z <= 0: E * omega / delta**2, omega = ((E + 4) E + 6 + 4z) E + 4 (1 + z)
    omega = _dd_add(_dd_mul(_dd_add(_dd_mul(_two_sum(e, 4.0), ed), c1), ed), c0)
    delta = _dd_add(_dd_mul(_two_sum(e, 2.0), ed), _dd(np.full_like(e, 2.0)))
    neg = _dd_times_exp(_dd_div(omega, _dd_mul(delta, delta)), -np.abs(xc))
    # z > 0: (1 + E (4 + E (6 + 4z + E 4 (1 + z)))) / (1 + 2E + 2E**2)**2
    inner = _dd_add(c1, _dd_mul(ed, c0))
    omega_p = _dd_add(_dd(np.ones_like(e)), _dd_mul(ed, _dd_add(_dd(np.full_like(e, 4.0)),
                                                              _dd_mul(ed, inner))))
    d = _dd_add(_two_sum(1.0, 2.0 * e), _dd_mul(ed, _dd(2.0 * e)))
    pos = _dd_div(omega_p, _dd_mul(d, d))[0]
    return _result(np.where(x <= 0, neg, pos), dtype)


@_quiet
def mish_delta(z):
    r"""The note's Delta(z) = sech^2(softplus(z)), the "preconditioner" in mish'.

        mish'(z) = Delta(z) * swish(z) + mish(z) / z     (swish with beta = 1)

    Parameters
    ----------
    z : array_like, any shape, float32 or float64

    Returns
    -------
    ndarray of z's shape and float dtype, in (0, 1); 1 at -inf, 0 at inf.

    Notes
    -----
    sech^2(softplus(z)) = 4 (1 + e^z)^2 / ((1 + e^z)^2 + 1)^2, a square w**2 with, for
    E = exp(-|z|),

        z <= 0:  w = 2 (1 + E) / (E**2 + 2E + 2)
        z >  0:  w = 2E (1 + E) / (1 + 2E + 2E**2)

    so it never computes 1 - tanh**2 (all of whose digits cancel for z > 19).

    See Also
    --------
    mish_grad

    Examples
    --------
    >>> mish_delta([-1000.0, 0.0, 40.0])
    array([1.00000000e+00, 6.40000000e-01, 7.21940555e-35])
    """
    x, dtype = _as_float(z, "mish_delta")
    xc = np.clip(x, -_CLIP_MISH, _CLIP_MISH)
    e = np.exp(-np.abs(xc))
    ed = _dd(e)
    one_e = _two_sum(1.0, e)
    # z <= 0: w = 2 (1 + E) / ((E + 2) E + 2)
    d_neg = _dd_add(_dd_mul(_two_sum(e, 2.0), ed), _dd(np.full_like(e, 2.0)))
    w = _dd_div(one_e, d_neg)
    neg = 4.0 * _dd_mul(w, w)[0]
    # z > 0: Delta = 4 E**2 r**2, r = (1 + E) / (1 + 2E + 2E**2); E**2 = exp(-2z) directly
    d_pos = _dd_add(_two_sum(1.0, 2.0 * e), _dd_mul(ed, _dd(2.0 * e)))
    r = _dd_div(one_e, d_pos)
    pos = _dd_times_exp(_dd_mul(_dd(np.full_like(e, 4.0)), _dd_mul(r, r)), -2.0 * np.abs(xc))
    return _result(np.where(x <= 0, neg, pos), dtype)


# --------------------------------------------------------------------------------------
# Checking derivatives
# --------------------------------------------------------------------------------------


def numerical_derivative(f, z, h=1e-5):
    r"""Central-difference estimate of f'(z), elementwise.

        f'(z) ~ (f(z + h) - f(z - h)) / (2h)      (error O(h**2) for smooth f)

    Parameters
    ----------
    f : callable  (elementwise: an array in, an array of the same shape out)
    z : array_like, any shape  (computed in float64)
    h : float, default 1e-5  (a step > 0; 1e-5 balances the O(h**2) truncation error
        against the O(eps/h) rounding error in float64)

    Returns
    -------
    float64 ndarray of z's shape. At z = +-inf (or where f is not finite) the estimate
    is nan or inf, silently.

    Notes
    -----
    Across a kink (ReLU at 0) it returns the average of the two one-sided slopes.

    See Also
    --------
    sigmoid_grad, swish_grad, mish_grad (what it checks)

    Examples
    --------
    >>> np.round(numerical_derivative(np.sin, [0.0, np.pi]), 8)
    array([ 1., -1.])
    """
    h = _param(h, "h", "numerical_derivative")
    if h <= 0:
        raise ValueError(f"numerical_derivative: h must be positive, got {h}.")
    if not callable(f):
        raise TypeError(f"numerical_derivative: f must be callable, got {type(f).__name__}.")
    x, _ = _as_float(z, "numerical_derivative")
    up = np.asarray(f(x + h), dtype=np.float64)
    down = np.asarray(f(x - h), dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.asarray((up - down) / (2.0 * h), dtype=np.float64).reshape(x.shape)
