"""The machinery every check is built from: call the learner's code, compare, explain.

A failed check raises ``AssertionError`` with a message of at most six lines, in the order
the learner needs it:

    swish_grad: 8 of 9 values are wrong (rtol=1e-06, atol=0).
      first mismatch at z = -2.0, beta = 1.0: expected -0.0908, got 0.1192
      Hint: swish is a product of z and sigmoid(beta*z): did you use the product rule?

A passing visible check says so in one line on stdout (``reports``), for example

    ✓ swish_grad: values on the grid (225 values within rtol 1e-06)

so that "passed" never looks like "not run". Nothing of a check ever reaches stderr:
nbgrader scores a test cell 0 as soon as anything does. Frames of this package carry
``__tracebackhide__`` so that IPython and pytest show the learner the message rather than
our internals.
"""

from __future__ import annotations

import functools
import inspect
import textwrap
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

#: Relative tolerance a correct float formula meets and a wrong one cannot (docs/COURSE_PLAN.md).
RTOL = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 1e-4}


def fmt(value: Any) -> str:
    """Shortest round-trip text of a number, in its own precision ('0.1', '-1e+30', 'nan')."""
    if isinstance(value, (np.ndarray, np.generic)) and np.ndim(value) == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return "nan"
        if np.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value == 0:
            return "-0.0" if np.signbit(value) else "0.0"
        if 1e-4 <= abs(value) < 1e7:
            return np.format_float_positional(value, unique=True, trim="0")
        return np.format_float_scientific(value, unique=True, trim="0")
    if isinstance(value, np.ndarray):
        return np.array2string(value, threshold=6, edgeitems=2, precision=4)
    return repr(value)


def describe_inputs(inputs: Mapping[str, Any]) -> str:
    """'z = -2.0, beta = 1.0' from a mapping of argument names to values."""
    return ", ".join(f"{name} = {fmt(value)}" for name, value in inputs.items())


class CheckFailure(AssertionError):
    """A failed check: an AssertionError that shows the learner its message and nothing else.

    IPython (JupyterLab, nbgrader's kernels) renders an exception through its
    ``_render_traceback_`` when it has one: the learner sees the six lines that say what is
    wrong, not a wall of frames from inside this package. pytest and plain Python still
    show the full traceback, for whoever debugs the checks themselves.
    """

    def _render_traceback_(self) -> list[str]:
        first, *rest = str(self).splitlines() or [""]
        shown = wrap(f"AssertionError: {first}").split("\n")
        shown[0] = shown[0].replace("AssertionError:", "\x1b[0;31mAssertionError\x1b[0m:", 1)
        for line in rest:
            indent = line[:len(line) - len(line.lstrip())]
            shown += wrap(line, indent).split("\n")
        return shown


#: Messages are shown wrapped to this width: the Validate dialog, the feedback page and an
#: 80-column terminal all show them whole.
WIDTH = 88


def wrap(line: str, indent: str = "") -> str:
    """``line`` wrapped at word boundaries to ``WIDTH`` columns; continuation lines are
    indented four more spaces than ``indent``, so that each item still reads as one."""
    body = line[len(indent):] if line.startswith(indent) else line
    return "\n".join(textwrap.wrap(body, WIDTH, initial_indent=indent,
                                   subsequent_indent=indent + "    ",
                                   break_long_words=False, break_on_hyphens=False)) or line


def fail(name: str, problem: str, *details: str, hint: str | None = None) -> None:
    """Raise the learner-facing failure: 'name: problem', indented details, a hint.

    At most six lines; each is wrapped to ``WIDTH`` columns where it is shown
    (``CheckFailure._render_traceback_``), and kept whole in the exception's text.
    """
    __tracebackhide__ = True
    lines = [f"{name}: {problem}"]
    lines += [f"  {line}" for line in details]
    if hint:
        lines.append(f"  Hint: {hint}")
    raise CheckFailure("\n".join(lines)) from None


def tolerance(rtol: float, atol: float = 0.0) -> str:
    """The tolerance as a learner reads it: 'rtol=1e-06', with atol only where it is a real
    floor near 0 (not the tiny guard that keeps subnormals from counting as wrong)."""
    return f"rtol={rtol:g}" + (f", atol={atol:g}" if atol >= 1e-100 else "")


# --- Saying that a check passed ---------------------------------------------------------
#: The visible checks running now (a check may call another): what each has compared.
_RUNNING: list[dict] = []


def tally(values: int, rtol: float | None = None) -> None:
    """Record that ``values`` values were compared (within ``rtol``) by the running check."""
    if _RUNNING:
        _RUNNING[-1]["values"] += int(values)
        if rtol is not None:
            _RUNNING[-1]["rtols"].add(float(rtol))


