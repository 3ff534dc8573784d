r"""Checks of the elementwise functions: 02's activation units and 04's stable forms.

Each check calls the learner's function the way a test cell does, and raises an
``AssertionError`` of at most six lines (via ``engine``) at the first problem, in the order
the learner needs it: implemented at all -> type, shape, dtype -> input left alone ->
no warning -> values. A passing check prints nothing.

    check_values(swish, "swish")              # float64 grid, every beta, and the default
    check_edge_cases(swish, "swish")          # ±0, ±1e4, ±1e30, ±max, subnormals, ±inf, nan
    check_dtype_shape(swish, "swish")         # float32 kept, 0-d, scalar, 2-D, 3-D, new array
    check_derivative(swish_grad, swish, "swish_grad")   # against the learner's own swish
    check_prelu_grad_a(prelu_grad_a)
    check_numerical_derivative(numerical_derivative)
    check_mish_identity(mish_grad, mish_delta, swish, mish)

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
from course_utils.checks.engine import (
    RTOL,
    Label,
    as_result_array,
    call,
    compare,
    describe_inputs,
    fail,
    fmt,
    mismatches,
    reports,
    tally,
)
from course_utils.checks.specs import (
    DERIVATIVE_GRID,
    DTYPES,
    F32,
    F64,
    IDENTITY_GRID,
    MISH_GRAD_AT_0,
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
    "check_prelu_grad_a",
    "check_numerical_derivative",
    "check_mish_identity",
    "hidden_values",
    "hidden_edge_cases",
    "hidden_prelu_grad_a",
    "hidden_numerical_derivative",
]

Row = Mapping[str, float]


# ---------------------------------------------------------------------------------------
# Calling the learner's function


def _spec(name: str, who: str) -> Spec:
    if name not in SPECS:
        raise ValueError(f"{who}: unknown function {name!r}; expected one of "
                         f"{', '.join(NAMES)}.")
    return SPECS[name]


def _numpy_defaults(fn: Callable, *, nan_input: bool = False) -> Callable:
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


def _evaluate(fn: Callable, name: str, z: Any, row: Row) -> np.ndarray:
    """The learner's ``fn(z, **row)`` as an array: type, shape, dtype, no warning, input
    left alone, a new array. A warning or exception on an array is traced back to the
    first element that causes it, so that the message names one input."""
    __tracebackhide__ = True
    if isinstance(z, np.ndarray) and z.size > 1 and not _runs_quietly(fn, z, row):
        for value in z.reshape(-1):
            _evaluate(fn, name, np.array([value], dtype=z.dtype), row)
    like = np.asarray(z)
    arg = z.copy() if isinstance(z, np.ndarray) else z
    inputs = _scalar_inputs(like, row)
    nan_input = like.size == 1 and bool(np.isnan(like).all())
    result = call(_numpy_defaults(fn, nan_input=nan_input), name, arg, inputs=inputs, **row)
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
    out = [_evaluate(fn, name, z[i:i + 1], row) for i in range(z.size)]
    return np.concatenate(out) if out else z.copy()


# ---------------------------------------------------------------------------------------
# Diagnosing the first mismatch


def _params_text(row: Row) -> str:
    return ", ".join(f"{k} = {fmt(v)}" for k, v in row.items())


def _diagnose(spec: Spec, name: str, z: np.ndarray, row: Row, got: np.ndarray,
              expected: np.ndarray, wrong: np.ndarray,
              others: Sequence[tuple[Row, np.ndarray]] = ()) -> str | None:
    """A hint for the typical mistake behind the mismatches (never the answer itself)."""
    with np.errstate(all="ignore"):
        z = np.broadcast_to(np.asarray(z, dtype=np.float64), wrong.shape)
        g = np.asarray(got, dtype=np.float64)
        e = np.asarray(expected, dtype=np.float64)
        zw, gw, ew = z[wrong], g[wrong], e[wrong]
        z0, g0, e0 = zw[0], gw[0], ew[0]
        if np.isnan(z0):
            return ("nan must propagate (nan in, nan out): every comparison with nan is "
                    "False, so a mask or np.where branch can replace it.")
        if np.isinf(z0):
            side = "+inf" if z0 > 0 else "-inf"
            made = " (inf*0 or inf-inf is nan)" if np.isnan(g0) else ""
            return (f"at z = {side} the value is the limit of {name} as z -> {side}{made}: "
                    "treat infinite inputs so that the limit comes out.")
        if not np.isfinite(g0) and np.isfinite(e0):
            if z0 == 0:
                return (f"{name} is finite at z = 0: a division by z there is 0/0; use the "
                        "limit as z -> 0, or a form without the division.")
            return ("an intermediate value overflowed (exp of a large number?) and made "
                    f"{fmt(g0)}: rewrite the formula so that it only exponentiates "
                    "non-positive numbers.")
        if np.all(zw == 0):
            if spec.kink is not None:
                return ("wrong only at the kink z = 0: the derivative is not defined there "
                        "and the note assigns it the value of one side. Which side, > or >=?")
            return (f"wrong only at z = 0: {name}(0) is the limit as z -> 0 (a division by z "
                    "there?).")
        for other, values in others:
            if np.allclose(gw, values[wrong], rtol=1e-9, atol=1e-300, equal_nan=True):
                changed = [k for k in row if row[k] != other.get(k)]
                return (f"with {_params_text(row)} your values equal those for "
                        f"{_params_text(other)}: does {name} use its "
                        f"{' and '.join(changed) or 'parameter'} argument?")
        nonzero = ew != 0
        if nonzero.any() and np.allclose(gw[nonzero], -ew[nonzero], rtol=1e-6, atol=0):
            return "the sign is flipped: compare your formula with the note's term by term."
        if spec.stable and np.all(np.abs(zw) >= 10):
            return spec.hint
        right = ~wrong
        if np.all(zw < 0) and np.any(right & (z > 0)):
            return ("right for z > 0 but wrong for some z < 0: check what your function "
                    "does for negative z.")
        if np.all(zw > 0) and np.any(right & (z < 0)):
            return ("right for z < 0 but wrong for some z > 0: check what your function "
                    "does for positive z.")
        finite = np.isfinite(gw) & np.isfinite(ew) & (ew != 0)
        if finite.all():
            rel = np.max(np.abs(gw - ew) / np.abs(ew))
            if rel < 1e-2:
                return (f"close, but off by a relative error of up to {rel:.1g}: a rounded "
                        "constant (2.718 for e?) or a float32 step in a float64 computation?")
    return spec.hint or None


def _compare(spec: Spec, name: str, z: np.ndarray, row: Row, got: np.ndarray,
             expected: np.ndarray, dtype: np.dtype, *,
             others: Sequence[tuple[Row, np.ndarray]] = (), hint: str | None = None,
             shown_row: Row | None = None) -> None:
    """Compare with the spec's tolerance for ``dtype``; diagnose the first mismatch."""
    __tracebackhide__ = True
    rtol, atol = RTOL[np.dtype(dtype)], spec.atol[np.dtype(dtype)]
    wrong = mismatches(expected, got, rtol, atol)
    if not wrong.any():
        tally(wrong.size, rtol)
        return
    if hint is None:
        hint = _diagnose(spec, name, z, row, got, expected, wrong, others)
    shown = row if shown_row is None else shown_row
    compare(name, got, expected, inputs={"z": z, **shown}, rtol=rtol, atol=atol, hint=hint)


