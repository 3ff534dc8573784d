r"""What 01's checks share: norm-wise comparison of linear-algebra results, their
tolerances, and the messages' way of naming a case and a wrong result.

Tolerances. These are results of linear algebra, not of elementwise formulas: a correct
float64 implementation (a product of a few matrices, an SVD or QR least-squares solve of a
problem with condition number <= 1e6) is accurate to about ``cond * n * eps`` <= 1e-9 of the
result's size, and a wrong one is off by O(1). ``LINALG_RTOL = 1e-8`` sits between, and is
applied norm-wise (``atol = rtol * max|expected|``) because an entry that cancels to nearly 0
has no relative accuracy even when the matrix is exact to the last bit. float32 results are
compared with 1e-4.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.checks.engine import Label, compare, require_array

__all__ = ["LINALG_RTOL", "LINALG_RTOL32", "case_inputs", "rtol_for", "grid_inputs",
           "compare_normwise", "require_result"]

#: Norm-wise relative tolerance of float64 linear-algebra results (see the module docstring).
LINALG_RTOL = 1e-8
#: The same for float32 results.
LINALG_RTOL32 = 1e-4

Array = np.ndarray


def case_inputs(text: str) -> dict[str, Label]:
    """``inputs=`` for ``call``: 'on input case = <text>'."""
    return {"case": Label(text)}


def rtol_for(dtype: Any) -> float:
    return LINALG_RTOL32 if np.dtype(dtype) == np.float32 else LINALG_RTOL


def grid_inputs(shape: tuple[int, ...]) -> dict[str, Array]:
    """Index grids naming the position of a mismatch: 'row = 1, col = 0'."""
    if len(shape) == 0:
        return {}
    names = ("row", "col", "k")[: len(shape)]
    return dict(zip(names, np.indices(shape), strict=True))


def compare_normwise(name: str, what: str, got: Array, expected: Array, *, rtol: float,
                   hint: str | Callable | None = None) -> None:
    """Norm-wise comparison of a whole array, reporting the first wrong entry."""
    __tracebackhide__ = True
    expected = np.asarray(expected, dtype=np.float64)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    atol = rtol * scale if np.isfinite(scale) and scale > 0 else rtol
    compare(f"{name} ({what})", np.asarray(got, dtype=np.float64), expected,
            inputs=grid_inputs(expected.shape), rtol=rtol, atol=atol, hint=hint)


#: Hints for a result of the wrong type, shape or dtype (``engine.require_array``).
ARRAY_HINTS = {
    "type": "build it with NumPy operations (@, np.linalg...).",
    "shape": "check the shape letters in the docstring: W is (n_out, n_in).",
    "dtype": "keep the inputs' float dtype: np.eye, np.zeros and np.array default to "
             "float64 unless you pass dtype=.",
}


def require_result(name: str, what: str, value: Any, shape: tuple[int, ...], dtype: Any,
                   where: str, hint: str | None = None) -> Array:
    """The result must be an ndarray of this shape and dtype (``hint`` replaces the type
    and shape hints)."""
    __tracebackhide__ = True
    hints = {**ARRAY_HINTS, **({"type": hint, "shape": hint} if hint else {})}
    return require_array(name, what, value, shape, dtype, where, hints=hints)
