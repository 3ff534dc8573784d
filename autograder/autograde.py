"""Autograde one submission, in whichever process or machine holds its course directory.

``autograde_one`` is the unit of work of every grading path: a worker of the local pool
(autograder.pool) runs it on the course itself, a Dask worker (autograder.cluster) on a
scratch course built from a task's bytes. It runs preflight, nbgrader's autograde and the
independent re-check, and returns what happened as plain data.

With SQLite every worker connects with a generous busy timeout (``?timeout=``) and a
submission whose gradebook write still hits "database is locked" is retried, so parallel
grading gives the same scores as serial grading (tests/test_pipeline.py proves it). Other
databases (PostgreSQL) take the URL unchanged.
"""

from __future__ import annotations

import re
import time

from autograder.course import Course

SQLITE_TIMEOUT_S = 120
RETRIES = 3
#: nbclient's words for a kernel that never started (nothing the submission can cause).
KERNEL_START_FAILURES = ("Kernel died before replying to kernel_info",
                         "Kernel didn't respond in", "No such kernel named")


def worker_db_url(db_url: str) -> str:
    """``db_url`` with a long SQLite busy timeout (other databases: unchanged)."""
    if db_url.startswith("sqlite:") and "timeout=" not in db_url:
        return db_url + ("&" if "?" in db_url else "?") + f"timeout={SQLITE_TIMEOUT_S}"
    return db_url


def autograde_one(root: str, db_url: str, assignment: str, student: str,
                  verify: bool = True) -> dict:
    """Worker: autograde one submission, then (``verify``) re-check it independently.

    Returns {"ok", "error", "notes", "zero_recorded", "verify"}. A submission that cannot
    run at all (autograder.outcomes.preflight) is recorded as 0 with its reason; kernel
    deaths and timeouts inside the notebook are recorded by ``GuardedExecute`` and graded
    up to there. Only a submission nbgrader graded is re-checked ("verify": its
    ``SubmissionReport``, else None).
    """
    import warnings

    from autograder import outcomes

    course = Course(root, db_url=worker_db_url(db_url))
    notes, fatal = outcomes.preflight(course, assignment, student)
    if fatal:
        outcomes.record_zero(course, assignment, student, fatal)
        notes.append(outcomes.note("zero", f"graded 0: {fatal}"))
        outcomes.write_notes(course, assignment, student, notes)
        return {"ok": False, "error": fatal, "notes": notes, "zero_recorded": True,
                "verify": None}
    error = ""
    for attempt in range(RETRIES):
        outcomes.INCIDENTS.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SQLAlchemy's session warnings inside nbgrader
            result = course.api().autograde(assignment, student, force=True, create=True)
        if result["success"]:
            notes += outcomes.INCIDENTS
            report = verify_one(course, assignment, student, notes) if verify else None
            outcomes.write_notes(course, assignment, student, notes)
            return {"ok": True, "error": "", "notes": notes, "zero_recorded": False,
                    "verify": report}
        error = f"{result.get('log') or ''}\n{result.get('error') or ''}"
        if "database is locked" not in error:
            break
        time.sleep(1 + attempt)
    reason = explain(error, assignment, student)
    if any(sign in error for sign in KERNEL_START_FAILURES):
        # The kernel did not start: the grader's fault, not the submission's. No 0 recorded.
        return {"ok": False, "error": f"the grading kernel did not start: {reason}",
                "notes": notes, "zero_recorded": False, "verify": None}
    # nbgrader itself failed (a case preflight did not foresee): never a missing grade.
    outcomes.record_zero(course, assignment, student, reason)
    notes.append(outcomes.note("zero", f"graded 0: {reason}"))
    outcomes.write_notes(course, assignment, student, notes)
    return {"ok": False, "error": reason, "notes": notes, "zero_recorded": True, "verify": None}


def verify_one(course: Course, assignment: str, student: str, notes: list[dict]):
    """Re-check one autograded submission in this worker; add its notes to ``notes``.

    Returns its ``SubmissionReport``, or None when the verifier itself broke (a note says
    so, and nbgrader's scores stand: the verifier's failures never cost points)."""
    from autograder import outcomes
    from autograder.verify import batch

    try:
        p = batch.worker_plan(course, assignment)  # built once per worker process
        report = batch.verify_submission(course, assignment, student, write=True, p=p)
    except Exception as exc:  # noqa: BLE001 (a bug or the machine; never the learner's loss)
        notes.append(outcomes.note(
            "verify", f"not re-checked independently: the verifier failed "
                      f"({type(exc).__name__}: {str(exc)[:200]}); the scores are nbgrader's"))
        return None
    notes += batch.notes(report, p)
    return report


def explain(error: str, assignment: str, student: str) -> str:
    """The line of nbgrader's log that says what went wrong, in words where we know them."""
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    if any("NotJSONError" in line or "does not appear to be JSON" in line for line in lines):
        return "the notebook is not valid JSON (a broken or truncated file)"
    if any("DeadKernelError" in line for line in lines):
        return "the kernel died while running the notebook (out of memory, or a crash)"
    causes = [line for line in lines
              if re.match(r"^[\w.]*(Error|Exception|Exit)\w*: ", line)
              and "NbGraderException" not in line]
    last = (causes or lines or ["unknown error"])[-1]
    return last[:300]


def crashed(exc: BaseException) -> dict:
    """The result of a grading whose process died or raised (no grade written)."""
    return {"ok": False, "error": f"the grading process failed: {exc}", "notes": [],
            "zero_recorded": False, "verify": None}
