r"""Checks of 03_swish_mish: the learner's autograd Functions (SwishFunction,
MishFunction; the modules are ``torch_modules``).

Visible checks (``check_*``) use PyTorch's own units as the oracle (``F.silu``, ``F.mish``,
``F.prelu`` and autograd through ``x * torch.sigmoid(beta * x)``); they never import the
course's reference. Hidden checks (``hidden_*``) import ``course_utils.reference_torch``
when called and compare on randomized (fixed-seed) inputs of many magnitudes and shapes.

A gradient failure names the variable whose gradient is wrong::

    SwishFunction gradient w.r.t. beta: 3 of 3 values are wrong (rtol=1e-06, atol=1e-12).
      first mismatch at beta = 0.5: expected 1.2718, got 0.0
      Hint: beta is shared by every position: its gradient sums upstream * d(swish)/d(beta).

Each check takes the learner's class (``SwishFunction``, not ``SwishFunction.apply``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from course_utils.checks.engine import call, compare, fail, fmt, reports
from course_utils.checks.torch_calls import (
    ATOL,
    ATOL_EDGE,
    BETAS,
    EXTREMES,
    F32,
    F64,
    GRID,
    RTOL,
    STABLE_HINT,
    SWISH_BETA_HINT,
    as_numpy,
    backward,
    dtype_name,
    edge_hint,
    forward,
    function_class,
    grad_hint,
    oracle_grads,
    random_inputs,
    require_grad,
    swish_grads,
    swish_oracle,
    upstream_for,
)
from course_utils.memory import saved_for_backward, tensor_attributes

__all__ = [
    "check_swish_function_values", "check_swish_function_grad_x",
    "check_swish_function_grad_beta", "check_swish_function_saved",
    "check_swish_function_dtype_shape", "check_swish_function_edges",
    "check_mish_function_values", "check_mish_function_grad", "check_mish_function_saved",
    "check_mish_function_dtype_shape", "check_mish_function_edges",
    "hidden_swish_function", "hidden_mish_function",
]


# --------------------------------------------------------------------------------------------
# SwishFunction
# --------------------------------------------------------------------------------------------

_SWISH_X_HINT = ("d/dx of x * sigmoid(beta * x) needs the product rule and the chain rule "
                 "(mind the inner beta), times upstream.")


@reports("forward values, several beta", "SwishFunction")
def check_swish_function_values(SwishFunction) -> None:
    r"""``SwishFunction.apply(x, beta)`` equals x * sigmoid(beta * x) (``F.silu`` at beta = 1).

    float64, 30 points in [-6, 6] including 0 and the root of swish', beta in
    {1, 0, 0.5, 2, 5}; rtol 1e-6, atol 1e-12.
    """
    __tracebackhide__ = True
    fn = function_class(SwishFunction, "SwishFunction")
    for beta in BETAS:
        b = torch.tensor(beta, dtype=F64)
        y = forward(fn, "SwishFunction", GRID.clone(), b,
                     inputs={"x": as_numpy(GRID), "beta": beta})
        expected = F.silu(GRID) if beta == 1.0 else swish_oracle(GRID, b)
        compare("SwishFunction", as_numpy(y), as_numpy(expected),
                inputs={"x": as_numpy(GRID), "beta": beta},
                rtol=RTOL[F64], atol=ATOL[F64],
                hint="swish(x) = x * sigmoid(beta * x): is beta used, and inside the sigmoid?")


@reports("gradient with respect to x, gradcheck", "SwishFunction")
def check_swish_function_grad_x(SwishFunction) -> None:
    r"""backward's gradient with respect to x, against autograd of x * sigmoid(beta * x).

    float64 on the moderate grid with several beta and a fixed upstream gradient with both
    signs; then ``torch.autograd.gradcheck`` with respect to x.
    """
    __tracebackhide__ = True
    fn = function_class(SwishFunction, "SwishFunction")
    name = "SwishFunction gradient w.r.t. x"
    up = upstream_for(GRID.shape, F64)
    for beta in BETAS:
        b = torch.tensor(beta, dtype=F64)
        inputs = {"x": as_numpy(GRID), "beta": beta, "upstream": as_numpy(up)}
        _, gx, _ = swish_grads(fn, GRID, b, up, inputs)
        gx = require_grad("SwishFunction", gx, "x", "return (grad_x, grad_beta) from backward.")
        _, (ex, _) = oracle_grads(swish_oracle, GRID, b, upstream=up)
        compare(name, as_numpy(gx), as_numpy(ex), inputs=inputs, rtol=RTOL[F64], atol=ATOL[F64],
                hint=grad_hint("x", _SWISH_X_HINT))
    _gradcheck(lambda x: fn.apply(x, torch.tensor(1.5, dtype=F64)), name)


@reports("gradient with respect to beta, gradcheck", "SwishFunction")
def check_swish_function_grad_beta(SwishFunction) -> None:
    r"""backward's gradient with respect to beta (summed over positions), against autograd.

    One tensor x of 30 points and beta in {1, 0, 0.5, 2, 5}; a fixed upstream with both
    signs; then ``torch.autograd.gradcheck`` with respect to beta.
    """
    __tracebackhide__ = True
    fn = function_class(SwishFunction, "SwishFunction")
    name = "SwishFunction gradient w.r.t. beta"
    up = upstream_for(GRID.shape, F64)
    got, expected = [], []
    for beta in BETAS:
        b = torch.tensor(beta, dtype=F64)
        _, _, gb = swish_grads(fn, GRID, b, up, {"x": as_numpy(GRID), "beta": beta})
        gb = require_grad("SwishFunction", gb, "beta", SWISH_BETA_HINT)
        if gb.numel() != 1:
            fail(name, f"has shape {tuple(gb.shape)}, expected beta's shape ().",
                 hint=SWISH_BETA_HINT)
        got.append(float(gb.reshape(())))
        expected.append(float(oracle_grads(swish_oracle, GRID, b, upstream=up)[1][1]))
    compare(name, np.array(got), np.array(expected), inputs={"beta": np.array(BETAS)},
            rtol=RTOL[F64], atol=ATOL[F64], hint=grad_hint("beta", SWISH_BETA_HINT))
    x = GRID[::3].clone()
    _gradcheck(lambda b: fn.apply(x, b), name, torch.tensor(0.8, dtype=F64))


def _gradcheck(f, name, point=None):
    __tracebackhide__ = True
    point = GRID[::3].clone() if point is None else point
    point = point.detach().clone().requires_grad_()
    try:
        ok = torch.autograd.gradcheck(f, (point,), eps=1e-6, atol=1e-7, rtol=1e-5,
                                      raise_exception=False)
    except Exception as error:  # the learner's bug, reported rather than re-raised
        fail(name, f"torch.autograd.gradcheck raised {type(error).__name__}: {error}")
    if not ok:
        fail(name, "fails torch.autograd.gradcheck in float64.",
             f"at {fmt(as_numpy(point))}",
             hint="backward must be the derivative of your own forward, times upstream.")


def _check_saved(fn, name, args, allowed, needs):
    __tracebackhide__ = True
    x = args[0]
    saved = call(saved_for_backward, name, fn.apply, *args, inputs={"x": as_numpy(x)})
    y = fn.apply(*args)
    stashed = tensor_attributes(y)
    if stashed:
        fail(name, f"keeps tensors as ctx attributes ({', '.join('ctx.' + s for s in stashed)}).",
             hint="store tensors for backward with ctx.save_for_backward(...) only.")
    big = [s for s in saved.shapes if int(np.prod(s)) == x.numel()]
    if saved.nbytes > allowed:
        fail(name, f"saves {saved.count} tensors for backward ({len(big)} of x's size, "
                   f"{saved.nbytes} bytes); it needs only {needs} ({allowed} bytes).",
             hint="save the input and recompute the rest (sigmoid, tanh, softplus) in backward.")
    if saved.count == 0:
        fail(name, "saves nothing for backward.",
             hint=f"backward needs {needs}: save it with ctx.save_for_backward.")


@reports("saves only x and beta", "SwishFunction")
def check_swish_function_saved(SwishFunction) -> None:
    r"""forward saves only x and beta (measured with saved-tensor hooks), nothing on ctx."""
    __tracebackhide__ = True
    fn = function_class(SwishFunction, "SwishFunction")
    x = torch.linspace(-4, 4, 1000, dtype=F64, requires_grad=True)
    b = torch.tensor(1.0, dtype=F64, requires_grad=True)
    _check_saved(fn, "SwishFunction", (x, b), x.nbytes + b.nbytes, "x and beta")


def _check_dtype_shape(fn, name, extra=()):
    __tracebackhide__ = True
    for shape in [(), (7,), (3, 4), (2, 3, 4)]:
        for dtype in (F32, F64):
            x = (torch.arange(int(np.prod(shape)), dtype=dtype).reshape(shape) - 5.0) * 0.7
            x0 = x.clone()
            args = [a.to(dtype) for a in extra]
            where = {"x": f"{dtype} tensor of shape {shape}"}
            xg = x.clone().requires_grad_()
            y = forward(fn, name, xg, *args, inputs=where)
            if y.shape != x.shape or y.dtype != dtype:
                fail(name, f"returned {y.dtype} of shape {tuple(y.shape)}, "
                           f"expected {dtype} of shape {tuple(shape)}.",
                     hint="keep the input's shape and dtype: no reductions, no float64 constants "
                          "made with torch.tensor(...) without dtype=.")
            up = upstream_for(shape, dtype)
            up0 = up.clone()
            (gx,) = backward(name, y, (xg,), up, "one gradient per input")[:1]
            if gx is None or gx.shape != x.shape or gx.dtype != dtype:
                got = "None" if gx is None else f"{gx.dtype} of shape {tuple(gx.shape)}"
                fail(f"{name} gradient w.r.t. x", f"is {got}, expected {dtype} of shape {shape}.",
                     hint="the gradient w.r.t. x has the shape and dtype of x.")
            if not torch.equal(xg.detach(), x0) or not torch.equal(up, up0):
                which = "x" if not torch.equal(xg.detach(), x0) else "upstream"
                fail(name, f"modified {which} in place.",
                     hint="use out-of-place operations (x * s, not x.mul_(s)).")
            if y.data_ptr() == xg.data_ptr() and y.numel():
                fail(name, "returned its input's memory.", hint="return a new tensor.")


@reports("dtype and shape kept, inputs untouched", "SwishFunction")
def check_swish_function_dtype_shape(SwishFunction) -> None:
    r"""float32 and float64, shapes (), (7,), (3, 4), (2, 3, 4): output and gradient keep the
    input's shape and dtype; neither x nor upstream is modified in place."""
    __tracebackhide__ = True
    fn = function_class(SwishFunction, "SwishFunction")
    _check_dtype_shape(fn, "SwishFunction", extra=(torch.tensor(1.5, dtype=F64),))


