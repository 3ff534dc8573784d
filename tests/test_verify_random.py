"""Random generators and the checks' own functions in the re-check (autograder/verify/): the
child records the state a generator ends in and every call the learner makes of a function
a check lent it, and the deciding process replays both, so the draws are the kernel's and
a check that counts the calls to its ``init`` (04) counts them here too.

Each test cell below runs twice, as the re-check runs it: in the child with the learner's
function, and here with the stand-in; it passes here only if the replay agrees.
"""

from __future__ import annotations

import pytest
from test_verify import as_dict, release_with_solutions, variant

from autograder import verify
from autograder.course import REPO, Course
from autograder.verify.notebooks import Plan, defined_names

STABILITY = "04_numerical_stability"


def decide_cells(learner: str, tests: dict[str, str], tmp_path) -> dict:
    """Verdicts of ``tests`` (grade id -> test cell) on one solution cell ``learner``."""
    setup = "import numpy as np\nfrom course_utils.checks import engine\n"
    p = Plan("mini", [("", setup)], ["s"], defined_names(learner),
             {g: (src, 1.0) for g, src in tests.items()})
    cells = [{"cell_type": "code", "metadata": {"nbgrader": {"solution": True,
                                                             "grade_id": "s"}},
              "source": learner}]
    cells += [{"cell_type": "code", "metadata": {"nbgrader": {"grade": True, "grade_id": g}},
               "source": src} for g, src in tests.items()]
    verdicts, _ = verify.decide({"cells": cells}, p, tmp_path)
    return verdicts


LEARNER = """
import numpy as np


def draw(rng, n):
    return rng.normal(size=n)


def lend(f, rng):
    first = rng.normal()
    middle = f(rng)
    return np.array([first, middle, rng.normal()])


calls = 0


def flaky(fan_in, fan_out, rng):
    global calls
    calls += 1
    if calls == 5:
        raise ValueError("the fifth call")
    return rng.normal(size=(fan_out, fan_in))
"""


def test_the_learner_draws_the_kernels_numbers_and_the_generator_moves_on(tmp_path):
    verdicts = decide_cells(LEARNER, {"draws": (
        "rng, twin = np.random.default_rng(7), np.random.default_rng(7)\n"
        "assert np.array_equal(draw(rng, 5), twin.normal(size=5))\n"
        "assert rng.normal() == twin.normal()\n")}, tmp_path)
    assert verdicts == {"draws": ("pass", "")}


def test_a_generator_lent_to_a_checks_function_is_one_stream(tmp_path):
    """The learner draws, the check's function draws from the same rng (and counts its
    calls), the learner goes on: the same numbers and the same count here."""
    verdicts = decide_cells(LEARNER, {"lend": (
        "rng, twin = np.random.default_rng(11), np.random.default_rng(11)\n"
        "seen = []\n\n\n"
        "def mine(g):\n"
        "    seen.append(g is rng)\n"
        "    return g.normal() * 10\n\n\n"
        "out = lend(mine, rng)\n"
        "assert seen == [True]\n"
        "assert np.array_equal(out, [twin.normal(), twin.normal() * 10, twin.normal()])\n"
        "assert rng.normal() == twin.normal()\n")}, tmp_path)
    assert verdicts == {"lend": ("pass", "")}


def test_repeated_calls_fail_where_the_kernel_would(tmp_path):
    """Four calls of the same arguments give four draws; the fifth raises, here too."""
    verdicts = decide_cells(LEARNER, {"repeat": (
        "rng = np.random.default_rng(5)\n"
        "first = engine.call_repeated(flaky, 'flaky', 4, 2, 3, rng)\n"
        "assert np.array_equal(np.stack(first),\n"
        "                      np.random.default_rng(5).normal(size=(4, 3, 2)))\n"
        "engine.call_repeated(flaky, 'flaky', 3, 2, 3, rng)\n")}, tmp_path)
    assert verdicts["repeat"][0] == "fail"
    assert "raised ValueError: the fifth call" in verdicts["repeat"][1]


def test_a_call_the_child_never_made_fails_its_cell(tmp_path):
    """The test cells are the same code in both processes; a call here that the child did
    not make (here: an argument that differs between the processes) fails."""
    verdicts = decide_cells("def f(x):\n    return x + 1\n", {"pid": (
        "import os\n"
        "x = float(os.getpid())\n"
        "assert f(x) == x + 1\n")}, tmp_path)
    assert verdicts["pid"][0] == "fail"
    assert "never called with" in verdicts["pid"][1]


@pytest.mark.slow
def test_04_is_verified_and_a_disarmed_statistics_check_loses(tmp_path):
    """Every test cell of 04 is re-checked; honest work passes them all. A submission that
    no-ops the initialisers' statistics check in the kernel and draws with variance 1 fails
    the statistics cells (and only those) in the verifier."""
    p = verify.plan(Course(REPO).notebook(STABILITY))
    complete = release_with_solutions(STABILITY)
    verdicts, _ = verify.decide(as_dict(complete), p, tmp_path)
    assert {g: v for g, v in verdicts.items() if v != ("pass", "")} == {}
    cheat = variant(complete, {"initialisers_solution": (
        "import course_utils.checks.initialisation as _b\n\n"
        "_b._statistics = lambda *a, **k: None\n\n\n"
        "def xavier_normal(fan_in, fan_out, rng):\n"
        "    return rng.normal(size=(fan_out, fan_in))\n\n\n"
        "def he_normal(fan_in, fan_out, rng):\n"
        "    return rng.normal(size=(fan_out, fan_in))\n")})
    verdicts, _ = verify.decide(as_dict(cheat), p, tmp_path)
    failed = {g for g, v in verdicts.items() if v[0] == "fail"}
    assert {"xavier_normal_stats", "he_normal_stats"} <= failed, verdicts
    assert all(g.startswith(("xavier_normal", "he_normal", "layer_gradient_norms"))
               for g in failed), failed
    assert "draws" in verdicts["he_normal_stats"][1]
