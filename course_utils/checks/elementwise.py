r"""Checks of the elementwise functions: 02's activation units and 04's stable forms.

Each check calls the learner's function the way a test cell does, and raises an
``AssertionError`` of at most six lines (via ``engine``) at the first problem, in the order
the learner needs it: implemented at all -> type, shape, dtype -> input left alone ->
no warning -> values. A passing check prints nothing.

    check_values(swish, "swish")              # float64 grid, every beta, and the default
    check_edge_cases(swish, "swish")          # ±0, ±1e4, ±1e30, ±max, subnormals, ±inf, nan
    check_dtype_shape(swish, "swish")         # float32 kept, 0-d, scalar, 2-D, 3-D, new array
    check_derivative(swish_grad, swish, "swish_grad")   # against the learner's own swish

The visible checks (``check_*``) compare against ``course_utils.fixtures`` and never import
the reference; the hidden ones (``hidden_*``) import ``course_utils.reference`` when called.

``name`` is one of ``specs.NAMES``: sigmoid, sigmoid_grad, relu, relu_grad, leaky_relu,
leaky_relu_grad, prelu, prelu_grad, swish, swish_grad, mish, mish_grad, mish_delta,
stable_sigmoid, softplus, log_sigmoid. Tolerances: see ``course_utils.checks.specs``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from course_utils import fixtures
from course_utils.checks.diagnose import default_hint, diagnose, params_text
from course_utils.checks.engine import (
    as_result_array,
    call,
    compare,
    describe_inputs,
    fail,
    mismatches,
    reports,
    tally,
)
from course_utils.checks.specs import (
    DERIVATIVE_GRID,
    DTYPES,
    F32,
    F64,
    NAMES,
    PY_SCALAR,
    SHAPES,
    SPECS,
    ZERO_D,
    Spec,
    extremes,
)

__all__ = [
    "check_values",
    "check_edge_cases",
    "check_dtype_shape",
    "check_derivative",
    "hidden_values",
    "hidden_edge_cases",
]

Row = Mapping[str, float]


# ---------------------------------------------------------------------------------------
# Calling the learner's function


def _spec(name: str, who: str) -> Spec:
    if name not in SPECS:
        raise ValueError(f"{who}: unknown function {name!r}; expected one of "
                         f"{', '.join(NAMES)}.")
    return SPECS[name]


def numpy_defaults(fn: Callable, *, nan_input: bool = False) -> Callable:
    """``fn`` under NumPy's default error state for underflow (ignored).

    ``engine.call`` turns every floating-point flag into a warning, underflow included,
    but a learner's notebook ignores underflow (np.exp(-1e30) is a correct 0.0). On a nan
    input some NumPy ufuncs (np.logaddexp) raise the *invalid* flag although the result is
    the correct nan: that flag is ignored for nan inputs only.
    """
    if not callable(fn):
        return fn  # engine.call explains what is wrong with it

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(under="ignore", invalid="ignore" if nan_input else "warn"):
            return fn(*args, **kwargs)
    return wrapped


def _scalar_inputs(z: Any, row: Row) -> dict[str, Any]:
    """Inputs as the message shows them: one number for a one-element z."""
    shown = z.reshape(-1)[0] if isinstance(z, np.ndarray) and z.size == 1 else z
    return {"z": shown, **row}


def _runs_quietly(fn: Callable, z: np.ndarray, row: Row) -> bool:
    """Whether ``fn(z, **row)`` returns without an exception or a warning (a probe)."""
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn", under="ignore"):
        warnings.simplefilter("always")
        try:
            fn(z.copy(), **row)
        except Exception:
            return False
    return not caught


def evaluate(fn: Callable, name: str, z: Any, row: Row) -> np.ndarray:
    """The learner's ``fn(z, **row)`` as an array: type, shape, dtype, no warning, input
    left alone, a new array. A warning or exception on an array is traced back to the
    first element that causes it, so that the message names one input."""
    __tracebackhide__ = True
    if isinstance(z, np.ndarray) and z.size > 1 and not _runs_quietly(fn, z, row):
        for value in z.reshape(-1):
            evaluate(fn, name, np.array([value], dtype=z.dtype), row)
    like = np.asarray(z)
    arg = z.copy() if isinstance(z, np.ndarray) else z
    inputs = _scalar_inputs(like, row)
    nan_input = like.size == 1 and bool(np.isnan(like).all())
    result = call(numpy_defaults(fn, nan_input=nan_input), name, arg, inputs=inputs, **row)
    where = describe_inputs(inputs)
    if isinstance(arg, np.ndarray) and arg.tobytes() != like.tobytes():
        fail(name, "changed its input array z.", f"on input {where}",
             hint="your function changed its input array: compute into a new array "
                  "instead of assigning into z (z[...] = ..., +=, out=z).")
    result = as_result_array(name, result, like=like, where=where)
    if isinstance(arg, np.ndarray) and arg.ndim and np.shares_memory(result, arg):
        fail(name, "returned its input array (or a view of it), not a new array.",
             f"on input {where}",
             hint="return a new array: the caller's z must stay untouched by later changes.")
    return result


def _evaluate_each(fn: Callable, name: str, z: np.ndarray, row: Row) -> np.ndarray:
    """``_evaluate`` element by element (edge cases: each warning names its input)."""
    __tracebackhide__ = True
    out = [evaluate(fn, name, z[i:i + 1], row) for i in range(z.size)]
    return np.concatenate(out) if out else z.copy()


def _compare(spec: Spec, name: str, z: np.ndarray, row: Row, got: np.ndarray,
             expected: np.ndarray, dtype: np.dtype, *,
             others: Sequence[tuple[Row, np.ndarray]] = (), hint: str | None = None,
             shown_row: Row | None = None) -> None:
    """Compare with the spec's tolerance for ``dtype``; diagnose the first mismatch."""
    __tracebackhide__ = True
    rtol, atol = spec.tolerance(dtype)
    wrong = mismatches(expected, got, rtol, atol)
    if not wrong.any():
        tally(wrong.size, rtol)
        return
    if hint is None:
        hint = diagnose(spec, name, z, row, got, expected, wrong, others)
    shown = row if shown_row is None else shown_row
    compare(name, got, expected, inputs={"z": z, **shown}, rtol=rtol, atol=atol, hint=hint)


