r"""Checks of 01_nonlinearity: collapse_linear_stack, hidden_features, fit_output_layer, sup_error.

Every graded function has three visible checks, one per test cell, so that partial work
earns partial credit: ``check_<fn>_values`` (correct values on ordinary inputs),
``check_<fn>_edges`` (edge cases and stability) and ``check_<fn>_dtype`` (types, shapes,
dtypes, inputs left alone). They need no reference: the expected answers are built from the
definitions (running the stack layer by layer; targets ``y = H w + r`` with the residual
``r`` orthogonal to the columns of ``H``, so that the least-squares answer is ``w``).
``hidden_<fn>`` (randomized inputs) and ``hidden_<fn>_edges`` (extremes) compare against
``course_utils.reference``, imported when called.

Tolerances. These are results of linear algebra, not of elementwise formulas: a correct
float64 implementation (a product of a few matrices, an SVD or QR least-squares solve of a
problem with condition number <= 1e6) is accurate to about ``cond * n * eps`` <= 1e-9 of the
result's size, and a wrong one is off by O(1). ``LINALG_RTOL = 1e-8`` sits between, and is
applied norm-wise (``atol = rtol * max|expected|``) because an entry that cancels to nearly 0
has no relative accuracy even when the matrix is exact to the last bit. float32 results are
compared with 1e-4.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from course_utils.checks.engine import (
    Label,
    call,
    compare,
    fail,
    first_changed,
    fmt,
    reports,
    require_array,
)
from course_utils.units import relu as _relu

__all__ = [
    "LINALG_RTOL",
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
    "check_fit_output_layer_values",
    "check_fit_output_layer_edges",
    "check_fit_output_layer_dtype",
    "hidden_fit_output_layer",
    "hidden_fit_output_layer_edges",
    "check_sup_error_values",
    "check_sup_error_edges",
    "check_sup_error_dtype",
    "hidden_sup_error",
    "hidden_sup_error_edges",
]

#: Norm-wise relative tolerance of float64 linear-algebra results (see the module docstring).
LINALG_RTOL = 1e-8
#: The same for float32 results.
LINALG_RTOL32 = 1e-4

Array = np.ndarray


# ---------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------

def _case(text: str) -> dict[str, Label]:
    """``inputs=`` for ``call``: 'on input case = <text>'."""
    return {"case": Label(text)}


def _rtol(dtype: Any) -> float:
    return LINALG_RTOL32 if np.dtype(dtype) == np.float32 else LINALG_RTOL


def _grid_inputs(shape: tuple[int, ...]) -> dict[str, Array]:
    """Index grids naming the position of a mismatch: 'row = 1, col = 0'."""
    if len(shape) == 0:
        return {}
    names = ("row", "col", "k")[: len(shape)]
    return dict(zip(names, np.indices(shape), strict=True))


def _compare_array(name: str, what: str, got: Array, expected: Array, *, rtol: float,
                   hint: str | Callable | None = None) -> None:
    """Norm-wise comparison of a whole array, reporting the first wrong entry."""
    __tracebackhide__ = True
    expected = np.asarray(expected, dtype=np.float64)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    atol = rtol * scale if np.isfinite(scale) and scale > 0 else rtol
    compare(f"{name} ({what})", np.asarray(got, dtype=np.float64), expected,
            inputs=_grid_inputs(expected.shape), rtol=rtol, atol=atol, hint=hint)


#: Hints for a result of the wrong type, shape or dtype (``engine.require_array``).
_ARRAY_HINTS = {
    "type": "build it with NumPy operations (@, np.linalg...).",
    "shape": "check the shape letters in the docstring: W is (n_out, n_in).",
    "dtype": "keep the inputs' float dtype: np.eye, np.zeros and np.array default to "
             "float64 unless you pass dtype=.",
}


def _require_array(name: str, what: str, value: Any, shape: tuple[int, ...], dtype: Any,
                   where: str, hint: str | None = None) -> Array:
    """The result must be an ndarray of this shape and dtype (``hint`` replaces the type
    and shape hints)."""
    __tracebackhide__ = True
    hints = {**_ARRAY_HINTS, **({"type": hint, "shape": hint} if hint else {})}
    return require_array(name, what, value, shape, dtype, where, hints=hints)


def _require_unchanged(name: str, names: Sequence[str], before: Sequence[Array],
                       after: Sequence[Array], where: str) -> None:
    __tracebackhide__ = True
    label = first_changed(names, before, after)
    if label is not None:
        fail(name, f"modified its input {label} in place.", f"on {where}",
             hint="operators like +=, *= and out= write into the input: build a new "
                  "array instead (b = b + ..., not b += ...).")


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
    A = _require_array(_COLLAPSE, "A", result[0], (n_l, n_0), dtype, where,
                       hint="A maps the input to the output: shape (n_L, n_0), so the last "
                            "layer's matrix is the leftmost factor.")
    b = _require_array(_COLLAPSE, "b", result[1], (n_l,), dtype, where,
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
    rtol = _rtol(A.dtype)
    _compare_array(_COLLAPSE, "A", A, A_exp, rtol=rtol, hint=_collapse_hint_A(weights, A))
    _compare_array(_COLLAPSE, "b", b, b_exp, rtol=rtol, hint=_collapse_hint_b(weights, biases))


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
    _require_unchanged(_COLLAPSE, ["W1", "W2", "b1", "b2"], before, w_list + b_list,
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
        _compare_array(_COLLAPSE, "A", A, A_ref, rtol=LINALG_RTOL)
        _compare_array(_COLLAPSE, "b", b, b_ref, rtol=LINALG_RTOL)


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
        _compare_array(_COLLAPSE, "A", A, A_ref, rtol=_rtol(A_ref.dtype))
        _compare_array(_COLLAPSE, "b", b, b_ref, rtol=_rtol(A_ref.dtype))


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
             inputs=_case(where))
    return _require_array(_FEATURES, "H", H, (x.shape[0], W1.shape[0]),
                          np.result_type(x, W1, b1), where,
                          hint="H has one row per example and one column per hidden unit: "
                               "(N, m); W1 is (m, d).")


def _check_features_case(fn: Callable, x: Array, W1: Array, b1: Array, sigma: Callable,
                         sigma_name: str, expected: Array | None = None) -> None:
    __tracebackhide__ = True
    H = _features_result(fn, x, W1, b1, sigma, sigma_name)
    if expected is None:
        expected = _features_expected(x, W1, b1, sigma)
    _compare_array(_FEATURES, f"H, sigma = {sigma_name}", H, expected, rtol=_rtol(H.dtype),
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
    call(fn, _FEATURES, x, W1, b1, np.tanh, inputs=_case("x (4, 2), W1 (3, 2), b1 (3,)"))
    _require_unchanged(_FEATURES, ["x", "W1", "b1"], before, [x, W1, b1],
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
        _compare_array(_FEATURES, f"H, sigma = {name}", H, ref(x, W1, b1, sigma),
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
        _compare_array(_FEATURES, f"H, sigma = {name}", H, ref(x_, W1, b1, sigma),
                       rtol=_rtol(H.dtype))


# ---------------------------------------------------------------------------------------
# fit_output_layer
# ---------------------------------------------------------------------------------------

_FIT = "fit_output_layer"


def _orthogonal_residual(rng: np.random.Generator, H: Array, shape: tuple[int, ...],
                         size: float) -> Array:
    """Random noise of the given shape projected onto the orthogonal complement of col(H)."""
    Q, s, _ = np.linalg.svd(H, full_matrices=False)
    Q = Q[:, s > s[0] * 1e-12]
    e = rng.standard_normal(shape)
    return size * (e - Q @ (Q.T @ e))


def _fit_problem(rng: np.random.Generator, N: int, m: int, D: int | None, *,
                 rank: int | None = None, cond: float = 10.0, residual: float = 0.5,
                 dtype: Any = np.float64) -> tuple[Array, Array, Array]:
    """H (N, m) with given rank/condition, w (m,)/(m, D), y = H w + r with r orthogonal."""
    rank = min(N, m) if rank is None else rank
    U, _ = np.linalg.qr(rng.standard_normal((N, rank)))
    V, _ = np.linalg.qr(rng.standard_normal((m, rank)))
    s = np.geomspace(1.0, 1.0 / cond, rank)
    H = (U * s) @ V.T
    w_shape = (m,) if D is None else (m, D)
    w = V @ (V.T @ rng.standard_normal(w_shape))  # in the row space: the min-norm solution
    y = H @ w + _orthogonal_residual(rng, H, (N,) if D is None else (N, D), residual)
    return H.astype(dtype), w.astype(dtype), y.astype(dtype)


def _fit_result(fn: Callable, H: Array, y: Array, where: str) -> Array:
    __tracebackhide__ = True
    W2 = call(fn, _FIT, H.copy(), y.copy(), inputs=_case(where))
    shape = (H.shape[1],) + y.shape[1:]
    return _require_array(_FIT, "W2", W2, shape, np.result_type(H, y), where,
                          hint="W2 has one row per hidden unit: (m,) for y of shape (N,), "
                               "(m, D) for y of shape (N, D).")


def _fit_hint(at, expected, got) -> str:
    return ("the least-squares W2 makes the residual y - H @ W2 orthogonal to every column "
            "of H; np.linalg has a solver for exactly this.")


def _check_fit_case(fn: Callable, H: Array, w: Array, y: Array, what: str, *,
                    predictions_only: bool = False, rtol: float | None = None) -> None:
    """Compare W2 with w, or (rank-deficient H, many solutions) H @ W2 with H @ w."""
    __tracebackhide__ = True
    where = f"{what}: H of shape {H.shape}, y of shape {y.shape}"
    W2 = _fit_result(fn, H, y, where)
    rtol = _rtol(W2.dtype) if rtol is None else rtol
    H64 = H.astype(np.float64)
    if predictions_only:
        _compare_array(_FIT, f"predictions H @ W2, {what}", H64 @ W2.astype(np.float64),
                       H64 @ w.astype(np.float64), rtol=rtol,
                       hint="any least-squares solution is accepted here, but not one that "
                            "ignores part of y or breaks down when H has dependent columns.")
    else:
        _compare_array(_FIT, f"W2, {what}", W2, w, rtol=rtol, hint=_fit_hint)


@reports("tall and square problems, one and three outputs", "fit_output_layer")
def check_fit_output_layer_values(fn: Callable) -> None:
    """Overdetermined full-rank problems whose least-squares answer is known exactly."""
    __tracebackhide__ = True
    rng = np.random.default_rng(301)
    _check_fit_case(fn, *_fit_problem(rng, 40, 6, None), "a tall H")
    _check_fit_case(fn, *_fit_problem(rng, 40, 6, 3), "three outputs")
    _check_fit_case(fn, *_fit_problem(rng, 12, 12, None, residual=0.0), "a square H")


@reports("repeated units, rank-deficient, more units than points", "fit_output_layer")
def check_fit_output_layer_edges(fn: Callable) -> None:
    """Rank-deficient H, more units than examples, an ill-conditioned H; inputs unchanged."""
    __tracebackhide__ = True
    rng = np.random.default_rng(302)
    H, w, y = _fit_problem(rng, 30, 8, None)
    H_dup = np.hstack([H, H[:, :3]])                      # repeated hidden units
    _check_fit_case(fn, H_dup, np.concatenate([w, np.zeros(3)]), y, "repeated columns",
                    predictions_only=True)
    _check_fit_case(fn, *_fit_problem(rng, 40, 10, None, rank=3), "H of rank 3 (like z**2)",
                    predictions_only=True)
    H, w, y = _fit_problem(rng, 10, 25, None)             # underdetermined: interpolates
    _check_fit_case(fn, H, w, y, "more units than examples", predictions_only=True)
    _check_fit_case(fn, *_fit_problem(rng, 50, 8, None, cond=1e6, residual=0.0),
                    "an ill-conditioned H (condition number 1e6)")
    H, _, y = _fit_problem(rng, 20, 4, 2)
    before = copy.deepcopy([H, y])
    call(fn, _FIT, H, y, inputs=_case("H (20, 4), y (20, 2)"))
    _require_unchanged(_FIT, ["H", "y"], before, [H, y], "H (20, 4), y (20, 2)")


@reports("W2 shaped like y, dtype kept", "fit_output_layer")
def check_fit_output_layer_dtype(fn: Callable) -> None:
    """W2 is (m,) for y (N,), (m, D) for y (N, D), (m, 1) for y (N, 1); dtype preserved."""
    __tracebackhide__ = True
    rng = np.random.default_rng(303)
    _check_fit_case(fn, *_fit_problem(rng, 15, 4, None), "y of shape (N,)")
    _check_fit_case(fn, *_fit_problem(rng, 15, 4, 1), "y of shape (N, 1)")
    _check_fit_case(fn, *_fit_problem(rng, 15, 4, 5), "y of shape (N, 5)")
    _check_fit_case(fn, *_fit_problem(rng, 15, 4, None, dtype=np.float32), "float32 H and y")


def hidden_fit_output_layer(fn: Callable, seed: int = 0) -> None:
    """Random problems (tall, wide, rank-deficient) against the reference's predictions."""
    __tracebackhide__ = True
    from course_utils.reference import fit_output_layer as ref

    rng = np.random.default_rng(seed)
    for _ in range(12):
        N, m = (int(s) for s in rng.integers(1, 40, size=2))
        D = None if rng.uniform() < 0.5 else int(rng.integers(1, 4))
        y = rng.standard_normal((N,) if D is None else (N, D))
        H = rng.standard_normal((N, m))
        if rng.uniform() < 0.3 and m > 2:
            H[:, -1] = H[:, 0] - H[:, 1]                  # a dependent column
        W2 = _fit_result(fn, H, y, f"H of shape {H.shape}, y of shape {y.shape}")
        _compare_array(_FIT, "predictions H @ W2", H @ W2, H @ ref(H, y), rtol=LINALG_RTOL,
                       hint=_fit_hint)


