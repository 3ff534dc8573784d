"""The PyTorch reference of 03_swish_mish: course_utils.reference_torch.

Oracles: torch.autograd.gradcheck (float64 finite differences), PyTorch's own F.silu, F.mish
and F.prelu, and the NumPy reference course_utils.reference. Memory and time are measured in
benchmarks/torch_memory.py, not asserted here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import course_utils.reference as ref
import course_utils.torch_blocks as torch_blocks
from course_utils.reference_torch import Mish, MishFunction, PReLU, Swish, SwishFunction

F64, F32 = torch.float64, torch.float32
INF, NAN = math.inf, math.nan
BETAS = [0.0, 1.0, 2.5]

#: (rtol, atol) against the NumPy reference. The atol floors cover results below ~1e-35
#: (float32) and ~1e-300 (float64), where torch.sigmoid flushes to 0 as F.silu does, and the
#: cancellation at the roots of mish' (z ~ -1.19) and swish' (beta z ~ -1.28).
TOL = {F64: (1e-12, 1e-300), F32: (2e-6, 1e-35)}
GRAD_TOL = {F64: (1e-12, 1e-15), F32: (2e-6, 1e-6)}


def grid(dtype=F64, wide=True) -> torch.Tensor:
    """Typical values, both signs, and large |z| (no exact 0: the kink of PReLU)."""
    gen = torch.Generator().manual_seed(0)
    parts = [torch.randn(400, generator=gen, dtype=F64) * 3,
             torch.linspace(-12.0, 12.0, 97, dtype=F64)]
    if wide:
        parts.append(torch.tensor([-750.0, -700.0, -100.0, -50.0, -30.0, -20.0, 20.0, 30.0,
                                   50.0, 100.0, 700.0, 1e4, -1e4, 1e30, -1e30], dtype=F64))
    z = torch.cat(parts)
    return z[z != 0].to(dtype)


def swish_grads(z: torch.Tensor, beta: float, elementwise_beta: bool = False):
    """(swish, d/dz, d/dbeta) from SwishFunction, with upstream ones."""
    z = z.detach().clone().requires_grad_()
    b = torch.full(z.shape if elementwise_beta else (), beta, dtype=z.dtype,
                   requires_grad=True)
    y = SwishFunction.apply(z, b)
    y.backward(torch.ones_like(y))
    return y.detach(), z.grad, b.grad


def mish_grads(z: torch.Tensor):
    z = z.detach().clone().requires_grad_()
    y = MishFunction.apply(z)
    y.backward(torch.ones_like(y))
    return y.detach(), z.grad


def as_float64(value) -> torch.Tensor:
    """A tensor, array or Python float as a float64 tensor (torch.as_tensor would round a
    Python float to float32)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to(F64)
    return torch.as_tensor(np.asarray(value, dtype=np.float64))


def assert_close(got, expected, rtol, atol):
    torch.testing.assert_close(as_float64(got), as_float64(expected), rtol=rtol, atol=atol,
                               equal_nan=True)


# --------------------------------------------------------------------------------------------
# gradcheck (float64)
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_mish_gradcheck(scale):
    z = (grid(F64, wide=False)[::5] * scale / 3).requires_grad_()
    assert torch.autograd.gradcheck(MishFunction.apply, (z,))


def test_mish_gradcheck_large_inputs():
    z = torch.tensor([-700.0, -60.0, -35.0, -1.19, 35.0, 60.0, 1e4], dtype=F64,
                     requires_grad=True)
    assert torch.autograd.gradcheck(MishFunction.apply, (z,))


