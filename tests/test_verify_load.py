"""What the verifier's child runs (autograder/verify/notebooks.py ``cells_to_run`` and
``replay.record``): the notebook's own experiments are skipped, the learner's helpers are
not, and a cell that kills the process leaves the cells before it loaded, as the kernel had
them when it died there.
"""

from __future__ import annotations

import nbformat
import pytest
from test_verify import as_dict, release_with_solutions, variant

from autograder import submissions, verify
from autograder.course import REPO, Course
from autograder.verify.notebooks import cells_to_run

UNITS = "02_activation_units"


@pytest.fixture(scope="module")
def units():
    return verify.plan(Course(REPO).notebook(UNITS)), release_with_solutions(UNITS)


def loaded(nb, p) -> list[str]:
    return [source for kind, source, _ in cells_to_run(as_dict(nb), p) if kind == "learner"]


def test_the_notebooks_experiments_are_skipped_unless_learner_code_reads_them(units):
    p, complete = units
    experiment = next(c.source for c in complete.cells if "dying_relu_experiment" in c.source)
    assert experiment.strip() in p.demos
    assert experiment not in loaded(complete, p)
    # a learner's function that reads the experiment's result: the experiment runs too
    bound = sorted(verify.notebooks.assigned(experiment))[0]
    helper = nbformat.v4.new_code_cell(f"def peek():\n    return {bound}\n")
    nb = variant(complete, {})
    nb.cells.append(helper)
    assert experiment in loaded(nb, p)


def test_a_parameter_is_not_a_read_of_the_experiments_variable():
    """04's watched-training experiment binds ``init`` at top level, and the learner's
    ``layer_gradient_norms`` takes a parameter ``init``: that reads no global, so the
    experiment (seconds of training) stays out; a function that reads the global does not."""
    stability = "04_numerical_stability"
    p, complete = verify.plan(Course(REPO).notebook(stability)), release_with_solutions(
        stability)
    experiment = next(c.source for c in complete.cells if "watch.watch_grid" in c.source)
    assert "init" in verify.notebooks.assigned(experiment)
    assert experiment not in loaded(complete, p)
    nb = variant(complete, {})
    nb.cells.append(nbformat.v4.new_code_cell("def peek():\n    return [w for w in watches]\n"))
    assert experiment in loaded(nb, p)
    assert verify.notebooks.global_reads("def f(init):\n    return init(x)\n") == {"x"}
    assert verify.notebooks.assigned("[w for w in range(3)]\nfor i in []: pass\n") == {"i"}


def test_an_edited_experiment_is_the_learners_code(units):
    p, complete = units
    nb = variant(complete, {})
    cell = next(c for c in nb.cells if "dying_relu_experiment" in c.source)
    cell.source += "\nprint('mine')\n"
    assert cell.source in loaded(nb, p)


@pytest.mark.slow
def test_a_death_at_load_keeps_the_cells_before_it(units, tmp_path):
    """A cell the learner added kills the process: what came before is re-checked as usual,
    what came after is missing (the kernel never ran it either)."""
    p, complete = units
    nb = variant(complete, {})
    at = next(i for i, c in enumerate(nb.cells)
              if submissions.grade_id(c) == "relu_grad_solution")
    nb.cells.insert(at, nbformat.v4.new_code_cell("import os\n\nos._exit(7)\n"))
    verdicts, transcript = verify.decide(as_dict(nb), p, tmp_path)
    assert transcript.truncated and "stopped" in transcript.truncated[0]
    assert "relu" in transcript.defined and "relu_grad" not in transcript.defined
    assert verdicts["relu_values"] == ("pass", "")
    assert verdicts["relu_grad_values"][0] == "fail"
    assert "not defined" in verdicts["relu_grad_values"][1]
