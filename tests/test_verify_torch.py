"""The independent re-check of 03_swish_mish: the learner's torch classes (autograd Functions
and nn.Modules) are recorded in the child and replayed in the verifier
(autograder/verify/torch_classes.py), where the instructor's checks decide.

The reference for "what nbgrader decides" is the same test cells run in one process with
the learner's real classes (``_one_process``, in a subprocess of its own so that no learner
code touches this one): honest work, right or wrong, must be decided exactly alike; a
cheat that disarms the checks in that one process must be decided as if it were not there.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import torch
from test_assignment_03 import RIGHT, WRONG
from test_verify import as_dict, release_with_solutions, variant

from autograder import verify
from autograder.course import REPO, Course
from autograder.verify import torch_classes
from autograder.verify.notebooks import Plan
from autograder.verify.replay import learner_exception

NAME = "03_swish_mish"


def wrong(grade_id: str, needle: str) -> str:
    """The catalogue's wrong definition (tests/test_assignment_03.py) for a cell and message."""
    return next(w[3] for w in WRONG if w[1] == grade_id and w[2] == needle)


def unit_of(grade_id: str, needle: str) -> str:
    return next(w[0] for w in WRONG if w[1] == grade_id and w[2] == needle) + "_solution"


@pytest.fixture(scope="module")
def plan03():
    p = verify.plan(Course(REPO).notebook(NAME))
    # 03's helper cell `fig = plots.plot_learning_curves(runs)` reads an experiment's result:
    # the plan leaves it out, so the setup runs in a child as it is.
    assert not any("plot_learning_curves(runs)" in src for _, src in p.instructor)
    return p


@pytest.fixture(scope="module")
def complete03():
    return release_with_solutions(NAME)


_ONE_PROCESS = r"""
import json, sys
from pathlib import Path
from autograder import verify
from autograder.verify.child import python_source, ShellStub
from autograder.verify.replay import run_test_cell
p = verify.plan(Path(sys.argv[1]))
ns, out = {"__name__": "__main__", "get_ipython": ShellStub}, {}
for kind, source, gid in verify.cells_to_run(json.loads(Path(sys.argv[2]).read_text()), p):
    if kind == "test":
        out[gid] = run_test_cell(source, dict(ns), p.learner_names)[0]
        continue
    try:
        exec(compile(python_source(source), "<cell>", "exec"), ns)
    except Exception:
        pass
print(json.dumps(out))
"""