@pytest.mark.parametrize("beta", BETAS)
def test_swish_gradcheck(beta):
    z = torch.cat([grid(F64, wide=False)[::5],
                   torch.tensor([-60.0, -35.0, 35.0, 60.0, 1e4], dtype=F64)])
    b = torch.tensor(beta, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(SwishFunction.apply, (z.requires_grad_(), b))


def test_swish_gradcheck_broadcast_beta():
    """A beta of any broadcastable shape gets its gradient summed to that shape."""
    z = torch.randn(3, 1, 4, dtype=F64, requires_grad=True)
    b = torch.tensor([[0.0], [1.0], [2.5]], dtype=F64, requires_grad=True)  # (3, 1)
    assert torch.autograd.gradcheck(SwishFunction.apply, (z, b))
    assert SwishFunction.apply(z, b).shape == (3, 3, 4)


# --------------------------------------------------------------------------------------------
# PyTorch's own functions as oracles
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [F32, F64])
def test_matches_torch_silu_and_mish(dtype):
    z = grid(dtype).reshape(-1, 1).expand(-1, 3)  # not contiguous: the dim-0 blocks
    z1 = z.detach().clone().requires_grad_()
    z2 = z.detach().clone().requires_grad_()
    upstream = torch.randn(z.shape, generator=torch.Generator().manual_seed(1), dtype=dtype)
    rtol, atol = (1e-12, 1e-300) if dtype == F64 else (1e-5, 1e-35)
    for ours, theirs in [(lambda t: SwishFunction.apply(t, torch.tensor(1.0, dtype=dtype)),
                          F.silu), (MishFunction.apply, F.mish)]:
        y1, y2 = ours(z1), theirs(z2)
        assert y1.dtype == dtype
        assert_close(y1, y2, rtol, atol)
        y1.backward(upstream)
        y2.backward(upstream)
        assert_close(z1.grad, z2.grad, rtol, 1e-6 if dtype == F32 else 1e-14)
        z1.grad = z2.grad = None


@pytest.mark.parametrize("dtype", [F32, F64])
def test_prelu_matches_torch_away_from_the_kink(dtype):
    z = grid(dtype).requires_grad_()
    z2 = z.detach().clone().requires_grad_()
    m = PReLU().to(dtype)
    w = torch.full((1,), 0.25, dtype=dtype, requires_grad=True)
    upstream = torch.randn(z.shape, generator=torch.Generator().manual_seed(2), dtype=dtype)
    y, y2 = m(z), F.prelu(z2, w)
    assert_close(y, y2, 0, 0)
    y.backward(upstream)
    y2.backward(upstream)
    assert_close(z.grad, z2.grad, 0, 0)
    assert_close(m.weight.grad, w.grad, 1e-5 if dtype == F32 else 1e-12, 0)


def test_prelu_kink_follows_the_note():
    """PReLU'(0) = 1 with respect to z (F.prelu gives a there); d/da at 0 is 0."""
    m = PReLU()
    z = torch.zeros(3, requires_grad=True)
    m(z).sum().backward()
    assert z.grad.tolist() == [1.0, 1.0, 1.0]
    assert m.weight.grad.tolist() == [0.0]


# --------------------------------------------------------------------------------------------
# The NumPy reference
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("beta", BETAS)
def test_swish_agrees_with_numpy_reference(dtype, beta):
    z = grid(dtype)
    y, dz, dbeta = swish_grads(z, beta, elementwise_beta=True)
    zn = z.numpy()
    assert_close(y, ref.swish(zn, beta), *TOL[dtype])
    assert_close(dz, ref.swish_grad(zn, beta), *GRAD_TOL[dtype])
    assert_close(dbeta, ref.swish_grad_beta(zn, beta), *GRAD_TOL[dtype])
    # A 0-d beta gets the sum over all positions (values that do not overflow the sum).
    z = grid(dtype, wide=False)
    _, _, total = swish_grads(z, beta)
    expected = np.sum(ref.swish_grad_beta(z.numpy().astype(np.float64), beta))
    assert_close(total, expected, 1e-5 if dtype == F32 else 1e-12, 0)


@pytest.mark.parametrize("dtype", [F32, F64])
def test_mish_agrees_with_numpy_reference(dtype):
    z = grid(dtype)
    y, dz = mish_grads(z)
    assert_close(y, ref.mish(z.numpy()), *TOL[dtype])
    assert_close(dz, ref.mish_grad(z.numpy()), *GRAD_TOL[dtype])


@pytest.mark.parametrize("dtype", [F32, F64])
def test_prelu_agrees_with_numpy_reference(dtype):
    z = torch.cat([grid(dtype), torch.zeros(2, dtype=dtype)]).requires_grad_()
    m = PReLU(init=0.3).to(dtype)
    upstream = torch.randn(z.shape, generator=torch.Generator().manual_seed(3), dtype=dtype)
    y = m(z)
    y.backward(upstream)
    zn, un = z.detach().numpy(), upstream.numpy()
    a = m.weight.item()
    assert_close(y.detach(), ref.prelu(zn, a), 0, 0)
    assert_close(z.grad, ref.prelu_grad(zn, a) * un, 0, 0)  # includes PReLU'(0) = 1
    expected = ref.prelu_grad_a(zn.astype(np.float64), a, un.astype(np.float64))
    assert_close(m.weight.grad[0], expected, 1e-5 if dtype == F32 else 1e-12, 0)


