"""05's references and experiment helpers: the derivatives against torch.autograd and
central differences, alpha-dropout's moments, the filter-normalised directions and the
batched loss slices, the kink score on a smooth and a cornered loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import course_utils.reference as R
from course_utils import landscape, self_normalising
from course_utils.data import load_digits_split
from course_utils.reference.elu import SELU_ALPHA, SELU_LAMBDA

Z = np.concatenate([np.linspace(-8, 8, 161), [-0.7517915246935645, 1e-3, -1e-3]])
Z = Z[Z != 0]  # away from the kinks of elu' (alpha != 1) and selu'


@pytest.mark.parametrize(("grad", "forward", "torch_forward"), [
    (R.gelu_grad, R.gelu, F.gelu),
    (lambda z: R.elu_grad(z, alpha=0.5), lambda z: R.elu(z, alpha=0.5),
     lambda t: F.elu(t, 0.5)),
    (R.selu_grad, R.selu, F.selu),
], ids=["gelu", "elu", "selu"])
def test_derivatives_against_autograd_and_central_differences(grad, forward, torch_forward):
    t = torch.tensor(Z, requires_grad=True)
    torch_forward(t).backward(torch.ones_like(t))
    np.testing.assert_allclose(grad(Z), t.grad.numpy(), rtol=1e-12, atol=1e-15)
    h = 1e-6
    np.testing.assert_allclose(grad(Z), (forward(Z + h) - forward(Z - h)) / (2 * h),
                               rtol=1e-6, atol=1e-8)


def test_forms_against_torch_and_the_papers_constants():
    t = torch.tensor(Z)
    # absolutely: PyTorch loses relative accuracy in the tail (benchmarks/accuracy.py)
    np.testing.assert_allclose(R.gelu(Z), F.gelu(t).numpy(), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(R.gelu_tanh(Z), F.gelu(t, approximate="tanh").numpy(),
                               rtol=1e-12, atol=1e-15)
    assert R.selu(np.array(-np.inf)) == pytest.approx(-SELU_LAMBDA * SELU_ALPHA, rel=1e-15)
    assert R.selu_grad(np.array(0.0)) == SELU_LAMBDA  # the note's convention at the kink
    assert R.elu_grad(np.array(0.0), alpha=2.0) == 1.0


def test_alpha_dropout_keeps_mean_and_variance_and_dropout_does_not():
    rng = np.random.default_rng(0)
    a = R.selu(rng.standard_normal(400_000))  # mean 0, variance 1 (the fixed point)
    floor = float(R.selu(np.array(-np.inf)))
    kept = self_normalising.alpha_dropout(a, 0.2, rng, floor)
    assert abs(kept.mean()) < 0.01 and abs(kept.var() - 1) < 0.01
    dropped = self_normalising.dropout(a, 0.2, rng)
    assert dropped.var() > 1.2  # the second moment grows by 1 / (1 - p)


def test_layer_statistics_use_every_layer_and_the_seed():
    means, variances = self_normalising.layer_statistics(
        R.selu, R.lecun_normal, depth=4, width=20, n=50, seed=1)
    assert means.shape == variances.shape == (4,)
    again = self_normalising.layer_statistics(R.selu, R.lecun_normal, depth=4, width=20, n=50,
                                              seed=1)
    np.testing.assert_array_equal(variances, again[1])


@pytest.fixture(scope="module")
def tiny():
    data = load_digits_split()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 10)).double()
    return data, model


def test_directions_are_filter_normalised_and_spare_the_biases(tiny):
    _, model = tiny
    d = landscape.direction(model, seed=3)
    for p, q in zip(model.parameters(), d, strict=True):
        if p.dim() == 2:
            torch.testing.assert_close(q.norm(dim=1), p.detach().norm(dim=1))
        else:
            assert torch.count_nonzero(q) == 0


def test_batched_losses_equal_the_loss_of_the_moved_network(tiny):
    data, model = tiny
    d = landscape.direction(model, seed=1)
    alpha = 0.3
    moved = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 10)).double()
    with torch.no_grad():
        for p, q, dp in zip(moved.parameters(), model.parameters(), d, strict=True):
            p.copy_(q + alpha * dp)
        x = torch.as_tensor(data.x_train, dtype=torch.float64)
        direct = float(F.cross_entropy(moved(x), torch.as_tensor(data.y_train)))
    batched = landscape.losses_at(model, [d], np.array([[0.0], [alpha]]), data)
    assert batched[1] == pytest.approx(direct, rel=1e-12)


def test_the_kink_score_tells_corners_from_smooth_units(tiny):
    data, model = tiny
    smooth = nn.Sequential(model[0], nn.GELU(), model[2])
    assert landscape.kinks(model, data) > 100 * landscape.kinks(smooth, data)


def test_second_derivatives_of_known_functions():
    z = np.linspace(-3, 3, 601)
    second = landscape.second_derivatives({"cube": lambda x: 3 * x**2}, z)["cube"]
    np.testing.assert_allclose(second[1:-1], 6 * z[1:-1], atol=1e-9)
