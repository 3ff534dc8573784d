r"""Checks of the one-off derivatives of 02: PReLU's dL/da, central differences, and
the note's Mish identity (the elementwise checks' helpers, ``elementwise.evaluate``).

    check_prelu_grad_a(prelu_grad_a)
    check_numerical_derivative(numerical_derivative)
    check_mish_identity(mish_grad, mish_delta, swish, mish)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils import fixtures
from course_utils.checks.elementwise import evaluate, numpy_defaults, reference_function
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
)
from course_utils.checks.specs import F64, IDENTITY_GRID, MISH_GRAD_AT_0

__all__ = [
    "check_prelu_grad_a",
    "check_numerical_derivative",
    "check_mish_identity",
    "hidden_prelu_grad_a",
    "hidden_numerical_derivative",
]


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
    result = call(numpy_defaults(fn), name, zc, a, uc, inputs=inputs)
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
    result = call(numpy_defaults(fn), name, f, arg, inputs=inputs, **h)
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
    got = evaluate(mish_grad, "mish_grad", z, {})
    delta = evaluate(mish_delta, "mish_delta", z, {})
    sw = evaluate(swish, "swish", z, {"beta": 1.0})
    mi = evaluate(mish, "mish", z, {})
    with np.errstate(all="ignore"):
        identity = delta * sw + mi / z
    compare("mish_grad", got, identity, inputs={"z": z}, rtol=RTOL[F64], atol=1e-12,
            hint="expected is mish_delta(z)*swish(z) + mish(z)/z from your own three "
                 "functions: one of the four disagrees with the note's formula.")
    zero = np.array([0.0, -0.0])
    got = evaluate(mish_grad, "mish_grad", zero, {})
    compare("mish_grad", got, np.full(2, MISH_GRAD_AT_0), inputs={"z": zero}, rtol=RTOL[F64],
            atol=1e-12, hint="at z = 0, mish(z)/z is 0/0: the value there is its limit as "
                             "z -> 0 (what is softplus(0)?).")


def hidden_prelu_grad_a(fn: Callable, seed: int = 0) -> None:
    r"""``prelu_grad_a`` on random shapes, slopes and upstream gradients (fixed ``seed``)
    against the reference, including exact zeros in z."""
    __tracebackhide__ = True
    rng = np.random.default_rng(seed)
    ref = reference_function("prelu_grad_a")
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
    ref = reference_function("numerical_derivative")
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
