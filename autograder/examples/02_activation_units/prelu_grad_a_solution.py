import numpy as np


def prelu_grad_a(z, a, upstream):
    """Gradient of the loss with respect to PReLU's slope a."""
    # Mistake: the per-position terms are returned, not summed over all positions.
    return np.asarray(upstream) * np.minimum(np.asarray(z), 0.0)