def hidden_fit_output_layer_edges(fn: Callable) -> None:
    """Huge and tiny scales (normal equations overflow), z**2 features, one example."""
    __tracebackhide__ = True
    from course_utils.reference import fit_output_layer as ref
    from course_utils.reference import hidden_features

    rng = np.random.default_rng(11)
    H, _, y = _fit_problem(rng, 30, 5, None)
    x = np.linspace(-np.pi, np.pi, 200)[:, None]
    H_sq = hidden_features(x, 4 * rng.standard_normal((50, 1)), rng.uniform(-12, 12, 50),
                           np.square)
    cases = [
        (1e160 * H, y, "H scaled by 1e160"),
        (1e-160 * H, y, "H scaled by 1e-160"),
        (H_sq, np.abs(x[:, 0]), "50 z**2 features on 200 points"),
        (rng.standard_normal((1, 6)), np.array([2.0]), "a single example"),
    ]
    for H_, y_, what in cases:
        W2 = _fit_result(fn, H_, y_, f"{what}: H of shape {H_.shape}")
        _compare_array(_FIT, f"predictions H @ W2, {what}", H_ @ W2, H_ @ ref(H_, y_),
                       rtol=LINALG_RTOL, hint="forming H.T @ H squares the scale and the "
                       "condition number: a solver working on H itself avoids both.")


