r"""Checks of 04_numerical_stability's network: ``mlp_forward`` and ``mlp_backward``, one
row of the forward/backward table of ``pairs`` (``initialisation`` holds the initialisers'
and layer_gradient_norms' checks).

Conventions as in ``course_utils.reference.backprop``: x (N, n_0), W^(l) (n_l, n_{l-1}),
z^(l) = a^(l-1) @ W^(l).T, sigma on every layer. The visible cases: a fixture (computed
once with the reference, checked against it by the tests; no import of it here), a linear
and a one-layer network, central differences of the learner's own forward. Hidden: the
reference on random networks (depths 1-6, widths 1-8, tanh, sigmoid and ReLU).
"""

from __future__ import annotations

import numpy as np

from course_utils.checks.engine import fail
from course_utils.checks.pairs import Case, Gradients, Pair, Values, pair_checks
from course_utils.units import ACTIVATIONS, relu

__all__ = [
    "check_mlp_forward",
    "check_mlp_forward_shape",
    "hidden_mlp_forward",
    "check_mlp_backward",
    "check_mlp_backward_shape",
    "hidden_mlp_backward",
]


def identity(z):
    """sigma(z) = z: the network becomes the product of its layers."""
    return z * 1.0


# A 3 -> 4 -> 2 tanh network on two examples (computed with the reference).

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


def random_net(rng, depth, widths, n, gain=1.0):
    """x (n, widths[0]) and ``depth`` weights W^(l) ~ gain * N(0, 1) / sqrt(fan_in)."""
    weights = [rng.standard_normal((widths[i + 1], widths[i])) * gain / np.sqrt(widths[i])
               for i in range(depth)]
    return rng.standard_normal((n, widths[0])), weights


def net_case(x, weights, act, upstream=None):
    """A case: the forward's (x, weights, sigma); the backward's (weights, sigma')."""
    sigma, sigma_grad = (identity, None) if act == "identity" else ACTIVATIONS[act]
    sizes = " -> ".join(str(n) for n in [x.shape[1]] + [W.shape[0] for W in weights])
    return Case((x, weights, sigma), f"{act}, {sizes}, N = {x.shape[0]}", upstream=upstream,
                extra=(weights, sigma_grad))


def random_case(rng, trial, backward):
    act = ["tanh", "sigmoid", "relu"][trial % 3]
    depth = int(rng.integers(1, 7))
    widths = [int(w) for w in rng.integers(1, 9, size=depth + 1)]
    n = int(rng.integers(1, 7))
    x, weights = random_net(rng, depth, widths, n,
                            gain=float(rng.uniform(0.5, 2.5)) if backward else 1.5)
    return net_case(x, weights, act, rng.standard_normal((n, widths[-1])) if backward else None)


def gradients_of(args):
    """What mlp_backward differentiates, in the order it returns: each W^(l), then x."""
    x, weights = args[0], args[1]
    return [(f"grads_W[{i}] (layer {i + 1})", W) for i, W in enumerate(weights)] + [("dL_dx", x)]


def unpack(name, got, case, at):
    """(grads_W, dL_dx) -> [*grads_W, dL_dx], after checking that structure."""
    __tracebackhide__ = True
    layers = len(case.args[1])
    if not isinstance(got, tuple) or len(got) != 2:
        fail(name, f"returned a {type(got).__name__}, expected a pair (grads_W, dL_dx).",
             f"on {at}", hint="end with `return grads_W, dL_dx`.")
    grads, dx = got
    if not isinstance(grads, (list, tuple)) or len(grads) != layers:
        size = len(grads) if isinstance(grads, (list, tuple)) else type(grads).__name__
        fail(name, f"grads_W should be a list of {layers} arrays (one per layer), got {size}.",
             f"on {at}", hint="grads_W[l-1] is the gradient of W^(l), in the order of `weights`.")
    return [*grads, dx]


