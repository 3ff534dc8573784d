r"""Checks of 04_numerical_stability's "change z": ``layer_norm_forward`` and
``layer_norm_backward`` (conventions of ``course_utils.reference.backprop``).

    layer_norm_forward(z, gamma, beta, eps=1e-5) -> (out, cache)     z (N, D), gamma, beta (D,)
    layer_norm_backward(cache, upstream) -> (dz, dgamma, dbeta)

Visible checks compare with the fixture below (computed once with the reference; no import
of it), with properties any layer normalisation has (a shift of a row changes nothing), and
the backward with central differences of the learner's own forward. Hidden checks compare
with the reference (itself checked against ``torch.autograd`` by the tests) on random
shapes, scales, offsets and eps. As for the MLP, the checks never look inside the cache: it
goes from the learner's forward to the learner's backward untouched.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from course_utils.checks.engine import (
    Label,
    call,
    central_differences,
    compare,
    fail,
    reports,
    require_array,
    require_same_again,
    require_unchanged,
)

__all__ = [
    "check_layer_norm_forward",
    "check_layer_norm_forward_shape",
    "hidden_layer_norm_forward",
    "check_layer_norm_backward",
    "check_layer_norm_backward_shape",
    "hidden_layer_norm_backward",
]

RTOL = 1e-6
ATOL = 1e-12
FWD, BWD = "layer_norm_forward", "layer_norm_backward"

# --------------------------------------------------------------------------------------
# The fixture: three examples of four features; the last row is constant.

LN_Z = np.array([[1.0, 2.0, 4.0, -3.0], [0.5, 0.5, -1.5, 2.5], [10.0, 10.0, 10.0, 10.0]])
LN_GAMMA = np.array([1.5, -0.5, 2.0, 1.0])
LN_BETA = np.array([0.1, 0.0, -0.2, 0.3])
LN_UPSTREAM = np.array([[1.0, -2.0, 0.5, 0.25], [0.0, 1.0, -1.0, 3.0], [2.0, -1.0, 0.5, 1.0]])
LN_OUT = np.array([[0.1, -0.19611598427979263, 2.1533918113575115, -1.268927874238341],
                   [0.1, 0.0, -3.028420053704895, 1.7142100268524474], [0.1, 0.0, -0.2, 0.3]])
LN_DZ = np.array([
    [0.2206304823147667, -0.02074296717195468, -0.1112578975858122, -0.08862961755699982],
    [-0.08838812667827796, -0.4419406333913898, 0.26515554126636, 0.2651732188033078],
    [513.8701197773617, -276.69929526473317, -118.58541225631421, -118.58541225631421]])
LN_DGAMMA = np.array([0.0, -0.7844639371191705, 2.0025579796918254, 3.850398111997757])
LN_DBETA = np.array([3.0, -2.0, 0.0, 4.25])

# The fixture's answer under the usual mistakes, to name them (same inputs).
OUT_MISTAKES = {
    "normalise each example (a row) over its D features, axis=1, not each feature over the "
    "batch.": np.array([
        [-0.8735942686475268, 0.2597921745670508, -0.2709773280081914, -0.8573806032723068],
        [-1.0454050219382665, 0.4396482954211628, -2.6132291522785045, 0.1748777726192101],
        [2.2189992905857934, -0.6994404699882134, 2.284206480286695, 1.582502830653097]]),
    "the variance divides by D (the biased estimate, as torch's layer_norm), not D - 1.":
        np.array([[0.1, -0.1698414571362616, 1.8380974856351389, -1.0587316570900926],
                  [0.1, 0.0, -2.649485150002828, 1.5247425750014139], [0.1, 0.0, -0.2, 0.3]]),
    "eps goes inside the square root: (z - mean) / sqrt(var + eps).": np.array([
        [0.1, -0.19611536591043197, 2.1533843909251833, -1.2689229272834557],
        [0.1, 0.0, -3.02840712488761, 1.714203562443805], [0.1, 0.0, -0.2, 0.3]]),
}
DZ_MISTAKES = {
    "dz misses the term of the mean: every z of a row moves its mean, so subtract the row "
    "mean of g = upstream * gamma.": np.array([
        [0.5883479528393779, 0.34697450335265645, 0.256459572938799, 0.27908785296761135],
        [0.0, -0.35355250671311184, 0.35354366794463793, 0.35356134548158574],
        [948.6832980505137, 158.11388300841895, 316.2277660168379, 316.2277660168379]]),
    "dz misses the term of the variance: subtract zhat * (row mean of g * zhat) too.":
        np.array([
            [0.2206304823147667, 0.02451449803497408, 0.02451449803497408, -0.2696594783847149],
            [-0.08838812667827796, -0.4419406333913898, -1.5025981535307253, 2.032926913600393],
            [513.8701197773617, -276.69929526473317, -118.58541225631421,
             -118.58541225631421]]),
    "dz flows through gamma first: use g = upstream * gamma in place of upstream.": np.array([
        [0.41674646659455933, -0.7373207064807321, 0.28851668012515985, 0.03205755976101289],
        [-0.5303287600696678, 0.17677625335655592, 0.17676918234177685, 0.17678332437133498],
        [434.8131782731521, -513.8701197773617, -39.52847075210474, 118.58541225631421]]),
}
_FORWARD_HINT = ("out = gamma * (z - mean) / sqrt(var + eps) + beta, with the mean and the "
                 "variance of each row.")
_BACKWARD_HINT = ("dz = (g - mean(g) - zhat * mean(g * zhat)) / sqrt(var + eps) with "
                  "g = upstream * gamma and row means; dgamma and dbeta sum over the batch.")


# --------------------------------------------------------------------------------------
# Helpers.

def _where(z, eps=1e-5) -> str:
    n, d = z.shape
    extra = "" if eps == 1e-5 else f", eps = {eps:g}"
    return f"z of shape ({n}, {d}){extra}"


def _grid(shape, where, rows="example", cols="feature"):
    """inputs= for compare(): the case, then the row and column of a 2-D result."""
    return {"input": Label(where), rows: np.arange(shape[0])[:, None],
            cols: np.arange(shape[1])[None, :]}


def _array(name, value, shape, what, where):
    __tracebackhide__ = True
    return require_array(name, what, value, shape, np.float64, f"input {where}", hints={
        "type": "build it with NumPy operations (mean, sqrt, ...).",
        "shape": "z is (N, D), one example per row; gamma and beta have one entry per feature."})


def _forward(fn, z, gamma, beta, eps, where, *, copies=True):
    """Call the learner's forward (on copies of the inputs, unless ``copies`` is False);
    return (out, cache) after checking the pair and out."""
    __tracebackhide__ = True
    kwargs = {} if eps == 1e-5 else {"eps": eps}
    args = (z.copy(), gamma.copy(), beta.copy()) if copies else (z, gamma, beta)
    got = call(fn, FWD, *args, inputs={"input": where}, **kwargs)
    if not isinstance(got, tuple) or len(got) != 2:
        fail(FWD, f"returned a {type(got).__name__}, expected a pair (out, cache).",
             f"on input {where}", hint="end with `return out, cache`.")
    _array(FWD, got[0], z.shape, "out", where)
    return got


def _backward(fn, cache, upstream, shape, where):
    """Call the learner's backward; return (dz, dgamma, dbeta) after checking them."""
    __tracebackhide__ = True
    got = call(fn, BWD, cache, upstream, inputs={"input": where})
    if not isinstance(got, tuple) or len(got) != 3:
        fail(BWD, f"returned a {type(got).__name__}, expected three arrays "
             "(dz, dgamma, dbeta).", f"on input {where}",
             hint="end with `return dz, dgamma, dbeta`.")
    dz, dgamma, dbeta = got
    _array(BWD, dz, shape, "dz", where)
    _array(BWD, dgamma, shape[1:], "dgamma", where)
    _array(BWD, dbeta, shape[1:], "dbeta", where)
    return dz, dgamma, dbeta


