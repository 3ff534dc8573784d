"""02_activation_units: the notebook's own test cells, run in one kernel.

The source notebook runs top to bottom and every test cell passes; the released notebook's
test cells all fail on the stubs (it earns 0); and for every graded function a catalogue of
typical wrong answers is rejected by the test cell that should catch it, with a message
that names the problem, while several different correct formulations are accepted by all
of that function's test cells (hidden parts included).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbsession import (
    NotebookSession,
    assert_release_hides_the_answers,
    assert_release_passes_once_solved,
    grade_cells,
    message_items,
    nbgrader_meta,
    solution_sources,
)

ROOT = Path(__file__).resolve().parents[1]
NAME = "02_activation_units"
SOURCE = ROOT / "source" / NAME / f"{NAME}.ipynb"
RELEASE = ROOT / "release" / NAME / f"{NAME}.ipynb"

ELEMENTWISE = ["sigmoid", "sigmoid_grad", "relu", "relu_grad", "leaky_relu", "leaky_relu_grad",
               "prelu", "prelu_grad", "swish", "swish_grad", "mish", "mish_grad", "mish_delta"]
GRADED = ["numerical_derivative", *ELEMENTWISE, "prelu_grad_a"]
GRADS = {"sigmoid_grad", "relu_grad", "leaky_relu_grad", "prelu_grad", "swish_grad",
         "mish_grad"}
#: Leaky ReLU is PReLU with a = 0.01: one idea, so one exercise and one set of test cells.
SHARED = {"leaky_relu": "prelu", "leaky_relu_grad": "prelu_grad"}
#: The extremes, dtype and shape are one test cell per function (at most a quarter of the
#: points go to edge cases); the catalogue still names which aspect a mistake breaks.
ASPECT_CELL = {"dtype": "edges"}
#: The test cells of 02 and their points: 45 autograded, 11 of them (24%) for edge cases.
POINTS = {
    "numerical_derivative_values": 3,
    **{f"{fn}_{aspect}": points for fn in ("sigmoid", "relu", "prelu", "swish", "mish",
                                           "mish_delta")
       for aspect, points in (("values", 2), ("edges", 1))},
    **{f"{fn}_{aspect}": points for fn in ("sigmoid_grad", "relu_grad", "prelu_grad",
                                           "swish_grad", "mish_grad")
       for aspect, points in (("values", 2), ("derivative", 1), ("edges", 1))},
    "prelu_grad_a_values": 3, "mish_grad_identity": 1,
}


def grade_id(fn: str, aspect: str) -> str:
    """The test cell that checks ``aspect`` of ``fn``."""
    return f"{SHARED.get(fn, fn)}_{ASPECT_CELL.get(aspect, aspect)}"


def solution_of(fn: str) -> str:
    """The solution cell (grade id without _solution) that defines ``fn``."""
    return SHARED.get(fn, fn)


def _test_ids(fn: str) -> list[str]:
    """Every test cell of one graded function (its name plus one aspect)."""
    tests = grade_cells(nbformat.read(SOURCE, as_version=4))
    aspects = {"values", "edges", "derivative", "identity"}
    return [gid for gid in tests
            if gid.rsplit("_", 1)[0] == SHARED.get(fn, fn) and gid.rsplit("_", 1)[1] in aspects]


# --- the notebook's structure (no kernel) --------------------------------------------------

def test_every_graded_function_has_its_solution_cell_and_test_cells():
    nb = nbformat.read(SOURCE, as_version=4)
    ids = [nbgrader_meta(c).get("grade_id") for c in nb.cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    for fn in GRADED:
        assert f"{solution_of(fn)}_solution" in ids
    for fn in ELEMENTWISE:
        assert {grade_id(fn, "values"), grade_id(fn, "edges")} <= set(ids)
    for fn in GRADS:
        assert grade_id(fn, "derivative") in ids
    points = {gid: c.metadata["nbgrader"]["points"] for gid, c in grade_cells(nb).items()}
    assert points == POINTS
    edges = sum(v for gid, v in points.items() if gid.endswith("_edges"))
    assert (sum(points.values()), edges) == (45, 11)
    assert {"mish_grad_identity", "prelu_grad_a_values", "numerical_derivative_values",
            "relu_kink_answer", "nonmonotone_answer"} <= set(ids)


def test_release_is_the_source_without_solutions_hidden_tests_or_mark_schemes():
    assert_release_hides_the_answers(SOURCE, RELEASE, ("np.exp(-np.abs(z))  # in (0, 1]",))
    source = nbformat.read(SOURCE, as_version=4)
    assert all(not c.get("outputs") for c in source.cells if c.cell_type == "code")


# --- the notebooks, executed ---------------------------------------------------------------

@pytest.fixture(scope="module")
def source_nb():
    with NotebookSession(SOURCE, timeout=300) as nb:
        outcomes = nb.run_all()
        nb.outcomes = outcomes
        nb.solutions = solution_sources(nb.nb)
        yield nb


@pytest.mark.slow
def test_source_notebook_passes_every_test_cell(source_nb):
    failed = {gid: o.text for gid, o in source_nb.outcomes.items() if not o.passed}
    assert not failed
    assert len(source_nb.outcomes) == len(POINTS)


@pytest.mark.slow
def test_source_notebook_demonstrations_ran(source_nb):
    out = source_nb.run("print(dying_relu.format_results(results)); print(z_min, mish_min)")
    assert out.passed
    assert "lr too large" in out.text
    z_min, mish_min = map(float, out.text.split()[-2:])
    assert z_min == pytest.approx(-1.1924, abs=1e-4)
    assert mish_min == pytest.approx(-0.3088, abs=1e-4)
    fixes = source_nb.run("print(len(fixes), sorted({r.unit for r in fixes}))")
    assert fixes.passed and fixes.text.startswith("24 "), fixes.text  # 4 units x 2 runs x 3 seeds


@pytest.mark.slow
def test_release_earns_zero_and_its_visible_tests_pass_once_solved():
    assert_release_passes_once_solved(SOURCE, RELEASE, len(POINTS))


def _variant(nb, fn: str, code: str, grade_ids) -> dict:
    """Define ``code`` in the kernel, run the test cells, then restore the solution."""
    try:
        defined = nb.run(code)
        assert defined.passed, defined.text
        return {gid: nb.run_test(gid) for gid in grade_ids}
    finally:
        restored = nb.run(nb.solutions[solution_of(fn)])
        assert restored.passed, restored.text


# (function, test cell that must fail, what the message must say, the wrong definition)
WRONG = [
    # numerical_derivative
    ("numerical_derivative", "values", "numerical_derivative", """
