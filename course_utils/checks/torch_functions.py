r"""Checks of 03_swish_mish: the learner's autograd Functions (SwishFunction, MishFunction),
one table row each (the modules are ``torch_modules``).

A :class:`FunctionRow` says what the unit is (a PyTorch expression, whose autograd gives
the expected gradients), which scalar parameters follow x and the values the checks try,
the hints, and what backward needs saved. :func:`function_checks` turns a row into the
checks the test cells call:

==============  ==================================================================
values          forward on a float64 grid with 0, for each parameter set
grad_x          backward's gradient w.r.t. x against autograd; gradcheck
grad_<param>    a parameter's gradient (summed over positions); gradcheck
saved           forward saves only what backward needs (saved-tensor hooks)
dtype_shape     float32 and float64, four shapes; x and upstream left as they were
edges           extreme inputs: finite, accurate values and gradients
hidden          random magnitudes and shapes against ``course_utils.reference_torch``
==============  ==================================================================

Visible checks use PyTorch's own units as the oracle (``F.silu``, ``F.mish``, autograd
through ``x * torch.sigmoid(beta * x)``); they never import the course's reference.
A gradient failure names the variable whose gradient is wrong::

    SwishFunction gradient w.r.t. beta: 3 of 3 values are wrong (rtol=1e-06, atol=1e-12).
      first mismatch at beta = 0.5: expected 1.2718, got 0.0
      Hint: beta is shared by every position: its gradient sums upstream * d(swish)/d(beta).

Each check takes the learner's class (``SwishFunction``, not ``SwishFunction.apply``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class FunctionRow:
    """One graded ``torch.autograd.Function``: ``apply(x, *params)``, params 0-d tensors.

    oracle : (x, *params) -> y in PyTorch operations; autograd gives its gradients.
    unit : PyTorch's own unit where one exists (``F.silu``), for the values check.
    params, grid, edges, at : the parameters' names; their values in the visible checks, in
        the extremes check, and where gradcheck and the dtype check evaluate.
    hint, grad_hint, param_hints, edge_grad_hint : what a failure of the values, of the
        gradient w.r.t. x (moderate inputs, extremes) and of each parameter's says.
    needs : what backward needs saved, in words ("x and beta"); its size is the budget.
    param_floor : (x, eps) -> how far from the expected value a parameter's gradient at an
        extreme may be, where its formula loses every digit.
    random_params : rng -> parameter values for one hidden case.
    """

    name: str
    oracle: Callable
    unit: Callable
    hint: str
    grad_hint: str
    needs: str
    reported: Mapping[str, str]
    params: tuple[str, ...] = ()
    grid: tuple[tuple[float, ...], ...] = ((),)
    edges: tuple[tuple[float, ...], ...] = ((),)
    at: tuple[float, ...] = ()
    param_hints: Mapping[str, str] = field(default_factory=dict)
    edge_grad_hint: str = STABLE_HINT
    param_floor: Callable = lambda x, eps: 0.0
    random_params: Callable = lambda rng: ()

    @property
    def variables(self) -> tuple[str, ...]:
        """What backward returns a gradient for, in order: x, then each parameter."""
        return ("x", *self.params)

    @property
    def gradients(self) -> str:
        """backward's outputs by name: 'grad_x, grad_beta'."""
        return ", ".join(f"grad_{v}" for v in self.variables)

    @property
    def returns(self) -> str:
        """The hint for a missing gradient: what backward returns, in order."""
        return f"return {f'({self.gradients})' if self.params else self.gradients} from backward."

    def inputs(self, x, params, **more) -> dict:
        """The input as a message names it: x, then each parameter by name."""
        return {"x": as_numpy(x), **dict(zip(self.params, params, strict=True)), **more}

    def grads(self, fn, x, params, upstream, inputs):
        """Forward and backward at (x, *params): the output and one gradient per input."""
        __tracebackhide__ = True
        args = [t.detach().clone().requires_grad_() for t in (x, *_tensors(params, x.dtype))]
        y = forward(fn, self.name, *args, inputs=inputs)
        return y, backward(self.name, y, args, upstream, self.gradients)


