r"""What the torch checks of 03_swish_mish share: tolerances and grids, PyTorch's own units
as oracles (autograd gives their derivatives), and calling the learner's Function or Module
(``forward``, ``backward``, ``make_module``) so that every failure names what is wrong.
``torch_functions`` checks the autograd Functions, ``torch_modules`` the modules; both load
on first use (``course_utils.checks.__getattr__``), so NumPy notebooks never import torch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from course_utils.checks.engine import call, fail

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

STABLE_HINT = ("at large |x|, torch.exp overflows to inf and inf/inf is nan: build on "
                "torch.sigmoid and F.softplus, which are stable.")

SWISH_BETA_HINT = ("beta is shared by every position: its gradient sums "
                    "upstream * d(swish)/d(beta) over all of them.")


# --------------------------------------------------------------------------------------------
# Oracles (PyTorch's own units; autograd gives their derivatives)
# --------------------------------------------------------------------------------------------

def swish_oracle(x: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(beta * x)


def oracle_grads(oracle, x, *rest, upstream):
    """Value and gradients of ``oracle(x, *rest)`` in float64, for every tensor argument."""
    args = [t.detach().to(F64).requires_grad_() for t in (x, *rest)]
    y = oracle(*args)
    grads = torch.autograd.grad(y, args, upstream.to(F64))
    return y.detach(), grads


def upstream_for(shape, dtype) -> torch.Tensor:
    """A fixed upstream gradient with both signs and no zeros (ignoring it shows)."""
    n = int(np.prod(shape)) if len(shape) else 1
    cycle = torch.tensor([0.5, -1.25, 2.0, 1.0, -0.75], dtype=dtype)
    return cycle.repeat(n // 5 + 1)[:n].reshape(shape)


def dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "")


def as_numpy(t) -> np.ndarray:
    return t.detach().to(F64).numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


# --------------------------------------------------------------------------------------------
# Calling the learner's Function
# --------------------------------------------------------------------------------------------

def function_class(fn, name: str):
    __tracebackhide__ = True
    if not (isinstance(fn, type) and issubclass(fn, torch.autograd.Function)):
        fail(name, f"expected a subclass of torch.autograd.Function, got {type(fn).__name__}.",
             hint=f"pass the class itself ({name}), not {name}.apply or an instance.")
    return fn


def forward(fn, name, x, *rest, inputs=None):
    """``fn.apply(x, *rest)`` through ``engine.call``; the result must be a tensor."""
    __tracebackhide__ = True
    inputs = inputs if inputs is not None else {"x": as_numpy(x)}
    y = call(fn.apply, name, x, *rest, inputs=inputs)
    if not isinstance(y, torch.Tensor):
        fail(name, f"forward returned a {type(y).__name__}, expected a torch.Tensor.",
             hint="build the output with torch operations on x.")
    return y


def backward(name, y, wrt, upstream, labels):
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


ZERO_HINT = ("at x = 0 a division by x is 0 / 0 = nan: take the limit there, or use a form "
              "without the division.")
TINY_HINT = ("a tiny value came out as 0: 1 + e^x rounds to 1 for very negative x, so "
              "log(1 + e^x) is 0; F.softplus, torch.log1p and torch.sigmoid keep those digits.")


def edge_hint(at, expected, got):
    """Diagnose a wrong value at an extreme input: overflow, 0 / 0, or lost digits."""
    if not np.isfinite(got):
        return ZERO_HINT if at.get("x", 1.0) == 0 else STABLE_HINT
    if got == 0 and expected != 0:
        return TINY_HINT
    return "compare your formula with the definition at this input, in float64."


def grad_hint(variable: str, formula: str):
    def hint(at, expected, got):
        if expected != 0 and np.isfinite(got) and abs(got + expected) <= 1e-6 * abs(expected):
            return f"the gradient w.r.t. {variable} has the wrong sign."
        if not np.isfinite(got) or (got == 0 and expected != 0 and "x" in at
                                    and abs(float(at["x"])) > 20):
            return edge_hint(at, expected, got)
        if got == 0 and expected != 0:
            return f"did backward return the gradient w.r.t. {variable} at all?"
        return formula
    return hint


def require_grad(name, grad, variable, hint):
    __tracebackhide__ = True
    if grad is None:
        fail(f"{name} gradient w.r.t. {variable}", "backward returned None.", hint=hint)
    return grad



# --------------------------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------------------------

def make_module(cls, name, **kwargs):
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


def trainable(module):
    return [(n, p) for n, p in module.named_parameters() if p.requires_grad]


def module_grads(module, label, x, oracle, up):
    __tracebackhide__ = True
    xg = x.detach().clone().requires_grad_()
    y = call(module, label, xg, inputs={"x": as_numpy(x)})
    if not isinstance(y, torch.Tensor) or y.shape != x.shape or y.dtype != x.dtype:
        got = (f"{y.dtype} of shape {tuple(y.shape)}" if isinstance(y, torch.Tensor)
               else type(y).__name__)
        fail(label, f"returned {got}, expected {x.dtype} of shape {tuple(x.shape)}.",
             hint="an activation keeps its input's shape and dtype.")
    params = [p for _, p in trainable(module)]
    grads = backward(label, y, (xg, *params), up, "one per input")
    ey, eg = oracle_grads(oracle, x, *[p.detach() for p in params], upstream=up)
    return y, grads, ey, eg


def random_inputs(seed: int, dtype):
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