def _default_hint(spec: Spec, got: np.ndarray, rows: Sequence[Row],
                  values: Sequence[np.ndarray]) -> str:
    defaults = spec.defaults or {}
    names = " and ".join(defaults)
    for row, expected in zip(rows, values, strict=True):
        if row != defaults and np.allclose(got, expected, rtol=1e-9, atol=1e-300,
                                           equal_nan=True):
            return (f"called without {names}, your function behaves as if "
                    f"{_params_text(row)}: check the default in your def line "
                    f"({_params_text(defaults)}).")
    return (f"called without {names}, your function must use the default "
            f"{_params_text(defaults)}: check your def line.")


def _check_default(fn: Callable, name: str, spec: Spec, z: np.ndarray, dtype: np.dtype,
                   rows: Sequence[Row], values: Sequence[np.ndarray]) -> None:
    """``fn(z)`` without parameters equals the row of the default parameters."""
    __tracebackhide__ = True
    defaults = spec.defaults
    if not spec.params or defaults is None:
        return
    got = _evaluate(fn, name, z, {})
    expected = values[[dict(r) for r in rows].index(defaults)]
    rtol, atol = RTOL[np.dtype(dtype)], spec.atol[np.dtype(dtype)]
    if mismatches(expected, got, rtol, atol).any():
        _compare(spec, name, z, {}, got, expected, dtype,
                 hint=_default_hint(spec, got, rows, values))


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
        got = _evaluate(fn, name, z, row)
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
        got = _evaluate(fn, name, z32, row)
        others = [(rows[j], expected[F32][j]) for j in range(len(rows)) if j != i]
        _compare(spec, name, z32, row, got, expected[F32][i], F32, others=others)
    _check_default(fn, name, spec, z32, F32, rows, list(expected[F32]))
    m = _main_row(spec, rows)
    row = rows[m]
    for shape, dtype in zip(SHAPES, (F32, F64), strict=True):
        z = grid.astype(dtype).reshape(shape)
        got = _evaluate(fn, name, z, row)
        _compare(spec, name, z, row, got, expected[dtype][m].reshape(shape), dtype)
    for value, dtype in ZERO_D:
        z = np.array(value, dtype=dtype)
        got = _evaluate(fn, name, z, row)
        k = int(np.flatnonzero(grid == value)[0])
        _compare(spec, name, z, row, got, expected[dtype][m][k], dtype)
    got = _evaluate(fn, name, PY_SCALAR, row)
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
        upper = _evaluate(fn, forward, z + h, row)
        lower = _evaluate(fn, forward, z - h, row)
        with np.errstate(all="ignore"):
            slope = (upper - lower) / (2 * h)
        got = _evaluate(grad_fn, name, z, row)
        results.append((row, got, slope, mismatches(slope, got, 1e-6, 1e-7)))
    failing = [r for r in results if r[3].any()]
    if failing:
        row, got, slope, _ = failing[0]
        hint = (f"expected is the central-difference slope of your own {forward}: if "
                f"check_values passes for {forward}, differentiate it again; " + spec.hint)
        if len(failing) < len(results):
            hint = (f"expected is the central-difference slope of your own {forward}; "
                    f"right for some parameter values but not {_params_text(row)}: where "
                    "does the parameter enter the derivative (chain rule)?")
        compare(name, got, slope, inputs={"z": z, **row}, rtol=1e-6, atol=1e-7, hint=hint)
    if spec.kink is not None:
        zero = np.array([0.0, -0.0])
        for row in spec.param_rows:
            got = _evaluate(grad_fn, name, zero, row)
            compare(name, got, np.full(2, spec.kink), inputs={"z": zero, **row}, rtol=0.0,
                    hint="the derivative is not defined at the kink z = 0; the note assigns "
                         "it the value of one side. Which side, > or >=?")


