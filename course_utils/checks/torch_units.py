r"""Checks of 03_swish_mish: the learner's autograd Functions and activation modules.

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
from torch import nn

from course_utils.checks.engine import call, compare, fail, fmt, reports
from course_utils.memory import saved_for_backward, tensor_attributes

__all__ = [
    "check_swish_function_values", "check_swish_function_grad_x",
    "check_swish_function_grad_beta", "check_swish_function_saved",
    "check_swish_function_dtype_shape", "check_swish_function_edges",
    "check_mish_function_values", "check_mish_function_grad", "check_mish_function_saved",
    "check_mish_function_dtype_shape", "check_mish_function_edges",
    "check_swish_module", "check_swish_module_learnable", "check_mish_module",
    "check_prelu_module", "check_prelu_parameter",
    "hidden_swish_function", "hidden_mish_function", "hidden_swish_module",
    "hidden_mish_module", "hidden_prelu_module",
]

F64, F32 = torch.float64, torch.float32
RTOL = {F64: 1e-6, F32: 1e-4}
#: Absolute floors: near 0 on a moderate grid; at extremes, a few thousand times the
#: smallest normal number (subnormal results carry few significant bits).
ATOL = {F64: 1e-12, F32: 1e-6}
ATOL_EDGE = {F64: 1e-300, F32: 1e-34}

GRID = torch.cat([torch.linspace(-6.0, 6.0, 25, dtype=F64),
                  torch.tensor([-1e-3, 1e-3, -0.3, 0.7, -1.2785], dtype=F64)])
BETAS = (1.0, 0.0, 0.5, 2.0, 5.0)
EXTREMES = (-1e4, -1e3, -100.0, -88.8, -50.0, -20.0, -1e-8, -1e-30, -0.0, 0.0, 1e-30, 1e-8,
            20.0, 50.0, 88.8, 100.0, 1e3, 1e4)

_STABLE_HINT = ("at large |x|, torch.exp overflows to inf and inf/inf is nan: build on "
                "torch.sigmoid and F.softplus, which are stable.")


# --------------------------------------------------------------------------------------------
# Oracles (PyTorch's own units; autograd gives their derivatives)
# --------------------------------------------------------------------------------------------

def _swish_oracle(x: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(beta * x)


def _oracle_grads(oracle, x, *rest, upstream):
    """Value and gradients of ``oracle(x, *rest)`` in float64, for every tensor argument."""
    args = [t.detach().to(F64).requires_grad_() for t in (x, *rest)]
    y = oracle(*args)
    grads = torch.autograd.grad(y, args, upstream.to(F64))
    return y.detach(), grads


def _upstream(shape, dtype) -> torch.Tensor:
    """A fixed upstream gradient with both signs and no zeros (ignoring it shows)."""
    n = int(np.prod(shape)) if len(shape) else 1
    cycle = torch.tensor([0.5, -1.25, 2.0, 1.0, -0.75], dtype=dtype)
    return cycle.repeat(n // 5 + 1)[:n].reshape(shape)


def _dt(dtype) -> str:
    return str(dtype).replace("torch.", "")


def _np(t) -> np.ndarray:
    return t.detach().to(F64).numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


# --------------------------------------------------------------------------------------------
# Calling the learner's Function
# --------------------------------------------------------------------------------------------

def _function_class(fn, name: str):
    __tracebackhide__ = True
    if not (isinstance(fn, type) and issubclass(fn, torch.autograd.Function)):
        fail(name, f"expected a subclass of torch.autograd.Function, got {type(fn).__name__}.",
             hint=f"pass the class itself ({name}), not {name}.apply or an instance.")
    return fn


def _forward(fn, name, x, *rest, inputs=None):
    """``fn.apply(x, *rest)`` through ``engine.call``; the result must be a tensor."""
    __tracebackhide__ = True
    inputs = inputs if inputs is not None else {"x": _np(x)}
    y = call(fn.apply, name, x, *rest, inputs=inputs)
    if not isinstance(y, torch.Tensor):
        fail(name, f"forward returned a {type(y).__name__}, expected a torch.Tensor.",
             hint="build the output with torch operations on x.")
    return y


def _backward(name, y, wrt, upstream, labels):
    """Gradients of ``y`` with respect to ``wrt`` (None where backward gave none)."""
    __tracebackhide__ = True
    if y.grad_fn is None:
        fail(name, "the output is not connected to its inputs (no grad_fn).",
             hint="return the result of forward directly, without .detach() or torch.no_grad().")
    try:
        return torch.autograd.grad(y, wrt, upstream, allow_unused=True)
    except NotImplementedError:
        fail(name, "backward is not implemented yet.",
             hint="replace `raise NotImplementedError()` in backward with your code.")
    except RuntimeError as error:
        text = str(error).split("\n")[0]
        if "incorrect number of gradients" in text:
            fail(name, "backward returned the wrong number of gradients.", text,
                 hint=f"return one gradient per input of forward, in order: {labels}.")
        fail(name, f"backward raised RuntimeError: {text}")
    except Exception as error:  # the learner's bug, reported rather than re-raised
        fail(name, f"backward raised {type(error).__name__}: {error}")


_ZERO_HINT = ("at x = 0 a division by x is 0 / 0 = nan: take the limit there, or use a form "
              "without the division.")
_TINY_HINT = ("a tiny value came out as 0: 1 + e^x rounds to 1 for very negative x, so "
              "log(1 + e^x) is 0; F.softplus, torch.log1p and torch.sigmoid keep those digits.")


def _edge_hint(at, expected, got):
    """Diagnose a wrong value at an extreme input: overflow, 0 / 0, or lost digits."""
    if not np.isfinite(got):
        return _ZERO_HINT if at.get("x", 1.0) == 0 else _STABLE_HINT
    if got == 0 and expected != 0:
        return _TINY_HINT
    return "compare your formula with the definition at this input, in float64."


def _grad_hint(variable: str, formula: str):
    def hint(at, expected, got):
        if expected != 0 and np.isfinite(got) and abs(got + expected) <= 1e-6 * abs(expected):
            return f"the gradient w.r.t. {variable} has the wrong sign."
        if not np.isfinite(got) or (got == 0 and expected != 0 and "x" in at
                                    and abs(float(at["x"])) > 20):
            return _edge_hint(at, expected, got)
        if got == 0 and expected != 0:
            return f"did backward return the gradient w.r.t. {variable} at all?"
        return formula
    return hint


def _swish_grads(fn, x, beta, upstream, inputs):
    __tracebackhide__ = True
    x = x.detach().clone().requires_grad_()
    b = beta.detach().clone().requires_grad_()
    y = _forward(fn, "SwishFunction", x, b, inputs=inputs)
    gx, gb = _backward("SwishFunction", y, (x, b), upstream, "grad_x, grad_beta")
    return y, gx, gb


def _require_grad(name, grad, variable, hint):
    __tracebackhide__ = True
    if grad is None:
        fail(f"{name} gradient w.r.t. {variable}", "backward returned None.", hint=hint)
    return grad


# --------------------------------------------------------------------------------------------
# SwishFunction
# --------------------------------------------------------------------------------------------

_SWISH_X_HINT = ("d/dx of x * sigmoid(beta * x) needs the product rule and the chain rule "
                 "(mind the inner beta), times upstream.")
_SWISH_BETA_HINT = ("beta is shared by every position: its gradient sums "
                    "upstream * d(swish)/d(beta) over all of them.")


@reports("forward values, several beta", "SwishFunction")
def check_swish_function_values(SwishFunction) -> None:
    r"""``SwishFunction.apply(x, beta)`` equals x * sigmoid(beta * x) (``F.silu`` at beta = 1).

    float64, 30 points in [-6, 6] including 0 and the root of swish', beta in
    {1, 0, 0.5, 2, 5}; rtol 1e-6, atol 1e-12.
    """
    __tracebackhide__ = True
    fn = _function_class(SwishFunction, "SwishFunction")
    for beta in BETAS:
        b = torch.tensor(beta, dtype=F64)
        y = _forward(fn, "SwishFunction", GRID.clone(), b,
                     inputs={"x": _np(GRID), "beta": beta})
        expected = F.silu(GRID) if beta == 1.0 else _swish_oracle(GRID, b)
        compare("SwishFunction", _np(y), _np(expected), inputs={"x": _np(GRID), "beta": beta},
                rtol=RTOL[F64], atol=ATOL[F64],
                hint="swish(x) = x * sigmoid(beta * x): is beta used, and inside the sigmoid?")


@reports("gradient with respect to x, gradcheck", "SwishFunction")
def check_swish_function_grad_x(SwishFunction) -> None:
    r"""backward's gradient with respect to x, against autograd of x * sigmoid(beta * x).

    float64 on the moderate grid with several beta and a fixed upstream gradient with both
    signs; then ``torch.autograd.gradcheck`` with respect to x.
    """
    __tracebackhide__ = True
    fn = _function_class(SwishFunction, "SwishFunction")
    name = "SwishFunction gradient w.r.t. x"
    up = _upstream(GRID.shape, F64)
    for beta in BETAS:
        b = torch.tensor(beta, dtype=F64)
        inputs = {"x": _np(GRID), "beta": beta, "upstream": _np(up)}
        _, gx, _ = _swish_grads(fn, GRID, b, up, inputs)
        gx = _require_grad("SwishFunction", gx, "x", "return (grad_x, grad_beta) from backward.")
        _, (ex, _) = _oracle_grads(_swish_oracle, GRID, b, upstream=up)
        compare(name, _np(gx), _np(ex), inputs=inputs, rtol=RTOL[F64], atol=ATOL[F64],
                hint=_grad_hint("x", _SWISH_X_HINT))
    _gradcheck(lambda x: fn.apply(x, torch.tensor(1.5, dtype=F64)), name)


@reports("gradient with respect to beta, gradcheck", "SwishFunction")
def check_swish_function_grad_beta(SwishFunction) -> None:
    r"""backward's gradient with respect to beta (summed over positions), against autograd.

    One tensor x of 30 points and beta in {1, 0, 0.5, 2, 5}; a fixed upstream with both
    signs; then ``torch.autograd.gradcheck`` with respect to beta.
    """
    __tracebackhide__ = True
    fn = _function_class(SwishFunction, "SwishFunction")
    name = "SwishFunction gradient w.r.t. beta"
    up = _upstream(GRID.shape, F64)
    got, expected = [], []
    for beta in BETAS:
        b = torch.tensor(beta, dtype=F64)
        _, _, gb = _swish_grads(fn, GRID, b, up, {"x": _np(GRID), "beta": beta})
        gb = _require_grad("SwishFunction", gb, "beta", _SWISH_BETA_HINT)
        if gb.numel() != 1:
            fail(name, f"has shape {tuple(gb.shape)}, expected beta's shape ().",
                 hint=_SWISH_BETA_HINT)
        got.append(float(gb.reshape(())))
        expected.append(float(_oracle_grads(_swish_oracle, GRID, b, upstream=up)[1][1]))
    compare(name, np.array(got), np.array(expected), inputs={"beta": np.array(BETAS)},
            rtol=RTOL[F64], atol=ATOL[F64], hint=_grad_hint("beta", _SWISH_BETA_HINT))
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
             f"at {fmt(_np(point))}",
             hint="backward must be the derivative of your own forward, times upstream.")


def _check_saved(fn, name, args, allowed, needs):
    __tracebackhide__ = True
    x = args[0]
    saved = call(saved_for_backward, name, fn.apply, *args, inputs={"x": _np(x)})
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
    fn = _function_class(SwishFunction, "SwishFunction")
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
            y = _forward(fn, name, xg, *args, inputs=where)
            if y.shape != x.shape or y.dtype != dtype:
                fail(name, f"returned {y.dtype} of shape {tuple(y.shape)}, "
                           f"expected {dtype} of shape {tuple(shape)}.",
                     hint="keep the input's shape and dtype: no reductions, no float64 constants "
                          "made with torch.tensor(...) without dtype=.")
            up = _upstream(shape, dtype)
            up0 = up.clone()
            (gx,) = _backward(name, y, (xg,), up, "one gradient per input")[:1]
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
    fn = _function_class(SwishFunction, "SwishFunction")
    _check_dtype_shape(fn, "SwishFunction", extra=(torch.tensor(1.5, dtype=F64),))


def _edge_points(dtype):
    values = [v for v in EXTREMES if not (dtype == F32 and abs(v) == 1e-30)]
    return torch.tensor(values, dtype=dtype)


@reports("extremes, finite and exact", "SwishFunction")
def check_swish_function_edges(SwishFunction) -> None:
    r"""Extreme inputs (|x| up to 1e4, around exp's overflow at 88.7, tiny, -0.0), float32 and
    float64, beta in {1, 2}: finite, accurate values and gradients w.r.t. x and beta."""
    __tracebackhide__ = True
    fn = _function_class(SwishFunction, "SwishFunction")
    for dtype in (F64, F32):
        x = _edge_points(dtype)
        up = torch.ones_like(x)
        rtol, atol = RTOL[dtype], ATOL_EDGE[dtype]
        for beta in (1.0, 2.0):
            b = torch.tensor(beta, dtype=dtype)
            inputs = {"x": _np(x), "beta": beta}
            tag = f"SwishFunction [{_dt(dtype)}]"
            y, gx, _ = _swish_grads(fn, x, b, up, inputs)
            ey, (ex, _) = _oracle_grads(_swish_oracle, x, b, upstream=up)
            compare(tag, _np(y), _np(ey), inputs=inputs, rtol=rtol, atol=atol,
                    hint=_edge_hint)
            gx = _require_grad("SwishFunction", gx, "x", "return (grad_x, grad_beta).")
            compare(f"{tag} gradient w.r.t. x", _np(gx), _np(ex), inputs=inputs,
                    rtol=rtol, atol=atol, hint=_grad_hint("x", _STABLE_HINT))
            got, expected = [], []
            for xi in x:  # one position at a time: the beta gradient is a sum over positions
                _, _, gb = _swish_grads(fn, xi, b, torch.ones_like(xi), inputs)
                gb = _require_grad("SwishFunction", gb, "beta", _SWISH_BETA_HINT)
                got.append(float(gb.reshape(())))
                expected.append(float(_oracle_grads(_swish_oracle, xi, b,
                                                    upstream=torch.ones_like(xi))[1][1]))
            # x**2 * s * (1 - s) loses all its digits where s rounds to 1; a correct float
            # formula may return 0 there, within a few ulps of x**2.
            got, expected = np.array(got), np.array(expected)
            floor = 4 * torch.finfo(dtype).eps * _np(x) ** 2
            got = np.where(np.abs(got - expected) <= floor, expected, got)
            compare(f"{tag} gradient w.r.t. beta", got, expected,
                    inputs=inputs, rtol=rtol, atol=atol, hint=_grad_hint("beta", _STABLE_HINT))


# --------------------------------------------------------------------------------------------
# MishFunction
# --------------------------------------------------------------------------------------------

_MISH_HINT = ("mish'(x) = tanh(softplus(x)) + x * sech^2(softplus(x)) * sigmoid(x); "
              "at x = 0 take the limit.")


def _mish_grads(fn, x, up, inputs):
    __tracebackhide__ = True
    xg = x.detach().clone().requires_grad_()
    y = _forward(fn, "MishFunction", xg, inputs=inputs)
    (gx,) = _backward("MishFunction", y, (xg,), up, "grad_x")
    return y, _require_grad("MishFunction", gx, "x", "return the gradient w.r.t. x.")


@reports("forward values equal F.mish", "MishFunction")
def check_mish_function_values(MishFunction) -> None:
    r"""``MishFunction.apply(x)`` equals ``F.mish(x)``: float64, 30 points in [-6, 6] with 0."""
    __tracebackhide__ = True
    fn = _function_class(MishFunction, "MishFunction")
    y = _forward(fn, "MishFunction", GRID.clone())
    compare("MishFunction", _np(y), _np(F.mish(GRID)), inputs={"x": _np(GRID)},
            rtol=RTOL[F64], atol=ATOL[F64],
            hint="mish(x) = x * tanh(softplus(x)), softplus(x) = ln(1 + e^x).")


@reports("gradient with respect to x, gradcheck", "MishFunction")
def check_mish_function_grad(MishFunction) -> None:
    r"""backward against autograd of ``F.mish``: float64 grid with 0, fixed upstream with both
    signs; then ``torch.autograd.gradcheck``."""
    __tracebackhide__ = True
    fn = _function_class(MishFunction, "MishFunction")
    name = "MishFunction gradient w.r.t. x"
    up = _upstream(GRID.shape, F64)
    inputs = {"x": _np(GRID), "upstream": _np(up)}
    _, gx = _mish_grads(fn, GRID, up, inputs)
    _, (ex,) = _oracle_grads(F.mish, GRID, upstream=up)
    compare(name, _np(gx), _np(ex), inputs=inputs, rtol=RTOL[F64], atol=ATOL[F64],
            hint=_grad_hint("x", _MISH_HINT))
    _gradcheck(fn.apply, name)


@reports("saves only its input", "MishFunction")
def check_mish_function_saved(MishFunction) -> None:
    r"""forward saves only its input (measured with saved-tensor hooks), nothing on ctx."""
    __tracebackhide__ = True
    fn = _function_class(MishFunction, "MishFunction")
    x = torch.linspace(-4, 4, 1000, dtype=F64, requires_grad=True)
    _check_saved(fn, "MishFunction", (x,), x.nbytes, "x")


@reports("dtype and shape kept, inputs untouched", "MishFunction")
def check_mish_function_dtype_shape(MishFunction) -> None:
    r"""float32 and float64, shapes (), (7,), (3, 4), (2, 3, 4): output and gradient keep the
    input's shape and dtype; neither x nor upstream is modified in place."""
    __tracebackhide__ = True
    _check_dtype_shape(_function_class(MishFunction, "MishFunction"), "MishFunction")


@reports("extremes, finite and exact", "MishFunction")
def check_mish_function_edges(MishFunction) -> None:
    r"""Extreme inputs (|x| up to 1e4, around exp's overflow, tiny, -0.0), float32 and
    float64: finite, accurate values and gradients."""
    __tracebackhide__ = True
    fn = _function_class(MishFunction, "MishFunction")
    for dtype in (F64, F32):
        x = _edge_points(dtype)
        up = torch.ones_like(x)
        inputs = {"x": _np(x)}
        tag = f"MishFunction [{_dt(dtype)}]"
        y, gx = _mish_grads(fn, x, up, inputs)
        ey, (ex,) = _oracle_grads(F.mish, x, upstream=up)
        rtol, atol = RTOL[dtype], ATOL_EDGE[dtype]
        compare(tag, _np(y), _np(ey), inputs=inputs, rtol=rtol, atol=atol,
                hint=_edge_hint)
        compare(f"{tag} gradient w.r.t. x", _np(gx), _np(ex), inputs=inputs, rtol=rtol,
                atol=atol, hint=_grad_hint("x", _MISH_HINT))


# --------------------------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------------------------

def _make(cls, name, **kwargs):
    """``cls(**kwargs)``: an unfinished or failing constructor becomes a one-line failure."""
    __tracebackhide__ = True
    label = f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
    try:
        module = cls(**kwargs)
    except NotImplementedError:
        fail(label, "is not implemented yet.",
             hint="replace `raise NotImplementedError()` with your code, then run that cell.")
    except Exception as error:  # the learner's bug, reported rather than re-raised
        fail(label, f"raised {type(error).__name__}: {error}")
    if not isinstance(module, nn.Module):
        fail(label, f"built a {type(module).__name__}, expected an nn.Module.",
             hint="subclass nn.Module and call super().__init__() first.")
    return module, label


def _trainable(module):
    return [(n, p) for n, p in module.named_parameters() if p.requires_grad]


def _module_grads(module, label, x, oracle, up):
    __tracebackhide__ = True
    xg = x.detach().clone().requires_grad_()
    y = call(module, label, xg, inputs={"x": _np(x)})
    if not isinstance(y, torch.Tensor) or y.shape != x.shape or y.dtype != x.dtype:
        got = (f"{y.dtype} of shape {tuple(y.shape)}" if isinstance(y, torch.Tensor)
               else type(y).__name__)
        fail(label, f"returned {got}, expected {x.dtype} of shape {tuple(x.shape)}.",
             hint="an activation keeps its input's shape and dtype.")
    params = [p for _, p in _trainable(module)]
    grads = _backward(label, y, (xg, *params), up, "one per input")
    ey, eg = _oracle_grads(oracle, x, *[p.detach() for p in params], upstream=up)
    return y, grads, ey, eg


def _check_module_values(module, label, x, oracle, hint):
    __tracebackhide__ = True
    up = _upstream(x.shape, x.dtype)
    y, grads, ey, eg = _module_grads(module, label, x, oracle, up)
    inputs = {"x": _np(x)}
    compare(label, _np(y), _np(ey), inputs=inputs, rtol=RTOL[x.dtype], atol=ATOL[x.dtype],
            hint=hint)
    gx = _require_grad(label, grads[0], "x", "the module's output must depend on x.")
    compare(f"{label} gradient w.r.t. x", _np(gx), _np(eg[0]), inputs=inputs,
            rtol=RTOL[x.dtype], atol=ATOL[x.dtype], hint=_grad_hint("x", hint))
    return grads, eg


def _fixed_swish(beta):
    def oracle(x):
        return _swish_oracle(x, torch.tensor(beta, dtype=x.dtype))
    return oracle


@reports("values and gradients, no trainable parameter", "Swish")
def check_swish_module(Swish) -> None:
    r"""``Swish(beta=..., learnable=False)``: values and gradients of x * sigmoid(beta * x)
    for beta in {1 (default), 0.5, 2}, float32 and float64, and no trainable parameters."""
    __tracebackhide__ = True
    for kwargs in ({}, {"beta": 0.5}, {"beta": 2.0}):
        module, label = _make(Swish, "Swish", **kwargs)
        if _trainable(module):
            fail(label, f"has trainable parameters ({', '.join(n for n, _ in _trainable(module))}) "
                        "though learnable=False.",
                 hint="a fixed beta is a buffer (register_buffer) or a plain number.")
        beta = kwargs.get("beta", 1.0)
        for dtype in (F64, F32):
            _check_module_values(module, label, GRID.to(dtype), _fixed_swish(beta),
                                 "Swish should call SwishFunction.apply(x, beta) with its beta.")


@reports("beta is one learned parameter and gets its gradient", "Swish")
def check_swish_module_learnable(Swish) -> None:
    r"""``Swish(beta=b, learnable=True)`` holds beta as one ``nn.Parameter`` starting at b, and
    backward fills its ``.grad`` with the gradient w.r.t. beta."""
    __tracebackhide__ = True
    for kwargs in ({"learnable": True}, {"beta": 1.5, "learnable": True}):
        module, label = _make(Swish, "Swish", **kwargs)
        params = _trainable(module)
        if len(params) != 1 or params[0][1].numel() != 1:
            found = ", ".join(f"{n} {tuple(p.shape)}" for n, p in params) or "none"
            fail(label, "should have exactly one trainable parameter of one value, "
                        f"found: {found}.",
                 hint="wrap beta in nn.Parameter: a plain tensor, even with requires_grad=True, "
                      "is invisible to model.parameters() and so to the optimizer.")
        start = kwargs.get("beta", 1.0)
        value = float(params[0][1].detach().reshape(()))
        if value != start:
            fail(label, f"beta starts at {fmt(value)}, expected {fmt(start)}.",
                 hint="initialise the parameter with the beta argument.")
        grads, eg = _check_module_values(
            module, label, GRID.clone(),
            lambda x, b: _swish_oracle(x, b.reshape(())).to(F64),
            "Swish should call SwishFunction.apply(x, beta) with its parameter beta.")
        gb = _require_grad(label, grads[1], "beta", _SWISH_BETA_HINT)
        compare(f"{label} gradient w.r.t. beta", _np(gb.reshape(())), _np(eg[1].reshape(())),
                inputs={"beta": start}, rtol=RTOL[F64], atol=ATOL[F64],
                hint=_grad_hint("beta", _SWISH_BETA_HINT))


@reports("values and gradients of F.mish, no parameters", "Mish")
def check_mish_module(Mish) -> None:
    r"""``Mish()``: values and gradients of ``F.mish``, float32 and float64, no parameters."""
    __tracebackhide__ = True
    module, label = _make(Mish, "Mish")
    if _trainable(module):
        fail(label, "has trainable parameters; Mish has none.", hint="remove them.")
    for dtype in (F64, F32):
        _check_module_values(module, label, GRID.to(dtype), F.mish,
                             "Mish should return MishFunction.apply(x).")


def _prelu_oracle(x, a):
    return F.prelu(x, a.reshape(1))


def _prelu_slope(module, label):
    __tracebackhide__ = True
    params = _trainable(module)
    if len(params) != 1:
        found = ", ".join(n for n, _ in params) or "none"
        fail(label, f"should have exactly one trainable parameter (the slope a), found: {found}.",
             hint="hold the slope as self.weight = nn.Parameter(...).")
    name, slope = params[0]
    if slope.numel() != 1:
        fail(label, f"its slope {name} has {slope.numel()} values, expected 1.",
             hint="the note learns one slope per layer, shared by all its units.")
    return slope


@reports("values and gradients with several slopes", "PReLU")
def check_prelu_module(PReLU) -> None:
    r"""``PReLU()`` computes z if z >= 0 else a * z with its slope a, for slopes 0.25, 0.1,
    2.0, -0.5: values and gradients w.r.t. x (away from the kink) on 1-D and 2-D inputs."""
    __tracebackhide__ = True
    module, label = _make(PReLU, "PReLU")
    slope = _prelu_slope(module, label)
    x = GRID[GRID != 0]
    for a in (0.25, 0.1, 2.0, -0.5):
        with torch.no_grad():
            slope.fill_(a)
        for xi in (x, x[:28].reshape(4, 7)):
            _check_module_values(module, f"{label} with a = {fmt(a)}", xi, _prelu_oracle,
                                 "negative inputs are multiplied by the slope parameter.")


@reports("one slope per layer, starting at 0.25, summed gradient", "PReLU")
def check_prelu_parameter(PReLU) -> None:
    r"""``PReLU()`` holds one slope (one value, an ``nn.Parameter``) starting at 0.25, each
    instance its own; backward gives dL/da = sum of upstream * z over positions with z < 0."""
    __tracebackhide__ = True
    module, label = _make(PReLU, "PReLU")
    slope = _prelu_slope(module, label)
    if float(slope.detach().reshape(-1)[0]) != 0.25:
        fail(label, f"the slope starts at {fmt(float(slope.detach().reshape(-1)[0]))}, "
                    "expected 0.25.", hint="the note and He et al. start the slope at 0.25.")
    other, _ = _make(PReLU, "PReLU")
    if _prelu_slope(other, label) is slope:
        fail(label, "two PReLU layers share one slope.",
             hint="create the nn.Parameter inside __init__, once per instance.")
    x = GRID.clone()
    up = _upstream(x.shape, F64)
    _, grads, _, eg = _module_grads(module, label, x, _prelu_oracle, up)
    ga = _require_grad(label, grads[1], "a", "the output must depend on the slope parameter.")
    compare(f"{label} gradient w.r.t. a", _np(ga.reshape(())), _np(eg[1].reshape(())),
            inputs={"a": 0.25}, rtol=RTOL[F64], atol=ATOL[F64],
            hint="dL/da sums upstream * z over the positions where z < 0.")


# --------------------------------------------------------------------------------------------
# Hidden checks: against course_utils.reference_torch on randomized inputs
# --------------------------------------------------------------------------------------------

def _random_inputs(seed: int, dtype):
    """Log-uniform magnitudes 1e-6..1e4, both signs, some zeros; shapes (), (9,), (4, 5),
    (2, 3, 4)."""
    rng = np.random.default_rng(seed)
    out = []
    for shape in [(), (9,), (4, 5), (2, 3, 4)]:
        n = int(np.prod(shape))
        values = rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-6, 4, n)
        values[rng.random(n) < 0.1] = 0.0
        out.append(torch.tensor(values.reshape(shape), dtype=dtype))
    return out


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
    compare(label, _np(y), _np(ey), inputs=inputs, rtol=rtol, atol=atol, hint=_edge_hint)
    up = _upstream(x.shape, x.dtype)
    wrt = [t for t, n in zip(mine, needs, strict=True) if n]
    got = _backward(label, y, wrt, up, "one per input")
    expected = torch.autograd.grad(ey, [t for t, n in zip(refs, needs, strict=True) if n], up)
    names = [n for n, need in zip(("x", "beta"), needs, strict=False) if need]
    for variable, g, e in zip(names, got, expected, strict=True):
        g = _require_grad(label, g, variable, "return a gradient for every input.")
        if variable == "x":
            where, floor = inputs, atol
        else:  # a sum over positions: a 0-d value, tolerance scaled by its size
            where = {k: v for k, v in inputs.items() if np.ndim(v) == 0}
            floor = atol * max(1.0, float(e.abs().max()))
        compare(f"{label} gradient w.r.t. {variable}", _np(g).reshape(e.shape), _np(e),
                inputs=where, rtol=rtol, atol=floor, hint=_grad_hint(variable, _STABLE_HINT))


