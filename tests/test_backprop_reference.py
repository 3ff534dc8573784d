"""04's network pieces outside the notebook: the reference, its checks, the lab, the figures.

- the reference MLP, backprop and initialisers against torch.autograd and statistics;
- the fixtures written into ``checks/backprop.py`` and ``checks/initialisation.py`` agree
  with the reference;
- every check passes on the reference and on other correct formulations, and rejects a
  catalogue of wrong answers with a message that names the problem;
- the visible checks run without the reference (a student install);
- the experiments' engine (normalisation, float16) against torch, the remedies land in the band;
- every figure has a title, labelled axes and a legend.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import matplotlib
import numpy as np
import pytest
import torch
from nbsession import message_items

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from course_utils import (
    checks,  # noqa: E402
    units,  # noqa: E402
)
from course_utils import stability_lab as lab  # noqa: E402
from course_utils.checks import backprop as bc  # noqa: E402
from course_utils.checks import initialisation as init_checks  # noqa: E402
from course_utils.plotting import gradients as figs  # noqa: E402
from course_utils.reference import backprop as ref  # noqa: E402

ACTS = {
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2, torch.tanh),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)),
                lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2, torch.sigmoid),
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z >= 0) * 1.0, torch.relu),
}


def torch_grads(x, weights, act, upstream, normalize=False, eps=1e-5):
    tx = torch.tensor(x, requires_grad=True)
    tws = [torch.tensor(W, requires_grad=True) for W in weights]
    a = tx
    for W in tws:
        z = a @ W.T
        if normalize:
            z = (z - z.mean(1, keepdim=True)) / torch.sqrt(z.var(1, keepdim=True,
                                                                 unbiased=False) + eps)
        a = ACTS[act][2](z)
    (a * torch.from_numpy(upstream)).sum().backward()
    return a.detach().numpy(), [W.grad.numpy() for W in tws], tx.grad.numpy()


# --------------------------------------------------------------------------------------
# The reference


@pytest.mark.parametrize("act", list(ACTS))
@pytest.mark.parametrize("seed", range(4))
def test_reference_forward_backward_match_torch_autograd(act, seed):
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(1, 6))
    widths = [int(w) for w in rng.integers(1, 8, size=depth + 1)]
    x = rng.standard_normal((int(rng.integers(1, 6)), widths[0]))
    weights = [rng.standard_normal((widths[i + 1], widths[i])) for i in range(depth)]
    upstream = rng.standard_normal((x.shape[0], widths[-1]))
    y, cache = ref.mlp_forward(x, weights, ACTS[act][0])
    grads, dx = ref.mlp_backward(cache, upstream, weights, ACTS[act][1])
    ty, tgrads, tdx = torch_grads(x, weights, act, upstream)
    np.testing.assert_allclose(y, ty, rtol=1e-12, atol=1e-14)
    for g, t, W in zip(grads, tgrads, weights, strict=True):
        assert g.shape == W.shape
        np.testing.assert_allclose(g, t, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, tdx, rtol=1e-10, atol=1e-12)


def test_reference_forward_leaves_inputs_alone():
    x, weights = np.ones((2, 3)), [np.eye(3)]
    y, (activations, _) = ref.mlp_forward(x, weights, np.tanh)
    assert activations[0] is not x and np.array_equal(x, np.ones((2, 3)))


@pytest.mark.parametrize("init, variance", [
    (ref.xavier_normal, lambda fi, fo: 2 / (fi + fo)), (ref.he_normal, lambda fi, fo: 2 / fi)])
def test_reference_initialisers(init, variance):
    W = init(300, 200, np.random.default_rng(0))
    assert W.shape == (200, 300) and W.dtype == np.float64
    assert abs(W.var() / variance(300, 200) - 1) < 0.05
    first, again = (init(3, 4, np.random.default_rng(1)) for _ in range(2))
    assert np.array_equal(first, again)


def test_layer_gradient_norms_documented_draws():
    """The docstring's recipe, written out, reproduces the reference exactly."""
    rng = np.random.default_rng(3)
    weights = [ref.xavier_normal(6, 6, rng) for _ in range(4)]
    x = rng.standard_normal((32, 6))
    _, cache = ref.mlp_forward(x, weights, np.tanh)
    grads, _ = ref.mlp_backward(cache, np.ones((32, 6)) / 32, weights, ACTS["tanh"][1])
    expected = [np.sqrt(np.sum(g ** 2)) for g in grads]
    got = ref.layer_gradient_norms(4, 6, np.tanh, ACTS["tanh"][1], ref.xavier_normal,
                                   np.random.default_rng(3))
    np.testing.assert_allclose(got, expected, rtol=1e-14)
    assert got.shape == (4,) and got.dtype == np.float64