def _float_result(name: str, result: Any, where: str) -> float:
    """A number from a function that returns one (Python float, NumPy scalar, 0-d array)."""
    __tracebackhide__ = True
    if isinstance(result, (float, np.floating)) or (
            isinstance(result, np.ndarray) and result.ndim == 0
            and np.issubdtype(result.dtype, np.floating)):
        return float(result)
    if isinstance(result, np.ndarray):
        fail(name, f"returned an array of shape {result.shape}, expected one number.",
             f"on input {where}",
             hint="dL/da adds up the contributions of all positions: reduce to one number.")
    fail(name, f"returned a {type(result).__name__}, expected one number (a float).",
         f"on input {where}")
    raise AssertionError  # unreachable: fail raises


def _prelu_grad_a_hint(z: np.ndarray, a: float, upstream: np.ndarray, got: float,
                       expected: float) -> str:
    neg = z < 0
    candidates = [
        (np.sum(upstream * z * ~neg), "you summed over z >= 0; df/da is nonzero on the "
                                      "other side of the kink."),
        (np.sum(upstream * z), "df/da is 0 on one side of the kink: only one side counts."),
        (np.sum(z * neg), "the chain rule multiplies df/da by upstream at each position."),
        (np.sum(upstream * a * z * neg), "df/da for z < 0 is the derivative of a*z with "
                                         "respect to a, not a*z itself."),
        (-expected, "the sign is flipped."),
    ]
    for value, text in candidates:
        if np.isclose(got, value, rtol=1e-9, atol=1e-12) and not np.isclose(
                value, expected, rtol=1e-9, atol=1e-12):
            return text
    return ("dL/da = sum over all positions of upstream * df/da, with df/da from the note's "
            "PReLU section.")