def _tensors(values, dtype) -> list[torch.Tensor]:
    return [torch.tensor(float(v), dtype=dtype) for v in values]


def _edge_points(dtype) -> torch.Tensor:
    """EXTREMES in ``dtype``; float32 leaves out ±1e-30."""
    return torch.tensor([v for v in EXTREMES if not (dtype == F32 and abs(v) == 1e-30)],
                        dtype=dtype)


def function_checks(row: FunctionRow) -> dict[str, Callable]:
    """The checks of ``row``, by the name the test cells import them under."""
    name = row.name
    stem = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    says = {"values": row.reported["values"], "x": "gradient with respect to x, gradcheck",
            **{p: f"gradient with respect to {p}, gradcheck" for p in row.params},
            "saved": f"saves only {row.needs}", "dtype": "dtype and shape kept, inputs untouched",
            "edges": "extremes, finite and exact", "hidden": "random cases against the reference"}

    @reports(says["values"], name)
    def values(cls) -> None:
        __tracebackhide__ = True
        fn = function_class(cls, name)
        for params in row.grid:
            inputs = row.inputs(GRID, params)
            y = forward(fn, name, GRID.clone(), *_tensors(params, F64), inputs=inputs)
            compare(name, as_numpy(y), as_numpy(row.unit(GRID, *_tensors(params, F64))),
                    inputs=inputs, rtol=RTOL[F64], atol=ATOL[F64], hint=row.hint)

    @reports(says["x"], name)
    def grad_x(cls) -> None:
        __tracebackhide__ = True
        fn = function_class(cls, name)
        up = upstream_for(GRID.shape, F64)
        for params in row.grid:
            inputs = row.inputs(GRID, params, upstream=as_numpy(up))
            _, grads = row.grads(fn, GRID, params, up, inputs)
            gx = require_grad(name, grads[0], "x", row.returns)
            _, expected = oracle_grads(row.oracle, GRID, *_tensors(params, F64), upstream=up)
            compare(f"{name} gradient w.r.t. x", as_numpy(gx), as_numpy(expected[0]),
                    inputs=inputs, rtol=RTOL[F64], atol=ATOL[F64],
                    hint=grad_hint("x", row.grad_hint))
        at = _tensors(row.at, F64)
        _gradcheck(lambda x: fn.apply(x, *at), f"{name} gradient w.r.t. x", GRID[::3])

    def grad_param(k: int, param: str) -> Callable:
        label, hint = f"{name} gradient w.r.t. {param}", row.param_hints[param]

        @reports(says[param], name)
        def check(cls) -> None:
            __tracebackhide__ = True
            fn = function_class(cls, name)
            up = upstream_for(GRID.shape, F64)
            got, expected = [], []
            for params in row.grid:
                _, grads = row.grads(fn, GRID, params, up, row.inputs(GRID, params))
                g = require_grad(name, grads[k], param, hint)
                if g.numel() != 1:
                    fail(label, f"has shape {tuple(g.shape)}, expected {param}'s shape ().",
                         hint=hint)
                got.append(float(g.reshape(())))
                _, e = oracle_grads(row.oracle, GRID, *_tensors(params, F64), upstream=up)
                expected.append(float(e[k]))
            compare(label, np.array(got), np.array(expected),
                    inputs={param: np.array([p[k - 1] for p in row.grid])},
                    rtol=RTOL[F64], atol=ATOL[F64], hint=grad_hint(param, hint))
            at, x = _tensors(row.at, F64), GRID[::3].clone()
            _gradcheck(lambda p: fn.apply(x, *at[:k - 1], p, *at[k:]), label, at[k - 1])

        return check

    @reports(says["saved"], name)
    def saved(cls) -> None:
        __tracebackhide__ = True
        fn = function_class(cls, name)
        args = [torch.linspace(-4, 4, 1000, dtype=F64, requires_grad=True)]
        args += [t.requires_grad_() for t in _tensors([1.0] * len(row.params), F64)]
        _check_saved(fn, name, args, sum(a.nbytes for a in args), row.needs)

    @reports(says["dtype"], name)
    def dtype_shape(cls) -> None:
        __tracebackhide__ = True
        _check_dtype_shape(function_class(cls, name), name, _tensors(row.at, F64))

    @reports(says["edges"], name)
    def edges(cls) -> None:
        __tracebackhide__ = True
        fn = function_class(cls, name)
        for dtype in (F64, F32):
            x, tag = _edge_points(dtype), f"{name} [{dtype_name(dtype)}]"
            rtol, atol = RTOL[dtype], ATOL_EDGE[dtype]
            for params in row.edges:
                inputs = row.inputs(x, params)
                y, grads = row.grads(fn, x, params, torch.ones_like(x), inputs)
                ey, eg = oracle_grads(row.oracle, x, *_tensors(params, dtype),
                                      upstream=torch.ones_like(x))
                compare(tag, as_numpy(y), as_numpy(ey), inputs=inputs, rtol=rtol, atol=atol,
                        hint=edge_hint)
                gx = require_grad(name, grads[0], "x", row.returns)
                compare(f"{tag} gradient w.r.t. x", as_numpy(gx), as_numpy(eg[0]),
                        inputs=inputs, rtol=rtol, atol=atol,
                        hint=grad_hint("x", row.edge_grad_hint))
                for k, param in enumerate(row.params, 1):
                    got, expected = [], []
                    for xi in x:  # one position at a time: the gradient sums over positions
                        _, g = row.grads(fn, xi, params, torch.ones_like(xi), inputs)
                        g = require_grad(name, g[k], param, row.param_hints[param])
                        got.append(float(g.reshape(())))
                        expected.append(float(oracle_grads(row.oracle, xi, *_tensors(
                            params, dtype), upstream=torch.ones_like(xi))[1][k]))
                    got, expected = np.array(got), np.array(expected)
                    floor = row.param_floor(as_numpy(x), torch.finfo(dtype).eps)
                    got = np.where(np.abs(got - expected) <= floor, expected, got)
                    compare(f"{tag} gradient w.r.t. {param}", got, expected, inputs=inputs,
                            rtol=rtol, atol=atol, hint=grad_hint(param, STABLE_HINT))

    def hidden(cls, seed: int = 0) -> None:
        __tracebackhide__ = True
        from course_utils import reference_torch

        fn = function_class(cls, name)
        reference = getattr(reference_torch, name).apply
        rng = np.random.default_rng(seed)
        for dtype in (F64, F32):
            for x in random_inputs(seed, dtype):
                params = [float(p) for p in _tensors(row.random_params(rng), dtype)]
                _compare_function(f"{name} [{dtype_name(dtype)}]", fn.apply, reference,
                                 [x, *_tensors(params, dtype)], row.variables,
                                 row.inputs(x, params))

    checks = {f"check_{stem}_values": (values, "values"),
              f"check_{stem}_grad{'_x' if row.params else ''}": (grad_x, "x"),
              **{f"check_{stem}_grad_{p}": (grad_param(k, p), p)
                 for k, p in enumerate(row.params, 1)},
              f"check_{stem}_saved": (saved, "saved"),
              f"check_{stem}_dtype_shape": (dtype_shape, "dtype"),
              f"check_{stem}_edges": (edges, "edges"), f"hidden_{stem}": (hidden, "hidden")}
    for check_name, (check, what) in checks.items():
        check.__name__ = check.__qualname__ = check_name
        check.__doc__ = f"{name}: {says[what]} (a ``torch_functions`` check)."
    return {check_name: check for check_name, (check, _) in checks.items()}


