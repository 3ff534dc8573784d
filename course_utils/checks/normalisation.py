r"""Checks of 04_numerical_stability's "change z": ``layer_norm_forward`` and
``layer_norm_backward``, one row of the forward/backward table of ``pairs``.

    layer_norm_forward(z, gamma, beta, eps=1e-5) -> (out, cache)     z (N, D), gamma, beta (D,)
    layer_norm_backward(cache, upstream) -> (dz, dgamma, dbeta)

The visible cases: a fixture (computed once with the reference, checked against it by the
tests; no import of it here) with the answers of the usual mistakes, properties any layer
normalisation has (a shifted or scaled row normalises as the row does; one feature gives
beta), central differences of the learner's own forward. Hidden: the reference on random
shapes, scales, offsets up to 1e8 and eps.
"""

from __future__ import annotations

import numpy as np

from course_utils.checks.engine import fail
from course_utils.checks.pairs import Case, Gradients, Pair, Values, pair_checks

__all__ = [
    "check_layer_norm_forward",
    "check_layer_norm_forward_shape",
    "hidden_layer_norm_forward",
    "check_layer_norm_backward",
    "check_layer_norm_backward_shape",
    "hidden_layer_norm_backward",
]

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

def ln_case(z, gamma, beta, eps=1e-5, upstream=None, note=""):
    """A case: the forward's (z, gamma, beta) and eps (passed only when not the default)."""
    n, d = z.shape
    where = f"a ({n}, {d}) array" + ("" if eps == 1e-5 else f", eps = {eps:g}") + note
    return Case((z, gamma, beta), where, {} if eps == 1e-5 else {"eps": eps}, upstream)


def random_ln(rng, shape, eps=1e-5, upstream=False, z=None):
    z = rng.standard_normal(shape) if z is None else z
    gamma, beta = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    return ln_case(z, gamma, beta, eps, rng.standard_normal(shape) if upstream else None)


