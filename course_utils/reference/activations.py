"""Reference activations of 02_activation_units and their derivatives (NumPy).

Every function takes an array_like of any shape (0-d included) or a Python scalar,
float32 or float64 (integers and Python scalars are computed in float64), and returns a
new array of the same shape and float dtype. No RuntimeWarning on any input; +-inf give
the limit; nan propagates. Derivatives follow the note: ReLU'(0) = 1, PReLU'(0) = 1.
"""

# TODO(foundation helper): implement. Signatures are fixed by COURSE_MAP.md.


def sigmoid(z): raise NotImplementedError
def sigmoid_grad(z): raise NotImplementedError
def relu(z): raise NotImplementedError
def relu_grad(z): raise NotImplementedError
def leaky_relu(z, a=0.01): raise NotImplementedError
def leaky_relu_grad(z, a=0.01): raise NotImplementedError
def prelu(z, a): raise NotImplementedError
def prelu_grad(z, a): raise NotImplementedError
def prelu_grad_a(z, a, upstream): raise NotImplementedError
def swish(z, beta=1.0): raise NotImplementedError
def swish_grad(z, beta=1.0): raise NotImplementedError
def swish_grad_beta(z, beta=1.0): raise NotImplementedError
def mish(z): raise NotImplementedError
def mish_grad(z): raise NotImplementedError
def mish_delta(z): raise NotImplementedError
def numerical_derivative(f, z, h=1e-5): raise NotImplementedError
