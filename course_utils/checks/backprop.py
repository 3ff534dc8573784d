r"""Checks of 04_numerical_stability's network functions: the MLP and backprop
(``initialisation`` holds the initialisers' and layer_gradient_norms' checks).

Visible checks (``check_*``) compare with small fixtures written out below (computed once
with the reference; no import of it) and with properties of the learner's own code: the
gradients of ``mlp_backward`` against central differences of the learner's ``mlp_forward``,
the initialisers' sample statistics, the draws ``layer_gradient_norms`` makes from ``rng``.
Hidden checks (``hidden_*``) compare with the reference (itself checked against
``torch.autograd`` by the tests) on random networks. Conventions as in
``course_utils.reference.backprop``: x (N, n_0), W^(l) (n_l, n_{l-1}),
z^(l) = a^(l-1) @ W^(l).T, sigma on every layer.

The checks never look inside the learner's cache: it goes from the learner's
``mlp_forward`` to the learner's ``mlp_backward`` untouched.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from course_utils.checks.engine import (
    call,
    central_differences,
    compare,
    fail,
    reports,
    require_array,
    require_same_again,
    require_unchanged,
)
from course_utils.units import ACTIVATIONS, relu, tanh_grad

__all__ = [
    "check_mlp_forward",
    "check_mlp_forward_shape",
    "hidden_mlp_forward",
    "check_mlp_backward",
    "check_mlp_backward_shape",
    "hidden_mlp_backward",
]

RTOL = 1e-6
ATOL = 1e-12

# --------------------------------------------------------------------------------------
# The checks' own activations (float64, no warnings on the inputs used here).


def _identity(z):
    return z * 1.0



# --------------------------------------------------------------------------------------
# Fixtures: a 3 -> 4 -> 2 tanh network on two examples (computed with the reference).

NET_X = np.array([[0.5, -1.0, 2.0], [-0.3, 0.8, 0.1]])
NET_W1 = np.array([[0.2, -0.4, 0.1], [0.7, 0.3, -0.5], [-0.6, 0.9, 0.25], [0.05, -0.15, 0.8]])
NET_W2 = np.array([[0.3, -0.8, 0.5, 0.1], [-0.45, 0.2, 0.65, -0.7]])
NET_UPSTREAM = np.array([[1.0, -0.5], [0.25, 2.0]])
NET_Y = np.array([[0.5119496730661799, -0.9002751544312544],
               [0.2621661332321638, 0.5830843854636111]])
NET_GRAD_W1 = np.array([
    [0.22133390657888782, -0.5343643808180905, 0.28930793652350534],
    [-0.16123219145098736, 0.338008415670646, -0.5438925528075862],
    [-0.03974209549637921, 0.17101111440502215, 0.43595662019419734],
    [0.2770113877260564, -0.7336261105618676, -0.05937612730917949]])
NET_GRAD_W2 = np.array([
    [0.36355216516565714, -0.5505472096103795, -0.2764174082672775, 0.6839069256383984],
    [-0.5245432315792761, 0.04369917826724143, 1.0185791539926379, -0.16198913369883655]])
NET_GRAD_X = np.array([
    [-0.2758642862220836, 0.023524076351681307, 0.21561831422495095],
    [-0.3567740569841951, 0.7532828411611392, -0.6887130519255245]])


# --------------------------------------------------------------------------------------
# Helpers.


def _grid_inputs(shape, first="example", second="unit"):
    """inputs= for compare(): the row and column index of a 2-D result."""
    rows, cols = shape
    return {first: np.arange(rows)[:, None], second: np.arange(cols)[None, :]}


_SHAPE_HINT = ("x is (N, n_0) with one example per row and W^(l) is (n_l, n_{l-1}): "
               "z = a @ W.T.")


def _check_matrix(name, value, shape, what, where, hint=_SHAPE_HINT):
    __tracebackhide__ = True
    return require_array(name, what, value, shape, np.float64, f"input {where}", hints={
        "type": "build it with NumPy operations (@, np.tanh, ...).", "shape": hint})


def _forward(fn, x, weights, sigma, where):
    """Call the learner's mlp_forward; return (y, cache) after checking the pair."""
    __tracebackhide__ = True
    out = call(fn, "mlp_forward", x, weights, sigma, inputs={"network": where})
    if not isinstance(out, tuple) or len(out) != 2:
        fail("mlp_forward", f"returned a {type(out).__name__}, expected a pair (y, cache).",
             f"on input {where}", hint="end with `return y, cache`.")
    return out


