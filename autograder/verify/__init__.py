r"""Re-check autograded submissions in a process the learner's code never ran in.

nbgrader runs the learner's cells and the test cells in one kernel, so a solution cell can
change what the test cells see: ``np.allclose = lambda *a, **k: True``, a no-op'd
``course_utils.checks.engine.compare``, a custom exception handler that swallows
``AssertionError``, a behaviour that depends on ``NBGRADER_EXECUTION``... The verifier
decides every test cell it covers again, in a design where none of that can reach the
comparison:

* the **verifier process** (this module) never executes learner code. It executes the
  instructor's test cells, read from ``source/`` (hidden tests included), with the
  instructor's setup and helper cells, and the learner's functions replaced by *proxies*;
* each proxy call goes over a pipe to a **child process** that executed only the
  notebook's setup cell and the instructor's definition-only helper cells (from
  ``source/``), then the learner's solution cells (by grade id) and the code cells the
  learner added, from the submitted notebook. The child calls the learner's function and
  sends back the output. It runs in part A's bubblewrap sandbox (``autograder.sandbox``:
  no network, uid nobody, rlimits, read-only view) when isolation is on, plainly otherwise
  (the report says which);
* arguments and results cross the pipe as raw array bytes with dtype (booleans and
  numbers only) and shape in a small JSON header: no pickle, no object arrays, no learner
  objects in the verifier (they stay opaque stand-ins). Functions that a check passes
  (``sigma``, ``init``) stay in the verifier: the child gets stand-ins that call back.
  A random generator (``rng``) crosses as its state: the child draws from a copy, and the
  verifier's generator takes the copy's final state back (at every call-back too), so the
  draws are the kernel's without a round trip per draw. Warnings, exceptions, modified
  inputs and a returned input array are reported and reproduced by the proxy, so
  ``course_utils.checks`` decides
  dtype, shape, warnings and values with the same code, inputs and tolerances as in the
  kernel, hidden tests included.

A test cell is *not covered* (nbgrader's score stands) only for reasons no submission
controls: its checks pass an argument the pipe cannot carry, it needs a name defined
outside the solutions, or the setup cells fail in a child without any learner code. A
child that misbehaves (garbage on the pipe, a hang, a crash, a forged answer) fails the
cells it was asked about. Where nbgrader gave points that the verifier denies, the
verifier sets that grade's ``auto_score`` to 0 in the gradebook and explains why in the
``auto_comment`` of the exercise's solution cell; suspicious source patterns are listed
for a human, never penalised.

Use: ``python -m autograder verify ASSIGNMENT [--workers N] [--dry-run]`` after ``grade``
(it writes ``reports/ASSIGNMENT_verify.json``), or :func:`verify_submission` for one
student right after autograding it.
"""

from autograder.verify.batch import (
                                     apply,
                                     check_submission,
                                     render,
                                     verify,
                                     verify_submission,
                                     write_json,
)
from autograder.verify.child import child_main
from autograder.verify.decide import (
                                     CELL_BUDGET,
                                     CellVerdict,
                                     SubmissionReport,
                                     decide,
                                     run_test_cell,
)
from autograder.verify.handle import CALL_TIMEOUT_S, LOAD_GRACE_S, Child, Proxy
from autograder.verify.notebooks import SUSPICIOUS, Plan, defined_names, plan, suspicious
from autograder.verify.wire import Unverifiable, decode, encode

__all__ = ["CALL_TIMEOUT_S", "LOAD_GRACE_S", "CELL_BUDGET",
           "SUSPICIOUS", "CellVerdict", "Child", "Plan", "Proxy", "SubmissionReport",
           "Unverifiable", "apply", "check_submission", "decide", "defined_names", "plan",
           "render", "run_test_cell", "suspicious", "verify", "verify_submission",
           "write_json", "child_main", "decode", "encode"]