def hidden_swish_function(SwishFunction, seed: int = 0) -> None:
    r"""SwishFunction against the reference: random magnitudes and shapes, float32/64,
    random beta in [0, 5], gradients w.r.t. x and beta."""
    __tracebackhide__ = True
    from course_utils import reference_torch

    fn = _function_class(SwishFunction, "SwishFunction")
    rng = np.random.default_rng(seed)
    for dtype in (F64, F32):
        for x in _random_inputs(seed, dtype):
            beta = torch.tensor(float(rng.uniform(0, 5)), dtype=dtype)
            _compare_function(f"SwishFunction [{_dt(dtype)}]", fn.apply,
                              reference_torch.SwishFunction.apply, (x, beta), (True, True),
                              {"x": _np(x), "beta": float(beta)})


def hidden_mish_function(MishFunction, seed: int = 0) -> None:
    r"""MishFunction against the reference: random magnitudes and shapes, float32/64."""
    __tracebackhide__ = True
    from course_utils import reference_torch

    fn = _function_class(MishFunction, "MishFunction")
    for dtype in (F64, F32):
        for x in _random_inputs(seed, dtype):
            _compare_function(f"MishFunction [{_dt(dtype)}]", fn.apply,
                              reference_torch.MishFunction.apply, (x,), (True,), {"x": _np(x)})


