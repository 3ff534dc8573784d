r"""Checks of 01_nonlinearity: collapse_linear_stack and hidden_features (``approximation``
holds fit_output_layer and sup_error; ``linalg`` the tolerances and helpers they share).

Every graded function has three visible checks, one per test cell, so that partial work
earns partial credit: ``check_<fn>_values`` (correct values on ordinary inputs),
``check_<fn>_edges`` (edge cases and stability) and ``check_<fn>_dtype`` (types, shapes,
dtypes, inputs left alone). They need no reference: the expected answers are built from the
definitions (running the stack layer by layer; targets ``y = H w + r`` with the residual
``r`` orthogonal to the columns of ``H``, so that the least-squares answer is ``w``).
``hidden_<fn>`` (randomized inputs) and ``hidden_<fn>_edges`` (extremes) compare against
``course_utils.reference``, imported when called.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from course_utils.checks.engine import (
    Label,
    call,
    fail,
    reports,
    require_unchanged,
)
from course_utils.checks.linalg import (
    LINALG_RTOL,
    case_inputs,
    compare_normwise,
    require_result,
    rtol_for,
)
from course_utils.units import relu as _relu

__all__ = [
    "check_collapse_linear_stack_values",
    "check_collapse_linear_stack_edges",
    "check_collapse_linear_stack_dtype",
    "hidden_collapse_linear_stack",
    "hidden_collapse_linear_stack_edges",
    "check_hidden_features_values",
    "check_hidden_features_edges",
    "check_hidden_features_dtype",
    "hidden_hidden_features",
    "hidden_hidden_features_edges",
]

Array = np.ndarray

# ---------------------------------------------------------------------------------------
# collapse_linear_stack
# ---------------------------------------------------------------------------------------

_COLLAPSE = "collapse_linear_stack"


def _random_stack(rng: np.random.Generator, sizes: Sequence[int], dtype: Any = np.float64
                  ) -> tuple[list[Array], list[Array]]:
    weights = [(rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(dtype)
               for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)]
    biases = [rng.standard_normal(n_out).astype(dtype) for n_out in sizes[1:]]
    return weights, biases


def _run_stack(x: Array, weights: Sequence[Array], biases: Sequence[Array]) -> Array:
    """The stack, layer by layer, on a batch x (N, n_0): the definition the answer must match."""
    h = np.asarray(x, dtype=np.float64)
    for W, b in zip(weights, biases, strict=True):
        h = h @ np.asarray(W, dtype=np.float64).T + np.asarray(b, dtype=np.float64)
    return h


def _probe_stack(weights: Sequence[Array], biases: Sequence[Array]) -> tuple[Array, Array]:
    """A and b read off the stack itself: b = stack(0), column j of A = stack(e_j) - b."""
    n0 = np.shape(weights[0])[1]
    out = _run_stack(np.vstack([np.zeros(n0), np.eye(n0)]), weights, biases)
    b = out[0]
    return (out[1:] - b).T, b


def _describe_stack(weights: Sequence[Array]) -> str:
    sizes = [np.shape(weights[0])[1]] + [np.shape(W)[0] for W in weights]
    return f"a stack of {len(weights)} layer(s) with sizes {' -> '.join(map(str, sizes))}"


def _collapse_result(fn: Callable, weights: list[Array], biases: list[Array]
                     ) -> tuple[Array, Array]:
    """Call the learner on copies; check the result is a pair of arrays of the right shapes."""
    __tracebackhide__ = True
    where = _describe_stack(weights)
    result = call(fn, _COLLAPSE, [w.copy() for w in weights], [b.copy() for b in biases],
                  inputs={"weights": Label(where)})
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(_COLLAPSE, f"returned a {type(result).__name__}, expected a pair (A, b).",
             f"on {where}", hint="end with `return A, b`.")
    n_l, n_0 = np.shape(weights[-1])[0], np.shape(weights[0])[1]
    dtype = np.result_type(*weights, *biases)
    A = require_result(_COLLAPSE, "A", result[0], (n_l, n_0), dtype, where,
                       hint="A maps the input to the output: shape (n_L, n_0), so the last "
                            "layer's matrix is the leftmost factor.")
    b = require_result(_COLLAPSE, "b", result[1], (n_l,), dtype, where,
                       hint="b is a vector of the output size n_L.")
    return A, b


def _collapse_hint_A(weights: Sequence[Array], A: Array) -> Callable:
    def hint(at, expected, got):
        reverse = np.asarray(weights[0], dtype=np.float64)
        try:
            for W in weights[1:]:
                reverse = reverse @ np.asarray(W, dtype=np.float64)
        except ValueError:
            reverse = None
        if reverse is not None and reverse.shape == A.shape and np.allclose(A, reverse):
            return "the first layer acts first: A = W_L ... W_2 W_1 (order matters)."
        return "A is the product of all L weight matrices, the last layer's on the left."
    return hint


def _collapse_hint_b(weights: Sequence[Array], biases: Sequence[Array]) -> Callable:
    def hint(at, expected, got):
        summed = np.sum([np.asarray(b, dtype=np.float64) for b in biases], axis=0)
        row = int(at.get("row", 0))
        if np.isclose(got, summed[row]):
            return "each bias passes through the layers after it: b_1 is multiplied by W_2..."
        return "apply the layers in order: b <- W_l b + b_l."
    return hint


def _check_collapse_case(fn: Callable, weights: list[Array], biases: list[Array]) -> None:
    __tracebackhide__ = True
    A, b = _collapse_result(fn, weights, biases)
    A_exp, b_exp = _probe_stack(weights, biases)
    rtol = rtol_for(A.dtype)
    compare_normwise(_COLLAPSE, "A", A, A_exp, rtol=rtol, hint=_collapse_hint_A(weights, A))
    compare_normwise(_COLLAPSE, "b", b, b_exp, rtol=rtol, hint=_collapse_hint_b(weights, biases))


@reports("A and b match the stack run layer by layer", "collapse_linear_stack")
def check_collapse_linear_stack_values(fn: Callable) -> None:
    """A and b equal the stack read off layer by layer, for three ordinary stacks."""
    __tracebackhide__ = True
    rng = np.random.default_rng(101)
    for sizes in [(3, 3, 3), (4, 5, 3, 2), (2, 6, 6, 4, 3, 5)]:
        _check_collapse_case(fn, *_random_stack(rng, sizes))


@reports("one layer, 12 layers of size 1, a bottleneck, zero biases", "collapse_linear_stack")
def check_collapse_linear_stack_edges(fn: Callable) -> None:
    """One layer; a deep 1x1 stack; a bottleneck; zero biases; inputs left unchanged."""
    __tracebackhide__ = True
    rng = np.random.default_rng(102)
    cases = [
        _random_stack(rng, (4, 3)),                                   # one layer: (W1, b1)
        ([np.array([[0.5]])] * 12, [np.array([1.0])] * 12),           # deep, 1 x 1
        _random_stack(rng, (5, 1, 5)),                                # bottleneck: rank 1
        ([w for w in _random_stack(rng, (3, 4, 2))[0]], [np.zeros(4), np.zeros(2)]),
        _random_stack(rng, (1, 7, 1)),                                # scalar in, scalar out
    ]
    for weights, biases in cases:
        _check_collapse_case(fn, list(weights), list(biases))
    weights, biases = _random_stack(rng, (3, 4, 2))
    before = copy.deepcopy(weights + biases)
    w_list, b_list = list(weights), list(biases)
    call(fn, _COLLAPSE, w_list, b_list, inputs={"weights": Label(_describe_stack(weights))})
    if len(w_list) != 2 or len(b_list) != 2:
        fail(_COLLAPSE, "changed the length of the weights or biases list.",
             f"on {_describe_stack(weights)}",
             hint="read the lists without pop/append; build new arrays.")
    require_unchanged(_COLLAPSE, ["W1", "W2", "b1", "b2"], before, w_list + b_list,
                       _describe_stack(weights))


@reports("new arrays of the right shapes, dtype kept", "collapse_linear_stack")
def check_collapse_linear_stack_dtype(fn: Callable) -> None:
    """A pair of new arrays (n_L, n_0) and (n_L,); float64 and float32 preserved."""
    __tracebackhide__ = True
    rng = np.random.default_rng(103)
    for dtype in (np.float64, np.float32):
        weights, biases = _random_stack(rng, (3, 5, 2), dtype)
        _check_collapse_case(fn, weights, biases)
    weights, biases = _random_stack(rng, (3, 2))
    result = call(fn, _COLLAPSE, weights, biases,
                  inputs={"weights": Label(_describe_stack(weights))})
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(_COLLAPSE, f"returned a {type(result).__name__}, expected a pair (A, b).",
             f"on {_describe_stack(weights)}", hint="end with `return A, b`.")
    A, b = result
    if A is weights[0] or b is biases[0] or np.shares_memory(A, weights[0]) \
            or np.shares_memory(b, biases[0]):
        fail(_COLLAPSE, "returned an input array itself for a one-layer stack.",
             f"on {_describe_stack(weights)}",
             hint="return new arrays (np.array(W, copy=True)), so that changing A later "
                  "cannot change the network's weights.")


def hidden_collapse_linear_stack(fn: Callable, seed: int = 0) -> None:
    """Random stacks of depth 1..8 and widths 1..7 against the reference."""
    __tracebackhide__ = True
    from course_utils.reference import collapse_linear_stack as ref

    rng = np.random.default_rng(seed)
    for _ in range(20):
        depth = int(rng.integers(1, 9))
        sizes = tuple(int(s) for s in rng.integers(1, 8, size=depth + 1))
        weights, biases = _random_stack(rng, sizes)
        A, b = _collapse_result(fn, weights, biases)
        A_ref, b_ref = ref(weights, biases)
        compare_normwise(_COLLAPSE, "A", A, A_ref, rtol=LINALG_RTOL)
        compare_normwise(_COLLAPSE, "b", b, b_ref, rtol=LINALG_RTOL)


def hidden_collapse_linear_stack_edges(fn: Callable) -> None:
    """Rotations composed 40 times, mixed scales, identity layers, float32; vs the reference."""
    __tracebackhide__ = True
    from course_utils.reference import collapse_linear_stack as ref

    theta = 0.1
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    rng = np.random.default_rng(7)
    mixed_w, mixed_b = _random_stack(rng, (3, 3, 3, 3))
    mixed_w = [1e-3 * mixed_w[0], 1e3 * mixed_w[1], mixed_w[2]]
    cases = [
        ([rot] * 40, [np.zeros(2)] * 40),
        (mixed_w, mixed_b),
        ([np.eye(4)] * 5, [np.arange(4.0)] * 5),
        _random_stack(rng, (6, 5, 4, 3, 2, 1)),
        _random_stack(rng, (4, 6, 3), np.float32),
    ]
    for weights, biases in cases:
        A, b = _collapse_result(fn, list(weights), list(biases))
        A_ref, b_ref = ref(list(weights), list(biases))
        compare_normwise(_COLLAPSE, "A", A, A_ref, rtol=rtol_for(A_ref.dtype))
        compare_normwise(_COLLAPSE, "b", b, b_ref, rtol=rtol_for(A_ref.dtype))


# ---------------------------------------------------------------------------------------
# hidden_features
# ---------------------------------------------------------------------------------------

_FEATURES = "hidden_features"


def _sine(z):
    return np.sin(z)


def _square_plus_one(z):
    return z * z + 1


class _Softsign:
    """A callable object (not a function) as sigma: |z| / (1 + |z|) with the sign of z."""

    def __call__(self, z):
        return z / (1 + np.abs(z))


_SIGMAS: dict[str, Callable] = {
    "np.tanh": np.tanh, "relu": _relu, "sin": _sine, "z**2 + 1": _square_plus_one,
}


def _features_expected(x: Array, W1: Array, b1: Array, sigma: Callable) -> Array:
    """Unit j on example n: sigma(sum_k W1[j, k] x[n, k] + b1[j]), summed explicitly."""
    z = np.einsum("nk,jk->nj", x, W1) + b1[None, :]
    return sigma(z)


def _features_hint(x: Array, W1: Array, b1: Array, sigma: Callable, got: Array
                   ) -> str | None:
    z = np.einsum("nk,jk->nj", x, W1)
    candidates = [
        (sigma(z), "b1 is missing: every unit adds its bias before sigma."),
        (sigma(z) + b1, "the bias goes inside sigma: sigma(x W1^T + b1)."),
        (sigma(z - b1), "check the sign of the bias."),
        (np.tanh(z + b1), "use the sigma you are given, not a fixed activation."),
        (_relu(z + b1), "use the sigma you are given, not a fixed activation."),
        (z + b1, "apply sigma to the pre-activations."),
    ]
    for wrong, text in candidates:
        if wrong.shape == got.shape and np.allclose(got, wrong, rtol=1e-6, atol=1e-12):
            return text
    return "H[n, j] is sigma applied to unit j's pre-activation on example n."


def _features_result(fn: Callable, x: Array, W1: Array, b1: Array, sigma: Callable,
                     sigma_name: str) -> Array:
    __tracebackhide__ = True
    where = (f"x of shape {x.shape}, W1 of shape {W1.shape}, b1 of shape {b1.shape}, "
             f"sigma = {sigma_name}")
    H = call(fn, _FEATURES, x.copy(), W1.copy(), b1.copy(), sigma,
             inputs=case_inputs(where))
    return require_result(_FEATURES, "H", H, (x.shape[0], W1.shape[0]),
                          np.result_type(x, W1, b1), where,
                          hint="H has one row per example and one column per hidden unit: "
                               "(N, m); W1 is (m, d).")


def _check_features_case(fn: Callable, x: Array, W1: Array, b1: Array, sigma: Callable,
                         sigma_name: str, expected: Array | None = None) -> None:
    __tracebackhide__ = True
    H = _features_result(fn, x, W1, b1, sigma, sigma_name)
    if expected is None:
        expected = _features_expected(x, W1, b1, sigma)
    compare_normwise(_FEATURES, f"H, sigma = {sigma_name}", H, expected, rtol=rtol_for(H.dtype),
                   hint=lambda at, e, g: _features_hint(x, W1, b1, sigma, H))


@reports("H for 7 examples and 5 units, four sigmas", "hidden_features")
def check_hidden_features_values(fn: Callable) -> None:
    """H on a batch of 7 examples in 3-D, 5 units, for four different sigmas."""
    __tracebackhide__ = True
    rng = np.random.default_rng(201)
    x = rng.standard_normal((7, 3))
    W1 = rng.standard_normal((5, 3))
    b1 = rng.standard_normal(5)
    for sigma_name, sigma in _SIGMAS.items():
        _check_features_case(fn, x, W1, b1, sigma, sigma_name)


@reports("N = m = d = 1, sigma as an object and the identity", "hidden_features")
def check_hidden_features_edges(fn: Callable) -> None:
    """N = 1, m = 1, d = 1; sigma as a callable object and as the identity; inputs unchanged."""
    __tracebackhide__ = True
    rng = np.random.default_rng(202)
    one = np.ones((1, 1))
    _check_features_case(fn, 2.0 * one, 3.0 * one, np.array([-1.0]), _relu, "relu",
                         expected=np.array([[5.0]]))
    x = rng.standard_normal((6, 1))
    _check_features_case(fn, x, rng.standard_normal((1, 1)), rng.standard_normal(1),
                         np.tanh, "np.tanh")
    _check_features_case(fn, rng.standard_normal((1, 4)), rng.standard_normal((9, 4)),
                         rng.standard_normal(9), _Softsign(), "a callable object (softsign)")
    _check_features_case(fn, x, rng.standard_normal((3, 1)), np.zeros(3),
                         lambda z: z, "the identity")
    x, W1, b1 = rng.standard_normal((4, 2)), rng.standard_normal((3, 2)), rng.standard_normal(3)
    before = copy.deepcopy([x, W1, b1])
    call(fn, _FEATURES, x, W1, b1, np.tanh, inputs=case_inputs("x (4, 2), W1 (3, 2), b1 (3,)"))
    require_unchanged(_FEATURES, ["x", "W1", "b1"], before, [x, W1, b1],
                       "x (4, 2), W1 (3, 2), b1 (3,)")


@reports("an (N, m) array, dtype kept", "hidden_features")
def check_hidden_features_dtype(fn: Callable) -> None:
    """H is an (N, m) array in the inputs' dtype (float64 and float32)."""
    __tracebackhide__ = True
    rng = np.random.default_rng(203)
    for dtype in (np.float64, np.float32):
        x = rng.standard_normal((8, 2)).astype(dtype)
        W1 = rng.standard_normal((5, 2)).astype(dtype)
        b1 = rng.standard_normal(5).astype(dtype)
        _check_features_case(fn, x, W1, b1, np.tanh, "np.tanh")


