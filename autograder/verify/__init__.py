r"""Re-check autograded submissions where the learner's code cannot reach the decision.

nbgrader runs the learner's cells and the test cells in one kernel, so a solution cell can
change what the test cells see (``np.allclose = lambda *a, **k: True``, a no-op'd
``compare``, a handler that swallows ``AssertionError``). The re-check records and replays:

1. a **child** process (``child``), sandboxed when isolation is on and without the
   reference solutions, runs what the kernel ran (setup, the learner's cells, the test
   cells with their hidden tests), with the learner's functions wrapped by a recorder; it
   streams a **transcript** (``transcript``): per call, a digest of the arguments, the
   result, warnings, error, inputs changed or returned, random states, and the calls the
   learner made of the checks' functions (torch classes: ``torch_classes``);
2. this process (``replay``) runs the same test cells with stand-ins that answer from the
   transcript by digest; a call that is not there fails its cell. It never runs learner
   code and reads no pickle;
3. ``batch`` sets to 0 the points nbgrader gave that the re-check denies, and reports.

docs/DEVELOPING.md has the design on one page; docs/GRADING.md every hostile case.
"""

from autograder.verify.batch import (
    apply,
    check_submission,
    render,
    verify,
    verify_submission,
    write_json,
)
from autograder.verify.notebooks import SUSPICIOUS, Plan, cells_to_run, plan, suspicious
from autograder.verify.replay import (
    CellVerdict,
    Missing,
    SubmissionReport,
    Transcript,
    decide,
    record,
    run_test_cell,
)
from autograder.verify.transcript import Unverifiable, decode, digest, encode

__all__ = ["SUSPICIOUS", "CellVerdict", "Missing", "Plan", "SubmissionReport", "Transcript",
           "Unverifiable", "apply", "cells_to_run", "check_submission", "decide", "decode",
           "digest", "encode", "plan", "record", "render", "run_test_cell", "suspicious",
           "verify", "verify_submission", "write_json"]