# ---------------------------------------------------------------------------------------
# sup_error
# ---------------------------------------------------------------------------------------

_SUP = "sup_error"


def _sup_result(fn: Callable, f: Callable, g: Callable, xs: Array, what: str) -> float:
    __tracebackhide__ = True
    value = call(fn, _SUP, f, g, xs.copy(), inputs=_case(what))
    if isinstance(value, np.ndarray) or not isinstance(value, (float, np.floating)):
        fail(_SUP, f"returned a {type(value).__name__}, expected a float.", f"on {what}",
             hint="convert the final number with float(...).")
    return float(value)


def _check_sup_case(fn: Callable, f: Callable, g: Callable, xs: Array, expected: float,
                    what: str, hint: str) -> None:
    __tracebackhide__ = True
    got = _sup_result(fn, f, g, xs, what)
    same = (np.isnan(expected) and np.isnan(got)) or got == expected or (
        np.isfinite(got) and np.isfinite(expected)
        and abs(got - expected) <= LINALG_RTOL * abs(expected))
    if not same:
        fail(_SUP, f"wrong value for {what} (rtol={LINALG_RTOL:g}).",
             f"expected {fmt(expected)}, got {fmt(got)}", hint=hint)


_SUP_HINT = "the largest distance |f(x) - g(x)| over the grid, whichever function is larger."