def _one_process(nb, tmp_path, tag: str) -> subprocess.Popen:
    """Start the test cells in one process with the learner's classes (as nbgrader's kernel
    runs them); ``.communicate()`` gives {grade id: status} as JSON."""
    path = tmp_path / f"{tag}.ipynb"
    path.write_text(json.dumps(as_dict(nb)))
    return subprocess.Popen(
        [sys.executable, "-c", _ONE_PROCESS, str(Course(REPO).notebook(NAME)), str(path)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _statuses(proc: subprocess.Popen) -> dict[str, str]:
    out, _ = proc.communicate(timeout=300)
    return json.loads(out.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------
# Fast: the replay's pieces


def test_saved_stand_ins_have_the_learners_shapes_and_bytes_without_memory():
    x = torch.zeros(5, dtype=torch.float64)
    out = torch.ones(5, dtype=torch.float64)
    entries = [{"input": 0}, {"shape": [1000], "dtype": "float32", "same": None},
               {"output": True}, {"none": True}]
    made = [torch_classes.saved_stand_in(e, (x,), out) for e in entries]
    assert made[0] is x and made[2] is out and made[3] is None
    assert made[1].shape == (1000,) and made[1].dtype == torch.float32
    assert made[1].untyped_storage().nbytes() == 4  # one element, expanded


def test_what_the_transcript_cannot_carry_is_unverifiable():
    with pytest.raises(verify.Unverifiable):
        verify.digest(torch.zeros(2, dtype=torch.bfloat16))
    tree = verify.encode(torch.zeros(2, dtype=torch.bfloat16), [])
    assert tree == {"t": "obj", "v": "obj:Tensor"}  # a learner's result: a stand-in
    blobs: list[bytes] = []
    back = verify.decode(verify.encode(torch.ones(3, dtype=torch.float64,
                                                  requires_grad=True), blobs), blobs)
    assert back.dtype == torch.float64 and back.requires_grad


def test_learner_exceptions_keep_builtin_types_only():
    assert type(learner_exception("RuntimeError", "x")) is RuntimeError
    assert type(learner_exception("NotImplementedError", "")) is NotImplementedError
    exit_ = learner_exception("SystemExit", "bye")  # never stops the verifier
    assert isinstance(exit_, Exception) and type(exit_).__name__ == "SystemExit"
    odd = learner_exception("UnicodeDecodeError", "m")  # needs 5 arguments: a stand-in
    assert isinstance(odd, Exception) and str(odd) == "m"


# --------------------------------------------------------------------------------------
# Slow: 03 decided by the verifier (sandboxed child, as `grade` and `verify` run it)


@pytest.mark.slow
def test_complete_03_passes_and_every_test_cell_is_covered(plan03, complete03, tmp_path):
    start = time.monotonic()
    verdicts, child = verify.decide(as_dict(complete03), plan03, tmp_path)
    seconds = time.monotonic() - start
    assert not child.load_errors
    assert verdicts == {g: ("pass", "") for g in plan03.tests}, verdicts
    assert len(verdicts) == 16
    print(f"\n03 complete: decide() {seconds:.1f} s, child: {child.isolation}")


@pytest.mark.slow
@pytest.mark.parametrize("which", [1, 2])
def test_other_correct_formulations_pass(plan03, complete03, which, tmp_path):
    """The catalogue's correct variants (needs_input_grad, a (1,) slope with F.prelu, a
    plain-number beta, the note's form of mish'), one of each class per notebook."""
    units: dict[str, list[str]] = {}
    for unit, code in RIGHT:
        units.setdefault(f"{unit}_solution", []).append(code)
    nb = variant(complete03, {g: codes[which % len(codes)] for g, codes in units.items()})
    verdicts, _ = verify.decide(as_dict(nb), plan03, tmp_path)
    assert verdicts == {g: ("pass", "") for g in plan03.tests}, verdicts


# One wrong class of each kind per notebook; the catalogue's cell names what it must fail.
MISTAKES = [
    [("swish_function_grad_beta", "gradient w.r.t. beta: backward returned None"),
     ("mish_function_saved", "saves 2 tensors"),
     ("prelu_module_parameter", "share one slope"),
     ("swish_module_learnable", "beta starts at 1.0, expected 1.5"),
     ("mish_module_values", "float32")],
    [("swish_function_values", "beta = 0.0"),
     ("mish_function_saved", "ctx.y"),
     ("swish_module_learnable", "nn.Parameter"),
     ("prelu_module_parameter", "gradient w.r.t. a")],
    [("swish_function_dtype", "modified upstream in place"),
     ("mish_function_edges", "nan"),
     ("prelu_module_values", "a = 0.1"),
     ("swish_module_values", "beta")],
]


@pytest.mark.slow
@pytest.mark.parametrize("mistakes", MISTAKES, ids=["a", "b", "c"])
def test_wrong_answers_fail_exactly_the_cells_they_fail_in_one_process(
        plan03, complete03, mistakes, tmp_path):
    nb = variant(complete03, {unit_of(g, n): wrong(g, n) for g, n in mistakes})
    reference = _one_process(nb, tmp_path, "wrong")
    verdicts, _ = verify.decide(as_dict(nb), plan03, tmp_path)
    expected = _statuses(reference)
    assert {g: v[0] for g, v in verdicts.items()} == expected, verdicts
    for grade_id, _ in mistakes:
        assert verdicts[grade_id][0] == "fail"


_DISARM = (
    "import torch\n"
    "import course_utils.checks.engine as engine\n"
    "import course_utils.checks.torch_functions as _tf\n"
    "import course_utils.checks.torch_modules as _tm\n\n"
    "torch.allclose = lambda *a, **k: True\n"
    "engine.compare = _tf.compare = _tm.compare = lambda *a, **k: None\n"
    "torch.autograd.gradcheck = lambda *a, **k: True\n\n")


@pytest.mark.slow
def test_cheats_that_disarm_the_checks_are_decided_as_without_them(plan03, complete03,
                                                                     tmp_path):
    honest = variant(complete03, {
        "swish_function_solution": wrong("swish_function_grad_x", "wrong sign"),
        "mish_function_solution": wrong("mish_function_values", "MishFunction: "),
        "prelu_module_solution": wrong("prelu_module_values", "a = 0.1")})
    cheat = variant(honest, {"swish_function_solution":
                             _DISARM + wrong("swish_function_grad_x", "wrong sign")})
    cheated = _one_process(cheat, tmp_path, "cheat")
    reference = _one_process(honest, tmp_path, "honest")
    verdicts, _ = verify.decide(as_dict(cheat), plan03, tmp_path)
    in_one_process, expected = _statuses(cheated), _statuses(reference)
    assert {g: v[0] for g, v in verdicts.items()} == expected, verdicts
    for grade_id in ("swish_function_grad_x", "mish_function_values", "mish_function_grad",
                     "mish_function_edges", "mish_module_values", "prelu_module_values"):
        # points the cheat earns in one process (nbgrader's kernel), denied by the verifier
        assert in_one_process[grade_id] == "pass" and verdicts[grade_id][0] == "fail", grade_id


@pytest.mark.slow
def test_a_hanging_forward_fails_its_cells_only(plan03, complete03, monkeypatch, tmp_path):
    monkeypatch.setenv("ACTIVATION_UNITS_CELL_TIMEOUT", "15")
    source = next(c.source for c in complete03.cells
                  if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                  == "mish_function_solution")
    hang = source.replace("        ctx.save_for_backward(x)\n",
                          "        while x.numel() == 1000:  # only the saved-tensor check\n"
                          "            pass\n        ctx.save_for_backward(x)\n")
    assert hang != source
    verdicts, _ = verify.decide(as_dict(variant(complete03, {"mish_function_solution": hang})),
                                plan03, tmp_path)
    assert verdicts["mish_function_saved"][0] == "fail"
    assert "did not return" in verdicts["mish_function_saved"][1]
    assert {g: v for g, v in verdicts.items() if g != "mish_function_saved"} == {
        g: ("pass", "") for g in plan03.tests if g != "mish_function_saved"}


#: Test cells that use the learner's classes as the checks do, and more; each runs in the
#: child with the learner's classes and here with the replayed ones.
BEHAVIOUR = {
    "function": (
        "x = torch.linspace(-3, 3, 7, dtype=torch.float64, requires_grad=True)\n"
        "b = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)\n"
        "assert issubclass(SwishFunction, torch.autograd.Function)\n"
        "assert torch.autograd.gradcheck(SwishFunction.apply, (x, b))\n"),
    "double_backward": (
        "x = torch.linspace(-3, 3, 7, dtype=torch.float64, requires_grad=True)\n"
        "b = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)\n"
        "torch.autograd.grad(SwishFunction.apply(x, b).sum(), x, create_graph=True)\n"),
    "module": (
        "x = torch.linspace(-3, 3, 7, dtype=torch.float64, requires_grad=True)\n"
        "prelu = PReLU()\n"
        "assert isinstance(prelu, torch.nn.Module)\n"
        "assert [n for n, _ in prelu.named_parameters()] == ['weight']\n"
        "prelu.double()\n"
        "opt = torch.optim.SGD(prelu.parameters(), lr=0.1)\n"
        "prelu(x).sum().backward()\n"
        "expected = float(x.detach()[x.detach() < 0].sum())\n"
        "assert abs(float(prelu.weight.grad) - expected) < 1e-12\n"
        "opt.step()\n"
        "assert abs(float(prelu.weight.detach()) - (0.25 - 0.1 * expected)) < 1e-12\n"
        "y = prelu(x.detach())  # the stepped slope is the one in use\n"
        "assert abs(float(y[0].detach()) - float(prelu.weight.detach()) * -3.0) < 1e-12\n"
        "assert PReLU().weight is not prelu.weight\n"
        "learnable = Swish(beta=0.5, learnable=True)\n"
        "assert [float(p.detach()) for p in learnable.parameters()] == [0.5]\n"),
    "attribute": "Swish(beta=0.5, learnable=True).learnable\n",
}


@pytest.mark.slow
def test_replayed_classes_behave_like_torch_classes(plan03, complete03, tmp_path):
    """What the checks rely on: issubclass/isinstance, gradcheck, .grad, .double(), an
    optimizer step, parameters by identity; a double backward and an attribute that is not
    a parameter are not replayed (the cell is not covered)."""
    solutions = [c for c in as_dict(complete03)["cells"]
                 if c.get("metadata", {}).get("nbgrader", {}).get("solution")
                 and c["metadata"]["nbgrader"].get("grade_id") in plan03.solutions]
    p = Plan("mini", plan03.instructor, plan03.solutions, plan03.learner_names,
             {g: (src, 1.0) for g, src in BEHAVIOUR.items()}, classes=plan03.classes)
    tests = [{"cell_type": "code", "metadata": {"nbgrader": {"grade": True, "grade_id": g}},
              "source": src} for g, src in BEHAVIOUR.items()]
    verdicts, _ = verify.decide({"cells": solutions + tests}, p, tmp_path)
    assert verdicts["function"] == ("pass", "") and verdicts["module"] == ("pass", ""), verdicts
    assert verdicts["double_backward"][0] == "not covered"
    assert verdicts["attribute"][0] == "not covered"
    assert "learnable" in verdicts["attribute"][1]