def numerical_derivative(f, z, h=1e-5):
    z = np.asarray(z, dtype=np.float64)
    return (f(z + h) - f(z)) / h                     # forward difference
"""),
    ("numerical_derivative", "values", "numerical_derivative", """
def numerical_derivative(f, z, h=1e-5):
    z = np.asarray(z, dtype=np.float64)
    return (f(z + 1e-5) - f(z - 1e-5)) / 2e-5         # ignores h
"""),
    ("numerical_derivative", "values", "numerical_derivative", """
def numerical_derivative(f, z, h=1e-5):
    z = np.asarray(z, dtype=np.float64)
    return (f(z + h) - f(z - h)) / h                  # forgot the 2
"""),
    ("numerical_derivative", "values", "numerical_derivative", """
def numerical_derivative(f, z, h=1e-5):
    z = np.asarray(z, dtype=np.float32)               # float32: h is lost in rounding
    return (f(z + h) - f(z - h)) / (2 * h)
"""),
    ("numerical_derivative", "values", "numerical_derivative", """
def numerical_derivative(f, z, h=1e-5):
    z = float(z)                                      # scalars only
    return (f(z + h) - f(z - h)) / (2 * h)
"""),
    # sigmoid
    ("sigmoid", "edges", "sigmoid", """
def sigmoid(z):
    z = as_float(z)
    return 1 / (1 + np.exp(-z))                       # naive: exp overflows at z = -1e4