def _backward(fn, cache, dL_dy, weights, sigma_grad, n_layers, where):
    """Call the learner's mlp_backward; return (grads_W list, dL_dx)."""
    __tracebackhide__ = True
    out = call(fn, "mlp_backward", cache, dL_dy, weights, sigma_grad,
               inputs={"network": where})
    if not isinstance(out, tuple) or len(out) != 2:
        fail("mlp_backward", f"returned a {type(out).__name__}, expected a pair "
             "(grads_W, dL_dx).", f"on input {where}", hint="end with `return grads_W, dL_dx`.")
    grads, dx = out
    if not isinstance(grads, (list, tuple)) or len(grads) != n_layers:
        got = len(grads) if isinstance(grads, (list, tuple)) else type(grads).__name__
        fail("mlp_backward", f"grads_W should be a list of {n_layers} arrays (one per "
             f"layer), got {got}.", f"on input {where}",
             hint="grads_W[l-1] is the gradient of W^(l), in the order of `weights`.")
    return list(grads), dx


def _random_net(rng, depth, widths, n, gain=1.0):
    weights = [rng.standard_normal((widths[i + 1], widths[i])) * gain / np.sqrt(widths[i])
               for i in range(depth)]
    return rng.standard_normal((n, widths[0])), weights


def _where_net(x, weights, sigma_name):
    sizes = " -> ".join(str(n) for n in [x.shape[1]] + [W.shape[0] for W in weights])
    return f"{sigma_name} network {sizes}, N = {x.shape[0]}"


# --------------------------------------------------------------------------------------
# mlp_forward


@reports("outputs and cache", "mlp_forward")
def check_mlp_forward(mlp_forward: Callable) -> None:
    """Values of ``mlp_forward(x, weights, sigma)``: a fixture, linear and one-layer networks."""
    __tracebackhide__ = True
    name = "mlp_forward"
    # 1. the fixture: tanh on both layers.
    where = _where_net(NET_X, [NET_W1, NET_W2], "tanh")
    y, _ = _forward(mlp_forward, NET_X.copy(), [NET_W1.copy(), NET_W2.copy()], np.tanh, where)
    _check_matrix(name, y, NET_Y.shape, "y", where)
    hint = "every layer is a = sigma(a @ W.T), in the order of weights, the last one included."
    if np.allclose(y, np.tanh(NET_X @ NET_W1.T) @ NET_W2.T):
        hint = "y = sigma(z^(L)): apply sigma to the last layer too, as the note does."
    compare(name, y, NET_Y, inputs=_grid_inputs(NET_Y.shape), rtol=RTOL, atol=ATOL, hint=hint)
    # 2. identity activation: the network is the linear map x @ W1.T @ W2.T @ W3.T.
    rng = np.random.default_rng(5)
    x, weights = _random_net(rng, 3, [4, 6, 3, 2], 5)
    where = _where_net(x, weights, "identity")
    y, _ = _forward(mlp_forward, x, weights, _identity, where)
    expected = x @ weights[0].T @ weights[1].T @ weights[2].T
    _check_matrix(name, y, expected.shape, "y", where)
    compare(name, y, expected, inputs=_grid_inputs(expected.shape), rtol=RTOL, atol=ATOL,
            hint="with sigma(z) = z the network is the product of its layers: "
                 "is every layer applied, in order, as a @ W.T?")
    # 3. one ReLU layer.
    x, weights = _random_net(rng, 1, [3, 4], 6)
    where = _where_net(x, weights, "relu")
    y, _ = _forward(mlp_forward, x, weights, relu, where)
    expected = np.maximum(x @ weights[0].T, 0.0)
    _check_matrix(name, y, expected.shape, "y", where)
    compare(name, y, expected, inputs=_grid_inputs(expected.shape), rtol=RTOL, atol=ATOL,
            hint="a one-layer network is sigma(x @ W.T).")


@reports("non-square layers, N = 1, inputs untouched", "mlp_forward")
def check_mlp_forward_shape(mlp_forward: Callable) -> None:
    """Shapes for non-square layers and N = 1, float64 out, inputs not modified in place."""
    __tracebackhide__ = True
    name = "mlp_forward"
    rng = np.random.default_rng(8)
    for depth, widths, n in [(3, [2, 5, 7, 3], 4), (2, [6, 1, 4], 1), (1, [3, 2], 3)]:
        x, weights = _random_net(rng, depth, widths, n)
        saved = copy.deepcopy((x, weights))
        where = _where_net(x, weights, "tanh")
        y, cache = _forward(mlp_forward, x, weights, np.tanh, where)
        _check_matrix(name, y, (n, widths[-1]), "y", where)
        require_unchanged(name, ["x", "weights"], saved, (x, weights), f"input {where}",
                          hint="compute new arrays (a = sigma(a @ W.T)) instead of writing "
                               "into x or W.")
        if y is x:
            fail(name, "returned the input array itself.", f"on input {where}")