def _edge_points(dtype):
    values = [v for v in EXTREMES if not (dtype == F32 and abs(v) == 1e-30)]
    return torch.tensor(values, dtype=dtype)


@reports("extremes, finite and exact", "SwishFunction")
def check_swish_function_edges(SwishFunction) -> None:
    r"""Extreme inputs (|x| up to 1e4, around exp's overflow at 88.7, tiny, -0.0), float32 and
    float64, beta in {1, 2}: finite, accurate values and gradients w.r.t. x and beta."""
    __tracebackhide__ = True
    fn = function_class(SwishFunction, "SwishFunction")
    for dtype in (F64, F32):
        x = _edge_points(dtype)
        up = torch.ones_like(x)
        rtol, atol = RTOL[dtype], ATOL_EDGE[dtype]
        for beta in (1.0, 2.0):
            b = torch.tensor(beta, dtype=dtype)
            inputs = {"x": as_numpy(x), "beta": beta}
            tag = f"SwishFunction [{dtype_name(dtype)}]"
            y, gx, _ = swish_grads(fn, x, b, up, inputs)
            ey, (ex, _) = oracle_grads(swish_oracle, x, b, upstream=up)
            compare(tag, as_numpy(y), as_numpy(ey), inputs=inputs, rtol=rtol, atol=atol,
                    hint=edge_hint)
            gx = require_grad("SwishFunction", gx, "x", "return (grad_x, grad_beta).")
            compare(f"{tag} gradient w.r.t. x", as_numpy(gx), as_numpy(ex), inputs=inputs,
                    rtol=rtol, atol=atol, hint=grad_hint("x", STABLE_HINT))
            got, expected = [], []
            for xi in x:  # one position at a time: the beta gradient is a sum over positions
                _, _, gb = swish_grads(fn, xi, b, torch.ones_like(xi), inputs)
                gb = require_grad("SwishFunction", gb, "beta", SWISH_BETA_HINT)
                got.append(float(gb.reshape(())))
                expected.append(float(oracle_grads(swish_oracle, xi, b,
                                                    upstream=torch.ones_like(xi))[1][1]))
            # x**2 * s * (1 - s) loses all its digits where s rounds to 1; a correct float
            # formula may return 0 there, within a few ulps of x**2.
            got, expected = np.array(got), np.array(expected)
            floor = 4 * torch.finfo(dtype).eps * as_numpy(x) ** 2
            got = np.where(np.abs(got - expected) <= floor, expected, got)
            compare(f"{tag} gradient w.r.t. beta", got, expected,
                    inputs=inputs, rtol=rtol, atol=atol, hint=grad_hint("beta", STABLE_HINT))