"""),
    ("sigmoid", "values", "sigmoid", """
def sigmoid(z):
    z = as_float(z)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)) * (1 + 1e-5)   # small relative error
"""),
    ("sigmoid", "values", "sigmoid", """
def sigmoid(z):
    z = as_float(z)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, e / (1 + e), 1 / (1 + e))   # branches swapped: wrong sign region
"""),
    ("sigmoid", "edges", "nan", """
def sigmoid(z):
    z = as_float(z)
    e = np.exp(-np.abs(np.nan_to_num(z)))             # nan does not propagate
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))
"""),
    ("sigmoid", "dtype", "dtype", """
def sigmoid(z):
    z = np.asarray(z, dtype=np.float64)               # float32 in, float64 out
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))
"""),
    ("sigmoid", "dtype", "sigmoid", """
def sigmoid(z):
    z = as_float(z)
    np.negative(z, out=z, where=z > 0)                # modifies the caller's array
    e = np.exp(z)
    return np.where(z <= 0, 1 / (1 + e), e / (1 + e))
"""),
    # sigmoid_grad
    ("sigmoid_grad", "values", "sigmoid_grad", """
def sigmoid_grad(z):
    s = sigmoid(z)
    return s * (1 + s)                                # sign slip
"""),
    ("sigmoid_grad", "edges", "sigmoid_grad", """
def sigmoid_grad(z):
    z = as_float(z)
    return np.exp(-z) / (1 + np.exp(-z)) ** 2         # overflows: inf / inf
"""),
    ("sigmoid_grad", "derivative", "sigmoid_grad", """
def sigmoid_grad(z):
    z = as_float(z)
    return 0.25 * np.exp(-z * z / 4)                  # the right shape, the wrong function
"""),
    ("sigmoid_grad", "dtype", "dtype", """
def sigmoid_grad(z):
    s = sigmoid(z).astype(np.float64)
    return s * (1 - s)
"""),
    # relu
    ("relu", "edges", "nan", """
def relu(z):
    z = as_float(z)
    return np.where(z > 0, z, 0)                      # nan becomes 0
"""),
    ("relu", "edges", "relu", """
def relu(z):
    z = as_float(z)
    return z * (z > 0)                                # -inf * 0 is nan
"""),
    ("relu", "values", "relu", """
def relu(z):
    z = as_float(z)
    return np.abs(z)                                  # wrong sign region
"""),
    ("relu", "dtype", "relu", """
def relu(z):
    z = as_float(z)
    z[z < 0] = 0                                      # in place: the input is modified
    return z
"""),
    # relu_grad
    ("relu_grad", "derivative", "0", """
def relu_grad(z):
    z = as_float(z)
    return np.where(np.isnan(z), z, (z > 0).astype(z.dtype))   # PyTorch's relu'(0) = 0
"""),
    ("relu_grad", "dtype", "dtype", """
def relu_grad(z):
    z = as_float(z)
    return np.where(np.isnan(z), z, np.where(z >= 0, 1.0, 0.0))  # always float64
"""),
    ("relu_grad", "values", "relu_grad", """
def relu_grad(z):
    z = as_float(z)
    return (z < 0).astype(z.dtype)                    # wrong sign region
"""),
    ("relu_grad", "edges", "nan", """
def relu_grad(z):
    z = as_float(z)
    return (z >= 0).astype(z.dtype)                   # nan becomes 0
"""),
    # leaky_relu
    ("leaky_relu", "values", "a = ", """
def leaky_relu(z, a=0.01):
    z = as_float(z)
    return np.where(z >= 0, z, 0.01 * z)              # ignores a
"""),
    ("leaky_relu", "values", "leaky_relu", """
def leaky_relu(z, a=0.1):                             # wrong default
    z = as_float(z)
    return np.where(z >= 0, z, a * z)
"""),
    ("leaky_relu", "values", "leaky_relu", """
def leaky_relu(z, a=0.01):
    z = as_float(z)
    return np.where(z >= 0, a * z, z)                 # slopes swapped
"""),
    ("leaky_relu", "dtype", "dtype", """
