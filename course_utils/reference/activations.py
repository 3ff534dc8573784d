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

Sigmoid and the ReLU family are defined here, Swish and Mish in ``swish_mish`` (re-exported
here), the shared plumbing and double-double arithmetic in ``arithmetic``.
"""

from __future__ import annotations

import math

import numpy as np

from course_utils.reference.arithmetic import (
    over_1pe,
    param,
    quiet,
    rounded_to,
    sigmoid_parts,
    to_float64,
)
from course_utils.reference.swish_mish import (
    mish,
    mish_delta,
    mish_grad,
    swish,
    swish_grad,
    swish_grad_beta,
)

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

# --------------------------------------------------------------------------------------
# Sigmoid
# --------------------------------------------------------------------------------------


@quiet
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
    x, dtype = to_float64(z, "sigmoid")
    return rounded_to(sigmoid_parts(x)[1], dtype)


@quiet
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
    x, dtype = to_float64(z, "sigmoid_grad")
    e = np.exp(-np.abs(x))
    return rounded_to(over_1pe(e, e, power=2), dtype)


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
    x, dtype = to_float64(z, "relu")
    return rounded_to(np.maximum(x, 0.0), dtype)


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
    x, dtype = to_float64(z, "relu_grad")
    return rounded_to(np.heaviside(x, 1.0), dtype)


@quiet
def _leaky(z, a, name):
    x, dtype = to_float64(z, name)
    a = param(a, "a", name)
    neg = x < 0
    if a == 0.0:
        y = np.where(neg, 0.0, x)  # a * (-inf) would be nan; the limit is 0
    else:
        y = np.where(neg, a * x, x)
    return rounded_to(y, dtype)


def _leaky_grad(z, a, name):
    x, dtype = to_float64(z, name)
    a = param(a, "a", name)
    y = np.where(x < 0, a, 1.0)
    return rounded_to(np.where(np.isnan(x), np.nan, y), dtype)


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


@quiet
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
    x, _ = to_float64(z, "prelu_grad_a")
    param(a, "a", "prelu_grad_a")
    up, _ = to_float64(upstream, "prelu_grad_a")
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
    h = param(h, "h", "numerical_derivative")
    if h <= 0:
        raise ValueError(f"numerical_derivative: h must be positive, got {h}.")
    if not callable(f):
        raise TypeError(f"numerical_derivative: f must be callable, got {type(f).__name__}.")
    x, _ = to_float64(z, "numerical_derivative")
    up = np.asarray(f(x + h), dtype=np.float64)
    down = np.asarray(f(x - h), dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.asarray((up - down) / (2.0 * h), dtype=np.float64).reshape(x.shape)
