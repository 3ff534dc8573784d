r"""Reference stable forms of 04_numerical_stability (NumPy, elementwise).

Same contract as ``activations``: any shape, float32/float64 preserved (float32 computed in
float64 and rounded once), a new array, no warnings, +-inf give the limit, nan propagates,
exact where the naive formula overflows or cancels: within 4 ULP of a 50-digit ground
truth everywhere (``tests/test_reference_accuracy.py``).
"""

from __future__ import annotations

import numpy as np

from course_utils.reference.activations import sigmoid
from course_utils.reference.arithmetic import quiet, rounded_to, to_float64

__all__ = ["stable_sigmoid", "softplus", "log_sigmoid"]

#: One source of truth: the stable sigmoid *is* the reference sigmoid. Its stable form:
#: E = exp(-|z|) <= 1, then 1/(1 + E) for z >= 0 and E/(1 + E) for z < 0.
stable_sigmoid = sigmoid


@quiet
def softplus(z):
    r"""Softplus, the smooth ReLU, computed without overflow or cancellation.

        softplus(z) = ln(1 + exp(z))

    Parameters
    ----------
    z : array_like, any shape, float32 or float64

    Returns
    -------
    ndarray of z's shape and float dtype, > 0; softplus(-inf) = 0, softplus(inf) = inf.

    Notes
    -----
    Stable form, E = exp(-|z|) <= 1:

        softplus(z) = max(z, 0) + log1p(E)

    The naive ln(1 + exp(z)) overflows for z > 709.8 and returns 0 for z < -36.7
    (1 + tiny rounds to 1); ``log1p`` keeps every digit of the small term, and no
    threshold is needed (PyTorch's ``F.softplus`` returns z itself above z = 20, an
    error of e^-20 / 20 ~ 1e-10 relative).

    See Also
    --------
    log_sigmoid, course_utils.reference.activations.sigmoid (its derivative)

    Examples
    --------
    >>> softplus([-800.0, 0.0, 800.0])
    array([0.00000000e+00, 6.93147181e-01, 8.00000000e+02])
    """
    x, dtype = to_float64(z, "softplus")
    return rounded_to(np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x))), dtype)


@quiet
def log_sigmoid(z):
    r"""Logarithm of the sigmoid, computed without overflow or cancellation.

        log_sigmoid(z) = ln(1 / (1 + exp(-z))) = -softplus(-z)

    Parameters
    ----------
    z : array_like, any shape, float32 or float64

    Returns
    -------
    ndarray of z's shape and float dtype, <= 0; log_sigmoid(-inf) = -inf,
    log_sigmoid(inf) = 0.

    Notes
    -----
    Stable form, E = exp(-|z|) <= 1:

        log_sigmoid(z) = min(z, 0) - log1p(E)

    The naive ln(sigmoid(z)) is -inf once sigmoid underflows (z < -745) and 0 once it
    rounds to 1 (z > 36.7), where the true value -e^-z is still representable.

    See Also
    --------
    softplus (log_sigmoid(z) = -softplus(-z)), stable_sigmoid

    Examples
    --------
    >>> log_sigmoid([-800.0, 0.0, 40.0])
    array([-8.00000000e+02, -6.93147181e-01, -4.24835426e-18])
    """
    x, dtype = to_float64(z, "log_sigmoid")
    return rounded_to(np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x))), dtype)