def test_fixtures_in_checks_agree_with_reference():
    y, cache = ref.mlp_forward(bc.NET_X, [bc.NET_W1, bc.NET_W2], np.tanh)
    grads, dx = ref.mlp_backward(cache, bc.NET_UPSTREAM, [bc.NET_W1, bc.NET_W2],
                                 units.tanh_grad)
    np.testing.assert_allclose(y, bc.NET_Y, rtol=1e-15)
    np.testing.assert_allclose(grads[0], bc.NET_GRAD_W1, rtol=1e-14)
    np.testing.assert_allclose(grads[1], bc.NET_GRAD_W2, rtol=1e-14)
    np.testing.assert_allclose(dx, bc.NET_GRAD_X, rtol=1e-14)
    for (depth, width, act, gain, seed), expected in init_checks.NORM_FIXTURES.items():
        got = ref.layer_gradient_norms(depth, width, *units.ACTIVATIONS[act],
                                       init_checks.gain_init(gain), np.random.default_rng(seed))
        np.testing.assert_allclose(got, expected, rtol=1e-14)


# --------------------------------------------------------------------------------------
# The checks: the reference and other correct formulations pass


def forward_dict_cache(x, weights, sigma):
    cache = {"a": [np.array(x, dtype=float)], "z": []}
    for W in weights:
        cache["z"].append(np.einsum("ni,oi->no", cache["a"][-1], W))
        cache["a"].append(sigma(cache["z"][-1]))
    return cache["a"][-1], cache


def backward_dict_cache(cache, dL_dy, weights, sigma_grad):
    grads, g = [], dL_dy
    for W, z, a in zip(weights[::-1], cache["z"][::-1], cache["a"][-2::-1], strict=True):
        delta = g * sigma_grad(z)
        grads.insert(0, np.einsum("no,ni->oi", delta, a))
        g = np.einsum("no,oi->ni", delta, W)
    return grads, g


def forward_layer_tuples(x, weights, sigma):
    """The note's column form, W @ a; the cache is one (a^(l-1), z^(l)) pair per layer."""
    cache, a = [], np.array(x, dtype=float)
    for W in weights:
        z = (W @ a.T).T
        cache.append((a, z))
        a = sigma(z)
    return a, cache


def backward_per_example(cache, dL_dy, weights, sigma_grad):
    """One example at a time, with the explicit diag(sigma'(z)) of the note."""
    grads = [np.zeros_like(W) for W in weights]
    dx = np.zeros_like(cache[0][0])
    for n in range(dL_dy.shape[0]):
        g = dL_dy[n]
        for layer in reversed(range(len(weights))):
            a_prev, z = cache[layer]
            delta = np.diag(sigma_grad(z[n])) @ g
            grads[layer] += np.outer(delta, a_prev[n])
            g = weights[layer].T @ delta
        dx[n] = g
    return grads, dx


def xavier_standard_normal(fan_in, fan_out, rng):
    return rng.standard_normal((fan_out, fan_in)) * np.sqrt(2 / (fan_in + fan_out))


def xavier_transposed_draw(fan_in, fan_out, rng):
    return np.ascontiguousarray(rng.normal(size=(fan_in, fan_out)).T) / np.sqrt(
        (fan_in + fan_out) / 2)


def he_scale_keyword(fan_in, fan_out, rng):
    return rng.normal(loc=0.0, scale=(2.0 / fan_in) ** 0.5, size=(fan_out, fan_in))


def he_box_muller(fan_in, fan_out, rng):
    u1, u2 = rng.random((2, fan_out, fan_in))
    return np.sqrt(-2 * np.log1p(-u1)) * np.cos(2 * np.pi * u2) * np.sqrt(2 / fan_in)


def norms_via_sum_of_squares(depth, width, sigma, sigma_grad, init, rng):
    weights = []
    for _ in range(depth):
        weights.append(init(width, width, rng))
    x = rng.standard_normal(size=(32, width))
    _, cache = forward_dict_cache(x, weights, sigma)
    grads, _ = backward_dict_cache(cache, np.full((32, width), 1 / 32), weights, sigma_grad)
    return np.sqrt(np.array([np.sum(g * g) for g in grads]))


CORRECT = [
    ("forward/backward: reference", ref.mlp_forward, ref.mlp_backward),
    ("forward/backward: dict cache, einsum", forward_dict_cache, backward_dict_cache),
    ("forward/backward: per example, explicit diag", forward_layer_tuples,
     backward_per_example),
]


