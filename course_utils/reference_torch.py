r"""PyTorch reference of 03_swish_mish: custom autograd Functions and the modules built on them.

``SwishFunction`` and ``MishFunction`` save only their inputs and recompute everything else
in ``backward``; ``Swish``, ``Mish`` and ``PReLU`` are ``nn.Module`` wrappers with the note's
conventions (PReLU'(0) = 1 with respect to z).

Numerics. Every finite input gives a finite result in float32 and float64, within a few
ULP of the NumPy reference (``course_utils.reference``) except where the result is below
~1e-36 (float32) or ~1e-305 (float64) in magnitude, and near the roots of the derivatives
(cancellation any formula has). -inf gives 0 for Swish (beta > 0) and Mish, with gradient 0
(``F.silu`` and ``F.mish`` give nan there); +inf gives +inf; nan propagates. Mish never
evaluates softplus or tanh (``F.softplus`` is off by ~5.8e5 ULP in float64 just above its
threshold 20): with ``e = exp(z)`` and ``n = e (e + 2)``,

.. math::
    \tanh(\ln(1 + e^z)) = \frac{(1+e)^2 - 1}{(1+e)^2 + 1} = \frac{n}{n + 2},

one exponential, no cancellation, and ``n / (n + 2) ~ e^z`` for large negative z.

Memory. Autograd keeps what a Function saves until backward; saving only the input is the
point of recomputing. The temporaries of forward and backward are the other half: a
composition of torch ops allocates one full-size tensor per intermediate result (in-place
ops on temporaries save some, not all). Here the elementwise work runs over blocks of
``BLOCK`` elements (``course_utils.torch_blocks``): each block's temporaries are small,
stay in cache, and die before the next block; the only full-size allocation is the
result. Peak memory is then that of the fused native kernels
(``benchmarks/torch_memory.py``: 1.01x ``F.mish`` on 8 layers of (4096, 4096) float32;
a plain recompute costs 1.25-1.5x). Within a block, in-place ops (marked) reuse
temporaries the kernel itself allocated, never an input or ``upstream``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from course_utils.torch_blocks import compute_dtype, elementwise, for_each_block

__all__ = ["SwishFunction", "MishFunction", "Swish", "Mish", "PReLU"]

# Mish: beyond _MISH_HIGH, tanh(softplus(z)) and mish'(z) are 1 to the last bit (the
# correction is 4z e^{-2z} < 1e-32), and e^40 still squares inside float32. Below _MISH_LOW,
# exp(z) underflows to 0 in every float dtype, so mish and its derivative are (-)0.
_MISH_HIGH = 40.0
_MISH_LOW = -1000.0


# --------------------------------------------------------------------------------------------
# Swish
# --------------------------------------------------------------------------------------------

def _swish_forward(z: Tensor, beta: float | Tensor, out: Tensor | None = None) -> Tensor:
    """z * sigmoid(beta * z) for one block; ``beta`` a float, or a tensor that broadcasts."""
    big = torch.finfo(z.dtype).max
    if isinstance(beta, float):
        if beta == 0:
            return torch.mul(z, 0.5, out=out)  # the line z / 2, infinities included
        s = torch.mul(z, beta).sigmoid_()      # in place: the product is a temporary we own
        # The gate closes (s = 0) at z = -inf for beta > 0, at z = +inf for beta < 0: the
        # product clamps z on that side only, so that inf * 0 = nan becomes big * 0 = 0.
        zc = z.clamp(min=-big) if beta > 0 else z.clamp(max=big)
        return torch.mul(zc, s, out=out)
    # beta a tensor (any values): clamp z for the gate (beta = 0 at z = +-inf would give
    # 0 * inf), then zero the product wherever the gate is exactly 0 (inf * 0 at z = +-inf;
    # at finite z the product is already +-0 there).
    s = z.clamp(-big, big).mul_(beta).sigmoid_()         # in place: a temporary we own
    return torch.mul(z, s, out=out).masked_fill_(s == 0, 0.0)


def _swish_backward(z: Tensor, beta: float | Tensor, upstream: Tensor, need_z: bool,
                    need_beta: bool, out: Tensor | None = None,
                    ) -> tuple[Tensor | None, Tensor | None]:
    """For one block: upstream * d swish/dz, and the elementwise upstream * d swish/d beta.

    With s = sigmoid(beta z) and r = sigmoid(-beta z) = 1 - s (evaluated directly: 1 - s
    loses all its digits when s rounds to 1),

        d swish/dz    = s + beta (z s) r
        d swish/dbeta = (z s)(z r) = z^2 s r

    Both are written with z s and z r, z clamped to the finite range, so that no 0 * inf
    appears at huge or infinite z.
    """
    big = torch.finfo(z.dtype).max
    zc = z.clamp(-big, big)
    t = zc * beta
    s = torch.sigmoid(t)
    r = t.neg_().sigmoid_()                               # in place: t is not needed again
    zs = zc * s
    grad_beta = None
    if need_beta:
        grad_beta = zc.mul_(r).mul_(zs).mul_(upstream)    # in place: zc is not needed again
    grad_z = None
    if need_z:
        if isinstance(beta, float):                       # in place: zs and s are ours;
            grad_z = s.add_(zs.mul_(r), alpha=beta)       # zs r first: beta zs may overflow
        else:
            grad_z = s.add_(zs.mul_(r).mul_(beta))        # in place: zs and s are ours
        grad_z = torch.mul(grad_z, upstream, out=out)
    return grad_z, grad_beta


class SwishFunction(torch.autograd.Function):
    r"""Swish with a (possibly learnable) gate as a custom autograd Function.

    .. math::
        \text{swish}(z) = z\,\sigma(\beta z) = \frac{z}{1 + e^{-\beta z}}

    Saves exactly the input ``z`` and ``beta`` for backward and recomputes the gate there.
    Backward gives

    .. math::
        \frac{\partial\,\text{swish}}{\partial z} = s + \beta z\, s(1 - s), \qquad
        \frac{\partial\,\text{swish}}{\partial \beta} = z^2 s (1 - s), \qquad s = \sigma(\beta z),

    the second summed over the positions ``beta`` was broadcast to.

    Note:
        Swish was proposed by Ramachandran, Zoph and Le (2017), "Searching for Activation
        Functions"; with :math:`\beta = 1` it is the SiLU (:func:`torch.nn.functional.silu`).
        :math:`\beta = 0` gives the line :math:`z/2`; :math:`\beta \to \infty` approaches ReLU.
        Unlike ``F.silu``, ``swish(-inf) = 0`` (``F.silu`` gives nan) with gradient 0; with
        :math:`\beta < 0` the mirror image holds (``swish(+inf) = 0``). Like ``F.silu``, the
        gate ``torch.sigmoid`` flushes to 0 below :math:`\beta z \approx -88.7` (float32) or
        :math:`-709.8` (float64), where the exact result is below ~1e-36 resp. ~1e-305 in
        magnitude. Backward is not itself differentiable (no double backward).

    Args:
        z (Tensor): input of any shape, floating point (float16/bfloat16 computed in float32).
        beta (Tensor or float): the gate; usually a 0-d tensor, possibly requiring grad. Any
            shape broadcastable with ``z`` works.

    Shape:
        - Output: the broadcast shape of ``z`` and ``beta`` (``z``'s shape for a 0-d ``beta``).

    Examples::

        >>> z = torch.randn(4, dtype=torch.float64, requires_grad=True)
        >>> beta = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
        >>> SwishFunction.apply(z, beta).sum().backward()
        >>> beta.grad.shape
        torch.Size([])
    """

    @staticmethod
    def forward(ctx, z: Tensor, beta: Tensor | float) -> Tensor:
        dtype = compute_dtype(z, "SwishFunction")
        if not isinstance(beta, Tensor):
            beta = torch.tensor(float(beta), dtype=z.dtype, device=z.device)
        elif not beta.is_floating_point():
            raise TypeError(f"SwishFunction: beta must be a floating-point tensor, "
                            f"got {beta.dtype}.")
        ctx.save_for_backward(z, beta)
        gate = beta.to(dtype=dtype, device=z.device)
        shape = torch.broadcast_shapes(z.shape, beta.shape)
        if beta.numel() != 1 or shape != z.shape:        # beta not a scalar: no blocking
            return _swish_forward(z.to(dtype).expand(shape), gate).to(z.dtype)
        value = float(gate)  # one number for every block
        return elementwise(lambda zb, out: _swish_forward(zb, value, out=out), dtype,
                            torch.empty_like(z), z)

    @staticmethod
    @once_differentiable
    def backward(ctx, upstream: Tensor) -> tuple[Tensor | None, Tensor | None]:
        z, beta = ctx.saved_tensors
        need_z, need_beta = ctx.needs_input_grad[:2]
        if not (need_z or need_beta):
            return None, None
        dtype = compute_dtype(z, "SwishFunction")
        gate = beta.to(dtype=dtype, device=z.device)
        if beta.numel() != 1 or upstream.shape != z.shape:  # beta not a scalar: no blocking
            zx = z.to(dtype).expand(upstream.shape)
            gz, gb = _swish_backward(zx, gate, upstream.to(dtype), need_z, need_beta)
            grad_z = gz.sum_to_size(z.shape).to(z.dtype) if need_z else None
            grad_beta = gb.sum_to_size(beta.shape).to(beta.dtype) if need_beta else None
            return grad_z, grad_beta
        grad_z = torch.empty_like(z) if need_z else None
        value = float(gate)  # one number for every block

        def run(zb: Tensor, ub: Tensor, ob: Tensor | None = None) -> Tensor | None:
            direct = ob if ob is not None and ob.dtype == dtype else None
            gz, gb = _swish_backward(zb.to(dtype), value, ub.to(dtype), need_z, need_beta,
                                     out=direct)
            if need_z and gz is not ob:
                ob.copy_(gz)
            return gb.sum(dtype=torch.float64) if need_beta else None

        blocks = (z, upstream, grad_z) if need_z else (z, upstream)
        partial = for_each_block(run, *blocks)  # per-block sums, in block order
        grad_beta = None
        if need_beta:  # beta has one element here, of shape () or (1,), (1, 1), ...
            grad_beta = torch.stack(partial).sum().to(beta.dtype).reshape(beta.shape)
        return grad_z, grad_beta


# --------------------------------------------------------------------------------------------
# Mish
# --------------------------------------------------------------------------------------------

def _mish_forward(z: Tensor, out: Tensor | None = None) -> Tensor:
    """z * tanh(softplus(z)) = z * n / (n + 2), n = e (e + 2), e = exp(z), for one block."""
    zc = z.clamp(min=_MISH_LOW)          # -inf -> -1000, where the gate is exactly 0: no 0*inf
    e = zc.clamp(max=_MISH_HIGH).exp_()  # in place on the clamp's fresh result
    n = e.add(2.0).mul_(e)               # n = e (e + 2); in place on the temporary e + 2
    gate = n.div_(torch.add(n, 2.0, out=e))  # reuse e's storage for n + 2; gate in n's
    return torch.mul(zc, gate, out=out)


def _mish_backward(z: Tensor, upstream: Tensor, out: Tensor | None = None) -> Tensor:
    """upstream * mish'(z) for one block.

    With e = exp(z), n = e (e + 2) and q = n + 2:

        mish'(z) = tanh(sp) + z sigmoid(z) sech^2(sp) = (n + 4 z e (e + 1) / q) / q,

    since tanh(sp) = n / q and sigmoid(z) sech^2(sp) = 4 e (e + 1) / q^2.
    """
    zc = z.clamp(_MISH_LOW, _MISH_HIGH)  # beyond: mish' is 0 resp. 1 to the last bit
    e = zc.exp()
    m = e.add(1.0).mul_(e)               # m = e (e + 1); in place on the temporary e + 1
    n = torch.add(m, e)                  # n = e (e + 2)
    q = torch.add(n, 2.0, out=e)         # e is not needed again: its storage holds q
    n.addcdiv_(m.mul_(zc), q, value=4.0).div_(q)  # in place on n and m, both ours
    return torch.mul(n, upstream, out=out)


class MishFunction(torch.autograd.Function):
    r"""Mish as a custom autograd Function that saves only its input.

    .. math::
        \text{mish}(z) = z \tanh(\text{softplus}(z)) = z \tanh(\ln(1 + e^z))

    Backward recomputes everything from the saved input:

    .. math::
        \text{mish}'(z) = \tanh(\text{softplus}(z))
            + z\,\sigma(z)\,\text{sech}^2(\text{softplus}(z))
            = \Delta(z)\,\text{swish}(z) + \frac{\text{mish}(z)}{z}.

    Note:
        Mish was proposed by Misra (2019), "Mish: A Self Regularized Non-Monotonic Activation
        Function"; compare :func:`torch.nn.functional.mish`. Evaluated as
        :math:`z\,n/(n+2)` with :math:`n = e^z(e^z + 2)`, which equals
        :math:`z\tanh(\ln(1+e^z))` exactly and needs one exponential. Unlike ``F.mish``,
        ``mish(-inf) = 0`` (``F.mish`` gives nan) with gradient 0. Backward is not itself
        differentiable (no double backward).

    Args:
        z (Tensor): input of any shape, floating point (float16/bfloat16 computed in float32).

    Shape:
        - Output: the shape of ``z``.

    Examples::

        >>> z = torch.randn(4, dtype=torch.float64, requires_grad=True)
        >>> MishFunction.apply(z).sum().backward()
        >>> expected = torch.func.grad(lambda t: torch.nn.functional.mish(t).sum())(z.detach())
        >>> torch.allclose(z.grad, expected)
        True
    """

    @staticmethod
    def forward(ctx, z: Tensor) -> Tensor:
        dtype = compute_dtype(z, "MishFunction")
        ctx.save_for_backward(z)
        return elementwise(_mish_forward, dtype, torch.empty_like(z), z)

    @staticmethod
    @once_differentiable
    def backward(ctx, upstream: Tensor) -> Tensor:
        (z,) = ctx.saved_tensors
        dtype = compute_dtype(z, "MishFunction")
        return elementwise(_mish_backward, dtype, torch.empty_like(z), z, upstream)


# --------------------------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------------------------

class Swish(nn.Module):
    r"""Applies Swish elementwise, with a fixed or learnable gate :math:`\beta`.

    .. math::
        \text{Swish}(z) = z\,\sigma(\beta z) = \frac{z}{1 + e^{-\beta z}}

    Note:
        From Ramachandran, Zoph and Le (2017), "Searching for Activation Functions".
        :math:`\beta = 1` is :class:`torch.nn.SiLU`; :math:`\beta = 0` is the line
        :math:`z/2`; large :math:`\beta` approaches ReLU. A learned :math:`\beta` is one
        scalar per layer and may leave :math:`\beta \ge 0` during training. Computed by
        :class:`SwishFunction`, which saves only ``z`` and ``beta``.

    Args:
        beta (float): initial gate. Default: ``1.0``
        learnable (bool): if ``True``, ``beta`` is an :class:`~torch.nn.Parameter` (0-d) trained
            with the network; otherwise a buffer (moves with ``.to()``, saved in the
            ``state_dict``, never trained). Default: ``False``

    Shape:
        - Input: :math:`(*)`, any number of dimensions.
        - Output: :math:`(*)`, same shape as the input.

    Attributes:
        beta (Tensor): the 0-d gate.

    Examples::

        >>> m = Swish(beta=1.0, learnable=True)
        >>> m(torch.randn(2, 3)).sum().backward()
        >>> m.beta.grad.shape
        torch.Size([])
    """

    def __init__(self, beta: float = 1.0, learnable: bool = False) -> None:
        super().__init__()
        value = torch.tensor(float(beta))
        self.learnable = bool(learnable)
        if self.learnable:
            self.beta = nn.Parameter(value)
        else:
            self.register_buffer("beta", value)

    def forward(self, z: Tensor) -> Tensor:
        return SwishFunction.apply(z, self.beta)

    def extra_repr(self) -> str:
        return f"beta={self.beta.item():g}, learnable={self.learnable}"


class Mish(nn.Module):
    r"""Applies Mish elementwise.

    .. math::
        \text{Mish}(z) = z \tanh(\text{softplus}(z)) = z \tanh(\ln(1 + e^z))

    Note:
        From Misra (2019), "Mish: A Self Regularized Non-Monotonic Activation Function".
        Smooth, unbounded above, bounded below (minimum about -0.31 at z about -1.19),
        non-monotonic. Computed by :class:`MishFunction`, which saves only ``z``; same values as
        :class:`torch.nn.Mish` except ``Mish(-inf) = 0`` where torch gives nan.

    Shape:
        - Input: :math:`(*)`, any number of dimensions.
        - Output: :math:`(*)`, same shape as the input.

    Examples::

        >>> m = Mish()
        >>> m(torch.tensor([-1.0, 0.0, 1.0]))
        tensor([-0.3034,  0.0000,  0.8651])
    """

    def forward(self, z: Tensor) -> Tensor:
        return MishFunction.apply(z)

    def extra_repr(self) -> str:
        return ""


class PReLU(nn.Module):
    r"""Applies the parametric ReLU elementwise, with one learned slope per layer.

    .. math::
        \text{PReLU}(z) = \begin{cases} z & \text{if } z \ge 0, \\ a z & \text{otherwise,}
        \end{cases}
        \qquad
        \frac{\partial \mathcal{L}}{\partial a} = \sum_{i:\, z_i < 0}
            \frac{\partial \mathcal{L}}{\partial\,\text{PReLU}(z_i)}\, z_i

    Note:
        From He, Zhang, Ren and Sun (2015), "Delving Deep into Rectifiers". The slope ``a``
        is learned by backpropagation like a weight; the sum runs over every position of the
        layer's input (batch included), as in the note. Convention at the kink, as in the
        note: :math:`\text{PReLU}'(0) = 1` with respect to ``z`` (``F.prelu`` uses ``a``
        there), and :math:`\partial\,\text{PReLU}(0)/\partial a = 0`. Leaky ReLU is the case
        of a fixed ``a = 0.01``.

    Args:
        init (float): initial value of ``a``. Default: ``0.25``

    Shape:
        - Input: :math:`(*)`, any number of dimensions.
        - Output: :math:`(*)`, same shape as the input.

    Attributes:
        weight (Tensor): the learnable slope ``a``, of shape :math:`(1,)` as in
            :class:`torch.nn.PReLU` with ``num_parameters=1``.

    Examples::

        >>> m = PReLU()
        >>> m(torch.tensor([-2.0, 0.0, 3.0]))
        tensor([-0.5000,  0.0000,  3.0000], grad_fn=<WhereBackward0>)
    """

    def __init__(self, init: float = 0.25) -> None:
        super().__init__()
        self.init = float(init)
        self.weight = nn.Parameter(torch.full((1,), self.init))

    def forward(self, z: Tensor) -> Tensor:
        a = self.weight.to(z.dtype).reshape(())  # a 0-d slope: the output keeps z's shape
        # torch.where routes the gradient at z = 0 to the first branch: PReLU'(0) = 1.
        # The negative branch is evaluated everywhere; z.clamp(max=0) (equal to z wherever the
        # branch is selected) keeps it finite at z = +inf, so that the gradient for a there is
        # 0 * 0 rather than 0 * inf = nan.
        return torch.where(z >= 0, z, a * z.clamp(max=0))

    def extra_repr(self) -> str:
        return f"num_parameters=1, init={self.init:g}"
