r"""Reference ELU and SELU of 05_beyond_the_note (NumPy, elementwise).

Same contract as ``activations``: any shape, float32/float64 preserved (float32 computed in
float64 and rounded once), a new array, no warnings, +-inf give the limit, nan propagates,
within 4 ULP of a 50-digit ground truth (``tests/test_reference_accuracy.py``). The
negative side uses ``expm1``: e^z - 1 computed as exp(z) - 1 loses every digit near 0
(e^-1e-10 - 1 is -1.00000008e-10, 8e-9 off).
"""

from __future__ import annotations

import numpy as np

from course_utils.reference.arithmetic import param, quiet, rounded_to, to_float64

__all__ = ["elu", "elu_grad", "selu", "selu_grad", "SELU_ALPHA", "SELU_LAMBDA"]

#: SELU's constants (Klambauer et al. 2017, to the digits the paper gives): the fixed point
#: at which a layer maps mean 0 and variance 1 of its inputs to mean 0 and variance 1.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_LAMBDA = 1.0507009873554804934193349852946
#: lambda * alpha rounded once from the exact product (not the product of the two roundings).
SELU_LAMBDA_ALPHA = 1.7580993408473768


def _elu(z, scale, scale_alpha, name):
    x, dtype = to_float64(z, name)
    out = np.where(x > 0, scale * x, scale_alpha * np.expm1(np.minimum(x, 0.0)))
    return rounded_to(out, dtype)


def _elu_grad(z, scale, scale_alpha, name):
    x, dtype = to_float64(z, name)
    out = np.where(x >= 0, scale, scale_alpha * np.exp(np.minimum(x, 0.0)))
    return rounded_to(np.where(np.isnan(x), np.nan, out), dtype)


@quiet
def elu(z, alpha=1.0):
    r"""Exponential Linear Unit: the identity above 0, a saturating exponential below.

        elu(z) = z if z > 0 else alpha (e^z - 1)

    Parameters
    ----------
    z : array_like, any shape, float32 or float64
    alpha : float, default 1.0  (the value it saturates to is -alpha)

    Returns
    -------
    ndarray of z's shape and float dtype; elu(-inf) = -alpha, elu(inf) = inf.

    Notes
    -----
    Clevert et al. (2016): negative outputs push the mean activation towards 0, as batch
    normalisation does, and the saturation limits how much a very negative input says.
    With alpha = 1 it is differentiable at 0 as well.

    See Also
    --------
    elu_grad, selu (a scaled ELU with fixed alpha)

    Examples
    --------
    >>> elu([-800.0, 0.0, 2.0])
    array([-1.,  0.,  2.])
    """
    a = param(alpha, "alpha", "elu")
    return _elu(z, 1.0, a, "elu")


@quiet
def elu_grad(z, alpha=1.0):
    r"""Derivative of ELU with respect to z.

        elu'(z) = 1 if z >= 0 else alpha e^z

    Parameters
    ----------
    z : array_like, any shape, float32 or float64
    alpha : float, default 1.0

    Returns
    -------
    ndarray of z's shape and float dtype; elu'(-inf) = 0, elu'(inf) = 1.

    Notes
    -----
    At z = 0 the note's convention for kinks holds (ReLU'(0) = 1): elu'(0) = 1, the right
    side's value (for alpha = 1 both sides agree there).

    See Also
    --------
    elu

    Examples
    --------
    >>> elu_grad([-1.0, 0.0, 2.0])
    array([0.36787944, 1.        , 1.        ])
    """
    a = param(alpha, "alpha", "elu_grad")
    return _elu_grad(z, 1.0, a, "elu_grad")


@quiet
def selu(z):
    r"""Scaled ELU: ELU with the constants that make a layer self-normalising.

        selu(z) = lambda z if z > 0 else lambda alpha (e^z - 1)
        lambda = 1.0507009873554805,  alpha = 1.6732632423543772

    Parameters
    ----------
    z : array_like, any shape, float32 or float64

    Returns
    -------
    ndarray of z's shape and float dtype; selu(-inf) = -lambda alpha = -1.7581,
    selu(inf) = inf.

    Notes
    -----
    Klambauer et al. (2017): with weights of mean 0 and variance 1 / fan_in (LeCun normal)
    and inputs of mean 0 and variance 1, a layer's outputs have mean 0 and variance 1
    again, and nearby moments are drawn towards that fixed point, layer after layer.

    See Also
    --------
    selu_grad, elu, course_utils.reference.backprop.lecun_normal

    Examples
    --------
    >>> selu([-800.0, 0.0, 1.0])
    array([-1.75809934,  0.        ,  1.05070099])
    """
    return _elu(z, SELU_LAMBDA, SELU_LAMBDA_ALPHA, "selu")


@quiet
def selu_grad(z):
    r"""Derivative of SELU with respect to z.

        selu'(z) = lambda if z >= 0 else lambda alpha e^z

    Parameters
    ----------
    z : array_like, any shape, float32 or float64

    Returns
    -------
    ndarray of z's shape and float dtype; selu'(-inf) = 0, selu'(inf) = lambda.

    Notes
    -----
    selu'(0) = lambda, the right side's value, by the note's convention at kinks (the left
    side tends to lambda alpha = 1.758: SELU has a kink at 0, unlike ELU with alpha = 1).

    See Also
    --------
    selu

    Examples
    --------
    >>> selu_grad([-1.0, 0.0, 1.0])
    array([0.6467686 , 1.05070099, 1.05070099])
    """
    return _elu_grad(z, SELU_LAMBDA, SELU_LAMBDA_ALPHA, "selu_grad")
