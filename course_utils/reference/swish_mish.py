"""Reference Swish and Mish and their derivatives (NumPy), to the accuracy described in
``course_utils.reference.activations``: swish, swish_grad, swish_grad_beta, mish,
mish_grad, mish_delta."""

from __future__ import annotations

import numpy as np

from course_utils.reference.arithmetic import (
    CLIP,
    CLIP_MISH,
    big_scale,
    dd,
    dd_add,
    dd_div,
    dd_mul,
    dd_times_exp,
    gate,
    gate_dd,
    param,
    quiet,
    rounded_to,
    times_exp,
    to_float64,
    two_sum,
)

# --------------------------------------------------------------------------------------
# Swish
# --------------------------------------------------------------------------------------


@quiet
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
    x0, dtype = to_float64(z, "swish")
    beta = param(beta, "beta", "swish")
    zf, x, lo, zinf = gate(x0, beta)
    e_dd, one_e, one_lo = gate_dd(x, lo)
    k = big_scale(zf)
    m = dd_div(dd(zf * k), one_e)  # z / (1 + E)
    pos = dd_mul(m, dd(np.ones_like(zf)))[0]
    neg = dd_times_exp(dd_mul(m, one_lo), -np.abs(x))  # ... * exp(x + lo)
    neg = np.where(x <= -CLIP, 0.0, neg)  # |z| e^(beta z) < 1e309 e^-2400 = 0
    y = np.where(x < 0, neg, pos) / k
    y = np.where(zinf & (x > -CLIP), x0, y)  # the gate tends to 1/2 or 1: swish -> z
    return rounded_to(y, dtype)


@quiet
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
    x0, dtype = to_float64(z, "swish_grad")
    beta = param(beta, "beta", "swish_grad")
    _, x, lo, _ = gate(x0, beta)
    e_dd, one_e, one_lo = gate_dd(x, lo)
    den = dd_mul(one_e, one_e)
    xt = dd_add(dd(x), dd(lo))  # the exact beta * z
    # x < 0: E (1 + E + x) / (1 + E)**2, with the factor E = exp(x + lo) applied last
    num_neg = dd_add(dd_add(dd(np.ones_like(x)), xt), e_dd)
    neg = dd_times_exp(dd_mul(dd_div(num_neg, den), one_lo), -np.abs(x))
    # x >= 0: (1 + E + x E) / (1 + E)**2, all terms positive
    pos = dd_div(dd_add(one_e, dd_mul(xt, e_dd)), den)[0]
    return rounded_to(np.where(x < 0, neg, pos), dtype)


@quiet
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
    x0, dtype = to_float64(z, "swish_grad_beta")
    beta = param(beta, "beta", "swish_grad_beta")
    zf, x, lo, zinf = gate(x0, beta)
    sign = np.where(x < 0, -1.0, 1.0)
    e_dd, one_e, _ = gate_dd(x, lo)
    den = dd_mul(one_e, one_e)
    # w = z exp(-|x + lo|/2), so that the value is w**2 / (1 + E)**2
    small = np.abs(zf) <= 2.0**500  # then w**2 cannot overflow
    zs = np.where(small, zf, 0.0)
    h = np.exp(-0.5 * np.abs(x))
    w = dd_mul(dd_mul(dd(zs), dd(h)), two_sum(1.0, -0.5 * sign * lo))
    y = dd_div(dd_mul(w, w), den)[0]
    # beyond |x| = 1400 (exp(-|x|/2) subnormal) or for |z| > 2**500 (beta < 2**-490):
    # w by halves, in plain float64 (a few ulp)
    w_far = times_exp(zf, -0.5 * np.abs(x))
    w_far = w_far - w_far * (0.5 * sign * lo)
    w_far = w_far / (1.0 + e_dd[0])
    far = w_far * w_far
    y = np.where((np.abs(x) > 1400.0) | ~small, far, y)
    y = np.where(np.abs(x) >= CLIP, 0.0, y)  # z**2 e^-|beta z| < 1e617 e^-2400 = 0
    y = np.where(zinf & (x == 0.0), np.inf, y)
    return rounded_to(y, dtype)