def _check_default(fn: Callable, name: str, spec: Spec, z: np.ndarray, dtype: np.dtype,
                   rows: Sequence[Row], values: Sequence[np.ndarray]) -> None:
    """``fn(z)`` without parameters equals the row of the default parameters."""
    __tracebackhide__ = True
    defaults = spec.defaults
    if not spec.params or defaults is None:
        return
    got = evaluate(fn, name, z, {})
    expected = values[[dict(r) for r in rows].index(defaults)]
    rtol, atol = spec.tolerance(dtype)
    if mismatches(expected, got, rtol, atol).any():
        _compare(spec, name, z, {}, got, expected, dtype,
                 hint=default_hint(spec, got, rows, values))


# ---------------------------------------------------------------------------------------
# Visible checks


def _rows(data: Mapping[str, np.ndarray], prefix: str, spec: Spec) -> list[dict[str, float]]:
    n = len(spec.param_rows)
    return [{p.name: float(data[f"{prefix}/{p.name}"][i]) for p in spec.params}
            for i in range(n)]


def _main_row(spec: Spec, rows: Sequence[Row]) -> int:
    """Index of the default parameters' row (or the first row where a is required)."""
    defaults = spec.defaults
    return [dict(r) for r in rows].index(defaults) if defaults is not None else 0


