"""Reference stable forms of 04_numerical_stability (NumPy, elementwise).

Same contract as ``activations``: any shape, float32/float64 preserved, no warnings,
exact where the naive formula overflows or cancels.
"""

# TODO(foundation helper): implement.


def stable_sigmoid(z): raise NotImplementedError
def softplus(z): raise NotImplementedError
def log_sigmoid(z): raise NotImplementedError