@pytest.mark.parametrize("label, forward, backward", CORRECT, ids=[c[0] for c in CORRECT])
def test_correct_networks_pass(label, forward, backward):
    checks.check_mlp_forward(forward)
    checks.check_mlp_forward_shape(forward)
    checks.hidden_mlp_forward(forward)
    checks.check_mlp_backward(backward, forward)
    checks.check_mlp_backward_shape(backward, forward)
    checks.hidden_mlp_backward(backward, forward)


@pytest.mark.parametrize("fn, name", [
    (ref.xavier_normal, "xavier_normal"), (xavier_standard_normal, "xavier_normal"),
    (xavier_transposed_draw, "xavier_normal"), (ref.he_normal, "he_normal"),
    (he_scale_keyword, "he_normal"), (he_box_muller, "he_normal")])
def test_correct_initialisers_pass(fn, name):
    checks.check_init_statistics(fn, name)
    checks.check_init_rng(fn, name)
    checks.hidden_init(fn, name)


@pytest.mark.parametrize("fn", [ref.layer_gradient_norms, norms_via_sum_of_squares])
def test_correct_layer_gradient_norms_pass(fn):
    checks.check_layer_gradient_norms(fn)
    checks.check_layer_gradient_norms_params(fn)
    checks.hidden_layer_gradient_norms(fn)


def test_a_passing_check_prints_nothing(capsys):
    checks.check_mlp_backward(ref.mlp_backward, ref.mlp_forward)
    checks.check_init_statistics(ref.he_normal, "he_normal")
    checks.check_layer_gradient_norms(ref.layer_gradient_norms)
    captured = capsys.readouterr()
    assert captured.err == ""
    assert all(line.startswith("✓ ") for line in captured.out.splitlines()), captured.out


# --------------------------------------------------------------------------------------
# The checks: wrong answers are rejected, with a message naming the problem


def fwd_no_last_sigma(x, weights, sigma):
    a = x
    for W in weights[:-1]:
        a = sigma(a @ W.T)
    return a @ weights[-1].T, None


def fwd_no_transpose(x, weights, sigma):
    a = x
    for W in weights:
        a = sigma(a @ W)
    return a, None


def fwd_relerr(x, weights, sigma):
    y, cache = ref.mlp_forward(x, weights, sigma)
    return y * (1 + 1e-5), cache


def fwd_mutates(x, weights, sigma):
    x *= 1.0
    x[...] = x + 0.0
    weights[0] += 0.0
    weights[0][0, 0] += 1e-3
    return ref.mlp_forward(x, weights, sigma)


def fwd_float32(x, weights, sigma):
    y, cache = ref.mlp_forward(x, weights, sigma)
    return y.astype(np.float32), cache


def fwd_list(x, weights, sigma):
    y, cache = ref.mlp_forward(x, weights, sigma)
    return y.tolist(), cache


def fwd_only_y(x, weights, sigma):
    return ref.mlp_forward(x, weights, sigma)[0]


def fwd_ignores_sigma(x, weights, sigma):
    return ref.mlp_forward(x, weights, np.tanh)


def bwd_mean(cache, dL_dy, weights, sigma_grad):
    grads, dx = ref.mlp_backward(cache, dL_dy, weights, sigma_grad)
    return [g / dL_dy.shape[0] for g in grads], dx


def bwd_sign(cache, dL_dy, weights, sigma_grad):
    grads, dx = ref.mlp_backward(cache, dL_dy, weights, sigma_grad)
    return [-g for g in grads], -dx


def bwd_grad_at_a(cache, dL_dy, weights, sigma_grad):
    activations, pre = cache
    return ref.mlp_backward((activations, activations[1:]), dL_dy, weights, sigma_grad)


def bwd_no_last_grad(cache, dL_dy, weights, sigma_grad):
    activations, pre = cache
    g, grads = dL_dy, [None] * len(weights)
    for layer in reversed(range(len(weights))):
        delta = g if layer == len(weights) - 1 else sigma_grad(pre[layer]) * g
        grads[layer] = delta.T @ activations[layer]
        g = delta @ weights[layer]
    return grads, g


def bwd_transposed(cache, dL_dy, weights, sigma_grad):
    grads, dx = ref.mlp_backward(cache, dL_dy, weights, sigma_grad)
    return [g.T for g in grads], dx


def bwd_dx_wrong(cache, dL_dy, weights, sigma_grad):
    grads, dx = ref.mlp_backward(cache, dL_dy, weights, sigma_grad)
    return grads, dx * 0


def bwd_reversed_list(cache, dL_dy, weights, sigma_grad):
    grads, dx = ref.mlp_backward(cache, dL_dy, weights, sigma_grad)
    return grads[::-1], dx