# --------------------------------------------------------------------------------------------
# MishFunction
# --------------------------------------------------------------------------------------------

_MISH_HINT = ("mish'(x) = tanh(softplus(x)) + x * sech^2(softplus(x)) * sigmoid(x); "
              "at x = 0 take the limit.")


def _mish_grads(fn, x, up, inputs):
    __tracebackhide__ = True
    xg = x.detach().clone().requires_grad_()
    y = forward(fn, "MishFunction", xg, inputs=inputs)
    (gx,) = backward("MishFunction", y, (xg,), up, "grad_x")
    return y, require_grad("MishFunction", gx, "x", "return the gradient w.r.t. x.")


@reports("forward values equal F.mish", "MishFunction")
def check_mish_function_values(MishFunction) -> None:
    r"""``MishFunction.apply(x)`` equals ``F.mish(x)``: float64, 30 points in [-6, 6] with 0."""
    __tracebackhide__ = True
    fn = function_class(MishFunction, "MishFunction")
    y = forward(fn, "MishFunction", GRID.clone())
    compare("MishFunction", as_numpy(y), as_numpy(F.mish(GRID)), inputs={"x": as_numpy(GRID)},
            rtol=RTOL[F64], atol=ATOL[F64],
            hint="mish(x) = x * tanh(softplus(x)), softplus(x) = ln(1 + e^x).")


