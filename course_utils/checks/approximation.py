r"""Checks of 01_nonlinearity's approximation half: fit_output_layer (least squares for the
output layer) and sup_error (the distance of the universal approximation theorem). Same
three visible checks per function as ``nonlinearity``; tolerances and helpers in ``linalg``."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.checks.engine import call, fail, fmt, reports, require_unchanged
from course_utils.checks.linalg import (
    LINALG_RTOL,
    case_inputs,
    compare_normwise,
    require_result,
    rtol_for,
)

__all__ = [
    "check_fit_output_layer_values",
    "check_fit_output_layer_edges",
    "check_fit_output_layer_dtype",
    "hidden_fit_output_layer",
    "hidden_fit_output_layer_edges",
    "check_sup_error_values",
    "check_sup_error_edges",
    "check_sup_error_dtype",
    "hidden_sup_error",
    "hidden_sup_error_edges",
]

Array = np.ndarray


# ---------------------------------------------------------------------------------------
# fit_output_layer
# ---------------------------------------------------------------------------------------

_FIT = "fit_output_layer"


def _orthogonal_residual(rng: np.random.Generator, H: Array, shape: tuple[int, ...],
                         size: float) -> Array:
    """Random noise of the given shape projected onto the orthogonal complement of col(H)."""
    Q, s, _ = np.linalg.svd(H, full_matrices=False)
    Q = Q[:, s > s[0] * 1e-12]
    e = rng.standard_normal(shape)
    return size * (e - Q @ (Q.T @ e))


def _fit_problem(rng: np.random.Generator, N: int, m: int, D: int | None, *,
                 rank: int | None = None, cond: float = 10.0, residual: float = 0.5,
                 dtype: Any = np.float64) -> tuple[Array, Array, Array]:
    """H (N, m) with given rank/condition, w (m,)/(m, D), y = H w + r with r orthogonal."""
    rank = min(N, m) if rank is None else rank
    U, _ = np.linalg.qr(rng.standard_normal((N, rank)))
    V, _ = np.linalg.qr(rng.standard_normal((m, rank)))
    s = np.geomspace(1.0, 1.0 / cond, rank)
    H = (U * s) @ V.T
    w_shape = (m,) if D is None else (m, D)
    w = V @ (V.T @ rng.standard_normal(w_shape))  # in the row space: the min-norm solution
    y = H @ w + _orthogonal_residual(rng, H, (N,) if D is None else (N, D), residual)
    return H.astype(dtype), w.astype(dtype), y.astype(dtype)


def _fit_result(fn: Callable, H: Array, y: Array, where: str) -> Array:
    __tracebackhide__ = True
    W2 = call(fn, _FIT, H.copy(), y.copy(), inputs=case_inputs(where))
    shape = (H.shape[1],) + y.shape[1:]
    return require_result(_FIT, "W2", W2, shape, np.result_type(H, y), where,
                          hint="W2 has one row per hidden unit: (m,) for y of shape (N,), "
                               "(m, D) for y of shape (N, D).")


def _fit_hint(at, expected, got) -> str:
    return ("the least-squares W2 makes the residual y - H @ W2 orthogonal to every column "
            "of H; np.linalg has a solver for exactly this.")


def _check_fit_case(fn: Callable, H: Array, w: Array, y: Array, what: str, *,
                    predictions_only: bool = False, rtol: float | None = None) -> None:
    """Compare W2 with w, or (rank-deficient H, many solutions) H @ W2 with H @ w."""
    __tracebackhide__ = True
    where = f"{what}: H of shape {H.shape}, y of shape {y.shape}"
    W2 = _fit_result(fn, H, y, where)
    rtol = rtol_for(W2.dtype) if rtol is None else rtol
    H64 = H.astype(np.float64)
    if predictions_only:
        compare_normwise(_FIT, f"predictions H @ W2, {what}", H64 @ W2.astype(np.float64),
                       H64 @ w.astype(np.float64), rtol=rtol,
                       hint="any least-squares solution is accepted here, but not one that "
                            "ignores part of y or breaks down when H has dependent columns.")
    else:
        compare_normwise(_FIT, f"W2, {what}", W2, w, rtol=rtol, hint=_fit_hint)


@reports("tall and square problems, one and three outputs", "fit_output_layer")
def check_fit_output_layer_values(fn: Callable) -> None:
    """Overdetermined full-rank problems whose least-squares answer is known exactly."""
    __tracebackhide__ = True
    rng = np.random.default_rng(301)
    _check_fit_case(fn, *_fit_problem(rng, 40, 6, None), "a tall H")
    _check_fit_case(fn, *_fit_problem(rng, 40, 6, 3), "three outputs")
    _check_fit_case(fn, *_fit_problem(rng, 12, 12, None, residual=0.0), "a square H")


@reports("repeated units, rank-deficient, more units than points", "fit_output_layer")
def check_fit_output_layer_edges(fn: Callable) -> None:
    """Rank-deficient H, more units than examples, an ill-conditioned H; inputs unchanged."""
    __tracebackhide__ = True
    rng = np.random.default_rng(302)
    H, w, y = _fit_problem(rng, 30, 8, None)
    H_dup = np.hstack([H, H[:, :3]])                      # repeated hidden units
    _check_fit_case(fn, H_dup, np.concatenate([w, np.zeros(3)]), y, "repeated columns",
                    predictions_only=True)
    _check_fit_case(fn, *_fit_problem(rng, 40, 10, None, rank=3), "H of rank 3 (like z**2)",
                    predictions_only=True)
    H, w, y = _fit_problem(rng, 10, 25, None)             # underdetermined: interpolates
    _check_fit_case(fn, H, w, y, "more units than examples", predictions_only=True)
    _check_fit_case(fn, *_fit_problem(rng, 50, 8, None, cond=1e6, residual=0.0),
                    "an ill-conditioned H (condition number 1e6)")
    H, _, y = _fit_problem(rng, 20, 4, 2)
    before = copy.deepcopy([H, y])
    call(fn, _FIT, H, y, inputs=case_inputs("H (20, 4), y (20, 2)"))
    require_unchanged(_FIT, ["H", "y"], before, [H, y], "H (20, 4), y (20, 2)")


@reports("W2 shaped like y, dtype kept", "fit_output_layer")
def check_fit_output_layer_dtype(fn: Callable) -> None:
    """W2 is (m,) for y (N,), (m, D) for y (N, D), (m, 1) for y (N, 1); dtype preserved."""
    __tracebackhide__ = True
    rng = np.random.default_rng(303)
    _check_fit_case(fn, *_fit_problem(rng, 15, 4, None), "y of shape (N,)")
    _check_fit_case(fn, *_fit_problem(rng, 15, 4, 1), "y of shape (N, 1)")
    _check_fit_case(fn, *_fit_problem(rng, 15, 4, 5), "y of shape (N, 5)")
    _check_fit_case(fn, *_fit_problem(rng, 15, 4, None, dtype=np.float32), "float32 H and y")


def hidden_fit_output_layer(fn: Callable, seed: int = 0) -> None:
    """Random problems (tall, wide, rank-deficient) against the reference's predictions."""
    __tracebackhide__ = True
    from course_utils.reference import fit_output_layer as ref

    rng = np.random.default_rng(seed)
    for _ in range(12):
        N, m = (int(s) for s in rng.integers(1, 40, size=2))
        D = None if rng.uniform() < 0.5 else int(rng.integers(1, 4))
        y = rng.standard_normal((N,) if D is None else (N, D))
        H = rng.standard_normal((N, m))
        if rng.uniform() < 0.3 and m > 2:
            H[:, -1] = H[:, 0] - H[:, 1]                  # a dependent column
        W2 = _fit_result(fn, H, y, f"H of shape {H.shape}, y of shape {y.shape}")
        compare_normwise(_FIT, "predictions H @ W2", H @ W2, H @ ref(H, y), rtol=LINALG_RTOL,
                       hint=_fit_hint)