def leaky_relu(z, a=0.01):
    z = np.asarray(z, dtype=np.float64)
    return np.where(z >= 0, z, a * z)
"""),
    # leaky_relu_grad
    ("leaky_relu_grad", "derivative", "0", """
def leaky_relu_grad(z, a=0.01):
    z = as_float(z)
    return np.where(np.isnan(z), z, np.where(z > 0, 1.0, a)).astype(z.dtype)  # a at z = 0
"""),
    ("leaky_relu_grad", "dtype", "dtype", """
def leaky_relu_grad(z, a=0.01):
    z = as_float(z)
    return np.where(np.isnan(z), z, np.where(z >= 0, 1.0, a))   # float64 for float32 input
"""),
    ("leaky_relu_grad", "values", "a = ", """
def leaky_relu_grad(z, a=0.01):
    z = as_float(z)
    return np.where(np.isnan(z), z, np.where(z >= 0, 1.0, 0.01)).astype(z.dtype)  # ignores a
"""),
    # prelu
    ("prelu", "values", "a = 2", """
def prelu(z, a):
    z = as_float(z)
    return np.maximum(z, a * z)                       # only right while a <= 1
"""),
    ("prelu", "values", "prelu", """
def prelu(z, a):
    z = as_float(z)
    return np.where(z >= 0, z, 0.25 * z)              # ignores a
"""),
    ("prelu", "dtype", "dtype", """
def prelu(z, a):
    z = as_float(z)
    return z * np.where(z >= 0, 1.0, a)               # the float64 factor promotes float32
"""),
    # prelu_grad
    ("prelu_grad", "derivative", "0", """
def prelu_grad(z, a):
    z = as_float(z)
    return np.where(np.isnan(z), z, np.where(z > 0, 1.0, a)).astype(z.dtype)
"""),
    ("prelu_grad", "values", "prelu_grad", """
def prelu_grad(z, a):
    z = as_float(z)
    return np.where(np.isnan(z), z, np.where(z >= 0, a, 1.0)).astype(z.dtype)  # swapped
"""),
    # prelu_grad_a
    ("prelu_grad_a", "values", "prelu_grad_a", """
def prelu_grad_a(z, a, upstream):
    return float(np.sum(upstream * np.maximum(z, 0)))   # the positive side
"""),
    ("prelu_grad_a", "values", "prelu_grad_a", """
def prelu_grad_a(z, a, upstream):
    return upstream * np.minimum(z, 0)                # not summed over positions
"""),
    ("prelu_grad_a", "values", "prelu_grad_a", """
def prelu_grad_a(z, a, upstream):
    return float(np.sum(np.minimum(z, 0)))            # upstream forgotten
"""),
    ("prelu_grad_a", "values", "prelu_grad_a", """
def prelu_grad_a(z, a, upstream):
    return float(np.mean(upstream * np.minimum(z, 0)))  # mean, not sum
"""),
    ("prelu_grad_a", "values", "prelu_grad_a", """
def prelu_grad_a(z, a, upstream):
    return float(np.sum(upstream * a * np.minimum(z, 0)))  # d(a z)/da is z, not a z
"""),
    # swish
    ("swish", "edges", "swish", """
def swish(z, beta=1.0):
    z = as_float(z)
    return z / (1 + np.exp(-beta * z))                # naive: overflow
"""),
    ("swish", "edges", "swish", """
def swish(z, beta=1.0):
    z = as_float(z)
    return z * sigmoid(beta * z)                      # -inf * 0 at z = -inf
"""),
    ("swish", "values", "beta", """
def swish(z, beta=1.0):
    z = as_float(z)
    return np.where(sigmoid(z) == 0, 0, z) * sigmoid(z)   # ignores beta
"""),
    ("swish", "values", "swish", """
def swish(z, beta=0.5):                               # wrong default
    z = as_float(z)
    gate = sigmoid(beta * z)
    return np.where(gate == 0, 0, z) * gate
"""),
    # swish_grad
    ("swish_grad", "values", "swish_grad", """