@reports("gradient with respect to x, gradcheck", "MishFunction")
def check_mish_function_grad(MishFunction) -> None:
    r"""backward against autograd of ``F.mish``: float64 grid with 0, fixed upstream with both
    signs; then ``torch.autograd.gradcheck``."""
    __tracebackhide__ = True
    fn = function_class(MishFunction, "MishFunction")
    name = "MishFunction gradient w.r.t. x"
    up = upstream_for(GRID.shape, F64)
    inputs = {"x": as_numpy(GRID), "upstream": as_numpy(up)}
    _, gx = _mish_grads(fn, GRID, up, inputs)
    _, (ex,) = oracle_grads(F.mish, GRID, upstream=up)
    compare(name, as_numpy(gx), as_numpy(ex), inputs=inputs, rtol=RTOL[F64], atol=ATOL[F64],
            hint=grad_hint("x", _MISH_HINT))
    _gradcheck(fn.apply, name)


@reports("saves only its input", "MishFunction")
def check_mish_function_saved(MishFunction) -> None:
    r"""forward saves only its input (measured with saved-tensor hooks), nothing on ctx."""
    __tracebackhide__ = True
    fn = function_class(MishFunction, "MishFunction")
    x = torch.linspace(-4, 4, 1000, dtype=F64, requires_grad=True)
    _check_saved(fn, "MishFunction", (x,), x.nbytes, "x")


@reports("dtype and shape kept, inputs untouched", "MishFunction")
def check_mish_function_dtype_shape(MishFunction) -> None:
    r"""float32 and float64, shapes (), (7,), (3, 4), (2, 3, 4): output and gradient keep the
    input's shape and dtype; neither x nor upstream is modified in place."""
    __tracebackhide__ = True
    _check_dtype_shape(function_class(MishFunction, "MishFunction"), "MishFunction")


