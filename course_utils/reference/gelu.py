r"""Reference GELU of 05_beyond_the_note: exact (z Phi(z)), its derivative, and the tanh form.

Same contract as ``activations``: any shape, float32/float64 preserved (float32 computed
in float64 and rounded once), a new array, no warnings, +-inf give the limit, nan
propagates; within 4 ULP of a 50-digit ground truth over the whole float range (4 eps
absolute within 0.1 of gelu's root, ``tests/test_reference_accuracy.py``).

Numerical design
----------------
Everything rests on the normal tail Q(t) = 1 - Phi(t) = Phi(-t), t >= 0, needed to
~1e-19 *relative* (``scipy.special.erfc`` and ``erfcx`` are off by up to 10 ULP, and
``erfc(-z / sqrt(2))`` loses ~z**2 ULP to the rounding of its argument):

* t < 3: Q = 1/2 - erf(t / sqrt 2) / 2, erf by its Taylor series, in double-double;
* t >= 3: Q = phi(t) R(t), with Mills' ratio R by Laplace's continued fraction
  R = 1 / (t + 1 / (t + 2 / (t + 3 / ...))) (80 terms: 2e-21 at t = 3), in double-double,
  and phi(t) = exp(-t**2 / 2) / sqrt(2 pi) from the exact square t**2 = p + e
  (exp(-p/2) (1 - e/2); ``dd_times_exp`` keeps the digits where it is subnormal).

gelu'(z) = Phi(z) + z phi(z) has a root at z = -0.7518 where the two terms cancel; below
|z| = 3 both are double-double (phi by ``dd_exp``), so its absolute error stays ~1e-30.
The tanh form is z sigmoid(2u) (the identity (1 + tanh u) / 2 = sigmoid(2u)), with
2u = 2 sqrt(2/pi) z (1 + 0.044715 z**2) in double-double: sigmoid's relative error is
|2u| times the argument's, and |2u| reaches 745 before the result underflows.
"""

from __future__ import annotations

import numpy as np

from course_utils.reference.arithmetic import (
    dd,
    dd_add,
    dd_div,
    dd_exp,
    dd_mul,
    dd_times_exp,
    over_1pe,
    quiet,
    rounded_to,
    times_exp,
    to_float64,
    two_prod,
)

__all__ = ["gelu", "gelu_grad", "gelu_tanh"]

#: Double-double constants (hi, lo) of the exact reals.
INV_SQRT2 = (0.7071067811865476, -4.833646656726457e-17)
INV_SQRT_2PI = (0.3989422804014327, -2.49232720227773e-17)
TWO_OVER_SQRT_PI = (1.1283791670955126, 1.533545961316588e-17)
TANH_SCALE = (1.5957691216057308, -9.96930880911092e-17)   # 2 sqrt(2 / pi), 2u's factor
TANH_CUBIC = (0.044715, 2.1960211427085595e-18)            # the decimal 0.044715
#: |z| beyond which gelu and gelu' are their limits (0, z or 1) in float64.
SATURATE = 40.0
#: Where the normal tail switches from erf's Taylor series to the continued fraction.
SPLIT = 3.0


def _const(c, like):
    return np.full_like(like, c[0]), np.full_like(like, c[1])


def _neg(a):
    return -a[0], -a[1]


def tail_near(t):
    """Q(t) = 1/2 - erf(t / sqrt 2) / 2 for 0 <= t <= 3, double-double (Taylor of erf)."""
    u = dd_mul(dd(t), _const(INV_SQRT2, t))
    u2 = dd_mul(u, u)
    term, total = u, u
    for n in range(1, 48):  # u**2 <= 4.5: the terms fall below 1e-22 of Q(3)
        term = dd_div(dd_mul(term, u2), dd(np.full_like(t, -float(n))))
        total = dd_add(total, dd_div(term, dd(np.full_like(t, 2.0 * n + 1.0))))
    half_erf = dd_mul(total, _const((0.5 * TWO_OVER_SQRT_PI[0], 0.5 * TWO_OVER_SQRT_PI[1]), t))
    return dd_add(dd(np.full_like(t, 0.5)), _neg(half_erf))


