import numpy as np


def sigmoid(z):
    """Logistic sigmoid, naive: overflows for very negative z."""
    return 1 / (1 + np.exp(-z))