@reports("extremes, finite and exact", "MishFunction")
def check_mish_function_edges(MishFunction) -> None:
    r"""Extreme inputs (|x| up to 1e4, around exp's overflow, tiny, -0.0), float32 and
    float64: finite, accurate values and gradients."""
    __tracebackhide__ = True
    fn = function_class(MishFunction, "MishFunction")
    for dtype in (F64, F32):
        x = _edge_points(dtype)
        up = torch.ones_like(x)
        inputs = {"x": as_numpy(x)}
        tag = f"MishFunction [{dtype_name(dtype)}]"
        y, gx = _mish_grads(fn, x, up, inputs)
        ey, (ex,) = oracle_grads(F.mish, x, upstream=up)
        rtol, atol = RTOL[dtype], ATOL_EDGE[dtype]
        compare(tag, as_numpy(y), as_numpy(ey), inputs=inputs, rtol=rtol, atol=atol,
                hint=edge_hint)
        compare(f"{tag} gradient w.r.t. x", as_numpy(gx), as_numpy(ex), inputs=inputs, rtol=rtol,
                atol=atol, hint=grad_hint("x", _MISH_HINT))


# --------------------------------------------------------------------------------------------
# Hidden checks: against course_utils.reference_torch on randomized inputs
# --------------------------------------------------------------------------------------------

def _compare_function(label, fn_apply, ref_apply, tensors, needs, inputs):
    """Values and all gradients of learner vs reference for one set of arguments."""
    __tracebackhide__ = True
    x = tensors[0]
    mine = [t.detach().clone().requires_grad_(n) for t, n in zip(tensors, needs, strict=True)]
    refs = [t.detach().clone().requires_grad_(n) for t, n in zip(tensors, needs, strict=True)]
    y = call(fn_apply, label, *mine, inputs=inputs)
    if not isinstance(y, torch.Tensor):
        fail(label, f"returned a {type(y).__name__}, expected a torch.Tensor.")
    ey = ref_apply(*refs)
    rtol, atol = RTOL[x.dtype], ATOL[x.dtype]
    compare(label, as_numpy(y), as_numpy(ey), inputs=inputs, rtol=rtol, atol=atol, hint=edge_hint)
    up = upstream_for(x.shape, x.dtype)
    wrt = [t for t, n in zip(mine, needs, strict=True) if n]
    got = backward(label, y, wrt, up, "one per input")
    expected = torch.autograd.grad(ey, [t for t, n in zip(refs, needs, strict=True) if n], up)
    names = [n for n, need in zip(("x", "beta"), needs, strict=False) if need]
    for variable, g, e in zip(names, got, expected, strict=True):
        g = require_grad(label, g, variable, "return a gradient for every input.")
        if variable == "x":
            where, floor = inputs, atol
        else:  # a sum over positions: a 0-d value, tolerance scaled by its size
            where = {k: v for k, v in inputs.items() if np.ndim(v) == 0}
            floor = atol * max(1.0, float(e.abs().max()))
        compare(f"{label} gradient w.r.t. {variable}", as_numpy(g).reshape(e.shape), as_numpy(e),
                inputs=where, rtol=rtol, atol=floor, hint=grad_hint(variable, STABLE_HINT))


def hidden_swish_function(SwishFunction, seed: int = 0) -> None:
    r"""SwishFunction against the reference: random magnitudes and shapes, float32/64,
    random beta in [0, 5], gradients w.r.t. x and beta."""
    __tracebackhide__ = True
    from course_utils import reference_torch

    fn = function_class(SwishFunction, "SwishFunction")
    rng = np.random.default_rng(seed)
    for dtype in (F64, F32):
        for x in random_inputs(seed, dtype):
            beta = torch.tensor(float(rng.uniform(0, 5)), dtype=dtype)
            _compare_function(f"SwishFunction [{dtype_name(dtype)}]", fn.apply,
                              reference_torch.SwishFunction.apply, (x, beta), (True, True),
                              {"x": as_numpy(x), "beta": float(beta)})


def hidden_mish_function(MishFunction, seed: int = 0) -> None:
    r"""MishFunction against the reference: random magnitudes and shapes, float32/64."""
    __tracebackhide__ = True
    from course_utils import reference_torch

    fn = function_class(MishFunction, "MishFunction")
    for dtype in (F64, F32):
        for x in random_inputs(seed, dtype):
            _compare_function(f"MishFunction [{dtype_name(dtype)}]", fn.apply,
                              reference_torch.MishFunction.apply, (x,), (True,), {"x": as_numpy(x)})