def bwd_mutates_cache(cache, dL_dy, weights, sigma_grad):
    activations, pre = cache
    for z in pre:
        z *= 1.0
        z += 1e-3
    return ref.mlp_backward(cache, dL_dy, weights, sigma_grad)


def bwd_mutates_upstream(cache, dL_dy, weights, sigma_grad):
    grads, dx = ref.mlp_backward(cache, dL_dy, weights, sigma_grad)
    dL_dy *= 2
    return grads, dx


def bwd_ignores_sigma_grad(cache, dL_dy, weights, sigma_grad):
    return ref.mlp_backward(cache, dL_dy, weights, lambda z: 1 - np.tanh(z) ** 2)


def bwd_relerr(cache, dL_dy, weights, sigma_grad):
    grads, dx = ref.mlp_backward(cache, dL_dy, weights, sigma_grad)
    return [g * (1 + 1e-5) for g in grads], dx


FORWARD_WRONG = [
    (fwd_no_last_sigma, checks.check_mlp_forward, "apply sigma to the last layer"),
    (fwd_no_transpose, checks.check_mlp_forward, "mlp_forward"),
    (fwd_relerr, checks.check_mlp_forward, "values are wrong"),
    (fwd_ignores_sigma, checks.check_mlp_forward, "values are wrong"),
    (fwd_mutates, checks.check_mlp_forward_shape, "in place"),
    (fwd_float32, checks.check_mlp_forward_shape, "dtype float32"),
    (fwd_list, checks.check_mlp_forward_shape, "expected a NumPy array"),
    (fwd_only_y, checks.check_mlp_forward, "expected a pair (y, cache)"),
]


@pytest.mark.parametrize("fn, check, words", FORWARD_WRONG,
                         ids=[f[0].__name__ for f in FORWARD_WRONG])
def test_wrong_forward_rejected(fn, check, words):
    with pytest.raises(AssertionError, match="mlp_forward") as info:
        check(fn)
    assert words in str(info.value)
    assert len(message_items(str(info.value))) <= 6


BACKWARD_WRONG = [
    (bwd_mean, checks.check_mlp_backward, "do not average over N"),
    (bwd_sign, checks.check_mlp_backward, "wrong sign"),
    (bwd_grad_at_a, checks.check_mlp_backward, "not at a"),
    (bwd_no_last_grad, checks.check_mlp_backward, "values are wrong"),
    (bwd_transposed, checks.check_mlp_backward, "has shape"),
    (bwd_dx_wrong, checks.check_mlp_backward, "dL_dx"),
    (bwd_reversed_list, checks.check_mlp_backward_shape, "has shape"),
    (bwd_mutates_cache, checks.check_mlp_backward_shape, "in place"),
    (bwd_mutates_upstream, checks.check_mlp_backward_shape, "in place"),
    (bwd_ignores_sigma_grad, checks.check_mlp_backward, "values are wrong"),
    (bwd_relerr, checks.check_mlp_backward, "values are wrong"),
]


@pytest.mark.parametrize("fn, check, words", BACKWARD_WRONG,
                         ids=[f[0].__name__ for f in BACKWARD_WRONG])
def test_wrong_backward_rejected(fn, check, words):
    with pytest.raises(AssertionError, match="mlp_backward") as info:
        check(fn, ref.mlp_forward)
    assert words in str(info.value)
    assert len(message_items(str(info.value))) <= 6


def test_backward_hidden_check_catches_what_the_fixture_misses():
    """Right on tanh fixtures, wrong elsewhere: the reference on random nets catches it."""
    def bwd_tanh_only(cache, dL_dy, weights, sigma_grad):
        if len(weights) == 2 and weights[0].shape == (4, 3):
            return ref.mlp_backward(cache, dL_dy, weights, sigma_grad)
        return bwd_mean(cache, dL_dy, weights, sigma_grad)
    with pytest.raises(AssertionError, match="against the reference"):
        checks.hidden_mlp_backward(bwd_tanh_only, ref.mlp_forward)


def xavier_variance_as_std(fan_in, fan_out, rng):
    return rng.normal(0, 2 / (fan_in + fan_out), size=(fan_out, fan_in))


def xavier_lecun(fan_in, fan_out, rng):
    return rng.normal(0, np.sqrt(1 / fan_in), size=(fan_out, fan_in))


def xavier_uniform(fan_in, fan_out, rng):
    limit = np.sqrt(6 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_out, fan_in))


def xavier_shape_swapped(fan_in, fan_out, rng):
    return rng.normal(0, np.sqrt(2 / (fan_in + fan_out)), size=(fan_in, fan_out))


