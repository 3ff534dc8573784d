import numpy as np

from course_utils.floats import as_float

SELU_LAMBDA = 1.0507
SELU_ALPHA = 1.6733


def selu(z):
    """SELU."""
    # Mistake: the paper's constants rounded to five digits.
    z = as_float(z)
    return SELU_LAMBDA * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0)))
