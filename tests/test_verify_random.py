"""Random generators across the verifier's pipe (autograder/verify/): the child draws from a
generator in the verifier's state and hands the final state back, so the learner's draws are
the ones the kernel made, and a check that lends ``rng`` to a function of its own (04's
``init``) sees one stream, whoever draws from it.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_verify import as_dict, release_with_solutions, variant

from autograder import verify
from autograder.course import REPO, Course

STABILITY = "04_numerical_stability"

LEARNER = """
import numpy as np


def draw(rng, n):
    return rng.normal(size=n)


def lend(f, rng):
    first = rng.normal()
    middle = f(rng)
    return np.array([first, middle, rng.normal()])
"""


@pytest.fixture
def child(tmp_path):
    child = verify.Child([LEARNER], ["draw", "lend"], tmp_path)
    child.start()
    assert child.loaded and child.defined == ["draw", "lend"], child.load_errors
    yield child
    child.stop()


def test_the_learner_draws_the_kernels_numbers_and_the_generator_moves_on(child):
    rng, twin = np.random.default_rng(7), np.random.default_rng(7)
    np.testing.assert_array_equal(child.call("draw", (rng, 5), {}), twin.normal(size=5))
    assert rng.normal() == twin.normal()


def test_a_generator_lent_back_to_the_verifier_is_one_stream(child):
    """The learner draws, the verifier's function draws from the same rng, the learner goes on."""
    rng, twin = np.random.default_rng(11), np.random.default_rng(11)
    out = child.call("lend", (lambda g: g.normal() * 10, rng), {})
    expected = [twin.normal(), twin.normal() * 10, twin.normal()]
    np.testing.assert_array_equal(out, expected)
    assert rng.normal() == twin.normal()


def test_arrays_cross_as_plain_numbers_only():
    blobs: list[bytes] = []
    tree = verify.encode([np.arange(6, dtype=">i4").reshape(2, 3), np.float32(-0.0)], blobs,
                          strict=True)
    back = verify.decode(tree, blobs)
    assert back[0].dtype == np.dtype(">i4") and back[0].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert back[0].flags.writeable and np.signbit(back[1]) and back[1].dtype == np.float32
    for dtype in ("O", "U3", "V8", "(2,)f8", "[('a', '<f8')]"):
        with pytest.raises(ValueError):
            verify.decode({"t": "nd", "b": 0, "d": dtype, "s": [1]}, [b"\0" * 16])
    with pytest.raises(ValueError):  # the shape disagrees with the bytes
        verify.decode({"t": "nd", "b": 0, "d": "<f8", "s": [3]}, [b"\0" * 16])


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


FLAKY = """
import numpy as np

calls = 0


def flaky(fan_in, fan_out, rng):
    global calls
    calls += 1
    if calls == 5:
        raise ValueError("the fifth call")
    return rng.normal(size=(fan_out, fan_in))
"""


def test_repeated_calls_cross_in_one_go_and_fail_where_the_kernel_would(tmp_path):
    """``call_repeated`` through a proxy: one round trip, the same draws and the same
    failure at the same call as the learner's function called in this process."""
    from course_utils.checks import engine

    here: dict = {}
    exec(FLAKY, here)
    child = verify.Child([FLAKY], ["flaky"], tmp_path)
    child.start()
    try:
        proxy = verify.Proxy(child, "flaky")
        for fn in (here["flaky"], proxy):
            rng = np.random.default_rng(5)
            first = engine.call_repeated(fn, "flaky", 4, 2, 3, rng)
            np.testing.assert_array_equal(np.stack(first), np.random.default_rng(5).normal(
                size=(4, 3, 2)))
            with pytest.raises(engine.CheckFailure, match="raised ValueError: the fifth call"):
                engine.call_repeated(fn, "flaky", 3, 2, 3, rng)
            assert rng.normal() == np.random.default_rng(5).normal(size=25)[-1]
        assert child.round_trips == ["repeat", "repeat"]  # one per call_repeated
        assert child.alive()
    finally:
        child.stop()