def diagnose(got, expected, n):
    """The usual mistakes, from the whole result."""
    grads, want = got[:-1], expected[:-1]
    if n > 1 and all(np.allclose(g * n, e) for g, e in zip(grads, want, strict=True)):
        return "grads_W sums over the batch (delta.T @ a_prev): do not average over N."
    if all(np.allclose(g, -e) for g, e in zip(grads, want, strict=True)):
        return "every gradient has the wrong sign."
    if all(np.allclose(g, e) for g, e in zip(grads, want, strict=True)):
        return "grads_W is right; dL_dx is what flows out of layer 1: delta^(1) @ W^(1)."
    return None


def shape_cases(seed, backward=False):
    """Non-square layers and N = 1 (tanh)."""
    rng = np.random.default_rng(seed)
    cases = []
    for depth, widths, n in [(3, [2, 5, 7, 3], 4), (2, [6, 1, 4], 1), (1, [3, 2], 3)]:
        x, weights = random_net(rng, depth, widths, n)
        cases.append(net_case(x, weights, "tanh", rng.standard_normal((n, widths[-1]))
                              if backward else None))
    return cases


FIXTURE = net_case(NET_X, [NET_W1, NET_W2], "tanh", NET_UPSTREAM)
_rng = np.random.default_rng(5)
LINEAR = net_case(*random_net(_rng, 3, [4, 6, 3, 2], 5), "identity")
ONE_LAYER = net_case(*random_net(_rng, 1, [3, 4], 6), "relu")
_rng = np.random.default_rng(21)
DIFFERENCES = [net_case(*random_net(_rng, depth, widths, n, gain=1.3), act,
                        _rng.standard_normal((n, widths[-1])))
               for act, depth, widths, n in [("sigmoid", 3, [3, 4, 3, 2], 3),
                                             ("relu", 2, [4, 5, 3], 2)]]


def product_of_layers(case):
    out = case.args[0]
    for W in case.args[1]:
        out = out @ W.T
    return out


MLP = Pair(
    forward="mlp_forward", backward="mlp_backward", key="network", output="y", columns="unit",
    inputs=("x", "weights"), backward_inputs=("cache", "dL_dy", "weights"),
    out_shape=lambda args: (args[0].shape[0], args[1][-1].shape[0]),
    wrt=gradients_of, unpack=unpack, diagnose=diagnose,
    values=[
        Values(FIXTURE, NET_Y, mistakes={
            "y = sigma(z^(L)): apply sigma to the last layer too, as the note does.":
                np.tanh(NET_X @ NET_W1.T) @ NET_W2.T}),
        Values(LINEAR, product_of_layers(LINEAR),
               hint="with sigma(z) = z the network is the product of its layers: "
                    "is every layer applied, in order, as a @ W.T?"),
        Values(ONE_LAYER, relu(product_of_layers(ONE_LAYER)),
               hint="a one-layer network is sigma(x @ W.T)."),
    ],
    shapes=[Values(case) for case in shape_cases(8)],
    gradients=[Gradients(FIXTURE, [NET_GRAD_W1, NET_GRAD_W2, NET_GRAD_X])],
    differences=DIFFERENCES,
    backward_shapes=shape_cases(13, backward=True),
    random_case=random_case, trials=15,
    reported={"forward": "outputs and cache",
              "forward_shape": "non-square layers, N = 1, inputs untouched",
              "backward": "gradients against the fixture and central differences",
              "backward_shape": "one gradient per layer, dL_dx shaped like x, inputs untouched"},
    forward_hint="every layer is a = sigma(a @ W.T), in the order of weights, the last one "
                 "included.",
    backward_hint="delta^(l) = sigma'(z^(l)) * dL/da^(l), with sigma_grad taken at z (not at "
                  "a), then dL/da^(l-1) = delta^(l) @ W^(l).",
    type_hint="build it with NumPy operations (@, np.tanh, ...).",
    shape_hint="x is (N, n_0) with one example per row and W^(l) is (n_l, n_{l-1}): "
               "z = a @ W.T.",
)

(check_mlp_forward, check_mlp_forward_shape, hidden_mlp_forward,
 check_mlp_backward, check_mlp_backward_shape, hidden_mlp_backward) = pair_checks(MLP)
