"""05_beyond_the_note: the notebook's own test cells, run in one kernel.

The source notebook runs top to bottom and every test cell passes; the released notebook's
test cells all fail on the stubs (it earns 0); for every graded function a catalogue of
typical wrong answers is rejected by the test cell that should catch it, with a message that
names the problem, and other correct formulations pass every test cell of that function
(hidden parts included).
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
NAME = "05_beyond_the_note"
SOURCE = ROOT / "source" / NAME / f"{NAME}.ipynb"
RELEASE = ROOT / "release" / NAME / f"{NAME}.ipynb"

ELEMENTWISE = ["gelu", "gelu_grad", "gelu_tanh", "elu", "elu_grad", "selu", "selu_grad"]
GRADED = [*ELEMENTWISE, "lecun_normal"]
GRADS = {"gelu_grad": "gelu", "elu_grad": "elu", "selu_grad": "selu"}
#: 30 autograded points, 7 of them (23%) for edge cases; the written answer is 3 more.
POINTS = {
    "gelu_values": 3, "gelu_edges": 1,
    "gelu_grad_values": 2, "gelu_grad_edges": 1, "gelu_grad_derivative": 1,
    "gelu_tanh_values": 2, "gelu_tanh_edges": 1,
    "elu_values": 3, "elu_edges": 1,
    "elu_grad_values": 2, "elu_grad_edges": 1, "elu_grad_derivative": 1,
    "selu_values": 3, "selu_edges": 1,
    "selu_grad_values": 2, "selu_grad_edges": 1, "selu_grad_derivative": 1,
    "lecun_normal_stats": 2, "lecun_normal_rng": 1,
}


def _test_ids(fn: str) -> list[str]:
    return [gid for gid in POINTS if gid.rsplit("_", 1)[0] == fn]


def test_every_graded_function_has_its_solution_cell_and_test_cells():
    nb = nbformat.read(SOURCE, as_version=4)
    ids = [nbgrader_meta(c).get("grade_id") for c in nb.cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    for fn in GRADED:
        assert f"{fn}_solution" in ids
    points = {gid: c.metadata["nbgrader"]["points"] for gid, c in grade_cells(nb).items()}
    assert points == POINTS
    edges = sum(v for gid, v in points.items() if gid.endswith("_edges"))
    assert (sum(points.values()), edges) == (30, 7)
    assert "smoothness_answer" in ids and "smoothness_mark_scheme" in ids


def test_release_is_the_source_without_solutions_hidden_tests_or_mark_schemes():
    assert_release_hides_the_answers(SOURCE, RELEASE, ("np.expm1", "np.clip(z, -40.0"))
    source = nbformat.read(SOURCE, as_version=4)
    assert all(not c.get("outputs") for c in source.cells if c.cell_type == "code")


@pytest.fixture(scope="module")
def source_nb():
    with NotebookSession(SOURCE, timeout=300) as nb:
        nb.outcomes = nb.run_all()
        nb.solutions = solution_sources(nb.nb)
        yield nb


@pytest.mark.slow
def test_source_notebook_passes_every_test_cell(source_nb):
    failed = {gid: o.text for gid, o in source_nb.outcomes.items() if not o.passed}
    assert not failed
    assert len(source_nb.outcomes) == len(POINTS)


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
        restored = nb.run(nb.solutions[fn])
        assert restored.passed, restored.text


# (function, test cell that must fail, what the message must say, the wrong definition)
WRONG = [
    ("gelu", "gelu_values", "sigmoid(1.702 z)", """
def gelu(z):
    z = as_float(z)
    return z * sigmoid(1.702 * z)                     # the Swish form, not the exact GELU
"""),
    ("gelu", "gelu_values", "tanh approximation", """
def gelu(z):
    z = as_float(z)
    return 0.5 * z * (1 + np.tanh((2 / np.pi) ** 0.5 * (z + 0.044715 * z**3)))
"""),
    ("gelu", "gelu_values", "z / sqrt 2", """
def gelu(z):
    z = as_float(z)
    return 0.5 * z * (1 + erf(z))                     # erf(z), not erf(z / sqrt 2)
"""),
    ("gelu", "gelu_edges", "nan", """
def gelu(z):
    z = as_float(z)
    return z * 0.5 * erfc(-z / 2**0.5)                # -inf * 0 is nan
"""),
    ("gelu", "gelu_edges", "dtype", """
