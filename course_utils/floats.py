r"""The one input helper the learner's elementwise functions share.

Every graded elementwise function takes a Python number, a 0-d array or an array of any
shape, and returns the input's float dtype (float32 stays float32). ``as_float`` does the
first step of that contract, so that the notebooks do not each paste their own copy.
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_float"]


def as_float(z):
    r"""``z`` as a NumPy array of float32 or float64.

    Parameters
    ----------
    z : array_like, any shape; a Python number, a 0-d array or an array

    Returns
    -------
    ndarray of z's shape: float32 and float64 arrays unchanged (the same object, not a
    copy); anything else (Python numbers, integers, float16) as float64.

    Example
    -------
    >>> as_float(3).dtype, as_float(np.float32([1.0])).dtype
    (dtype('float64'), dtype('float32'))
    """
    z = np.asarray(z)
    return z if z.dtype in (np.float32, np.float64) else z.astype(np.float64)