def _check_prelu_grad_a_case(fn: Callable, z: np.ndarray, a: float, upstream: np.ndarray,
                             expected: float, rtol: float) -> None:
    __tracebackhide__ = True
    name = "prelu_grad_a"
    inputs = {"z.shape": Label(str(z.shape)), "a": a}
    where = describe_inputs(inputs)
    zc, uc = z.copy(), upstream.copy()
    result = call(_numpy_defaults(fn), name, zc, a, uc, inputs=inputs)
    if zc.tobytes() != z.tobytes() or uc.tobytes() != upstream.tobytes():
        fail(name, "changed an input array (z or upstream).", f"on input {where}",
             hint="your function changed its input array: compute into a new array.")
    got = _float_result(name, result, where)
    atol = 1e-9 * float(np.sum(np.abs(upstream * z))) if rtol < 1e-5 else (
        1e-4 * float(np.sum(np.abs(upstream * z))))
    if abs(got - expected) > atol + rtol * abs(expected) or not np.isfinite(got):
        fail(name, f"the value is wrong (rtol={rtol:g}, atol={atol:.1g}).",
             f"at {where}: expected {fmt(expected)}, got {fmt(got)}",
             hint=_prelu_grad_a_hint(z, a, upstream, got, expected))


@reports("the sum over all positions, 1-D and N-D", "prelu_grad_a")
def check_prelu_grad_a(fn: Callable) -> None:
    r"""``prelu_grad_a(z, a, upstream) -> float``: dL/da summed over all positions.

    Checked on 1-D, 2-D and 3-D inputs (with a zero and both signs) against the shipped
    reference values: ``sum(upstream * (z if z < 0 else 0))``, one number; z and upstream
    are left unmodified.

    Examples
    --------
    >>> import numpy as np
    >>> check_prelu_grad_a(lambda z, a, upstream: float(np.sum(upstream * np.minimum(z, 0))))
    """
    __tracebackhide__ = True
    data = fixtures.load()
    i = 0
    while f"prelu_grad_a/{i}/z" in data:
        key = f"prelu_grad_a/{i}"
        _check_prelu_grad_a_case(fn, np.array(data[f"{key}/z"]), float(data[f"{key}/a"]),
                                 np.array(data[f"{key}/upstream"]),
                                 float(data[f"{key}/expected"]), RTOL[F64])
        i += 1


def _cubic(z):
    return z**3 - 2.0 * z


def _nd_call(fn: Callable, f: Callable, f_text: str, z: Any, **h: float) -> np.ndarray:
    """The learner's ``numerical_derivative(f, z[, h=...])`` checked to be float64 of z's
    shape, with z left unmodified."""
    __tracebackhide__ = True
    name = "numerical_derivative"
    like = np.asarray(z, dtype=np.float64)
    inputs = {"f": Label(f_text), "z": z, **h}
    if isinstance(z, np.ndarray) and z.ndim:
        inputs["z"] = Label(f"array of shape {z.shape}")
    where = describe_inputs(inputs)
    arg = z.copy() if isinstance(z, np.ndarray) else z
    result = call(_numpy_defaults(fn), name, f, arg, inputs=inputs, **h)
    if isinstance(arg, np.ndarray) and arg.tobytes() != z.tobytes():
        fail(name, "changed its input array z.", f"on input {where}",
             hint="your function changed its input array: compute into a new array.")
    if isinstance(result, float) and like.ndim == 0:
        result = np.float64(result)
    return as_result_array(name, result, like=like, where=where)