def _compare_modules(label, mine, ref, seed):
    __tracebackhide__ = True
    for dtype in (F64, F32):
        for x in _random_inputs(seed, dtype):
            if x.dim() == 0 and "PReLU" in label:
                continue  # a layer's input has a batch dimension; a (1,) slope broadcasts ()
            inputs = {"x": _np(x)}
            xm, xr = x.clone().requires_grad_(), x.clone().requires_grad_()
            y = call(mine, label, xm, inputs=inputs)
            ey = ref(xr)
            if not isinstance(y, torch.Tensor) or y.shape != x.shape or y.dtype != x.dtype:
                fail(label, "returned the wrong type, shape or dtype.",
                     f"on input {x.dtype} of shape {tuple(x.shape)}")
            compare(label, _np(y), _np(ey), inputs=inputs, rtol=RTOL[dtype], atol=ATOL[dtype],
                    hint=_edge_hint)
            up = _upstream(x.shape, dtype)
            params = [p for _, p in _trainable(mine)]
            ref_params = [p for p in ref.parameters() if p.requires_grad]
            got = _backward(label, y, (xm, *params), up, "one per input")
            expected = torch.autograd.grad(ey, (xr, *ref_params), up)
            names = ["x"] + [n for n, _ in _trainable(mine)]
            for variable, g, e in zip(names, got, expected, strict=False):
                g = _require_grad(label, g, variable, "every input and parameter gets a gradient.")
                scale = max(1.0, float(e.abs().max())) if variable != "x" else 1.0
                keep = (x != 0) if (variable == "x" and "PReLU" in label) else torch.ones_like(
                    x, dtype=torch.bool)
                g, e = (g[keep], e[keep]) if variable == "x" else (g, e)
                compare(f"{label} gradient w.r.t. {variable}", _np(g), _np(e),
                        inputs={} if variable != "x" else {"x": _np(x[keep])},
                        rtol=RTOL[dtype] * (10 if variable != "x" else 1),
                        atol=ATOL[dtype] * scale, hint=_grad_hint(variable, _STABLE_HINT))


