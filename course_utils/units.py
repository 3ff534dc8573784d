r"""Plain NumPy activations and their derivatives, for the experiments and the visible checks.

The graded, exact-everywhere versions live in ``course_utils.reference``, which student
installs do not have; the demonstrations (04's gradient lab, 02's dying-ReLU measurement)
and the visible checks need working activations there too, so this module holds the one
plain copy they share. Any float dtype is kept (float16 included); ReLU'(0) = 1 as in the
note.

    sigmoid(z)      = 1 / (1 + exp(-z)),   computed as exp(-|z|) forms (no overflow)
    sigmoid_grad(z) = s (1 - s)
    tanh_grad(z)    = 1 - tanh(z)^2
    relu(z)         = max(z, 0)
    relu_grad(z)    = 1 if z >= 0 else 0
    swish(z)        = z sigmoid(z),           swish_grad(z) = s + z s (1 - s)
    mish(z)         = z tanh(softplus(z)),    mish_grad(z)  = t + z (1 - t^2) sigmoid(z),
                      t = tanh(softplus(z)) = n / (n + 2), n = e^z (e^z + 2)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["ACTIVATIONS", "mish", "mish_grad", "relu", "relu_grad", "sigmoid", "sigmoid_grad",
           "swish", "swish_grad", "tanh_grad"]


def sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(np.result_type(z), copy=False)


def sigmoid_grad(z):
    s = sigmoid(z)
    return s * (1 - s)


def tanh_grad(z):
    return 1 - np.tanh(z) ** 2


def relu(z):
    return np.maximum(z, 0)


def relu_grad(z):
    return (z >= 0).astype(np.result_type(z))


def swish(z):
    return z * sigmoid(z)


def swish_grad(z):
    s = sigmoid(z)
    return s + z * s * (1 - s)


def _tanh_softplus(z):
    # tanh(log(1 + e^z)) = n / (n + 2) with n = e^z (e^z + 2); for z > 0, divided through by
    # e^(2z). Written with w = e^(-|z|) <= 1 nothing overflows, and one exp replaces the
    # exp, log1p and tanh of the textbook form: Mish's runs in 04's watched training
    # take half the time (within 3 ULP of the exact value, against 2 for the textbook form).
    w = np.exp(-np.abs(z))
    positive = z > 0
    n = np.where(positive, 1 + 2 * w, w * (w + 2))
    return n / (n + np.where(positive, 2 * w * w, 2))


def mish(z):
    return z * _tanh_softplus(z)


def mish_grad(z):
    t = _tanh_softplus(z)
    return t + z * (1 - t * t) * sigmoid(z)


#: name -> (sigma, sigma_grad), NumPy, any float dtype.
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (np.tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "swish": (swish, swish_grad),
    "mish": (mish, mish_grad),
}