@reports("values on the grid, every parameter")
def check_values(fn: Callable, name: str) -> None:
    r"""Values of ``fn`` on a float64 grid against the shipped reference values.

    The grid has 0, both sides, points near the kinks and near the roots of the
    derivatives (and, for 04's stable forms, up to ±1000). ``fn`` is called with every
    tested parameter value (``fn(z, a=...)``, ``fn(z, beta=...)``), then without them where
    a default exists. Tolerance ``rtol = 1e-6`` and the spec's floor near 0.

    Parameters
    ----------
    fn : callable
        The learner's function, ``fn(z, **params) -> ndarray``.
    name : str
        Which graded function ``fn`` is (``"swish"``, ``"relu_grad"``, ...).

    Raises
    ------
    AssertionError
        With the first offending input, expected and received values, and a hint.

    Examples
    --------
    >>> import numpy as np
    >>> check_values(lambda z: np.maximum(z, 0), "relu")
    """
    __tracebackhide__ = True
    spec = _spec(name, "check_values")
    data = fixtures.load()
    z = np.array(data[f"values/{name}/z"])
    expected = data[f"values/{name}/expected"]
    rows = _rows(data, f"values/{name}", spec)
    for i, row in enumerate(rows):
        got = evaluate(fn, name, z, row)
        others = [(rows[j], expected[j]) for j in range(len(rows)) if j != i]
        _compare(spec, name, z, row, got, expected[i], F64, others=others)
    _check_default(fn, name, spec, z, F64, rows, list(expected))


@reports("extremes, no warning")
def check_edge_cases(fn: Callable, name: str) -> None:
    r"""Extreme inputs in float64 and float32: no warning, the right values and limits.

    ±0.0, ±1e4, ±1e30, ±the largest finite number, ±the smallest subnormal, ±inf (the
    limits) and nan (propagates), one call per input so that a warning names its input.

    Parameters
    ----------
    fn : callable
        The learner's function, ``fn(z, **params) -> ndarray``.
    name : str
        Which graded function ``fn`` is.

    Examples
    --------
    >>> import numpy as np
    >>> check_edge_cases(lambda z: np.maximum(z, 0), "relu")
    """
    __tracebackhide__ = True
    spec = _spec(name, "check_edge_cases")
    data = fixtures.load()
    for dtype in DTYPES:
        key = f"edge/{name}/{dtype}"
        rows = _rows(data, key, spec)
        zs, expected = data[f"{key}/z"], data[f"{key}/expected"]
        for i, row in enumerate(rows):
            z = np.array(zs[i])
            got = _evaluate_each(fn, name, z, row)
            _compare(spec, name, z, row, got, expected[i], dtype)


@reports("dtype and shape kept, a new array, input untouched")
def check_dtype_shape(fn: Callable, name: str) -> None:
    r"""float32 in, float32 out; 0-d, Python scalar, 2-D and 3-D inputs; a new array.

    Values are compared too (``rtol = 1e-4`` in float32), and the input must come back
    unmodified.

    Parameters
    ----------
    fn : callable
        The learner's function, ``fn(z, **params) -> ndarray``.
    name : str
        Which graded function ``fn`` is.

    Examples
    --------
    >>> import numpy as np
    >>> check_dtype_shape(lambda z: np.maximum(z, 0), "relu")
    """
    __tracebackhide__ = True
    spec = _spec(name, "check_dtype_shape")
    data = fixtures.load()
    grid = data[f"dtype/{name}/z"]
    rows = _rows(data, f"dtype/{name}", spec)
    expected = {dtype: data[f"dtype/{name}/expected_{dtype}"] for dtype in DTYPES}
    z32 = grid.astype(F32)
    for i, row in enumerate(rows):
        got = evaluate(fn, name, z32, row)
        others = [(rows[j], expected[F32][j]) for j in range(len(rows)) if j != i]
        _compare(spec, name, z32, row, got, expected[F32][i], F32, others=others)
    _check_default(fn, name, spec, z32, F32, rows, list(expected[F32]))
    m = _main_row(spec, rows)
    row = rows[m]
    for shape, dtype in zip(SHAPES, (F32, F64), strict=True):
        z = grid.astype(dtype).reshape(shape)
        got = evaluate(fn, name, z, row)
        _compare(spec, name, z, row, got, expected[dtype][m].reshape(shape), dtype)
    for value, dtype in ZERO_D:
        z = np.array(value, dtype=dtype)
        got = evaluate(fn, name, z, row)
        k = int(np.flatnonzero(grid == value)[0])
        _compare(spec, name, z, row, got, expected[dtype][m][k], dtype)
    got = evaluate(fn, name, PY_SCALAR, row)
    k = int(np.flatnonzero(grid == PY_SCALAR)[0])
    _compare(spec, name, np.asarray(PY_SCALAR), row, got, expected[F64][m][k], F64)