def _nd_compare(got: np.ndarray, f: Callable, f_text: str, z: np.ndarray, h: float,
                expected: np.ndarray, atol: float, *, h_given: bool) -> None:
    __tracebackhide__ = True
    wrong = mismatches(expected, got, 0.0, atol)
    if not wrong.any():
        return
    with np.errstate(all="ignore"):
        forward = (f(z + h) - f(z)) / h
        backward = (f(z) - f(z - h)) / h
    if np.allclose(got, forward, rtol=0, atol=atol) or np.allclose(got, backward, rtol=0,
                                                                    atol=atol):
        hint = ("this is a one-sided difference, whose error shrinks like h; the central "
                "difference (f(z+h) - f(z-h)) / (2h) is accurate to order h^2.")
    elif h_given:
        hint = "is your result computed with the h passed in (not a fixed step)?"
    else:
        hint = ("use central differences (f(z+h) - f(z-h)) / (2h), applied to the whole "
                "array z at once, with the default h = 1e-5.")
    inputs = {"f": Label(f_text), "z": np.broadcast_to(z, got.shape)}
    if h_given:
        inputs["h"] = h
    compare("numerical_derivative", got, expected, inputs=inputs, rtol=0.0, atol=atol,
            hint=hint)


@reports("central differences, vectorised, float64, uses h", "numerical_derivative")
def check_numerical_derivative(fn: Callable) -> None:
    r"""``numerical_derivative(f, z, h=1e-5)`` is the central difference, vectorised.

    Checked on known derivatives: of np.sin (to 1e-8, which the central difference meets
    and a one-sided difference misses by ~1e-6), of a cubic with ``h=1e-3`` (whose central
    difference is exactly ``f'(z) + h**2``, so a fixed step is caught), on 1-D, 2-D and
    scalar z; the result is float64 of z's shape and z is left unmodified.

    Examples
    --------
    >>> check_numerical_derivative(lambda f, z, h=1e-5: (f(z + h) - f(z - h)) / (2 * h))
    """
    __tracebackhide__ = True
    z = np.array([-2.0, -0.5, 0.5, 1.0, 2.5])
    got = _nd_call(fn, np.sin, "np.sin", z)
    _nd_compare(got, np.sin, "np.sin", z, 1e-5, np.cos(z), 1e-8, h_given=False)
    z = np.array([[-1.5, -0.25, 0.75], [1.0, 2.0, 3.0]])
    got = _nd_call(fn, _cubic, "z**3 - 2*z", z, h=1e-3)
    _nd_compare(got, _cubic, "z**3 - 2*z", z, 1e-3, 3 * z**2 - 2.0 + 1e-6, 1e-9,
                h_given=True)
    got = _nd_call(fn, np.exp, "np.exp", 0.3)
    _nd_compare(np.asarray(got), np.exp, "np.exp", np.asarray(0.3), 1e-5,
                np.asarray(np.exp(0.3)), 1e-8, h_given=False)


@reports("equals Delta(z) * swish(z) + mish(z) / z, and 0.6 at z = 0", "mish_grad")
def check_mish_identity(mish_grad: Callable, mish_delta: Callable, swish: Callable,
                        mish: Callable) -> None:
    r"""The note's identity holds for the learner's own functions.

    At z != 0: ``mish_grad(z) = mish_delta(z) * swish(z, beta=1.0) + mish(z) / z``
    (``rtol = 1e-6``, floor 1e-12); at z = 0, ``mish_grad(0) = 0.6``, the limit tanh(ln 2).

    Examples
    --------
    >>> import course_utils.reference as r  # doctest: +SKIP
    >>> check_mish_identity(r.mish_grad, r.mish_delta, r.swish, r.mish)  # doctest: +SKIP
    """
    __tracebackhide__ = True
    z = IDENTITY_GRID
    got = _evaluate(mish_grad, "mish_grad", z, {})
    delta = _evaluate(mish_delta, "mish_delta", z, {})
    sw = _evaluate(swish, "swish", z, {"beta": 1.0})
    mi = _evaluate(mish, "mish", z, {})
    with np.errstate(all="ignore"):
        identity = delta * sw + mi / z
    compare("mish_grad", got, identity, inputs={"z": z}, rtol=RTOL[F64], atol=1e-12,
            hint="expected is mish_delta(z)*swish(z) + mish(z)/z from your own three "
                 "functions: one of the four disagrees with the note's formula.")
    zero = np.array([0.0, -0.0])
    got = _evaluate(mish_grad, "mish_grad", zero, {})
    compare("mish_grad", got, np.full(2, MISH_GRAD_AT_0), inputs={"z": zero}, rtol=RTOL[F64],
            atol=1e-12, hint="at z = 0, mish(z)/z is 0/0: the value there is its limit as "
                             "z -> 0 (what is softplus(0)?).")


