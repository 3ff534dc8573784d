"""Reference solutions: the single source of truth for every graded function.

Grouped by the assignment that grades them; names and signatures are the graded ones
(see docs/COURSE_PLAN.md). Not installed on student machines (``COURSE_UTILS_STUDENT=1``).
"""

from course_utils.reference.activations import (
    leaky_relu,
    leaky_relu_grad,
    mish,
    mish_delta,
    mish_grad,
    numerical_derivative,
    prelu,
    prelu_grad,
    prelu_grad_a,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    swish,
    swish_grad,
    swish_grad_beta,
)
from course_utils.reference.backprop import (
    he_normal,
    layer_gradient_norms,
    layer_norm_backward,
    layer_norm_forward,
    lecun_normal,
    mlp_backward,
    mlp_forward,
    xavier_normal,
)
from course_utils.reference.elu import elu, elu_grad, selu, selu_grad
from course_utils.reference.gelu import gelu, gelu_grad, gelu_tanh
from course_utils.reference.nonlinearity import (
    collapse_linear_stack,
    fit_output_layer,
    hidden_features,
    sup_error,
)
from course_utils.reference.stability import log_sigmoid, softplus, stable_sigmoid

__all__ = [
    # 01_nonlinearity
    "collapse_linear_stack",
    "hidden_features",
    "fit_output_layer",
    "sup_error",
    # 02_activation_units
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
    # 04_numerical_stability
    "stable_sigmoid",
    "softplus",
    "log_sigmoid",
    "mlp_forward",
    "mlp_backward",
    "xavier_normal",
    "he_normal",
    "layer_gradient_norms",
    "layer_norm_forward",
    "layer_norm_backward",
    # 05_beyond_the_note
    "gelu",
    "gelu_grad",
    "gelu_tanh",
    "elu",
    "elu_grad",
    "selu",
    "selu_grad",
    "lecun_normal",
]