# --------------------------------------------------------------------------------------
# Mish
# --------------------------------------------------------------------------------------


@quiet
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
    x, dtype = to_float64(z, "mish")
    xc = np.clip(x, -CLIP_MISH, CLIP_MISH)
    e = np.exp(-np.abs(xc))
    # z <= 0: mish = z (E + 2) / (E (E + 2) + 2) * E, the last factor possibly subnormal
    e2 = two_sum(e, 2.0)
    n = dd_add(dd_mul(dd(e), e2), dd(np.full_like(e, 2.0)))
    neg = dd_times_exp(dd_div(dd_mul(dd(xc), e2), n), -np.abs(xc))
    # z > 0: mish = z (1 + 2E) / (1 + 2E + 2E**2); beyond 800 that is z itself
    num = two_sum(1.0, 2.0 * e)
    den = dd_add(num, dd_mul(dd(e), dd(2.0 * e)))
    pos = np.where(x > CLIP_MISH, x, dd_mul(dd(xc), dd_div(num, den))[0])
    return rounded_to(np.where(x <= 0, neg, pos), dtype)


@quiet
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
    x, dtype = to_float64(z, "mish_grad")
    xc = np.clip(x, -CLIP_MISH, CLIP_MISH)
    e = np.exp(-np.abs(xc))
    ed = dd(e)
    c1 = two_sum(6.0, 4.0 * xc)  # 6 + 4z
    c0 = two_sum(4.0, 4.0 * xc)  # 4 (1 + z)
    # z <= 0: E * omega / delta**2, omega = ((E + 4) E + 6 + 4z) E + 4 (1 + z)
    omega = dd_add(dd_mul(dd_add(dd_mul(two_sum(e, 4.0), ed), c1), ed), c0)
    delta = dd_add(dd_mul(two_sum(e, 2.0), ed), dd(np.full_like(e, 2.0)))
    neg = dd_times_exp(dd_div(omega, dd_mul(delta, delta)), -np.abs(xc))
    # z > 0: (1 + E (4 + E (6 + 4z + E 4 (1 + z)))) / (1 + 2E + 2E**2)**2
    inner = dd_add(c1, dd_mul(ed, c0))
    omega_p = dd_add(dd(np.ones_like(e)), dd_mul(ed, dd_add(dd(np.full_like(e, 4.0)),
                                                              dd_mul(ed, inner))))
    d = dd_add(two_sum(1.0, 2.0 * e), dd_mul(ed, dd(2.0 * e)))
    pos = dd_div(omega_p, dd_mul(d, d))[0]
    return rounded_to(np.where(x <= 0, neg, pos), dtype)


@quiet
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
    x, dtype = to_float64(z, "mish_delta")
    xc = np.clip(x, -CLIP_MISH, CLIP_MISH)
    e = np.exp(-np.abs(xc))
    ed = dd(e)
    one_e = two_sum(1.0, e)
    # z <= 0: w = 2 (1 + E) / ((E + 2) E + 2)
    d_neg = dd_add(dd_mul(two_sum(e, 2.0), ed), dd(np.full_like(e, 2.0)))
    w = dd_div(one_e, d_neg)
    neg = 4.0 * dd_mul(w, w)[0]
    # z > 0: Delta = 4 E**2 r**2, r = (1 + E) / (1 + 2E + 2E**2); E**2 = exp(-2z) directly
    d_pos = dd_add(two_sum(1.0, 2.0 * e), dd_mul(ed, dd(2.0 * e)))
    r = dd_div(one_e, d_pos)
    pos = dd_times_exp(dd_mul(dd(np.full_like(e, 4.0)), dd_mul(r, r)), -2.0 * np.abs(xc))
    return rounded_to(np.where(x <= 0, neg, pos), dtype)