def random_case(rng, trial, backward):
    shape = (int(rng.integers(1, 7)), int(rng.integers(1, 9)))
    if backward:
        z = float(rng.uniform(-5, 5)) + 10.0 ** rng.uniform(-2, 2) * rng.standard_normal(shape)
        return random_ln(rng, shape, [1e-5, 1e-3, 0.1][trial % 3], upstream=True, z=z)
    offset = [0.0, 1e4, -1e8][trial % 3]
    # Offsets only with spreads of 1 or more: a spread far below the offset's own rounding
    # (1e-8 at 1e8) is not well defined, and correct codes would differ.
    scale = 10.0 ** (rng.uniform(-3, 3) if offset == 0 else rng.uniform(0, 3))
    z = offset + scale * rng.standard_normal(shape)
    case = random_ln(rng, shape, [1e-5, 1e-3, 0.1][(trial // 3) % 3], z=z)
    return Case(case.args, f"{case.where}, entries near {offset:g}", case.kwargs)


def gradients_of(args):
    """What layer_norm_backward differentiates, in the order it returns."""
    return [("dz", args[0]), ("dgamma", args[1]), ("dbeta", args[2])]


def unpack(name, got, case, at):
    __tracebackhide__ = True
    if not isinstance(got, tuple) or len(got) != 3:
        fail(name, f"returned a {type(got).__name__}, expected three arrays "
             "(dz, dgamma, dbeta).", f"on {at}", hint="end with `return dz, dgamma, dbeta`.")
    return list(got)


def diagnose(got, expected, n):
    for i, label in ((1, "dgamma"), (2, "dbeta")):
        if n > 1 and np.allclose(got[i] * n, expected[i], rtol=1e-9, atol=1e-12):
            return f"{label} sums over the batch (axis 0): do not average over N."
    return None


FIXTURE = ln_case(LN_Z, LN_GAMMA, LN_BETA, upstream=LN_UPSTREAM)
_rng = np.random.default_rng(3)
BASE = ln_case(_rng.standard_normal((4, 6)), np.ones(6), np.zeros(6))
_z = BASE.args[0]
_rng = np.random.default_rng(4)
SHAPES = [random_ln(_rng, shape, eps) for shape, eps in (((1, 5), 1e-5), ((4, 1), 1e-5),
                                                         ((3, 7), 0.5))]
# Rows (1, -1) and (3, -3) have variance 1 and 9: with eps = 0.5 they normalise to
# +-1/sqrt(1.5) and +-3/sqrt(9.5).
EPS = ln_case(np.array([[1.0, -1.0], [3.0, -3.0]]), np.ones(2), np.zeros(2), 0.5)
_a, _b = 0.816496580927726, 0.9733285267845753
_rng = np.random.default_rng(22)
DIFFERENCES = [random_ln(_rng, shape, upstream=True) for shape in ((3, 5), (2, 2))]

LAYER_NORM = Pair(
    forward="layer_norm_forward", backward="layer_norm_backward", key="z", output="out",
    columns="feature", inputs=("z", "gamma", "beta"), backward_inputs=("cache", "upstream"),
    out_shape=lambda args: args[0].shape, wrt=gradients_of, unpack=unpack, diagnose=diagnose,
    values=[
        Values(FIXTURE, LN_OUT, mistakes=OUT_MISTAKES),
        Values(ln_case(_z + 1e8, *BASE.args[1:], note=", every entry shifted by 1e8"), BASE,
               rtol=1e-6, atol=1e-6,
               hint="a shift of a row does not change its normalised values: compute the "
                    "variance as the mean of (z - mean)**2; E[z**2] - E[z]**2 cancels "
                    "catastrophically when the mean is large."),
        Values(ln_case(1000.0 * _z, *BASE.args[1:], note=", scaled by 1000"), BASE,
               rtol=1e-4, atol=1e-6,
               hint="scaling a row does not change its normalised values (up to eps)."),
    ],
    shapes=[Values(case, np.broadcast_to(case.args[2], case.args[0].shape),
                   hint="with one feature, z - mean is 0: out is beta.")
            if case.args[0].shape[1] == 1 else Values(case) for case in SHAPES]
    + [Values(EPS, np.array([[_a, -_a], [_b, -_b]]),
              hint="use the eps you are given (a keyword argument), not 1e-5.")],
    gradients=[Gradients(FIXTURE, [LN_DZ, LN_DGAMMA, LN_DBETA], atol=1e-10,
                         mistakes=DZ_MISTAKES)],
    differences=DIFFERENCES,
    backward_shapes=[random_ln(np.random.default_rng(14 + i), shape, upstream=True)
                     for i, shape in enumerate(((1, 4), (5, 1), (3, 6)))],
    random_case=random_case, trials=12,
    reported={"forward": "the fixture, a shifted and a scaled copy, a constant row",
              "forward_shape": "N = 1, D = 1, other eps, float64, inputs untouched",
              "backward": "gradients against the fixture and central differences",
              "backward_shape": "dz shaped like z, dgamma and dbeta like gamma, inputs untouched"},
    forward_hint="out = gamma * (z - mean) / sqrt(var + eps) + beta, with the mean and the "
                 "variance of each row.",
    backward_hint="dz = (g - mean(g) - zhat * mean(g * zhat)) / sqrt(var + eps) with "
                  "g = upstream * gamma and row means; dgamma and dbeta sum over the batch.",
    type_hint="build it with NumPy operations (mean, sqrt, ...).",
    shape_hint="z is (N, D), one example per row; gamma and beta have one entry per feature.",
    hidden_forward_tol=(1e-6, 1e-7), hidden_backward_tol=(1e-6, 1e-9),
)

(check_layer_norm_forward, check_layer_norm_forward_shape, hidden_layer_norm_forward,
 check_layer_norm_backward, check_layer_norm_backward_shape,
 hidden_layer_norm_backward) = pair_checks(LAYER_NORM)
