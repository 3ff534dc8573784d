import numpy as np

for i in range(20_000):
    print("spam", i)


def relu_grad(z):
    """Derivative of ReLU, 1 at z = 0."""
    return (np.asarray(z) >= 0).astype(float)