def hidden_swish_module(Swish, seed: int = 0) -> None:
    r"""Swish modules (fixed and learnable beta) against the reference on random inputs."""
    __tracebackhide__ = True
    from course_utils import reference_torch

    for kwargs in ({}, {"beta": 0.7}, {"beta": 3.0}, {"learnable": True},
                   {"beta": 0.4, "learnable": True}):
        mine, label = _make(Swish, "Swish", **kwargs)
        _compare_modules(label, mine, reference_torch.Swish(**kwargs), seed)


def hidden_mish_module(Mish, seed: int = 0) -> None:
    r"""The Mish module against the reference on random inputs."""
    __tracebackhide__ = True
    from course_utils import reference_torch

    mine, label = _make(Mish, "Mish")
    _compare_modules(label, mine, reference_torch.Mish(), seed)


def hidden_prelu_module(PReLU, seed: int = 0) -> None:
    r"""PReLU against the reference on random inputs (gradient w.r.t. x away from 0, where
    either convention is accepted), for the initial slope and slopes -0.3 and 1.7."""
    __tracebackhide__ = True
    from course_utils import reference_torch

    mine, label = _make(PReLU, "PReLU")
    slope = _prelu_slope(mine, label)
    ref = reference_torch.PReLU()
    for a in (0.25, -0.3, 1.7):
        with torch.no_grad():
            slope.fill_(a)
            for p in ref.parameters():
                p.fill_(a)
        _compare_modules(f"{label} with a = {fmt(a)}", mine, ref, seed)