def swish_grad(z, beta=1.0):
    z = as_float(z)
    s, ds = sigmoid(beta * z), sigmoid_grad(beta * z)
    return s + np.where(ds == 0, 0, z) * ds           # chain rule: beta forgotten
"""),
    ("swish_grad", "values", "swish_grad", """
def swish_grad(z, beta=1.0):
    z = as_float(z)
    return beta * sigmoid_grad(beta * z)              # product rule forgotten
"""),
    ("swish_grad", "edges", "swish_grad", """
def swish_grad(z, beta=1.0):
    z = as_float(z)
    s = 1 / (1 + np.exp(-beta * z))                   # naive: overflow
    return s + beta * z * s * (1 - s)
"""),
    ("swish_grad", "derivative", "swish_grad", """
def swish_grad(z, beta=1.0):
    z = as_float(z)
    s = sigmoid(beta * z)
    return s + np.where(s == 0, 0, beta * z) * s      # s (1 - s) became s
"""),
    ("swish_grad", "values", "swish_grad", """
def swish_grad(z, beta=1.0):
    z = as_float(z)
    f, s = swish(z, beta), sigmoid(beta * z)
    return beta * f + s * (1 - beta * f)              # right on paper; cancels for large z
"""),
    # mish
    ("mish", "edges", "mish", """
def mish(z):
    z = as_float(z)
    return z * np.tanh(np.log(1 + np.exp(z)))         # naive softplus: overflow
"""),
    ("mish", "edges", "mish", """
def mish(z):
    z = as_float(z)
    return z * np.tanh(np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))))  # -inf * 0
"""),
    ("mish", "values", "mish", """
def mish(z):
    z = as_float(z)
    return z * np.tanh(np.maximum(z, 0))              # softplus replaced by relu
"""),
    ("mish", "dtype", "dtype", """
def mish(z):
    z = as_float(z).astype(np.float64)
    g = np.tanh(np.logaddexp(0, z))
    return np.where(g == 0, 0, z) * g
"""),
    # mish_delta
    ("mish_delta", "values", "mish_delta", """
def mish_delta(z):
    z = as_float(z)
    return 1 / np.cosh(z) ** 2                        # softplus forgotten
"""),
    ("mish_delta", "values", "mish_delta", """
def mish_delta(z):
    z = as_float(z)
    return np.tanh(np.logaddexp(0, z)) ** 2           # tanh^2, not sech^2
"""),
    ("mish_delta", "edges", "mish_delta", """
def mish_delta(z):
    z = as_float(z)
    return 1 / np.cosh(np.log1p(np.exp(z))) ** 2      # exp and cosh overflow
"""),
    # mish_grad
    ("mish_grad", "values", "mish_grad", """
def mish_grad(z):
    z = as_float(z)
    return mish_delta(z) * swish(z) + mish(z) / z     # 0 / 0 at z = 0
"""),
    ("mish_grad", "edges", "mish_grad", """
def mish_grad(z):
    z = as_float(z)
    return np.tanh(np.logaddexp(0, z)) + z * mish_delta(z) * sigmoid(z)  # -inf * 0
"""),
    ("mish_grad", "values", "mish_grad", """
def mish_grad(z):
    z = as_float(z)
    gated = mish_delta(z) * sigmoid(z)
    return np.where(gated == 0, 0, z) * gated         # the tanh term forgotten
"""),
    ("mish_grad", "identity", "mish_grad", """
def mish_grad(z):
    z = as_float(z)
    softplus = np.logaddexp(0, z)
    gated = mish_delta(z) * sigmoid(z)
    return np.tanh(softplus) + 0.5 * np.where(gated == 0, 0, z) * gated  # a factor off
"""),
]


@pytest.mark.slow
@pytest.mark.parametrize("fn, aspect, says, code", WRONG,
                         ids=[f"{fn}-{aspect}-{i}" for i, (fn, aspect, _, _) in enumerate(WRONG)])
def test_wrong_answer_is_rejected(source_nb, fn, aspect, says, code):
    gid = grade_id(fn, aspect)
    outcome = _variant(source_nb, fn, code, [gid])[gid]
    assert not outcome.passed, f"{gid} accepted a wrong {fn}:\n{code}"
    assert outcome.text.startswith(f"AssertionError: {fn}") or fn in outcome.text
    assert says in outcome.text, outcome.text
    assert len(message_items(outcome.error)) <= 6, outcome.error


# Different correct formulations: every test cell of the function passes (hidden parts too).
RIGHT = [
    ("numerical_derivative", """
