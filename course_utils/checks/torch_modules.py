r"""Checks of 03_swish_mish's activation modules: Swish (a fixed or a learned beta), Mish
and PReLU (one learned slope, 0.25 at the start). Visible checks use PyTorch's units as the
oracle; hidden ones compare with ``course_utils.reference_torch`` on randomized inputs.
Each check takes the learner's class (``Swish``, not an instance)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from course_utils.checks.engine import call, compare, fail, fmt, reports
from course_utils.checks.torch_calls import (
    ATOL,
    F32,
    F64,
    GRID,
    RTOL,
    STABLE_HINT,
    SWISH_BETA_HINT,
    as_numpy,
    backward,
    edge_hint,
    grad_hint,
    make_module,
    module_grads,
    random_inputs,
    require_grad,
    swish_oracle,
    trainable,
    upstream_for,
)

__all__ = [
    "check_swish_module", "check_swish_module_learnable", "check_mish_module",
    "check_prelu_module", "check_prelu_parameter",
    "hidden_swish_module", "hidden_mish_module", "hidden_prelu_module",
]


def _check_module_values(module, label, x, oracle, hint):
    __tracebackhide__ = True
    up = upstream_for(x.shape, x.dtype)
    y, grads, ey, eg = module_grads(module, label, x, oracle, up)
    inputs = {"x": as_numpy(x)}
    compare(label, as_numpy(y), as_numpy(ey), inputs=inputs, rtol=RTOL[x.dtype], atol=ATOL[x.dtype],
            hint=hint)
    gx = require_grad(label, grads[0], "x", "the module's output must depend on x.")
    compare(f"{label} gradient w.r.t. x", as_numpy(gx), as_numpy(eg[0]), inputs=inputs,
            rtol=RTOL[x.dtype], atol=ATOL[x.dtype], hint=grad_hint("x", hint))
    return grads, eg


def _fixed_swish(beta):
    def oracle(x):
        return swish_oracle(x, torch.tensor(beta, dtype=x.dtype))
    return oracle


@reports("values and gradients, no trainable parameter", "Swish")
def check_swish_module(Swish) -> None:
    r"""``Swish(beta=..., learnable=False)``: values and gradients of x * sigmoid(beta * x)
    for beta in {1 (default), 0.5, 2}, float32 and float64, and no trainable parameters."""
    __tracebackhide__ = True
    for kwargs in ({}, {"beta": 0.5}, {"beta": 2.0}):
        module, label = make_module(Swish, "Swish", **kwargs)
        if trainable(module):
            fail(label, f"has trainable parameters ({', '.join(n for n, _ in trainable(module))}) "
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
        module, label = make_module(Swish, "Swish", **kwargs)
        params = trainable(module)
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
            lambda x, b: swish_oracle(x, b.reshape(())).to(F64),
            "Swish should call SwishFunction.apply(x, beta) with its parameter beta.")
        gb = require_grad(label, grads[1], "beta", SWISH_BETA_HINT)
        compare(f"{label} gradient w.r.t. beta", as_numpy(gb.reshape(())),
                as_numpy(eg[1].reshape(())),
                inputs={"beta": start}, rtol=RTOL[F64], atol=ATOL[F64],
                hint=grad_hint("beta", SWISH_BETA_HINT))


@reports("values and gradients of F.mish, no parameters", "Mish")
def check_mish_module(Mish) -> None:
    r"""``Mish()``: values and gradients of ``F.mish``, float32 and float64, no parameters."""
    __tracebackhide__ = True
    module, label = make_module(Mish, "Mish")
    if trainable(module):
        fail(label, "has trainable parameters; Mish has none.", hint="remove them.")
    for dtype in (F64, F32):
        _check_module_values(module, label, GRID.to(dtype), F.mish,
                             "Mish should return MishFunction.apply(x).")


def _prelu_oracle(x, a):
    return F.prelu(x, a.reshape(1))


def _prelu_slope(module, label):
    __tracebackhide__ = True
    params = trainable(module)
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
    module, label = make_module(PReLU, "PReLU")
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
    module, label = make_module(PReLU, "PReLU")
    slope = _prelu_slope(module, label)
    if float(slope.detach().reshape(-1)[0]) != 0.25:
        fail(label, f"the slope starts at {fmt(float(slope.detach().reshape(-1)[0]))}, "
                    "expected 0.25.", hint="the note and He et al. start the slope at 0.25.")
    other, _ = make_module(PReLU, "PReLU")
    if _prelu_slope(other, label) is slope:
        fail(label, "two PReLU layers share one slope.",
             hint="create the nn.Parameter inside __init__, once per instance.")
    x = GRID.clone()
    up = upstream_for(x.shape, F64)
    _, grads, _, eg = module_grads(module, label, x, _prelu_oracle, up)
    ga = require_grad(label, grads[1], "a", "the output must depend on the slope parameter.")
    compare(f"{label} gradient w.r.t. a", as_numpy(ga.reshape(())), as_numpy(eg[1].reshape(())),
            inputs={"a": 0.25}, rtol=RTOL[F64], atol=ATOL[F64],
            hint="dL/da sums upstream * z over the positions where z < 0.")


# --------------------------------------------------------------------------------------------
# Hidden checks: against course_utils.reference_torch on randomized inputs
# --------------------------------------------------------------------------------------------

def _compare_modules(label, mine, ref, seed):
    __tracebackhide__ = True
    for dtype in (F64, F32):
        for x in random_inputs(seed, dtype):
            if x.dim() == 0 and "PReLU" in label:
                continue  # a layer's input has a batch dimension; a (1,) slope broadcasts ()
            inputs = {"x": as_numpy(x)}
            xm, xr = x.clone().requires_grad_(), x.clone().requires_grad_()
            y = call(mine, label, xm, inputs=inputs)
            ey = ref(xr)
            if not isinstance(y, torch.Tensor) or y.shape != x.shape or y.dtype != x.dtype:
                fail(label, "returned the wrong type, shape or dtype.",
                     f"on input {x.dtype} of shape {tuple(x.shape)}")
            compare(label, as_numpy(y), as_numpy(ey), inputs=inputs, rtol=RTOL[dtype],
                    atol=ATOL[dtype], hint=edge_hint)
            up = upstream_for(x.shape, dtype)
            params = [p for _, p in trainable(mine)]
            ref_params = [p for p in ref.parameters() if p.requires_grad]
            got = backward(label, y, (xm, *params), up, "one per input")
            expected = torch.autograd.grad(ey, (xr, *ref_params), up)
            names = ["x"] + [n for n, _ in trainable(mine)]
            for variable, g, e in zip(names, got, expected, strict=False):
                g = require_grad(label, g, variable, "every input and parameter gets a gradient.")
                scale = max(1.0, float(e.abs().max())) if variable != "x" else 1.0
                keep = (x != 0) if (variable == "x" and "PReLU" in label) else torch.ones_like(
                    x, dtype=torch.bool)
                g, e = (g[keep], e[keep]) if variable == "x" else (g, e)
                compare(f"{label} gradient w.r.t. {variable}", as_numpy(g), as_numpy(e),
                        inputs={} if variable != "x" else {"x": as_numpy(x[keep])},
                        rtol=RTOL[dtype] * (10 if variable != "x" else 1),
                        atol=ATOL[dtype] * scale, hint=grad_hint(variable, STABLE_HINT))


def hidden_swish_module(Swish, seed: int = 0) -> None:
    r"""Swish modules (fixed and learnable beta) against the reference on random inputs."""
    __tracebackhide__ = True
    from course_utils import reference_torch

    for kwargs in ({}, {"beta": 0.7}, {"beta": 3.0}, {"learnable": True},
                   {"beta": 0.4, "learnable": True}):
        mine, label = make_module(Swish, "Swish", **kwargs)
        _compare_modules(label, mine, reference_torch.Swish(**kwargs), seed)


def hidden_mish_module(Mish, seed: int = 0) -> None:
    r"""The Mish module against the reference on random inputs."""
    __tracebackhide__ = True
    from course_utils import reference_torch

    mine, label = make_module(Mish, "Mish")
    _compare_modules(label, mine, reference_torch.Mish(), seed)


def hidden_prelu_module(PReLU, seed: int = 0) -> None:
    r"""PReLU against the reference on random inputs (gradient w.r.t. x away from 0, where
    either convention is accepted), for the initial slope and slopes -0.3 and 1.7."""
    __tracebackhide__ = True
    from course_utils import reference_torch

    mine, label = make_module(PReLU, "PReLU")
    slope = _prelu_slope(mine, label)
    ref = reference_torch.PReLU()
    for a in (0.25, -0.3, 1.7):
        with torch.no_grad():
            slope.fill_(a)
            for p in ref.parameters():
                p.fill_(a)
        _compare_modules(f"{label} with a = {fmt(a)}", mine, ref, seed)