def _gradcheck(f, name: str, point: torch.Tensor) -> None:
    """``torch.autograd.gradcheck`` of ``f`` at ``point`` (float64); a failure names it."""
    __tracebackhide__ = True
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


def _compare_function(label, fn_apply, ref_apply, args, variables, inputs):
    """Values and the gradients w.r.t. every argument, learner vs reference, at ``args``."""
    __tracebackhide__ = True
    x = args[0]
    mine = [t.detach().clone().requires_grad_() for t in args]
    refs = [t.detach().clone().requires_grad_() for t in args]
    y = call(fn_apply, label, *mine, inputs=inputs)
    if not isinstance(y, torch.Tensor):
        fail(label, f"returned a {type(y).__name__}, expected a torch.Tensor.")
    ey = ref_apply(*refs)
    rtol, atol = RTOL[x.dtype], ATOL[x.dtype]
    compare(label, as_numpy(y), as_numpy(ey), inputs=inputs, rtol=rtol, atol=atol, hint=edge_hint)
    up = upstream_for(x.shape, x.dtype)
    got = backward(label, y, mine, up, "one per input")
    expected = torch.autograd.grad(ey, refs, up)
    for variable, g, e in zip(variables, got, expected, strict=True):
        g = require_grad(label, g, variable, "return a gradient for every input.")
        if variable == "x":
            where, floor = inputs, atol
        else:  # a sum over positions: a 0-d value, tolerance scaled by its size
            where = {k: v for k, v in inputs.items() if np.ndim(v) == 0}
            floor = atol * max(1.0, float(e.abs().max()))
        compare(f"{label} gradient w.r.t. {variable}", as_numpy(g).reshape(e.shape), as_numpy(e),
                inputs=where, rtol=rtol, atol=floor, hint=grad_hint(variable, STABLE_HINT))