def _central_step(z: np.ndarray) -> np.ndarray:
    """A step per point: cbrt(eps) * max(1, |z|), rounded so that z ± h are exact."""
    h = np.cbrt(np.finfo(np.float64).eps) * np.maximum(1.0, np.abs(z))
    return (z + h) - z


@reports("agrees with central differences of your forward function")
def check_derivative(grad_fn: Callable, fn: Callable, name: str) -> None:
    r"""The learner's derivative agrees with central differences of the learner's forward.

    At points away from every kink (float64, a step per point), for every tested
    parameter value: ``|grad_fn(z) - (fn(z+h) - fn(z-h)) / 2h| <= 1e-6 |.| + 1e-7``. Where
    the function has a kink at 0, ``grad_fn(0)`` must follow the note's convention
    (ReLU'(0) = 1, Leaky/PReLU'(0) = 1).

    Parameters
    ----------
    grad_fn : callable
        The learner's derivative, e.g. ``swish_grad(z, beta=1.0)``.
    fn : callable
        The learner's forward, e.g. ``swish(z, beta=1.0)``.
    name : str
        The derivative's name: ``"sigmoid_grad"``, ``"relu_grad"``, ``"leaky_relu_grad"``,
        ``"prelu_grad"``, ``"swish_grad"`` or ``"mish_grad"``.

    Examples
    --------
    >>> import numpy as np
    >>> check_derivative(lambda z: np.heaviside(z, 1.0), lambda z: np.maximum(z, 0),
    ...                  "relu_grad")
    """
    __tracebackhide__ = True
    spec = _spec(name, "check_derivative")
    if spec.forward is None:
        raise ValueError(f"check_derivative: {name!r} is not a derivative; expected one of "
                         + ", ".join(n for n, s in SPECS.items() if s.forward) + ".")
    forward = spec.forward
    z = DERIVATIVE_GRID if spec.kink is not None else np.sort(np.append(DERIVATIVE_GRID, 0.0))
    h = _central_step(z)
    results = []
    for row in spec.param_rows:
        upper = evaluate(fn, forward, z + h, row)
        lower = evaluate(fn, forward, z - h, row)
        with np.errstate(all="ignore"):
            slope = (upper - lower) / (2 * h)
        got = evaluate(grad_fn, name, z, row)
        results.append((row, got, slope, mismatches(slope, got, 1e-6, 1e-7)))
    failing = [r for r in results if r[3].any()]
    if failing:
        row, got, slope, _ = failing[0]
        hint = (f"expected is the central-difference slope of your own {forward}: if "
                f"check_values passes for {forward}, differentiate it again; " + spec.hint)
        if len(failing) < len(results):
            hint = (f"expected is the central-difference slope of your own {forward}; "
                    f"right for some parameter values but not {params_text(row)}: where "
                    "does the parameter enter the derivative (chain rule)?")
        compare(name, got, slope, inputs={"z": z, **row}, rtol=1e-6, atol=1e-7, hint=hint)
    if spec.kink is not None:
        zero = np.array([0.0, -0.0])
        for row in spec.param_rows:
            got = evaluate(grad_fn, name, zero, row)
            compare(name, got, np.full(2, spec.kink), inputs={"z": zero, **row}, rtol=0.0,
                    hint="the derivative is not defined at the kink z = 0; the note assigns "
                         "it the value of one side. Which side, > or >=?")


# ---------------------------------------------------------------------------------------
# Hidden checks (reference imported when called)


def reference_function(name: str) -> Callable:
    import course_utils.reference as reference

    return getattr(reference, name)


def _ref_eval(name: str, z: np.ndarray, row: Row) -> np.ndarray:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return np.asarray(reference_function(name)(z.copy(), **row))


