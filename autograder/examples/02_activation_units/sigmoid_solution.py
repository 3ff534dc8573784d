import numpy as np


def sigmoid(z):
    """Logistic sigmoid, written straight from the formula."""
    # Mistake: exp(-z) overflows for z below about -710 (a RuntimeWarning, then inf).
    return 1 / (1 + np.exp(-z))