# --------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------

MISH_HINT = ("mish'(x) = tanh(softplus(x)) + x * sech^2(softplus(x)) * sigmoid(x); "
             "at x = 0 take the limit.")

SWISH = FunctionRow(
    name="SwishFunction",
    oracle=swish_oracle,
    unit=lambda x, beta: F.silu(x) if float(beta) == 1.0 else swish_oracle(x, beta),
    hint="swish(x) = x * sigmoid(beta * x): is beta used, and inside the sigmoid?",
    grad_hint="d/dx of x * sigmoid(beta * x) needs the product rule and the chain rule "
              "(mind the inner beta), times upstream.",
    needs="x and beta",
    reported={"values": "forward values, several beta"},
    params=("beta",),
    grid=tuple((b,) for b in BETAS),
    edges=((1.0,), (2.0,)),
    at=(1.5,),
    param_hints={"beta": SWISH_BETA_HINT},
    # d/dbeta = x**2 * s * (1 - s) loses all its digits where s rounds to 1; a correct
    # float formula may return 0 there, within a few ulps of x**2.
    param_floor=lambda x, eps: 4 * eps * x ** 2,
    random_params=lambda rng: (rng.uniform(0, 5),),
)

MISH = FunctionRow(
    name="MishFunction",
    oracle=F.mish,
    unit=F.mish,
    hint="mish(x) = x * tanh(softplus(x)), softplus(x) = ln(1 + e^x).",
    grad_hint=MISH_HINT,
    needs="x",
    reported={"values": "forward values equal F.mish"},
    edge_grad_hint=MISH_HINT,
)

(check_swish_function_values, check_swish_function_grad_x, check_swish_function_grad_beta,
 check_swish_function_saved, check_swish_function_dtype_shape, check_swish_function_edges,
 hidden_swish_function) = function_checks(SWISH).values()
(check_mish_function_values, check_mish_function_grad, check_mish_function_saved,
 check_mish_function_dtype_shape, check_mish_function_edges,
 hidden_mish_function) = function_checks(MISH).values()