def mills(t):
    """Mills' ratio R(t) = Q(t) / phi(t) for t >= 3, double-double (continued fraction)."""
    f = dd(t)
    for k in range(80, 0, -1):  # 2e-21 relative at t = 3, less beyond
        f = dd_add(dd(t), dd_div(dd(np.full_like(t, float(k))), f))
    return dd_div(dd(np.ones_like(t)), f)


def times_phi(m, t):
    """``m * phi(t)`` rounded once, for a double-double m and 0 <= t <= SATURATE:
    exp(-t**2 / 2) from the exact square t**2 = p + e, as exp(-p/2) (1 - e/2)."""
    p, e = two_prod(t, t)
    m = dd_mul(dd_mul(m, _const(INV_SQRT_2PI, t)), dd_add(dd(np.ones_like(t)), dd(-0.5 * e)))
    return dd_times_exp(m, -0.5 * p)


def phi_near(t):
    """phi(t) for 0 <= t <= 3 in double-double."""
    p, e = two_prod(t, t)
    return dd_mul(dd_exp((-0.5 * p, -0.5 * e)), _const(INV_SQRT_2PI, t))


def _pieces(z):
    """(x, t, near, far, neg): z finite (infinities as 0), |z| clipped to SATURATE, the masks
    |z| < 3 and |z| >= 3, z < 0; and the arguments of the two branches, each valid
    everywhere (so that both can be computed on the whole array without a warning)."""
    x = np.where(np.isfinite(z), z, 0.0)
    t = np.minimum(np.abs(x), SATURATE)
    near = t < SPLIT
    return x, t, near, np.where(near, t, 0.0), np.where(near, SPLIT, t), x < 0


def cdf_near(tn, neg):
    """Phi(z) for |z| = tn < 3, double-double: Q(tn) below 0, 1 - Q(tn) above."""
    q = tail_near(tn)
    upper = dd_add(dd(np.ones_like(tn)), _neg(q))
    return np.where(neg, q[0], upper[0]), np.where(neg, q[1], upper[1])


def _limits(out, z, x, neg, at_minus_inf, at_plus_inf):
    """The limits at |z| >= SATURATE and +-inf, nan for nan."""
    out = np.where(np.abs(x) >= SATURATE, np.where(neg, -0.0, at_plus_inf(x)), out)
    out = np.where(np.isposinf(z), at_plus_inf(np.inf), np.where(np.isneginf(z),
                                                                   at_minus_inf, out))
    return np.where(np.isnan(z), np.nan, out)


@quiet
def gelu(z):
    r"""Gaussian Error Linear Unit, exact: the input weighted by the normal CDF.

        gelu(z) = z Phi(z) = z (1 + erf(z / sqrt(2))) / 2

    Parameters
    ----------
    z : array_like, any shape, float32 or float64

    Returns
    -------
    ndarray of z's shape and float dtype; gelu(-inf) = 0, gelu(inf) = inf; its minimum is
    -0.17 at z = -0.75.

    Notes
    -----
    Hendrycks and Gimpel (2016): a smooth ReLU whose gate is the probability that a
    standard normal is below z. Below z = -38.7 it is smaller than the smallest float.

    See Also
    --------
    gelu_grad, gelu_tanh (the approximation BERT and GPT-2 used),
    course_utils.reference.activations.swish (z sigmoid(1.702 z) is close to it)

    Examples
    --------
    >>> gelu([-3.0, 0.0, 1.0])
    array([-0.00404969,  0.        ,  0.84134475])
    """
    z, dtype = to_float64(z, "gelu")
    x, t, near, tn, tf, neg = _pieces(z)
    out_near = dd_mul(dd(np.where(near, x, 0.0)), cdf_near(tn, neg))[0]
    r = mills(tf)
    below = times_phi(dd_mul(dd(np.where(neg, -tf, tf)), r), tf)   # z phi R, z <= -3
    above = np.minimum(x, SATURATE) * (1.0 - times_phi(r, tf))     # z (1 - Q), z >= 3
    out = np.where(near, out_near, np.where(neg, below, above))
    return rounded_to(_limits(out, z, x, neg, -0.0, lambda v: v), dtype)