def hidden_hidden_features(fn: Callable, seed: int = 0) -> None:
    """Random sizes and sigmas against the reference."""
    __tracebackhide__ = True
    from course_utils.reference import hidden_features as ref

    rng = np.random.default_rng(seed)
    sigmas = list(_SIGMAS.items()) + [("softsign", _Softsign())]
    for i in range(15):
        N, d, m = (int(s) for s in rng.integers(1, 12, size=3))
        x = 3 * rng.standard_normal((N, d))
        W1, b1 = rng.standard_normal((m, d)), rng.standard_normal(m)
        name, sigma = sigmas[i % len(sigmas)]
        H = _features_result(fn, x, W1, b1, sigma, name)
        compare_normwise(_FEATURES, f"H, sigma = {name}", H, ref(x, W1, b1, sigma),
                       rtol=LINALG_RTOL)


def hidden_hidden_features_edges(fn: Callable) -> None:
    """A wide layer (m = 2000), large pre-activations, a sign sigma at 0, float32."""
    __tracebackhide__ = True
    from course_utils.reference import hidden_features as ref

    rng = np.random.default_rng(9)
    x = np.linspace(-np.pi, np.pi, 50)[:, None]
    cases = [
        (x, 4 * rng.standard_normal((2000, 1)), rng.uniform(-12, 12, 2000), np.tanh, "np.tanh"),
        (1e150 * rng.standard_normal((3, 2)), rng.standard_normal((4, 2)), np.zeros(4),
         np.tanh, "np.tanh"),
        (np.zeros((2, 3)), rng.standard_normal((5, 3)), np.zeros(5), np.sign, "np.sign"),
        (x.astype(np.float32), rng.standard_normal((7, 1)).astype(np.float32),
         rng.standard_normal(7).astype(np.float32), _relu, "relu"),
    ]
    for x_, W1, b1, sigma, name in cases:
        H = _features_result(fn, x_, W1, b1, sigma, name)
        compare_normwise(_FEATURES, f"H, sigma = {name}", H, ref(x_, W1, b1, sigma),
                       rtol=rtol_for(H.dtype))