@reports("scalar and vector outputs", "sup_error")
def check_sup_error_values(fn: Callable) -> None:
    """Scalar and vector outputs, the largest gap where f < g, on several grids."""
    __tracebackhide__ = True
    xs = np.linspace(-np.pi, np.pi, 101)
    # f - g = sin(x) - 0.3 x: largest |.| at x = +-pi, where f - g = -+0.3 pi (sign both ways)
    _check_sup_case(fn, np.sin, lambda x: 0.3 * x, xs, 0.3 * np.pi,
                    "f = sin, g(x) = 0.3 x on 101 points of [-pi, pi]", _SUP_HINT)
    # g above f everywhere: f - g < 0, largest gap 2.5 at x = 0
    _check_sup_case(fn, lambda x: -2.5 * np.exp(-x**2), lambda x: np.zeros_like(x), xs[::2],
                    2.5, "f(x) = -2.5 exp(-x**2), g = 0 (g > f)", _SUP_HINT)
    grid = np.linspace(0, 1, 11)
    _check_sup_case(fn, lambda x: np.stack([x, 2 * x], axis=1),
                    lambda x: np.zeros((len(x), 2)), grid, np.sqrt(5.0),
                    "vector outputs f(x) = (x, 2x), g = 0 on [0, 1]",
                    "for vector outputs, take the Euclidean norm at each point, then the max "
                    "over points.")
    # per-point norm, not the max component: at x = 1 the gap is (3, 4), norm 5
    _check_sup_case(fn, lambda x: np.stack([3 * x, -4 * x], axis=1),
                    lambda x: np.zeros((len(x), 2)), grid, 5.0,
                    "vector outputs f(x) = (3x, -4x), g = 0 on [0, 1]",
                    "for vector outputs, take the Euclidean norm at each point, then the max "
                    "over points.")