@quiet
def gelu_grad(z):
    r"""Derivative of the exact GELU with respect to z.

        gelu'(z) = Phi(z) + z phi(z),  phi(z) = exp(-z**2 / 2) / sqrt(2 pi)

    Parameters
    ----------
    z : array_like, any shape, float32 or float64

    Returns
    -------
    ndarray of z's shape and float dtype; gelu'(-inf) = 0, gelu'(inf) = 1; negative below
    the root z = -0.7518 (gelu's minimum), above 1 for z > 0 (its maximum 1.129 at
    z = sqrt 2).

    See Also
    --------
    gelu

    Examples
    --------
    >>> gelu_grad([-3.0, 0.0, 3.0])
    array([-0.01194565,  0.5       ,  1.01194565])
    """
    z, dtype = to_float64(z, "gelu_grad")
    x, t, near, tn, tf, neg = _pieces(z)
    out_near = dd_add(cdf_near(tn, neg), dd_mul(dd(np.where(near, x, 0.0)), phi_near(tn)))[0]
    # |z| >= 3: Phi(z) + z phi(z) = phi(t) (R(t) - t) below 0, 1 - phi(t) (R(t) - t) above.
    gap = times_phi(dd_add(mills(tf), dd(-tf)), tf)
    out = np.where(near, out_near, np.where(neg, gap, 1.0 - gap))
    return rounded_to(_limits(out, z, x, neg, -0.0, lambda v: np.ones_like(v)), dtype)


@quiet
def gelu_tanh(z):
    r"""GELU's tanh approximation, as BERT and GPT-2 computed it.

        gelu_tanh(z) = z (1 + tanh(sqrt(2/pi) (z + 0.044715 z**3))) / 2
                     = z sigmoid(2 sqrt(2/pi) (z + 0.044715 z**3))

    Parameters
    ----------
    z : array_like, any shape, float32 or float64

    Returns
    -------
    ndarray of z's shape and float dtype; gelu_tanh(-inf) = 0, gelu_tanh(inf) = inf.

    Notes
    -----
    Within 4.7e-4 of the exact ``gelu`` everywhere; PyTorch computes it with
    ``F.gelu(x, approximate="tanh")``. Here the approximation is the definition, computed
    to the last bit.

    See Also
    --------
    gelu

    Examples
    --------
    >>> gelu_tanh([-3.0, 0.0, 1.0])
    array([-0.00363739,  0.        ,  0.84119199])
    """
    z, dtype = to_float64(z, "gelu_tanh")
    x = np.where(np.isfinite(z), z, 0.0)
    c = np.clip(x, -1e4, 1e4)  # beyond, sigmoid(2u) is exactly 0 or 1 in float64
    cubic = dd_add(dd(np.ones_like(c)), dd_mul(_const(TANH_CUBIC, c), two_prod(c, c)))
    a_hi, a_lo = dd_mul(dd_mul(_const(TANH_SCALE, c), dd(c)), cubic)  # 2u, double-double
    a = np.clip(a_hi, -2800.0, 2800.0)
    lo = np.where(np.abs(a_hi) <= 2800.0, a_lo, 0.0)
    e = np.exp(-np.abs(a))
    above = over_1pe(x, e - e * lo)                  # z / (1 + e^-(2u)), 2u >= 0
    below = times_exp(over_1pe(x * (1.0 + lo), np.exp(np.clip(a, -745.0, 0.0))),
                      np.minimum(a, 0.0))            # z e^(2u) / (1 + e^(2u)), 2u < 0
    out = np.where(a >= 0, above, below)
    out = np.where(np.isposinf(z), np.inf, np.where(np.isneginf(z), -0.0, out))
    return rounded_to(np.where(np.isnan(z), np.nan, out), dtype)