def reports(what: str, name: str | None = None):
    """Decorator for a visible check: when it passes, print one line that says so,

        ✓ NAME: WHAT (N values within rtol R)

    ``name`` is the graded function's name, or None for a check whose ``name`` argument
    gives it. Only the outermost check prints; hidden checks never print.
    """
    def decorate(check):
        signature = inspect.signature(check)

        @functools.wraps(check)
        def run(*args, **kwargs):
            __tracebackhide__ = True
            _RUNNING.append({"values": 0, "rtols": set()})
            try:
                result = check(*args, **kwargs)
            finally:
                done = _RUNNING.pop()
            if not _RUNNING:
                label = name or signature.bind(*args, **kwargs).arguments.get("name", "")
                print(passed_line(label, what, done["values"], done["rtols"]))
            return result

        return run

    return decorate


def passed_line(name: str, what: str, values: int = 0, rtols=()) -> str:
    """'✓ name: what (N values within rtol R)', the count only where values were compared."""
    count = ""
    if values:
        within = ""
        if rtols:
            within = " exact" if min(rtols) == 0 else f" within rtol {min(rtols):g}"
        count = f" ({values} values{within})"
    return f"✓ {name}: {what}{count}"


def is_blas_noise(caught: warnings.WarningMessage, result: Any) -> bool:
    """Whether ``caught`` is a floating-point warning of a BLAS-backed NumPy product that
    left no trace in ``result`` (every number of it finite).

    NumPy reads the CPU's floating-point flags after ``matmul``, and some OpenBLAS kernels
    set them on finite data, depending on the CPU (numpy#24067, #28687, #29820): the same
    correct code warns on one machine and not on another. A real overflow in a product
    leaves an inf or a nan in the result, and then the warning is the learner's.
    """
    text = str(caught.message)
    return issubclass(caught.category, RuntimeWarning) and text.endswith(
        ("encountered in matmul", "encountered in vecdot", "encountered in matvec",
         "encountered in vecmat")) and _all_finite(result)


def _all_finite(result: Any) -> bool:
    if isinstance(result, (tuple, list)):
        return all(_all_finite(part) for part in result)
    if isinstance(result, (np.ndarray, np.generic)) and np.issubdtype(result.dtype, np.inexact):
        return bool(np.isfinite(result).all())
    return True


def call(fn: Callable, name: str, *args: Any, inputs: Mapping[str, Any] | None = None,
         **kwargs: Any) -> Any:
    """Call the learner's ``fn(*args, **kwargs)`` and return its result.

    An unfinished stub, an exception, or any warning (underflow to 0 is not one: it is the
    correct result of, e.g., exp(-1e30); nor is :func:`is_blas_noise`) becomes a one-line
    failure that names ``name`` and the input (``inputs``, or the arguments themselves).
    Inputs are passed as given: callers that check for in-place modification pass copies
    and compare afterwards.
    """
    __tracebackhide__ = True
    where = describe_inputs(inputs) if inputs is not None else _describe_args(args, kwargs)
    if not callable(fn):
        fail(name, f"expected a function, got {type(fn).__name__}.",
             hint=f"define {name} with `def {name}(...):` in the exercise cell and run that cell.")
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn", under="ignore"):
        warnings.simplefilter("always")
        try:
            result = fn(*args, **kwargs)
        except NotImplementedError:
            fail(name, "is not implemented yet.",
                 hint="replace `raise NotImplementedError()` with your code, then run that cell.")
        except Exception as error:  # the learner's bug, reported rather than re-raised
            fail(name, f"raised {type(error).__name__}: {error}", f"on input {where}")
    caught = [one for one in caught if not is_blas_noise(one, result)]
    if caught:
        first = caught[0]
        fail(name, f"emitted a {first.category.__name__}: {first.message}",
             f"on input {where}",
             hint=_warning_hint(first))
    return result


def call_repeated(fn: Callable, name: str, times: int, *args: Any,
                  inputs: Mapping[str, Any] | None = None, **kwargs: Any) -> list:
    """``times`` calls of ``call(fn, name, *args, inputs=inputs, **kwargs)``: the same
    arguments each time (a random generator among them moves on between calls)."""
    __tracebackhide__ = True
    return [call(fn, name, *args, inputs=inputs, **kwargs) for _ in range(times)]


def _describe_args(args: tuple, kwargs: Mapping[str, Any]) -> str:
    parts = [fmt(a) for a in args] + [f"{k}={fmt(v)}" for k, v in kwargs.items()]
    return ", ".join(parts) if parts else "(no arguments)"