# --------------------------------------------------------------------------------------------
# Infinities, nan, dtypes, shapes, blocks
# --------------------------------------------------------------------------------------------

SPECIAL = [-INF, INF, NAN]


@pytest.mark.parametrize("dtype", [F32, F64])
def test_mish_at_infinities_and_nan(dtype):
    y, dz = mish_grads(torch.tensor(SPECIAL, dtype=dtype))
    assert y[0] == 0 and dz[0] == 0       # F.mish gives nan at -inf
    assert y[1] == INF and dz[1] == 1
    assert y[2].isnan() and dz[2].isnan()


@pytest.mark.parametrize("elementwise", [False, True], ids=["0-d beta", "beta like z"])
@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("beta", [1.0, 2.5])
def test_swish_at_infinities_and_nan(dtype, beta, elementwise):
    y, dz, dbeta = swish_grads(torch.tensor(SPECIAL, dtype=dtype), beta, elementwise)
    assert y[0] == 0 and dz[0] == 0   # F.silu gives nan at -inf
    assert y[1] == INF and dz[1] == 1
    assert y[2].isnan() and dz[2].isnan() and dbeta.isnan().any()
    if elementwise:
        assert dbeta[0] == 0 and dbeta[1] == 0


@pytest.mark.parametrize("elementwise", [False, True], ids=["0-d beta", "beta like z"])
def test_swish_limits_for_zero_and_negative_beta(elementwise):
    y, dz, dbeta = swish_grads(torch.tensor([-INF, INF], dtype=F64), 0.0, elementwise)
    assert y.tolist() == [-INF, INF]  # the line z / 2
    assert dz.tolist() == [0.5, 0.5]
    assert (dbeta == INF).all()
    y, dz, dbeta = swish_grads(torch.tensor([-INF, INF], dtype=F64), -1.0, elementwise)
    assert y.tolist() == [-INF, 0.0]  # the mirror image: the gate closes at +inf
    assert dz.tolist() == [1.0, 0.0]
    assert (dbeta == 0).all()


@pytest.mark.parametrize("dtype", [F32, F64])
def test_finite_everywhere_on_finite_inputs(dtype):
    big = torch.finfo(dtype).max
    tiny = torch.finfo(dtype).smallest_normal
    z = torch.tensor([-big, -1e30, -1e4, -tiny / 4, -0.0, 0.0, tiny / 4, 1e4, 1e30, big],
                     dtype=dtype)
    for beta in BETAS:
        for t in swish_grads(z, beta, elementwise_beta=True):
            assert t.isfinite().all() or beta == 0  # beta = 0: d/dbeta = z^2/4 overflows
        assert swish_grads(z, beta)[1].isfinite().all()
    for t in mish_grads(z):
        assert t.isfinite().all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, F32, F64])
def test_dtype_and_shape_preserved_and_input_untouched(dtype):
    z = torch.linspace(-5, 5, 24, dtype=dtype).reshape(2, 3, 4)
    before = z.clone()
    for fn in (MishFunction.apply, lambda t: SwishFunction.apply(t, 1.5), Mish(), Swish(),
               PReLU().to(dtype)):
        y = fn(z)
        assert y.dtype == dtype and y.shape == z.shape
        assert torch.equal(z, before)
    assert MishFunction.apply(torch.tensor(1.0, dtype=dtype)).shape == ()
    expected = F.mish(z.float()).to(dtype)
    assert_close(MishFunction.apply(z), expected, 1e-2, 1e-2)


def test_integer_input_is_refused():
    with pytest.raises(TypeError, match="MishFunction"):
        MishFunction.apply(torch.arange(3))
    with pytest.raises(TypeError, match="SwishFunction"):
        SwishFunction.apply(torch.arange(3), torch.tensor(1.0))


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "expanded-upstream"])
def test_blocks_give_the_unblocked_result(monkeypatch, layout):
    """Many small blocks (over the thread pool) agree with one block (to the last bit or two:
    a vectorised loop and its scalar tail may round exp differently)."""
    gen = torch.Generator().manual_seed(4)
    z = torch.randn(37, 23, generator=gen, dtype=F64) * 4
    upstream = torch.randn(37, 23, generator=gen, dtype=F64)
    if layout == "transposed":
        z = torch.randn(23, 37, generator=gen, dtype=F64).T * 4
    if layout == "expanded-upstream":
        upstream = torch.randn(1, 23, generator=gen, dtype=F64).expand(37, 23)

    def run():
        zz = z.detach().clone().requires_grad_()
        b = torch.tensor(1.7, dtype=F64, requires_grad=True)
        out = [MishFunction.apply(zz), SwishFunction.apply(zz, b)]
        torch.autograd.backward(out, [upstream, upstream])
        return [t.detach() for t in out] + [zz.grad, b.grad]

    one_block = run()
    monkeypatch.setattr(torch_blocks, "BLOCK", 50)
    many_blocks = run()
    for a, b in zip(one_block, many_blocks, strict=True):
        assert_close(b, a, 1e-14, 1e-300)