def gelu(z):
    z = as_float(z)
    phi = 0.5 * erfc(-z / np.sqrt(2.0))               # a NumPy float64 makes float32 float64
    return np.where(phi == 0, 0.0, z) * phi
"""),
    ("gelu_grad", "gelu_grad_values", "product rule", """
def gelu_grad(z):
    z = as_float(z)
    return 0.5 * erfc(-z / 2**0.5)                    # Phi alone
"""),
    ("gelu_grad", "gelu_grad_values", "z times phi", """
def gelu_grad(z):
    z = as_float(z)
    zc = np.clip(z, -40.0, 40.0)
    return 0.5 * erfc(-z / 2**0.5) + np.exp(-0.5 * zc * zc) / (2 * np.pi) ** 0.5
"""),
    ("gelu_grad", "gelu_grad_edges", "overflow", """
def gelu_grad(z):
    z = as_float(z)
    return 0.5 * erfc(-z / 2**0.5) + z * np.exp(-0.5 * z * z) / (2 * np.pi) ** 0.5
"""),
    ("gelu_grad", "gelu_grad_derivative", "gelu_grad", """
def gelu_grad(z):
    z = as_float(z)
    return sigmoid(1.702 * z) * (1 + 1.702 * z * (1 - sigmoid(1.702 * z)))  # Swish form's
"""),
    ("gelu_tanh", "gelu_tanh_values", "exact GELU", """
def gelu_tanh(z):
    z = as_float(z)
    phi = 0.5 * erfc(-z / 2**0.5)
    return np.where(phi == 0, 0.0, z) * phi
"""),
    ("gelu_tanh", "gelu_tanh_values", "cubic term", """
def gelu_tanh(z):
    z = as_float(z)
    gate = 0.5 * (1 + np.tanh((2 / np.pi) ** 0.5 * z))
    return np.where(gate == 0, 0.0, z) * gate
"""),
    ("gelu_tanh", "gelu_tanh_edges", "gelu_tanh", """
def gelu_tanh(z):
    z = as_float(z)
    return 0.5 * z * (1 + np.tanh((2 / np.pi) ** 0.5 * (z + 0.044715 * z**3)))  # overflow
"""),
    ("elu", "elu_values", "e^z - 1", """
def elu(z, alpha=1.0):
    z = as_float(z)
    return np.where(z > 0, z, alpha * (np.exp(np.minimum(z, 0)) - 1))
"""),
    ("elu", "elu_values", "alpha", """
def elu(z, alpha=1.0):
    z = as_float(z)
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))    # alpha ignored
"""),
    ("elu", "elu_edges", "elu", """
def elu(z, alpha=1.0):
    z = as_float(z)
    return np.where(z > 0, z, alpha * np.expm1(z))          # exp(1e30) overflows
"""),
    ("elu_grad", "elu_grad_derivative", "kink", """
def elu_grad(z, alpha=1.0):
    z = as_float(z)
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0)))   # alpha at z = 0
"""),
    ("elu_grad", "elu_grad_values", "elu_grad", """
def elu_grad(z, alpha=1.0):
    z = as_float(z)
    return np.where(z >= 0, 1.0, alpha * np.expm1(np.minimum(z, 0)))  # elu, not its slope
"""),
    ("selu", "selu_values", "rounded constant", """
def selu(z):
    z = as_float(z)
    return 1.0507 * np.where(z > 0, z, 1.6733 * np.expm1(np.minimum(z, 0)))
"""),
    ("selu", "selu_values", "lambda scales both branches", """
def selu(z):
    z = as_float(z)
    return np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0)))   # no lambda
"""),
    ("selu", "selu_values", "e^z - 1", """
def selu(z):
    z = as_float(z)
    return SELU_LAMBDA * np.where(z > 0, z, SELU_ALPHA * (np.exp(np.minimum(z, 0)) - 1))
"""),
    ("selu_grad", "selu_grad_derivative", "kink", """
def selu_grad(z):
    z = as_float(z)
    return np.where(z > 0, SELU_LAMBDA, SELU_LAMBDA * SELU_ALPHA * np.exp(np.minimum(z, 0)))
"""),
    ("selu_grad", "selu_grad_values", "selu_grad", """
def selu_grad(z):
    z = as_float(z)
    return np.where(z >= 0, 1.0, SELU_ALPHA * np.exp(np.minimum(z, 0)))   # lambda forgotten