def hidden_fit_output_layer_edges(fn: Callable) -> None:
    """Huge and tiny scales (normal equations overflow), z**2 features, one example."""
    __tracebackhide__ = True
    from course_utils.reference import fit_output_layer as ref

    rng = np.random.default_rng(11)
    H, _, y = _fit_problem(rng, 30, 5, None)
    x = np.linspace(-np.pi, np.pi, 200)[:, None]
    H_sq = np.square(x @ (4 * rng.standard_normal((50, 1))).T + rng.uniform(-12, 12, 50))
    cases = [
        (1e160 * H, y, "H scaled by 1e160"),
        (1e-160 * H, y, "H scaled by 1e-160"),
        (H_sq, np.abs(x[:, 0]), "50 z**2 features on 200 points"),
        (rng.standard_normal((1, 6)), np.array([2.0]), "a single example"),
    ]
    for H_, y_, what in cases:
        W2 = _fit_result(fn, H_, y_, f"{what}: H of shape {H_.shape}")
        compare_normwise(_FIT, f"predictions H @ W2, {what}", H_ @ W2, H_ @ ref(H_, y_),
                       rtol=LINALG_RTOL, hint="forming H.T @ H squares the scale and the "
                       "condition number: a solver working on H itself avoids both.")


# ---------------------------------------------------------------------------------------
# sup_error
# ---------------------------------------------------------------------------------------