def xavier_global_random(fan_in, fan_out, rng):
    return np.random.normal(0, np.sqrt(2 / (fan_in + fan_out)), size=(fan_out, fan_in))


def xavier_fixed_seed(fan_in, fan_out, rng):
    return np.random.default_rng(0).normal(0, np.sqrt(2 / (fan_in + fan_out)), (fan_out, fan_in))


def xavier_float32(fan_in, fan_out, rng):
    return ref.xavier_normal(fan_in, fan_out, rng).astype(np.float32)


def xavier_shifted(fan_in, fan_out, rng):
    return ref.xavier_normal(fan_in, fan_out, rng) + 0.05


def xavier_small_error(fan_in, fan_out, rng):
    return ref.xavier_normal(fan_in, fan_out, rng) * 1.1


def he_fan_out(fan_in, fan_out, rng):
    return rng.normal(0, np.sqrt(2 / fan_out), size=(fan_out, fan_in))


def he_is_xavier(fan_in, fan_out, rng):
    return ref.xavier_normal(fan_in, fan_out, rng)


def he_truncated(fan_in, fan_out, rng):
    w = rng.standard_normal((fan_out, fan_in))
    return np.clip(w, -2, 2) * np.sqrt(2 / fan_in)


def he_integer_division(fan_in, fan_out, rng):
    return rng.normal(0, np.sqrt(2 // fan_in + 1e-12), size=(fan_out, fan_in))


INIT_WRONG = [
    (xavier_variance_as_std, "xavier_normal", checks.check_init_statistics, "standard deviation"),
    (xavier_lecun, "xavier_normal", checks.check_init_statistics, "1 / fan_in"),
    (xavier_uniform, "xavier_normal", checks.check_init_statistics, "kurtosis"),
    (xavier_shape_swapped, "xavier_normal", checks.check_init_rng, "(fan_out, fan_in)"),
    (xavier_global_random, "xavier_normal", checks.check_init_rng, "same seed"),
    (xavier_fixed_seed, "xavier_normal", checks.check_init_rng, "seeds 123 and 124"),
    (xavier_float32, "xavier_normal", checks.check_init_rng, "float32"),
    (xavier_shifted, "xavier_normal", checks.check_init_statistics, "mean"),
    (xavier_small_error, "xavier_normal", checks.check_init_statistics, "variance"),
    (he_fan_out, "he_normal", checks.check_init_statistics, "2 / fan_out"),
    (he_is_xavier, "he_normal", checks.check_init_statistics, "2 / (fan_in + fan_out)"),
    (he_truncated, "he_normal", checks.check_init_statistics, "normal"),
    (he_integer_division, "he_normal", checks.hidden_init, "variance"),
]


@pytest.mark.parametrize("fn, name, check, words", INIT_WRONG,
                         ids=[f[0].__name__ for f in INIT_WRONG])
def test_wrong_initialisers_rejected(fn, name, check, words):
    with pytest.raises(AssertionError, match=name) as info:
        check(fn, name)
    assert words in str(info.value)


def norms_reversed(*args):
    return ref.layer_gradient_norms(*args)[::-1].copy()


def norms_squared(*args):
    return ref.layer_gradient_norms(*args) ** 2


def norms_batch_sum(depth, width, sigma, sigma_grad, init, rng):
    return ref.layer_gradient_norms(depth, width, sigma, sigma_grad, init, rng) * 32


def norms_x_first(depth, width, sigma, sigma_grad, init, rng):
    x = rng.standard_normal((32, width))
    weights = [init(width, width, rng) for _ in range(depth)]
    _, cache = ref.mlp_forward(x, weights, sigma)
    grads, _ = ref.mlp_backward(cache, np.ones((32, width)) / 32, weights, sigma_grad)
    return np.array([np.linalg.norm(g) for g in grads])


def norms_own_init(depth, width, sigma, sigma_grad, init, rng):
    return ref.layer_gradient_norms(depth, width, sigma, sigma_grad, ref.xavier_normal, rng)


def norms_own_rng(depth, width, sigma, sigma_grad, init, rng):
    return ref.layer_gradient_norms(depth, width, sigma, sigma_grad, init,
                                    np.random.default_rng(0))


def norms_no_sigma_grad(depth, width, sigma, sigma_grad, init, rng):
    return ref.layer_gradient_norms(depth, width, sigma, lambda z: 1 - np.tanh(z) ** 2, init,
                                    rng)


def norms_list(*args):
    return list(ref.layer_gradient_norms(*args))


def norms_float32(*args):
    return ref.layer_gradient_norms(*args).astype(np.float32)


def norms_relerr(*args):
    return ref.layer_gradient_norms(*args) * (1 + 1e-5)


NORMS_WRONG = [
    (norms_reversed, checks.check_layer_gradient_norms, "layer 1"),
    (norms_squared, checks.check_layer_gradient_norms, "square root"),
    (norms_batch_sum, checks.check_layer_gradient_norms, "same factor 32"),
    (norms_x_first, checks.check_layer_gradient_norms, "order of draws"),
    (norms_own_init, checks.check_layer_gradient_norms_params, "init 0 times"),
    (norms_own_rng, checks.check_layer_gradient_norms_params, "different generator"),
    (norms_no_sigma_grad, checks.check_layer_gradient_norms_params, "sigma_grad"),
    (norms_list, checks.check_layer_gradient_norms, "expected a NumPy array"),
    (norms_float32, checks.check_layer_gradient_norms, "float64"),
    (norms_relerr, checks.check_layer_gradient_norms, "values are wrong"),
]


@pytest.mark.parametrize("fn, check, words", NORMS_WRONG,
                         ids=[f[0].__name__ for f in NORMS_WRONG])
def test_wrong_layer_gradient_norms_rejected(fn, check, words):
    with pytest.raises(AssertionError, match="layer_gradient_norms") as info:
        check(fn)
    assert words in str(info.value)
    assert len(message_items(str(info.value))) <= 6


def test_stub_reads_not_implemented():
    def stub(*args):
        raise NotImplementedError()
    for check in (checks.check_mlp_forward, checks.check_layer_gradient_norms):
        with pytest.raises(AssertionError, match="is not implemented yet"):
            check(stub)
    with pytest.raises(AssertionError, match="mlp_backward: is not implemented yet"):
        checks.check_mlp_backward(stub, ref.mlp_forward)
    with pytest.raises(AssertionError, match="he_normal: is not implemented yet"):
        checks.check_init_statistics(stub, "he_normal")


def test_unknown_initialiser_name_is_a_value_error():
    with pytest.raises(ValueError, match="check_init_statistics"):
        checks.check_init_statistics(ref.he_normal, "kaiming")


def test_visible_checks_run_without_the_reference():
    """A student install has no course_utils.reference: the visible checks never import it."""
    code = textwrap.dedent("""
        import sys
        import numpy as np
        from course_utils import checks as c

        def forward(x, weights, sigma):
            acts, zs = [np.asarray(x, float)], []
            for W in weights:
                zs.append(acts[-1] @ W.T)
                acts.append(sigma(zs[-1]))
            return acts[-1], (acts, zs)

        def backward(cache, dL_dy, weights, sigma_grad):
            acts, zs = cache
            grads, g = [None] * len(weights), dL_dy
            for l in reversed(range(len(weights))):
                d = sigma_grad(zs[l]) * g
                grads[l], g = d.T @ acts[l], d @ weights[l]
            return grads, g

        def he(fan_in, fan_out, rng):
            return rng.normal(0, (2 / fan_in) ** 0.5, (fan_out, fan_in))

        def norms(depth, width, sigma, sigma_grad, init, rng):
            weights = [init(width, width, rng) for _ in range(depth)]
            x = rng.standard_normal((32, width))
            _, cache = forward(x, weights, sigma)
            grads, _ = backward(cache, np.ones((32, width)) / 32, weights, sigma_grad)
            return np.array([np.linalg.norm(g) for g in grads])

        c.check_mlp_forward(forward)
        c.check_mlp_forward_shape(forward)
        c.check_mlp_backward(backward, forward)
        c.check_mlp_backward_shape(backward, forward)
        c.check_init_statistics(he, "he_normal")
        c.check_init_rng(he, "he_normal")
        c.check_layer_gradient_norms(norms)
        c.check_layer_gradient_norms_params(norms)
        bad = [m for m in sys.modules if m.startswith("course_utils.reference")]
        assert not bad, bad
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------------------
# The lab


@pytest.mark.parametrize("act", list(ACTS))
@pytest.mark.parametrize("normalize", [False, True])
def test_lab_engine_matches_torch(act, normalize):
    rng = np.random.default_rng(4)
    weights = [rng.standard_normal(shape) for shape in [(5, 4), (6, 5), (3, 6)]]
    x, upstream = rng.standard_normal((4, 4)), rng.standard_normal((4, 3))
    sigma, sigma_grad = lab.ACTIVATIONS[act]
    grads, dx = lab.forward_backward(x, weights, sigma, sigma_grad, upstream,
                                     normalize=normalize)
    _, tgrads, tdx = torch_grads(x, weights, act, upstream, normalize=normalize)
    for g, t in zip(grads, tgrads, strict=True):
        np.testing.assert_allclose(g, t, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dx, tdx, rtol=1e-9, atol=1e-12)


def test_lab_engine_agrees_with_reference_without_normalisation():
    weights, x, dL_dy = lab.make_network(6, 8, lab.INITS["He"], seed=2)
    grads, dx = lab.forward_backward(x, weights, *lab.ACTIVATIONS["relu"], dL_dy)
    _, cache = ref.mlp_forward(x, weights, lab.ACTIVATIONS["relu"][0])
    ref_grads, ref_dx = ref.mlp_backward(cache, dL_dy, weights, lab.ACTIVATIONS["relu"][1])
    for g, r in zip(grads, ref_grads, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-13)


def test_grid_uses_the_given_function_and_matches_the_reference():
    grid = lab.gradient_norm_grid(ref.layer_gradient_norms, depth=50, width=64, seed=0)
    assert len(grid) == 9 and all(v.shape == (50,) for v in grid.values())
    # the notebook's story: sigmoid vanishes, tanh/N(0,1) explodes, tanh/Xavier and ReLU/He
    # stay in the band.
    assert grid["sigmoid", "Xavier"][0] < 1e-25
    assert grid["tanh", "N(0,1)"][0] > 1e12
    assert lab.in_band(grid["tanh", "Xavier"]) and lab.in_band(grid["relu", "He"])
    assert grid["relu", "N(0,1)"].min() > 1e30 and grid["relu", "Xavier"].max() < 1e-4


def test_remedies_bring_every_network_into_the_band():
    remedies = lab.remedy_norms(depth=50, width=64, seed=0)
    assert len(remedies) == 3
    for curves in remedies.values():
        assert not lab.in_band(curves["before"])
        assert lab.in_band(curves["after"])


def test_jacobian_singular_values_match_torch_jacobian():
    svs = lab.jacobian_singular_values(3, 5, "tanh", "Xavier", seed=1)
    weights, x, _ = lab.make_network(3, 5, lab.INITS["Xavier"], seed=1)
    tws = [torch.from_numpy(W) for W in weights]
    for depth in range(1, 4):
        def f(v, depth=depth):
            for W in tws[:depth]:
                v = torch.tanh(W @ v)
            return v
        jac = torch.autograd.functional.jacobian(f, torch.from_numpy(x[0])).numpy()
        np.testing.assert_allclose(svs[depth - 1], np.linalg.svd(jac, compute_uv=False),
                                   rtol=1e-10, atol=1e-14)


def test_clip_by_global_norm():
    grads = [np.full((2, 2), 3.0), np.full((1, 2), 4.0)]
    clipped, total = lab.clip_by_global_norm(grads, 1.0)
    assert total == pytest.approx(np.sqrt(4 * 9 + 2 * 16))
    assert np.sqrt(sum(np.sum(g ** 2) for g in clipped)) == pytest.approx(1.0)
    np.testing.assert_allclose(clipped[0] / clipped[1][0, 0], grads[0] / 4.0)  # ratio kept
    same, _ = lab.clip_by_global_norm(grads, 100.0)
    assert all(np.array_equal(a, b) for a, b in zip(same, grads, strict=True))
    with pytest.raises(ValueError, match="clip_by_global_norm"):
        lab.clip_by_global_norm(grads, 0.0)


def test_float_limits():
    rows = {r["dtype"]: r for r in lab.float_limits()}
    assert rows["float16"]["exp_overflow"] == pytest.approx(11.09, abs=0.01)
    assert rows["float32"]["exp_overflow"] == pytest.approx(88.72, abs=0.01)
    assert rows["float64"]["exp_overflow"] == pytest.approx(709.78, abs=0.01)
    assert rows["float16"]["max"] == 65504.0


def test_float16_underflow_and_loss_scaling():
    exact, _ = lab.float16_gradient_norms(50, 64, "tanh", "Xavier", upstream=1e-6,
                                          dtype=np.float64)
    plain, zeros = lab.float16_gradient_norms(50, 64, "tanh", "Xavier", upstream=1e-6)
    scaled, zeros_scaled = lab.float16_gradient_norms(50, 64, "tanh", "Xavier", upstream=1e-6,
                                                      loss_scale=2.0 ** 12)
    assert zeros.mean() > 0.3 and zeros_scaled.mean() < 0.01
    assert np.median(np.abs(scaled / exact - 1)) < 1e-2 < np.median(np.abs(plain / exact - 1))
    too_much, _ = lab.float16_gradient_norms(50, 64, "tanh", "Xavier", upstream=1e-6,
                                             loss_scale=2.0 ** 44)
    assert not np.all(np.isfinite(too_much))


def test_loss_scale_sweep_is_u_shaped():
    scales = 2.0 ** np.arange(0, 48, 8)
    rel_error, zero_fraction = lab.loss_scale_sweep(50, 64, "tanh", "Xavier", scales)
    assert rel_error[0] > 1 and np.isinf(rel_error[-1])
    assert np.nanmin(rel_error) < 1e-2 and zero_fraction[0] > zero_fraction[2]


# --------------------------------------------------------------------------------------
# The figures


def assert_labelled(fig):
    for ax in fig.axes:
        assert ax.get_title(), "every panel has a title"
        assert ax.get_xlabel(), "every panel has an x label"
        assert ax.get_legend() is not None, "every panel has a legend"
    assert any(ax.get_ylabel() for ax in fig.axes)
    plt.close(fig)


def test_figures_have_titles_labels_legends():
    z = np.linspace(-5, 5, 11)
    assert_labelled(figs.plot_naive_vs_stable(z, {"a": np.exp(z), "b": np.exp(z) * np.inf},
                                              title="t", ylabel="y", logy=True))
    grid = lab.gradient_norm_grid(ref.layer_gradient_norms, depth=4, width=8, seed=0)
    assert_labelled(figs.plot_layer_norms(grid))
    svs = {"tanh": lab.jacobian_singular_values(4, 8, "tanh", "Xavier")}
    assert_labelled(figs.plot_singular_values(svs))
    assert_labelled(figs.plot_remedies(lab.remedy_norms(depth=4, width=8), lab.BAND))
    norms = {"relu": np.array([1.0, 2.0, 0.0, np.inf])}
    assert_labelled(figs.plot_clipping(norms, norms, 1.0))
    assert_labelled(figs.plot_loss_scaling([1, 2, 4], [1.0, 0.1, np.inf], [0.5, 0.1, 0.0]))


# --- layer normalisation ---------------------------------------------------------------

def test_layer_norm_reference_matches_torch_and_the_checks_fixtures():
    """The reference against torch.autograd (several shapes and eps), and the fixtures the
    visible checks ship, including the answers of the mistakes they name."""
    from course_utils.checks import normalisation as ln

    rng = np.random.default_rng(0)
    for shape, eps in (((4, 6), 1e-5), ((1, 3), 1e-3), ((5, 1), 0.1)):
        z = 3 + 2 * rng.standard_normal(shape)
        gamma, beta, up = (rng.standard_normal(shape[1]), rng.standard_normal(shape[1]),
                           rng.standard_normal(shape))
        out, cache = ref.layer_norm_forward(z, gamma, beta, eps)
        dz, dgamma, dbeta = ref.layer_norm_backward(cache, up)
        tz, tg, tb = (torch.tensor(a, requires_grad=True) for a in (z, gamma, beta))
        t_out = torch.nn.functional.layer_norm(tz, (shape[1],), tg, tb, eps)
        (t_out * torch.from_numpy(up)).sum().backward()
        assert np.allclose(out, t_out.detach().numpy(), rtol=1e-12, atol=1e-12)
        for mine, theirs in ((dz, tz), (dgamma, tg), (dbeta, tb)):
            assert np.allclose(mine, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)
    out, cache = ref.layer_norm_forward(ln.LN_Z, ln.LN_GAMMA, ln.LN_BETA)
    assert np.allclose(out, ln.LN_OUT, rtol=1e-14, atol=1e-15)
    for mine, fixture in zip(ref.layer_norm_backward(cache, ln.LN_UPSTREAM),
                             (ln.LN_DZ, ln.LN_DGAMMA, ln.LN_DBETA), strict=True):
        assert np.allclose(mine, fixture, rtol=1e-13, atol=1e-13)
    # the named mistakes: their fixtures are what those mistakes compute
    z, g, b, eps = ln.LN_Z, ln.LN_GAMMA, ln.LN_BETA, 1e-5
    axis0 = (z - z.mean(0)) / np.sqrt(z.var(0) + eps) * g + b
    ddof1 = (z - z.mean(1, keepdims=True)) / np.sqrt(z.var(1, ddof=1, keepdims=True) + eps)
    outside = (z - z.mean(1, keepdims=True)) / (np.sqrt(z.var(1, keepdims=True)) + eps)
    for wrong, fixture in zip((axis0, ddof1 * g + b, outside * g + b),
                              ln.OUT_MISTAKES.values(), strict=True):
        assert np.allclose(wrong, fixture, rtol=1e-13, atol=1e-15)