def hidden_mlp_forward(mlp_forward: Callable, seed: int = 0) -> None:
    """Random networks (depths 1-6, widths 1-8, three activations) against the reference."""
    __tracebackhide__ = True
    from course_utils.reference import mlp_forward as ref

    rng = np.random.default_rng(seed)
    for trial in range(12):
        act = ["tanh", "sigmoid", "relu"][trial % 3]
        depth = int(rng.integers(1, 7))
        widths = [int(w) for w in rng.integers(1, 9, size=depth + 1)]
        x, weights = _random_net(rng, depth, widths, int(rng.integers(1, 7)), gain=1.5)
        where = _where_net(x, weights, act)
        y, _ = _forward(mlp_forward, x, weights, ACTIVATIONS[act][0], where)
        expected, _ = ref(x.copy(), [W.copy() for W in weights], ACTIVATIONS[act][0])
        _check_matrix("mlp_forward", y, expected.shape, "y", where)
        compare("mlp_forward", y, expected, inputs=_grid_inputs(expected.shape), rtol=RTOL,
                atol=ATOL)


# --------------------------------------------------------------------------------------
# mlp_backward


def _loss_of_forward(mlp_forward, x, weights, sigma, upstream, where):
    __tracebackhide__ = True
    y, _ = _forward(mlp_forward, x, weights, sigma, where)
    return float(np.sum(upstream * y))


def _central_differences(mlp_forward, x, weights, sigma, upstream, where):
    """dL/dW^(l) and dL/dx of L = sum(upstream * mlp_forward(x, weights)[0])."""
    __tracebackhide__ = True
    weights = [W.copy() for W in weights]
    x = x.copy()

    def loss():
        return _loss_of_forward(mlp_forward, x, weights, sigma, upstream, where)

    *grads, dx = central_differences(loss, [*weights, x])
    return grads, dx


_BACKWARD_HINT = ("delta^(l) = sigma'(z^(l)) * dL/da^(l), with sigma_grad taken at z (not at a), "
                  "then dL/da^(l-1) = delta^(l) @ W^(l).")


def _backward_hint(grads, dx, expected_grads, expected_dx, n):
    """Diagnose the usual mistakes from the whole result."""
    try:
        if all(np.allclose(g * n, e) for g, e in zip(grads, expected_grads, strict=False)):
            return "grads_W sums over the batch (delta.T @ a_prev): do not average over N."
        if all(np.allclose(g, -e) for g, e in zip(grads, expected_grads, strict=False)):
            return "every gradient has the wrong sign."
        if all(np.allclose(g, e) for g, e in zip(grads, expected_grads, strict=False)):
            return "grads_W is right; dL_dx is what flows out of layer 1: delta^(1) @ W^(1)."
    except (TypeError, ValueError):
        return _BACKWARD_HINT
    return _BACKWARD_HINT


def _compare_backward(grads, dx, expected_grads, expected_dx, weights, x, where, *, rtol, atol,
                      source):
    __tracebackhide__ = True
    name = "mlp_backward"
    for layer, (g, W) in enumerate(zip(grads, weights, strict=False), start=1):
        _check_matrix(name, g, W.shape, f"grads_W[{layer - 1}] (layer {layer})", where)
    _check_matrix(name, dx, x.shape, "dL_dx", where)
    hint = _backward_hint(grads, dx, expected_grads, expected_dx, x.shape[0])
    for layer, (g, e) in enumerate(zip(grads, expected_grads, strict=False), start=1):
        compare(name, g, e, inputs={"layer": layer, **_grid_inputs(e.shape, "row", "column")},
                rtol=rtol, atol=atol, hint=f"{source}{hint}")
    compare(name, dx, expected_dx, inputs=_grid_inputs(dx.shape, "dL_dx row", "column"),
            rtol=rtol, atol=atol, hint=f"{source}{hint}")