_SUP = "sup_error"


def _sup_result(fn: Callable, f: Callable, g: Callable, xs: Array, what: str) -> float:
    __tracebackhide__ = True
    value = call(fn, _SUP, f, g, xs.copy(), inputs=case_inputs(what))
    if isinstance(value, np.ndarray) or not isinstance(value, (float, np.floating)):
        fail(_SUP, f"returned a {type(value).__name__}, expected a float.", f"on {what}",
             hint="convert the final number with float(...).")
    return float(value)


def _check_sup_case(fn: Callable, f: Callable, g: Callable, xs: Array, expected: float,
                    what: str, hint: str) -> None:
    __tracebackhide__ = True
    got = _sup_result(fn, f, g, xs, what)
    same = (np.isnan(expected) and np.isnan(got)) or got == expected or (
        np.isfinite(got) and np.isfinite(expected)
        and abs(got - expected) <= LINALG_RTOL * abs(expected))
    if not same:
        fail(_SUP, f"wrong value for {what} (rtol={LINALG_RTOL:g}).",
             f"expected {fmt(expected)}, got {fmt(got)}", hint=hint)


_SUP_HINT = "the largest distance |f(x) - g(x)| over the grid, whichever function is larger."


@reports("scalar and vector outputs", "sup_error")
def check_sup_error_values(fn: Callable) -> None:
    """Scalar and vector outputs, the largest gap where f < g, on several grids."""
    __tracebackhide__ = True
    xs = np.linspace(-np.pi, np.pi, 101)
    # f - g = sin(x) - 0.3 x: largest |.| at x = +-pi, where f - g = -+0.3 pi (sign both ways)
    _check_sup_case(fn, np.sin, lambda x: 0.3 * x, xs, 0.3 * np.pi,
                    "f = sin, g(x) = 0.3 x on 101 points of [-pi, pi]", _SUP_HINT)
    # g above f everywhere: f - g < 0, largest gap 2.5 at x = 0
    _check_sup_case(fn, lambda x: -2.5 * np.exp(-x**2), lambda x: np.zeros_like(x), xs[::2],
                    2.5, "f(x) = -2.5 exp(-x**2), g = 0 (g > f)", _SUP_HINT)
    grid = np.linspace(0, 1, 11)
    _check_sup_case(fn, lambda x: np.stack([x, 2 * x], axis=1),
                    lambda x: np.zeros((len(x), 2)), grid, np.sqrt(5.0),
                    "vector outputs f(x) = (x, 2x), g = 0 on [0, 1]",
                    "for vector outputs, take the Euclidean norm at each point, then the max "
                    "over points.")
    # per-point norm, not the max component: at x = 1 the gap is (3, 4), norm 5
    _check_sup_case(fn, lambda x: np.stack([3 * x, -4 * x], axis=1),
                    lambda x: np.zeros((len(x), 2)), grid, 5.0,
                    "vector outputs f(x) = (3x, -4x), g = 0 on [0, 1]",
                    "for vector outputs, take the Euclidean norm at each point, then the max "
                    "over points.")