def numerical_derivative(f, z, h=1e-5):
    z = np.asarray(z, dtype=np.float64)
    return 0.5 * (np.asarray(f(z + h)) - np.asarray(f(z - h))) / h
"""),
    ("numerical_derivative", """
def numerical_derivative(f, z, h=1e-5):
    z = np.array(z, dtype=float)
    steps = np.array([h, -h]).reshape((2,) + (1,) * z.ndim)
    values = np.asarray(f(z + steps), dtype=float)
    return (values[0] - values[1]) / (2 * h)
"""),
    ("sigmoid", """
def sigmoid(z):
    z = as_float(z)
    return 0.5 * (1 + np.tanh(z / 2))                 # tanh never overflows
"""),
    ("sigmoid", """
def sigmoid(z):
    z = as_float(z)
    return np.exp(-np.logaddexp(0, -z))               # exp(-softplus(-z))
"""),
    ("sigmoid_grad", """
def sigmoid_grad(z):
    s = sigmoid(z)
    return s * (1 - s)                                # the textbook form
"""),
    ("sigmoid_grad", """
def sigmoid_grad(z):
    z = as_float(z)
    return sigmoid(z) * sigmoid(-z)                   # 1 - sigmoid(z) = sigmoid(-z)
"""),
    ("relu", """
def relu(z):
    z = as_float(z)
    return np.where(z < 0, 0, z)
"""),
    ("relu", """
def relu(z):
    return np.clip(as_float(z), 0, None)
"""),
    ("relu_grad", """
def relu_grad(z):
    return np.heaviside(as_float(z), 1)               # H(0) = 1: the note's convention
"""),
    ("relu_grad", """
def relu_grad(z):
    z = as_float(z)
    out = np.ones_like(z)
    out[z < 0] = 0
    out[np.isnan(z)] = np.nan
    return out
"""),
    ("leaky_relu", """
def leaky_relu(z, a=0.01):
    z = as_float(z)
    return np.maximum(z, a * z)                       # right for a <= 1, as Leaky ReLU's are
"""),
    ("leaky_relu", """
def leaky_relu(z, a=0.01):
    z = as_float(z)
    return np.where(z < 0, a * z, z)
"""),
    ("leaky_relu_grad", """
def leaky_relu_grad(z, a=0.01):
    z = as_float(z)
    out = np.where(z >= 0, 1, a).astype(z.dtype)
    return np.where(np.isnan(z), z, out)
"""),
    ("prelu", """
def prelu(z, a):
    return np.maximum(as_float(z), 0) + a * np.minimum(as_float(z), 0)
"""),
    ("prelu", """
def prelu(z, a):
    z = as_float(z)
    out = z.copy()
    out[z < 0] *= a
    return out
"""),
    ("prelu_grad", """
def prelu_grad(z, a):
    z = as_float(z)
    out = np.ones_like(z)
    out[z < 0] = a
    out[np.isnan(z)] = np.nan
    return out
"""),
    ("prelu_grad_a", """
def prelu_grad_a(z, a, upstream):
    z, upstream = np.asarray(z, dtype=float), np.asarray(upstream, dtype=float)
    return float(np.sum(np.where(z < 0, z, 0) * upstream))
"""),
    ("prelu_grad_a", """
def prelu_grad_a(z, a, upstream):
    z, upstream = np.asarray(z, dtype=float), np.asarray(upstream, dtype=float)
    negative = z < 0
    return float(upstream[negative] @ z[negative])
"""),
    ("swish", """
def swish(z, beta=1.0):
    z = as_float(z)
    with np.errstate(over="ignore", invalid="ignore"):
        out = z * sigmoid(beta * z)
    return np.where(np.isneginf(z), 0, out).astype(z.dtype)   # fix the -inf * 0 afterwards