# --------------------------------------------------------------------------------------------
# What is saved for backward
# --------------------------------------------------------------------------------------------

def saved_by(fn, *inputs):
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        out = fn(*inputs)
    return out, saved


def test_mish_function_saves_only_its_input():
    z = torch.randn(5, 7, requires_grad=True)
    out, saved = saved_by(MishFunction.apply, z)
    assert len(saved) == 1
    assert saved[0].data_ptr() == z.data_ptr() and saved[0].shape == z.shape
    out.sum().backward()  # and backward works from it alone


def test_swish_function_saves_only_z_and_beta():
    z = torch.randn(5, 7, requires_grad=True)
    b = torch.tensor(1.5, requires_grad=True)
    out, saved = saved_by(SwishFunction.apply, z, b)
    assert len(saved) == 2
    assert {t.data_ptr() for t in saved} == {z.data_ptr(), b.data_ptr()}
    out.sum().backward()


def test_modules_save_no_more_than_their_functions():
    z = torch.randn(5, 7, requires_grad=True)
    assert len(saved_by(Mish(), z)[1]) == 1
    assert len(saved_by(Swish(learnable=True), z)[1]) == 2


# --------------------------------------------------------------------------------------------
# Modules: parameters, buffers, repr
# --------------------------------------------------------------------------------------------

def test_learnable_beta_is_a_parameter_and_gets_the_summed_gradient():
    m = Swish(beta=2.5, learnable=True)
    assert isinstance(m.beta, nn.Parameter) and m.beta.shape == ()
    assert [name for name, _ in m.named_parameters()] == ["beta"]
    z = grid(F32, wide=False)
    m(z).sum().backward()
    expected = np.sum(ref.swish_grad_beta(z.numpy().astype(np.float64), 2.5))
    assert_close(m.beta.grad, expected, 1e-5, 0)


def test_fixed_beta_is_a_buffer():
    m = Swish(beta=2.0)
    assert list(m.parameters()) == []
    assert "beta" in dict(m.named_buffers()) and "beta" in m.state_dict()
    assert m.double().beta.dtype == F64
    z = torch.randn(4, dtype=F64, requires_grad=True)
    m(z).sum().backward()
    assert z.grad is not None and m.beta.grad is None


def test_prelu_has_one_slope_initialised_to_a_quarter():
    m = PReLU()
    params = dict(m.named_parameters())
    assert list(params) == ["weight"]
    assert params["weight"].shape == (1,) and params["weight"].item() == 0.25
    assert PReLU(init=0.1).weight.item() == pytest.approx(0.1)


def test_prelu_slope_gradient_is_the_notes_sum():
    """dL/da = sum over positions of upstream * (z if z < 0 else 0), batch included."""
    gen = torch.Generator().manual_seed(5)
    z = torch.randn(8, 5, generator=gen, dtype=F64)
    upstream = torch.randn(8, 5, generator=gen, dtype=F64)
    m = PReLU().double()
    m(z).backward(upstream)
    expected = (upstream * torch.where(z < 0, z, 0)).sum()
    assert_close(m.weight.grad[0], expected, 1e-14, 0)


def test_module_repr():
    assert repr(Swish()) == "Swish(beta=1, learnable=False)"
    assert repr(Swish(beta=2.5, learnable=True)) == "Swish(beta=2.5, learnable=True)"
    assert repr(Mish()) == "Mish()"
    assert repr(PReLU()) == "PReLU(num_parameters=1, init=0.25)"
    assert Swish(0.5).extra_repr() == "beta=0.5, learnable=False"


def test_modules_train_in_a_network():
    """One optimiser step through every module changes the learnable gate and slope."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 8), Swish(learnable=True), nn.Linear(8, 8), PReLU(),
                        nn.Linear(8, 8), Mish(), nn.Linear(8, 1))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    before = (net[1].beta.item(), net[3].weight.item())
    F.mse_loss(net(x), y).backward()
    opt.step()
    after = (net[1].beta.item(), net[3].weight.item())
    assert before[0] != after[0] and before[1] != after[1]
