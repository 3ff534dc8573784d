from course_utils.floats import as_float
from course_utils.units import sigmoid


def gelu(z):
    """GELU."""
    # Mistake: z * sigmoid(1.702 z), GELU's Swish-like approximation, passed off as exact.
    z = as_float(z)
    return z * sigmoid(1.702 * z)