@reports("f = g, one point, a 2-D grid, nan propagates", "sup_error")
def check_sup_error_edges(fn: Callable) -> None:
    """f = g gives 0; one grid point; a 2-D grid; nan propagates; the given grid is used."""
    __tracebackhide__ = True
    xs = np.linspace(-1, 1, 21)
    _check_sup_case(fn, np.cos, np.cos, xs, 0.0, "f = g = cos", "equal functions are 0 apart.")
    _check_sup_case(fn, np.exp, lambda x: np.zeros_like(x), np.array([0.5]),
                    np.exp(0.5), "a grid of one point x = 0.5", _SUP_HINT)
    pts = np.array([[0.0, 0.0], [1.0, 2.0], [-1.0, 3.0]])
    _check_sup_case(fn, lambda p: p[:, 0] * p[:, 1], lambda p: np.zeros(len(p)), pts,
                    3.0, "a grid of 3 points in 2-D, f(x) = x1 * x2", _SUP_HINT)

    def f_nan(x):
        out = np.abs(x)
        out[3] = np.nan
        return out

    _check_sup_case(fn, f_nan, np.abs, xs, np.nan, "f equal to g except f = nan at one point",
                    "a nan in f or g must show in the error (np.max propagates nan; "
                    "Python's max and np.nanmax do not).")
    seen = []

    def f_spy(x):
        seen.append(np.array(x, copy=True))
        return 2 * np.asarray(x)

    grid = np.array([0.25, 0.5, 4.0])
    _check_sup_case(fn, f_spy, lambda x: np.asarray(x), grid, 4.0,
                    "f(x) = 2x, g(x) = x on the grid [0.25, 0.5, 4.0]",
                    "evaluate f and g on the grid xs you are given.")
    if not any(s.shape == grid.shape and np.array_equal(s, grid) for s in seen):
        fail(_SUP, "did not evaluate f on the grid xs it was given.",
             "on f(x) = 2x, g(x) = x, xs = [0.25, 0.5, 4.0]",
             hint="call f(xs) and g(xs) with the xs argument.")
    before = grid.copy()
    call(fn, _SUP, np.sin, np.cos, grid, inputs=case_inputs("f = sin, g = cos"))
    require_unchanged(_SUP, ["xs"], [before], [grid], "f = sin, g = cos")


@reports("a Python float", "sup_error")
def check_sup_error_dtype(fn: Callable) -> None:
    """A Python float, also for float32 values and for (N, 1) outputs."""
    __tracebackhide__ = True
    xs = np.linspace(0, 2, 9)
    _check_sup_case(fn, lambda x: x.astype(np.float32), lambda x: np.zeros(len(x), np.float32),
                    xs, 2.0, "float32 values f(x) = x on [0, 2]", _SUP_HINT)
    _check_sup_case(fn, lambda x: -x[:, None], lambda x: np.zeros((len(x), 1)), xs, 2.0,
                    "outputs of shape (N, 1), f(x) = -x", _SUP_HINT)
    _sup_result(fn, np.sin, np.cos, xs, "f = sin, g = cos")


def hidden_sup_error(fn: Callable, seed: int = 0) -> None:
    """Random smooth functions, scalar and vector, on random grids against the reference."""
    __tracebackhide__ = True
    from course_utils.reference import sup_error as ref

    rng = np.random.default_rng(seed)
    for i in range(12):
        N = int(rng.integers(1, 200))
        xs = np.sort(rng.uniform(-5, 5, N))
        c = rng.standard_normal(4)
        D = None if i % 2 == 0 else int(rng.integers(1, 4))

        def f(x, c=c, D=D):
            base = c[0] * np.sin(c[1] * x) + c[2] * x
            return base if D is None else np.stack([base * (k + 1) for k in range(D)], 1)

        def g(x, c=c, D=D):
            base = c[3] * x**2
            return base if D is None else np.stack([base] * D, 1)

        _check_sup_case(fn, f, g, xs, ref(f, g, xs), f"random functions on {N} points",
                        _SUP_HINT)


def hidden_sup_error_edges(fn: Callable) -> None:
    """Huge values, inf against finite, nan in g, many points, against the reference."""
    __tracebackhide__ = True
    from course_utils.reference import sup_error as ref

    xs = np.linspace(-1, 1, 100_001)
    cases = [
        (lambda x: 1e300 * x, lambda x: -1e300 * x, xs, "f = 1e300 x, g = -1e300 x"),
        (lambda x: np.where(x > 0.5, np.inf, 0.0), lambda x: np.zeros_like(x), xs,
         "f = inf for x > 0.5"),
        (np.sin, lambda x: np.where(x < -0.9, np.nan, np.sin(x)), xs, "g = nan for x < -0.9"),
        (np.exp, np.cosh, xs, "f = exp, g = cosh on 100001 points"),
    ]
    for f, g, grid, what in cases:
        _check_sup_case(fn, f, g, grid, ref(f, g, grid), what, _SUP_HINT)