def _named(got, mistakes, default):
    for hint, wrong in mistakes.items():
        if got.shape == wrong.shape and np.allclose(got, wrong, rtol=1e-9, atol=1e-12):
            return hint
    return default


def _compare_grads(grads, expected, where, *, rtol, atol, source="", hint=_BACKWARD_HINT):
    __tracebackhide__ = True
    dz, dgamma, dbeta = grads
    n = dz.shape[0]
    for label, got, want in (("dgamma", dgamma, expected[1]), ("dbeta", dbeta, expected[2])):
        own = hint
        if n > 1 and np.allclose(got * n, want, rtol=1e-9, atol=1e-12):
            own = f"{label} sums over the batch (axis 0): do not average over N."
        compare(BWD, got, want, inputs={"input": Label(where),
                                         f"{label}, feature": np.arange(got.size)},
                rtol=rtol, atol=atol, hint=source + own)
    compare(BWD, dz, expected[0], inputs=_grid(dz.shape, where, "dz row", "feature"),
            rtol=rtol, atol=atol, hint=source + hint)


# --------------------------------------------------------------------------------------
# layer_norm_forward

@reports("the fixture, a shifted and a scaled copy, a constant row", FWD)
def check_layer_norm_forward(layer_norm_forward: Callable) -> None:
    """Values on the fixture; shifting a row by 1e8 changes nothing; neither does scaling
    it (up to eps); a constant row gives beta."""
    __tracebackhide__ = True
    where = _where(LN_Z)
    out, _ = _forward(layer_norm_forward, LN_Z, LN_GAMMA, LN_BETA, 1e-5, where)
    compare(FWD, out, LN_OUT, inputs=_grid(LN_OUT.shape, where), rtol=RTOL, atol=ATOL,
            hint=_named(out, OUT_MISTAKES, _FORWARD_HINT))
    rng = np.random.default_rng(3)
    z = rng.standard_normal((4, 6))
    gamma, beta = np.ones(6), np.zeros(6)
    base, _ = _forward(layer_norm_forward, z, gamma, beta, 1e-5, _where(z))
    shifted = z + 1e8
    where = f"{_where(z)}, every entry shifted by 1e8"
    out, _ = _forward(layer_norm_forward, shifted, gamma, beta, 1e-5, where)
    compare(FWD, out, base, inputs=_grid(z.shape, where), rtol=1e-6, atol=1e-6,
            hint="a shift of a row does not change its normalised values: compute the "
                 "variance as the mean of (z - mean)**2; E[z**2] - E[z]**2 cancels "
                 "catastrophically when the mean is large.")
    where = f"{_where(z)}, scaled by 1000"
    out, _ = _forward(layer_norm_forward, 1000.0 * z, gamma, beta, 1e-5, where)
    compare(FWD, out, base, inputs=_grid(z.shape, where), rtol=1e-4, atol=1e-6,
            hint="scaling a row does not change its normalised values (up to eps).")


