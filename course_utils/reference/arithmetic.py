"""Shared arithmetic of the reference activations (``activations``, ``swish_mish``,
``stability``): input conversion, parameters, exponentials that never overflow, and
double-double arithmetic. The numerical design is in ``activations``' docstring."""

from __future__ import annotations

import functools
import math

import numpy as np

#: exp(-|x|) is 0 in float64 below x = -745.2. Exponential arguments are clipped to
#: [-CLIP, CLIP]: it turns +-inf into finite numbers with the same result and keeps
#: x * exp(-|x|) away from inf * 0. Mish's z * e^z is 0 for z < -800; Swish's
#: z * e^(beta z) and z**2 * e^(beta z) can be non-zero down to beta z = -2165 (huge z,
#: tiny beta), so its gate argument is clipped at 2400.
CLIP_MISH = 800.0
CLIP = 2400.0

# --------------------------------------------------------------------------------------
# Shared plumbing: input conversion, the result, parameters, safe exponentials.
# --------------------------------------------------------------------------------------


def quiet(fn):
    """Silence overflow and underflow inside ``fn``: there they are the correct rounding."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(over="ignore", under="ignore"):
            return fn(*args, **kwargs)

    return wrapper


def to_float64(z, name):
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


def rounded_to(y, dtype):
    """A new ndarray of ``dtype`` (0-d for a 0-d input), rounded once from float64."""
    return np.asarray(y, dtype=np.float64).astype(dtype)


def param(value, what, name):
    """A finite real scalar parameter (``a`` or ``beta``) as a Python float."""
    arr = np.asarray(value)
    if arr.ndim != 0 or arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: {what} must be a real scalar, got {value!r}.")
    value = float(arr)
    if not math.isfinite(value):
        raise ValueError(f"{name}: {what} must be finite, got {value}.")
    return value


def times_exp(m, x):
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
    inside = np.abs(x) <= CLIP
    return np.clip(x, -CLIP, CLIP), np.where(inside, lo, 0.0)


def gate(z, beta):
    """Swish's gate argument for every z, infinities included.

    Returns ``(zf, x, x_lo, zinf)``: z with +-inf replaced by 0, the clipped gate
    argument ``x + x_lo = beta * z`` (+-800 where beta * z is +-inf, 0 where beta = 0),
    and the mask of infinite z.
    """
    zinf = np.isinf(z)
    zf = np.where(zinf, 0.0, z)
    x, lo = _two_product(beta, zf)
    if beta != 0.0:
        x = np.where(zinf, math.copysign(CLIP, beta) * np.sign(z), x)
    return zf, x, lo, zinf


def over_1pe(num, e, power=1):
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


def two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _split(a):
    c = 134217729.0 * a  # 2**27 + 1; |a| < 1e300 here
    hi = c - (c - a)
    return hi, a - hi


def two_prod(a, b):
    """``(p, e)`` with p + e == a * b exactly (Dekker; |a|, |b| < 1e300)."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def dd_add(a, b):
    s, e = two_sum(a[0], b[0])
    return _fast_two_sum(s, e + (a[1] + b[1]))


def dd_mul(a, b):
    p, e = two_prod(a[0], b[0])
    return _fast_two_sum(p, e + (a[0] * b[1] + a[1] * b[0]))


def dd_div(a, b):
    q1 = a[0] / b[0]
    p, e = two_prod(q1, b[0])
    r = ((a[0] - p) - e + a[1]) - q1 * b[1]
    return _fast_two_sum(q1, r / b[0])


def dd(a):
    return a, np.zeros_like(a)


def dd_exp(y):
    """exp of a double-double ``y`` with -8 <= y <= 0, in double-double (~1e-31 relative).

    exp(y) = exp(y / 16) ** 16: a Taylor series where |y / 16| <= 0.5, then four squarings.
    """
    r = (y[0] / 16.0, y[1] / 16.0)  # exact: a power of two
    term, total = dd(np.ones_like(r[0])), dd(np.ones_like(r[0]))
    for n in range(1, 27):  # 0.5**27 / 27! < 1e-40
        term = dd_div(dd_mul(term, r), dd(np.full_like(r[0], float(n))))
        total = dd_add(total, term)
    for _ in range(4):
        total = dd_mul(total, total)
    return total


def dd_times_exp(m, x):
    """``m * exp(x)`` rounded once, for a double-double m and x <= 0 (see times_exp)."""
    direct = dd_mul(m, dd(np.exp(x)))[0]
    if not np.any(x < -700.0):
        return direct
    return np.where(x >= -700.0, direct, times_exp(m[0], x))


def sigmoid_parts(x, lo=0.0):
    """``(E, s)`` with E = exp(-|x + lo|) and s = sigmoid(x + lo), for |lo| << |x| or lo = 0."""
    sign = np.where(x < 0, -1.0, 1.0)
    e = np.exp(-np.abs(x))
    e = e - e * (sign * lo)  # exp(-|x| - sign*lo) to first order; lo is below 1 ulp of x
    s = over_1pe(np.where(x < 0, e, 1.0), e)
    return e, s


def gate_dd(x, lo):
    """Double-double pieces of the gate at x + lo: ``(E, 1 + E, 1 + lo)``, E = exp(-|x + lo|)."""
    sign = np.where(x < 0, -1.0, 1.0)
    e = np.exp(-np.abs(x))
    e_dd = _fast_two_sum(e, -e * (sign * lo))
    return e_dd, dd_add(dd(np.ones_like(e)), e_dd), two_sum(1.0, lo)


def big_scale(zf):
    """2**-64 where |z| > 2**900 (so that Dekker's split cannot overflow), else 1."""
    return np.where(np.abs(zf) > 2.0**900, 2.0**-64, 1.0)