"""),
    ("lecun_normal", "lecun_normal_stats", "1 / fan_in", """
def lecun_normal(fan_in, fan_out, rng):
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_out, fan_in))   # He's variance
"""),
    ("lecun_normal", "lecun_normal_stats", "standard deviation", """
def lecun_normal(fan_in, fan_out, rng):
    return rng.normal(0.0, 1.0 / fan_in, size=(fan_out, fan_in))   # variance as the std
"""),
    ("lecun_normal", "lecun_normal_rng", "same seed", """
def lecun_normal(fan_in, fan_out, rng):
    return np.random.normal(0.0, np.sqrt(1.0 / fan_in), size=(fan_out, fan_in))
"""),
]


@pytest.mark.slow
@pytest.mark.parametrize("fn, gid, says, code", WRONG,
                         ids=[f"{fn}-{i}" for i, (fn, _, _, _) in enumerate(WRONG)])
def test_wrong_answer_is_rejected(source_nb, fn, gid, says, code):
    outcome = _variant(source_nb, fn, code, [gid])[gid]
    assert not outcome.passed, f"{gid} accepted a wrong {fn}:\n{code}"
    assert fn in outcome.text
    assert says in outcome.text, outcome.text
    assert len(message_items(outcome.error)) <= 6, outcome.error


# Different correct formulations: every test cell of the function passes (hidden parts too).
RIGHT = [
    ("gelu", """
def gelu(z):
    z = as_float(z)
    phi = 0.5 * (1 + erf(z / 2**0.5))                 # the erf form: fine within the floor
    return np.where(phi == 0, 0.0, z) * phi
"""),
    ("gelu", """
def gelu(z):
    from scipy.special import ndtr                    # the normal CDF itself
    z = as_float(z)
    cdf = ndtr(z)
    return np.where(cdf == 0, 0.0, z) * cdf
"""),
    ("gelu_grad", """
def gelu_grad(z):
    z = as_float(z)
    zc = np.clip(z, -40.0, 40.0)
    pdf = np.exp(-0.5 * zc * zc) / np.sqrt(2 * np.pi).astype(z.dtype)
    return (1 + erf(z / 2**0.5)) / 2 + zc * pdf
"""),
    ("gelu_tanh", """
def gelu_tanh(z):
    z = as_float(z)
    zc = np.clip(z, -1e4, 1e4)
    u = (2 / np.pi) ** 0.5 * (zc + 0.044715 * zc**3)
    gate = sigmoid(2 * u)                             # (1 + tanh u) / 2 = sigmoid(2u)
    return np.where(gate == 0, 0.0, z) * gate
"""),
    ("elu", """
def elu(z, alpha=1.0):
    z = as_float(z)
    return np.maximum(z, 0) + alpha * np.expm1(np.minimum(z, 0))
"""),
    ("elu_grad", """
def elu_grad(z, alpha=1.0):
    z = as_float(z)
    out = alpha * np.exp(np.minimum(z, 0))
    return np.where(z >= 0, np.ones_like(z), out)
"""),
    ("selu", """
def selu(z):
    z = as_float(z)
    return SELU_LAMBDA * np.maximum(z, 0) + SELU_LAMBDA * SELU_ALPHA * np.expm1(np.minimum(z, 0))
"""),
    ("selu_grad", """
def selu_grad(z):
    z = as_float(z)
    return SELU_LAMBDA * np.where(z >= 0, 1.0, SELU_ALPHA * np.exp(np.minimum(z, 0)))
"""),
    ("lecun_normal", """
def lecun_normal(fan_in, fan_out, rng):
    return rng.standard_normal((fan_out, fan_in)) / np.sqrt(fan_in)
"""),
]


@pytest.mark.slow
@pytest.mark.parametrize("fn, code", RIGHT, ids=[f"{fn}-{i}" for i, (fn, _) in enumerate(RIGHT)])
def test_correct_formulation_is_accepted(source_nb, fn, code):
    ids = _test_ids(fn)
    assert ids
    outcomes = _variant(source_nb, fn, code, ids)
    assert not {gid: o.text for gid, o in outcomes.items() if not o.passed}


def test_catalogues_cover_every_graded_function():
    assert {fn for fn, *_ in WRONG} == set(GRADED)
    assert {fn for fn, _ in RIGHT} == set(GRADED)