@reports("f = g, one point, a 2-D grid, nan propagates", "sup_error")
def check_sup_error_edges(fn: Callable) -> None:
    """f = g gives 0; one grid point; a 2-D grid; nan propagates; the given grid is used."""
    __tracebackhide__ = True
    xs = np.linspace(-1, 1, 21)
    _check_sup_case(fn, np.cos, np.cos, xs, 0.0, "f = g = cos", "equal functions are 0 apart.")
    _check_sup_case(fn, np.exp, lambda x: np.zeros_like(x), np.array([0.5]),
                    np.exp(0.5), "a grid of one point x = 0.5", _SUP_HINT)
    pts = np.array([[0.0, 0.0], [1.0, 2.0], [-1.0, 3.0]])
    _check_sup_case(fn, lambda p: p[:, 0] * p[:, 1], lambda p: np.zeros(len(p)), pts,
                    3.0, "a grid of 3 points in 2-D, f(x) = x1 * x2", _SUP_HINT)

    def f_nan(x):
        out = np.abs(x)
        out[3] = np.nan
        return out

    _check_sup_case(fn, f_nan, np.abs, xs, np.nan, "f equal to g except f = nan at one point",
                    "a nan in f or g must show in the error (np.max propagates nan; "
                    "Python's max and np.nanmax do not).")
    seen = []

    def f_spy(x):
        seen.append(np.array(x, copy=True))
        return 2 * np.asarray(x)

    grid = np.array([0.25, 0.5, 4.0])
    _check_sup_case(fn, f_spy, lambda x: np.asarray(x), grid, 4.0,
                    "f(x) = 2x, g(x) = x on the grid [0.25, 0.5, 4.0]",
                    "evaluate f and g on the grid xs you are given.")
    if not any(s.shape == grid.shape and np.array_equal(s, grid) for s in seen):
        fail(_SUP, "did not evaluate f on the grid xs it was given.",
             "on f(x) = 2x, g(x) = x, xs = [0.25, 0.5, 4.0]",
             hint="call f(xs) and g(xs) with the xs argument.")
    before = grid.copy()
    call(fn, _SUP, np.sin, np.cos, grid, inputs=_case("f = sin, g = cos"))
    _require_unchanged(_SUP, ["xs"], [before], [grid], "f = sin, g = cos")