def _warning_hint(caught: warnings.WarningMessage) -> str:
    text = str(caught.message)
    if "overflow encountered in exp" in text:
        return ("exp of a large number overflowed: rewrite the formula so that it only "
                "exponentiates non-positive numbers. Note that np.where evaluates both "
                "branches on every element.")
    if "overflow" in text:
        return ("an intermediate value overflowed (a square or product of large values?): "
                "rearrange the formula so that no step leaves the float range.")
    if "invalid value" in text:
        return "a nan appeared in an intermediate step (inf - inf, 0 * inf or inf / inf?)."
    if "divide by zero" in text:
        return "a division by zero or log(0) happened: which inputs make the denominator 0?"
    return "a correct implementation runs without any warning on every input."


def as_result_array(name: str, result: Any, *, like: np.ndarray, where: str) -> np.ndarray:
    """Check the result has ``like``'s shape and float dtype; return it as an ndarray.

    A 0-d input may return a NumPy scalar (NumPy's own ufuncs do); anything else must be an
    ndarray. Python scalars, lists, tensors and integer arrays are refused with a hint.
    """
    __tracebackhide__ = True
    if isinstance(result, np.generic) and like.ndim == 0:
        result = np.asarray(result)
    if not isinstance(result, np.ndarray):
        fail(name, f"returned a {type(result).__name__}, expected a NumPy array.",
             f"on input {where}",
             hint="build the result with NumPy operations on the input array "
                  "(np.exp, np.where, ...).")
    if result.shape != like.shape:
        fail(name, f"returned shape {result.shape}, expected {like.shape}.",
             f"on input {where}",
             hint="an elementwise function keeps the input's shape: "
                  "avoid reductions and flattening.")
    if result.dtype != like.dtype:
        fail(name, f"returned dtype {result.dtype}, expected {like.dtype} (the input's dtype).",
             f"on input {where}",
             hint="float32 in, float32 out: a float64 constant such as np.float64(1.0) or a "
                  "np.array(...) without dtype= can promote the result.")
    return result


class Label:
    """An input named in a message as is (``f = np.sin``, ``case = a tall H``), not quoted
    like a string value. Not a str: NumPy would turn one into a string array in
    ``compare``'s ``inputs``."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def require_array(name: str, what: str, value: Any, shape: tuple[int, ...], dtype: Any,
                  where: str, *, hints: Mapping[str, str | None]) -> np.ndarray:
    """``value`` must be an ndarray of ``shape`` and ``dtype``; else the failure names
    ``what`` ('grads_W[0] (layer 1)'), what it is instead, and ``where`` ('on input ...').

    ``hints`` gives the hint for a wrong ``type``, ``shape`` and ``dtype`` (None: none).
    """
    __tracebackhide__ = True
    if not isinstance(value, np.ndarray):
        fail(name, f"{what} is a {type(value).__name__}, expected a NumPy array.",
             f"on {where}", hint=hints.get("type"))
    if value.shape != tuple(shape):
        fail(name, f"{what} has shape {value.shape}, expected {tuple(shape)}.", f"on {where}",
             hint=hints.get("shape"))
    if value.dtype != np.dtype(dtype):
        fail(name, f"{what} has dtype {value.dtype}, expected {np.dtype(dtype)}.",
             f"on {where}", hint=hints.get("dtype"))
    return value


def same(a: Any, b: Any) -> bool:
    """Deep equality of nested lists, tuples and dicts of arrays (nan equals nan): whether
    the learner's code left an input as it was (compare with a ``copy.deepcopy``)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(p, q) for p, q in zip(a, b, strict=False))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:  # objects without a meaningful ==: not compared
        return True


#: What to do instead of writing into an input (the default hint of ``require_unchanged``).
IN_PLACE_HINT = ("operators like +=, *= and out= write into the input: build a new array "
                 "instead (b = b + ..., not b += ...).")


def require_unchanged(name: str, labels: Sequence[str], before: Sequence[Any],
                      after: Sequence[Any], where: str, hint: str = IN_PLACE_HINT) -> None:
    """Fail, naming the first input (``labels``) whose value after the call (``after``)
    differs from its copy taken before it (``before``, a ``copy.deepcopy``)."""
    __tracebackhide__ = True
    for label, old, new in zip(labels, before, after, strict=True):
        if not same(old, new):
            fail(name, f"modified its input {label} in place.", f"on {where}", hint=hint)


def require_same_again(name: str, first: Any, again: Any, where: str,
                       what: str = "inputs", hint: str | None = None) -> None:
    """Fail unless two calls on the same ``what`` gave the same result (``first``,
    ``again``): a function that changes what it reads gives a different one."""
    __tracebackhide__ = True
    if not same(first, again):
        fail(name, f"gave a different result when called twice on the same {what}.",
             f"on {where}", hint=hint)