def _random_inputs(rng: np.random.Generator, dtype: np.dtype, scale: float) -> np.ndarray:
    """Both signs, log-uniform magnitudes: mostly moderate, some over the whole range."""
    info = np.finfo(dtype)
    top = np.log10(float(info.max) / (2.0 * scale))
    bottom = np.log10(float(info.smallest_normal))
    exponents = np.concatenate([rng.uniform(-4.0, 1.5, 200), rng.uniform(-8.0, 3.0, 100),
                                rng.uniform(bottom, top, 60)])
    signs = rng.choice([-1.0, 1.0], exponents.size)
    z = np.sort(np.append(signs * 10.0**exponents, 0.0))
    return z.astype(dtype)


def hidden_values(fn: Callable, name: str, seed: int = 0) -> None:
    r"""Randomized inputs (fixed ``seed``) against the reference, float64 and float32.

    Log-uniform magnitudes over the whole range, both signs, every tested parameter value
    and the default call.
    """
    __tracebackhide__ = True
    spec = _spec(name, "hidden_values")
    rng = np.random.default_rng(seed)
    rows = spec.param_rows
    for dtype in DTYPES:
        for row in rows:
            z = _random_inputs(rng, dtype, spec.scale(row))
            expected = _ref_eval(name, z, row)
            got = evaluate(fn, name, z, row)
            others = [(r, _ref_eval(name, z, r)) for r in rows if r != row]
            _compare(spec, name, z, row, got, expected, dtype, others=others)
        if spec.params and spec.defaults is not None:
            z = _random_inputs(rng, dtype, max(spec.scale(r) for r in rows))
            values = [_ref_eval(name, z, r) for r in rows]
            _check_default(fn, name, spec, z, dtype, rows, values)


def _hidden_edge_inputs(spec: Spec, dtype: np.dtype, row: Row) -> np.ndarray:
    info = np.finfo(dtype)
    base = extremes(dtype, spec.scale(row))
    if row.get("beta", 1.0) == 0.0:
        base = base[np.isfinite(base) | np.isnan(base)]
    overflow = float(np.log(info.max))                 # exp overflows beyond: 709.78, 88.72
    underflow = float(-np.log(info.smallest_subnormal))  # exp underflows to 0: 744.4, 103.3
    saturate = float(-np.log(info.eps / 2))            # 1 - sigmoid rounds to 0: 36.7, 16.6
    beta = row.get("beta", 1.0)
    points = []
    for t in (overflow, underflow, saturate):
        for scale in {1.0, beta} - {0.0}:
            t0 = np.asarray(t / scale, dtype=dtype)
            points += [t0, np.nextafter(t0, dtype.type(np.inf)),
                       np.nextafter(t0, dtype.type(0)), t0 + 1, t0 - 1]
    for root in spec.roots(**row):  # accurate to an ulp: no reference needed to find it
        r = np.asarray(root, dtype=dtype)
        near = [r]
        for direction in (-np.inf, np.inf):
            x = r
            for _ in range(4):
                x = np.nextafter(x, dtype.type(direction))
                near.append(x)
        points += near + [r * dtype.type(1 + 1e-3), r * dtype.type(1 - 1e-3)]
    tiny = [1e-300, 1e-20] if dtype == F64 else [1e-40, 1e-20]
    points += tiny
    finite = np.asarray(points, dtype=dtype)
    finite = finite[np.abs(finite) < info.max / (2.0 * spec.scale(row))]
    both = np.concatenate([finite, -finite])
    return np.concatenate([base, np.unique(both)]).astype(dtype)


def hidden_edge_cases(fn: Callable, name: str) -> None:
    r"""The extremes, values around each dtype's exp overflow and underflow thresholds and
    sigmoid's saturation (also divided by beta), near the roots of the derivatives and
    near 0, in float64 and float32, one call per input, against the reference."""
    __tracebackhide__ = True
    spec = _spec(name, "hidden_edge_cases")
    for dtype in DTYPES:
        for row in spec.param_rows:
            z = _hidden_edge_inputs(spec, dtype, row)
            expected = _ref_eval(name, z, row)
            got = _evaluate_each(fn, name, z, row)
            _compare(spec, name, z, row, got, expected, dtype)