# ---------------------------------------------------------------------------------------
# Hidden checks (reference imported when called)


def _reference(name: str) -> Callable:
    import course_utils.reference as reference

    return getattr(reference, name)


def _ref_eval(name: str, z: np.ndarray, row: Row) -> np.ndarray:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return np.asarray(_reference(name)(z.copy(), **row))


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
            got = _evaluate(fn, name, z, row)
            others = [(r, _ref_eval(name, z, r)) for r in rows if r != row]
            _compare(spec, name, z, row, got, expected, dtype, others=others)
        if spec.params and spec.defaults is not None:
            z = _random_inputs(rng, dtype, max(spec.scale(r) for r in rows))
            values = [_ref_eval(name, z, r) for r in rows]
            _check_default(fn, name, spec, z, dtype, rows, values)


@functools.lru_cache(maxsize=64)
def _root_cached(name: str, guess: float, row: tuple[tuple[str, float], ...]) -> float:
    params = dict(row)
    lo, hi = guess * 1.05, guess * 0.95
    for _ in range(20):  # 64 sections per step: an ulp after ~9 steps
        xs = np.linspace(lo, hi, 65)
        sign = np.sign(_ref_eval(name, xs, params))
        change = np.flatnonzero(sign[:-1] != sign[1:])
        if change.size == 0:
            return guess if sign[0] == sign[-1] else float(lo)
        k = int(change[0])
        if xs[k + 1] <= np.nextafter(xs[k], np.inf):
            return float(xs[k])
        lo, hi = float(xs[k]), float(xs[k + 1])
    return float(lo)


def _root(name: str, guess: float, row: Row) -> float:
    """A root of the reference ``name`` near ``guess`` (multisection in float64)."""
    return _root_cached(name, float(guess), tuple(sorted(row.items())))


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
    for guess in spec.roots(**row):
        r = np.asarray(_root(spec.name, guess, row), dtype=dtype)
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


def hidden_prelu_grad_a(fn: Callable, seed: int = 0) -> None:
    r"""``prelu_grad_a`` on random shapes, slopes and upstream gradients (fixed ``seed``)
    against the reference, including exact zeros in z."""
    __tracebackhide__ = True
    rng = np.random.default_rng(seed)
    ref = _reference("prelu_grad_a")
    shapes = [(1,), (17,), (4, 9), (3, 2, 5), (2, 3, 4, 5)]
    for shape, a in zip(shapes, (0.25, 0.01, 1.5, 0.5, 0.1), strict=True):
        z = rng.normal(0.0, 3.0, size=shape)
        z.flat[rng.integers(0, z.size)] = 0.0
        upstream = rng.normal(0.0, 1.0, size=shape)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            expected = float(ref(z.copy(), a, upstream.copy()))
        _check_prelu_grad_a_case(fn, z, a, upstream, expected, RTOL[F64])


def hidden_numerical_derivative(fn: Callable, seed: int = 0) -> None:
    r"""``numerical_derivative`` on random points, shapes and steps (fixed ``seed``), for
    several functions, against the reference; also the default step."""
    __tracebackhide__ = True
    rng = np.random.default_rng(seed)
    ref = _reference("numerical_derivative")
    functions = [(np.sin, "np.sin"), (np.exp, "np.exp"), (np.tanh, "np.tanh"),
                 (_cubic, "z**3 - 2*z")]
    eps = np.finfo(np.float64).eps
    for k, (shape, h) in enumerate([((6,), 1e-2), ((2, 3), 1e-3), ((), 1e-4), ((3, 1, 2), 1e-6),
                                     ((5,), None)]):
        f, text = functions[k % len(functions)]
        z = rng.uniform(-3.0, 3.0, size=shape)
        step = {} if h is None else {"h": h}
        got = _nd_call(fn, f, text, z, **step)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            expected = np.asarray(ref(f, z.copy(), **step), dtype=np.float64)
        used = 1e-5 if h is None else h
        noise = 64 * eps * (np.abs(f(z + used)) + np.abs(f(z - used))) / used
        atol = float(np.max(noise + 1e-7 * np.abs(expected)))
        _nd_compare(np.asarray(got), f, text, z, used, expected, atol, h_given=h is not None)