def central_differences(evaluate: Callable[[], float], arrays: Sequence[np.ndarray]
                        ) -> list[np.ndarray]:
    r"""The gradient of ``evaluate()`` with respect to every entry of every array.

        d/da_i ~ (f(a_i + h) - f(a_i - h)) / (2h),   h = 1e-6 max(1, |a_i|)

    ``evaluate`` reads ``arrays``, which are changed one entry at a time and put back:
    pass copies of what the learner was given. Returns one array per array, same shapes.
    """
    __tracebackhide__ = True
    grads = []
    for array in arrays:
        grad = np.empty_like(array)
        for index in np.ndindex(array.shape):
            h = 1e-6 * max(1.0, abs(array[index]))
            keep = array[index]
            array[index] = keep + h
            up = evaluate()
            array[index] = keep - h
            down = evaluate()
            array[index] = keep
            grad[index] = (up - down) / (2 * h)
        grads.append(grad)
    return grads


def mismatches(expected: np.ndarray, got: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Boolean mask of wrong values: outside rtol/atol, or nan/inf where the other is not.

    nan matches nan, +inf matches +inf; signs of zeros are not compared.
    """
    expected = np.asarray(expected, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    with np.errstate(all="ignore"):
        close = np.abs(got - expected) <= atol + rtol * np.abs(expected)
    same_special = (np.isnan(expected) & np.isnan(got)) | (
        np.isinf(expected) & (got == expected))
    finite_both = np.isfinite(expected) & np.isfinite(got)
    return ~((close & finite_both) | same_special)


def kind_of(value: Any) -> str:
    """What sort of input ``value`` is, for telling apart the ways a function fails:
    'nan', '+inf', '-inf', 'zero', 'subnormal', 'huge' (|z| >= 1e4), 'tail' (|z| >= 20) or
    'ordinary'."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "ordinary"
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "+inf" if v > 0 else "-inf"
    if v == 0:
        return "zero"
    if abs(v) < np.finfo(np.float64).tiny or (isinstance(value, np.floating)
                                             and abs(v) < np.finfo(value.dtype).tiny):
        return "subnormal"
    if abs(v) >= 1e4:
        return "huge"
    return "tail" if abs(v) >= 20 else "ordinary"


#: How many further kinds of wrong input a message names after the first mismatch.
MORE_KINDS = 2


def other_kinds(where: list, inputs: Mapping[str, Any], expected: np.ndarray, got: np.ndarray,
                seen: str) -> list[str]:
    """'also wrong at ...' lines: the first mismatch of each other kind of input (nan, inf,
    subnormal, huge, ...), at most ``MORE_KINDS``, so that a learner who fails at nan and
    at -inf sees both, not only the first."""
    lines, kinds = [], {seen}
    shape = expected.shape
    for index in where[1:]:
        at = {k: np.broadcast_to(np.asarray(v), shape)[index] for k, v in inputs.items()}
        kind = kind_of(next(iter(at.values()), None))
        if kind in kinds:
            continue
        kinds.add(kind)
        lines.append(f"also wrong at {describe_inputs(at)} ({kind} input): "
                     f"expected {fmt(expected[index])}, got {fmt(got[index])}")
        if len(lines) == MORE_KINDS:
            break
    return lines


def compare(name: str, got: Any, expected: Any, *, inputs: Mapping[str, Any],
            rtol: float, atol: float = 0.0, hint: str | Callable[..., str | None] | None = None,
            ) -> None:
    """Compare the learner's values with the expected ones, elementwise.

    Parameters
    ----------
    name : the graded function's name, first word of the message.
    got, expected : arrays of one shape.
    inputs : argument name -> array broadcastable to that shape; the first mismatch is
        reported at these inputs ("at z = -2.0, beta = 1.0").
    rtol, atol : the tolerance ``|got - expected| <= atol + rtol * |expected|``.
    hint : a string, or ``hint(inputs_at_mismatch, expected, got) -> str | None`` that
        diagnoses the typical mistake from the first mismatch.
    """
    __tracebackhide__ = True
    got = np.asarray(got)
    expected = np.asarray(expected)
    wrong = mismatches(expected, got, rtol, atol)
    if not wrong.any():
        tally(wrong.size, rtol)
        return
    where = list(zip(*np.nonzero(wrong), strict=True)) if wrong.ndim else [()]
    first = where[0]
    at = {k: np.broadcast_to(np.asarray(v), wrong.shape)[first] for k, v in inputs.items()}
    e, g = expected[first], got[first]
    text = hint(at, e, g) if callable(hint) else hint
    fail(name, f"{int(wrong.sum())} of {wrong.size} values are wrong ({tolerance(rtol, atol)}).",
         f"first mismatch at {describe_inputs(at)}: expected {fmt(e)}, got {fmt(g)}",
         *other_kinds(where, inputs, expected, got, kind_of(next(iter(at.values()), None))),
         hint=text)