@reports("a Python float", "sup_error")
def check_sup_error_dtype(fn: Callable) -> None:
    """A Python float, also for float32 values and for (N, 1) outputs."""
    __tracebackhide__ = True
    xs = np.linspace(0, 2, 9)
    _check_sup_case(fn, lambda x: x.astype(np.float32), lambda x: np.zeros(len(x), np.float32),
                    xs, 2.0, "float32 values f(x) = x on [0, 2]", _SUP_HINT)
    _check_sup_case(fn, lambda x: -x[:, None], lambda x: np.zeros((len(x), 1)), xs, 2.0,
                    "outputs of shape (N, 1), f(x) = -x", _SUP_HINT)
    _sup_result(fn, np.sin, np.cos, xs, "f = sin, g = cos")


def hidden_sup_error(fn: Callable, seed: int = 0) -> None:
    """Random smooth functions, scalar and vector, on random grids against the reference."""
    __tracebackhide__ = True
    from course_utils.reference import sup_error as ref

    rng = np.random.default_rng(seed)
    for i in range(12):
        N = int(rng.integers(1, 200))
        xs = np.sort(rng.uniform(-5, 5, N))
        c = rng.standard_normal(4)
        D = None if i % 2 == 0 else int(rng.integers(1, 4))

        def f(x, c=c, D=D):
            base = c[0] * np.sin(c[1] * x) + c[2] * x
            return base if D is None else np.stack([base * (k + 1) for k in range(D)], 1)

        def g(x, c=c, D=D):
            base = c[3] * x**2
            return base if D is None else np.stack([base] * D, 1)

        _check_sup_case(fn, f, g, xs, ref(f, g, xs), f"random functions on {N} points",
                        _SUP_HINT)


def hidden_sup_error_edges(fn: Callable) -> None:
    """Huge values, inf against finite, nan in g, many points, against the reference."""
    __tracebackhide__ = True
    from course_utils.reference import sup_error as ref

    xs = np.linspace(-1, 1, 100_001)
    cases = [
        (lambda x: 1e300 * x, lambda x: -1e300 * x, xs, "f = 1e300 x, g = -1e300 x"),
        (lambda x: np.where(x > 0.5, np.inf, 0.0), lambda x: np.zeros_like(x), xs,
         "f = inf for x > 0.5"),
        (np.sin, lambda x: np.where(x < -0.9, np.nan, np.sin(x)), xs, "g = nan for x < -0.9"),
        (np.exp, np.cosh, xs, "f = exp, g = cosh on 100001 points"),
    ]
    for f, g, grid, what in cases:
        _check_sup_case(fn, f, g, grid, ref(f, g, grid), what, _SUP_HINT)