"""),
    ("swish", """
def swish(z, beta=1.0):
    z = as_float(z)
    with np.errstate(over="ignore"):
        t = beta * z
    e = np.exp(-np.abs(t))
    num = np.where(t >= 0, z, np.where(e == 0, 0, z) * e)
    return num / (1 + e)
"""),
    ("swish_grad", """
def swish_grad(z, beta=1.0):
    z = as_float(z)
    with np.errstate(over="ignore"):
        t = beta * z
    s = sigmoid(t)
    with np.errstate(invalid="ignore"):
        g = s + t * s * (1 - s)
    return np.where(np.isinf(t), s, g)
"""),
    ("mish", """
def mish(z):
    z = as_float(z)
    with np.errstate(invalid="ignore"):
        out = z * np.tanh(np.logaddexp(0, z))
    return np.where(np.isneginf(z), 0, out).astype(z.dtype)
"""),
    ("mish_delta", """
def mish_delta(z):
    z = as_float(z)
    e = np.exp(-np.logaddexp(0, z)) ** 2              # exp(-2 softplus) <= 1
    return 4 * e / (1 + e) ** 2
"""),
    ("mish_delta", """
def mish_delta(z):
    z = as_float(z)
    u = sigmoid(-z)
    return (2 * u / (1 + u * u)) ** 2
"""),
    ("mish_grad", """
def mish_grad(z):
    z = as_float(z)
    tanh_sp = np.tanh(np.logaddexp(0, z))
    with np.errstate(invalid="ignore"):
        out = tanh_sp + z * sigmoid(z) * mish_delta(z)
    return np.where(np.isinf(z), tanh_sp, out)        # the limits: 0 at -inf, 1 at inf
"""),
    ("leaky_relu_grad", """
def leaky_relu_grad(z, a=0.01):
    z = as_float(z)
    return np.where(z < 0, a, np.where(z >= 0, 1, z)).astype(z.dtype)   # nan falls through
"""),
    ("prelu_grad", """
def prelu_grad(z, a):
    return np.heaviside(as_float(z), 1) * (1 - a) + a  # 1 where z >= 0, a below
"""),
    ("swish_grad", """
def swish_grad(z, beta=1.0):
    z = as_float(z)
    with np.errstate(over="ignore"):
        t = beta * z
    s = sigmoid(t)
    with np.errstate(invalid="ignore"):
        g = s * (1 + t * sigmoid(-t))                 # 1 - sigmoid(t) = sigmoid(-t)
    return np.where(np.isinf(t), s, g)
"""),
    ("mish", """
def mish(z):
    z = as_float(z)
    e = np.exp(-np.abs(z))
    n = e * (e + 2)                                   # tanh(ln(1 + e^z)), written in e^-|z|
    gate = np.where(z >= 0, (1 + 2 * e) / (1 + 2 * e + 2 * e * e), n / (n + 2))
    return np.where(gate == 0, 0, z) * gate
"""),
    ("mish_grad", """
def mish_grad(z):
    z = as_float(z)
    tanh_sp = np.tanh(np.logaddexp(0, z))             # = mish(z) / z, without the division
    with np.errstate(invalid="ignore"):
        out = mish_delta(z) * swish(z) + tanh_sp
    return np.where(np.isinf(z), tanh_sp, out)
"""),
]


@pytest.mark.slow
@pytest.mark.parametrize("fn, code", RIGHT,
                         ids=[f"{fn}-{i}" for i, (fn, _) in enumerate(RIGHT)])
def test_correct_formulation_is_accepted(source_nb, fn, code):
    ids = _test_ids(fn)
    assert ids
    outcomes = _variant(source_nb, fn, code, ids)
    failed = {gid: o.text for gid, o in outcomes.items() if not o.passed}
    assert not failed


def test_catalogues_cover_every_graded_function():
    assert {fn for fn, *_ in WRONG} == set(GRADED)
    assert {fn for fn, _ in RIGHT} == set(GRADED)