@reports("gradients against the fixture and central differences", "mlp_backward")
def check_mlp_backward(mlp_backward: Callable, mlp_forward: Callable) -> None:
    """Gradients of ``mlp_backward``: a fixture, then central differences of your forward."""
    __tracebackhide__ = True
    # 1. the fixture (tanh, 3 -> 4 -> 2, two examples).
    weights = [NET_W1.copy(), NET_W2.copy()]
    where = _where_net(NET_X, weights, "tanh")
    _, cache = _forward(mlp_forward, NET_X.copy(), weights, np.tanh, where)
    grads, dx = _backward(mlp_backward, cache, NET_UPSTREAM.copy(), weights, tanh_grad, 2, where)
    _compare_backward(grads, dx, [NET_GRAD_W1, NET_GRAD_W2], NET_GRAD_X, weights, NET_X, where,
                      rtol=RTOL, atol=ATOL, source="")
    # 2. central differences of the learner's own forward, sigmoid and relu networks.
    rng = np.random.default_rng(21)
    for act, depth, widths, n in [("sigmoid", 3, [3, 4, 3, 2], 3), ("relu", 2, [4, 5, 3], 2)]:
        x, weights = _random_net(rng, depth, widths, n, gain=1.3)
        upstream = rng.standard_normal((n, widths[-1]))
        sigma, sigma_grad = ACTIVATIONS[act]
        where = _where_net(x, weights, act)
        expected_grads, expected_dx = _central_differences(mlp_forward, x, weights, sigma,
                                                           upstream, where)
        _, cache = _forward(mlp_forward, x.copy(), [W.copy() for W in weights], sigma, where)
        grads, dx = _backward(mlp_backward, cache, upstream.copy(), weights, sigma_grad,
                              depth, where)
        _compare_backward(grads, dx, expected_grads, expected_dx, weights, x, where,
                          rtol=1e-5, atol=1e-7,
                          source="against central differences of your mlp_forward: ")


@reports("one gradient per layer, dL_dx shaped like x, inputs untouched", "mlp_backward")
def check_mlp_backward_shape(mlp_backward: Callable, mlp_forward: Callable) -> None:
    """Shapes for non-square layers and N = 1; cache, dL_dy and weights left untouched."""
    __tracebackhide__ = True
    name = "mlp_backward"
    rng = np.random.default_rng(13)
    for depth, widths, n in [(3, [2, 5, 7, 3], 4), (2, [6, 1, 4], 1), (1, [3, 2], 3)]:
        x, weights = _random_net(rng, depth, widths, n)
        where = _where_net(x, weights, "tanh")
        _, cache = _forward(mlp_forward, x, weights, np.tanh, where)
        upstream = rng.standard_normal((n, widths[-1]))
        saved = copy.deepcopy((cache, upstream, weights))
        grads, dx = _backward(mlp_backward, cache, upstream, weights, tanh_grad, depth, where)
        for layer, (g, W) in enumerate(zip(grads, weights, strict=False), start=1):
            _check_matrix(name, g, W.shape, f"grads_W[{layer - 1}] (layer {layer})", where)
        _check_matrix(name, dx, x.shape, "dL_dx", where)
        require_unchanged(name, ["cache", "dL_dy", "weights"], saved, (cache, upstream, weights),
                          f"input {where}", hint="use `upstream = delta @ W` rather than `*=` "
                                                 "or `+=` on arrays you got.")
        again = _backward(mlp_backward, cache, upstream, weights, tanh_grad, depth, where)
        require_same_again(name, (grads, dx), again, f"input {where}", "cache",
                           hint="does it change the cache while it runs?")


def hidden_mlp_backward(mlp_backward: Callable, mlp_forward: Callable, seed: int = 0) -> None:
    """Random networks (depths 1-6, widths 1-8, three activations) against the reference."""
    __tracebackhide__ = True
    from course_utils.reference import mlp_backward as ref_backward
    from course_utils.reference import mlp_forward as ref_forward

    rng = np.random.default_rng(seed)
    for trial in range(15):
        act = ["tanh", "sigmoid", "relu"][trial % 3]
        depth = int(rng.integers(1, 7))
        widths = [int(w) for w in rng.integers(1, 9, size=depth + 1)]
        n = int(rng.integers(1, 7))
        x, weights = _random_net(rng, depth, widths, n, gain=float(rng.uniform(0.5, 2.5)))
        upstream = rng.standard_normal((n, widths[-1]))
        sigma, sigma_grad = ACTIVATIONS[act]
        where = _where_net(x, weights, act)
        _, ref_cache = ref_forward(x.copy(), [W.copy() for W in weights], sigma)
        expected, expected_dx = ref_backward(ref_cache, upstream.copy(),
                                             [W.copy() for W in weights], sigma_grad)
        _, cache = _forward(mlp_forward, x.copy(), [W.copy() for W in weights], sigma, where)
        grads, dx = _backward(mlp_backward, cache, upstream.copy(), weights, sigma_grad,
                              depth, where)
        scale = max(1.0, float(np.max(np.abs(expected_dx))))
        _compare_backward(grads, dx, expected, expected_dx, weights, x, where, rtol=RTOL,
                          atol=ATOL * scale, source="against the reference: ")