@reports("N = 1, D = 1, other eps, float64, inputs untouched", FWD)
def check_layer_norm_forward_shape(layer_norm_forward: Callable) -> None:
    """Shapes (1, 5), (4, 1), (3, 7); eps as given; a new float64 array; inputs unchanged."""
    __tracebackhide__ = True
    rng = np.random.default_rng(4)
    for shape, eps in (((1, 5), 1e-5), ((4, 1), 1e-5), ((3, 7), 0.5)):
        z, gamma, beta = (rng.standard_normal(shape), rng.standard_normal(shape[1]),
                          rng.standard_normal(shape[1]))
        where = _where(z, eps)
        saved = copy.deepcopy((z, gamma, beta))
        out, _ = _forward(layer_norm_forward, z, gamma, beta, eps, where, copies=False)
        require_unchanged(FWD, ["z", "gamma", "beta"], saved, (z, gamma, beta),
                          f"input {where}", hint="compute new arrays rather than `-=` or `/=` "
                                                 "on z.")
        if any(np.shares_memory(out, a) for a in (z, gamma, beta)):
            fail(FWD, "returned an input array (or a view of one) as out.", f"on input {where}")
        if shape[1] == 1:
            compare(FWD, out, np.broadcast_to(beta, shape), inputs=_grid(shape, where), rtol=RTOL,
                    atol=ATOL, hint="with one feature, z - mean is 0: out is beta.")
    # eps as given: rows (1, -1) and (3, -3) have variance 1 and 9, so with eps = 0.5 they
    # normalise to +-1/sqrt(1.5) and +-3/sqrt(9.5).
    z = np.array([[1.0, -1.0], [3.0, -3.0]])
    where = _where(z, 0.5)
    out, _ = _forward(layer_norm_forward, z, np.ones(2), np.zeros(2), 0.5, where)
    a, b = 0.816496580927726, 0.9733285267845753
    compare(FWD, out, np.array([[a, -a], [b, -b]]), inputs=_grid(z.shape, where), rtol=RTOL,
            atol=ATOL, hint="use the eps you are given (a keyword argument), not 1e-5.")


def hidden_layer_norm_forward(layer_norm_forward: Callable, seed: int = 0) -> None:
    """Random shapes, scales, offsets up to 1e8 and eps against the reference."""
    __tracebackhide__ = True
    from course_utils.reference import layer_norm_forward as ref

    rng = np.random.default_rng(seed)
    for trial in range(12):
        shape = (int(rng.integers(1, 7)), int(rng.integers(1, 9)))
        offset = [0.0, 1e4, -1e8][trial % 3]
        # Offsets only with spreads of 1 or more: a spread far below the offset's own
        # rounding (1e-8 at 1e8) is not well defined, and correct codes would differ.
        scale = 10.0 ** (rng.uniform(-3, 3) if offset == 0 else rng.uniform(0, 3))
        eps = [1e-5, 1e-3, 0.1][(trial // 3) % 3]
        z = offset + scale * rng.standard_normal(shape)
        gamma, beta = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
        where = f"{_where(z, eps)}, entries near {offset:g}"
        out, _ = _forward(layer_norm_forward, z, gamma, beta, eps, where)
        compare(FWD, out, ref(z, gamma, beta, eps)[0], inputs=_grid(shape, where), rtol=1e-6,
                atol=1e-7, hint=_FORWARD_HINT)


# --------------------------------------------------------------------------------------
# layer_norm_backward

def _central_differences(fn, z, gamma, beta, upstream, where):
    """dL/dz, dL/dgamma, dL/dbeta of L = sum(upstream * fn(z, gamma, beta)[0])."""
    __tracebackhide__ = True
    arrays = [z.copy(), gamma.copy(), beta.copy()]

    def loss():
        out, _ = _forward(fn, *arrays, 1e-5, where)
        return float(np.sum(upstream * out))

    return central_differences(loss, arrays)


@reports("gradients against the fixture and central differences", BWD)
def check_layer_norm_backward(layer_norm_backward: Callable,
                              layer_norm_forward: Callable) -> None:
    """dz, dgamma, dbeta on the fixture, then against central differences of your forward."""
    __tracebackhide__ = True
    where = _where(LN_Z)
    _, cache = _forward(layer_norm_forward, LN_Z, LN_GAMMA, LN_BETA, 1e-5, where)
    grads = _backward(layer_norm_backward, cache, LN_UPSTREAM.copy(), LN_Z.shape, where)
    _compare_grads(grads, (LN_DZ, LN_DGAMMA, LN_DBETA), where, rtol=RTOL, atol=1e-10,
                   hint=_named(grads[0], DZ_MISTAKES, _BACKWARD_HINT))
    rng = np.random.default_rng(22)
    for shape in ((3, 5), (2, 2)):
        z, gamma, beta = (rng.standard_normal(shape), rng.standard_normal(shape[1]),
                          rng.standard_normal(shape[1]))
        upstream = rng.standard_normal(shape)
        where = _where(z)
        expected = _central_differences(layer_norm_forward, z, gamma, beta, upstream, where)
        _, cache = _forward(layer_norm_forward, z, gamma, beta, 1e-5, where)
        grads = _backward(layer_norm_backward, cache, upstream.copy(), shape, where)
        _compare_grads(grads, expected, where, rtol=1e-5, atol=1e-7,
                       source="against central differences of your layer_norm_forward: ")


@reports("dz shaped like z, dgamma and dbeta like gamma, inputs untouched", BWD)
def check_layer_norm_backward_shape(layer_norm_backward: Callable,
                                    layer_norm_forward: Callable) -> None:
    """Shapes for N = 1 and D = 1; cache and upstream left untouched; the same twice."""
    __tracebackhide__ = True
    rng = np.random.default_rng(14)
    for shape in ((1, 4), (5, 1), (3, 6)):
        z, gamma, beta = (rng.standard_normal(shape), rng.standard_normal(shape[1]),
                          rng.standard_normal(shape[1]))
        where = _where(z)
        _, cache = _forward(layer_norm_forward, z, gamma, beta, 1e-5, where)
        upstream = rng.standard_normal(shape)
        saved = copy.deepcopy((cache, upstream))
        first = _backward(layer_norm_backward, cache, upstream, shape, where)
        require_unchanged(BWD, ["cache", "upstream"], saved, (cache, upstream),
                          f"input {where}", hint="compute new arrays rather than `*=` or `-=` "
                                                 "on what you were given.")
        again = _backward(layer_norm_backward, cache, upstream, shape, where)
        require_same_again(BWD, first, again, f"input {where}", "cache",
                           hint="does it change the cache while it runs?")


def hidden_layer_norm_backward(layer_norm_backward: Callable, layer_norm_forward: Callable,
                               seed: int = 0) -> None:
    """Random shapes, scales and eps against the reference."""
    __tracebackhide__ = True
    from course_utils.reference import layer_norm_backward as ref_backward
    from course_utils.reference import layer_norm_forward as ref_forward

    rng = np.random.default_rng(seed)
    for trial in range(12):
        shape = (int(rng.integers(1, 7)), int(rng.integers(1, 9)))
        eps = [1e-5, 1e-3, 0.1][trial % 3]
        z = float(rng.uniform(-5, 5)) + 10.0 ** rng.uniform(-2, 2) * rng.standard_normal(shape)
        gamma, beta = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
        upstream = rng.standard_normal(shape)
        where = _where(z, eps)
        _, ref_cache = ref_forward(z.copy(), gamma.copy(), beta.copy(), eps)
        expected = ref_backward(ref_cache, upstream.copy())
        _, cache = _forward(layer_norm_forward, z, gamma, beta, eps, where)
        grads = _backward(layer_norm_backward, cache, upstream.copy(), shape, where)
        scale = max(1.0, float(np.abs(expected[0]).max()))
        _compare_grads(grads, expected, where, rtol=1e-6, atol=1e-9 * scale,
                       source="against the reference: ")
