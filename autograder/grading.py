"""Batch autograding in worker processes, feedback, and the export of grades.

Each submission is autograded by nbgrader's API (``NbGraderAPI.autograde``) in a worker
process of its own course configuration: the kernels, which take almost all the time, run
in parallel. The gradebook writes are short; with SQLite every worker connects with a
generous busy timeout (``?timeout=``) and a submission whose gradebook write still hits
"database is locked" is retried, so parallel grading gives the same scores as serial
grading (tests/test_pipeline.py proves it). Other databases (PostgreSQL) take the URL
unchanged.

Right after nbgrader autograded a submission, the same worker re-checks it
(``autograder.verify.verify_submission``): the test cells are decided again in a process
the submission's code never ran in, points a tampered submission won are set to 0, and
suspicious source lines are listed for a human. The revocations and the lines come back as
grading notes; the parent process writes ``reports/ASSIGNMENT_verify.json`` after the pool.
The re-check's own failures never cost points: they are a note, nbgrader's scores stand.
``verify=False`` (``grade --no-verify``) leaves nbgrader's scores unchecked.
"""

from __future__ import annotations

import csv
import os
import re
import time
from dataclasses import dataclass, field

from autograder.course import Course

SQLITE_TIMEOUT_S = 120
RETRIES = 3
#: nbclient's words for a kernel that never started (nothing the submission can cause).
KERNEL_START_FAILURES = ("Kernel died before replying to kernel_info",
                         "Kernel didn't respond in", "No such kernel named")


@dataclass
class Graded:
    """What grading one submission did."""

    student: str
    assignment: str
    success: bool
    seconds: float
    error: str = ""
    score: float | None = None
    max_score: float | None = None
    needs_manual_grade: bool = False
    failed_tests: list[str] = field(default_factory=list)
    n_tests: int = 0
    #: What grading repaired or recorded (autograder.outcomes), in words.
    notes: list[str] = field(default_factory=list)
    #: The submission could not run, and every graded cell was recorded as 0 (``error`` says why).
    zero_recorded: bool = False
    #: The independent re-check (autograder.verify), when it ran: a ``SubmissionReport``.
    verify: object | None = None

    @property
    def flagged(self) -> bool:
        """The re-check revoked points or found lines a person should look at."""
        return bool(self.verify is not None and self.verify.flagged)


def worker_db_url(db_url: str) -> str:
    """``db_url`` with a long SQLite busy timeout (other databases: unchanged)."""
    if db_url.startswith("sqlite:") and "timeout=" not in db_url:
        return db_url + ("&" if "?" in db_url else "?") + f"timeout={SQLITE_TIMEOUT_S}"
    return db_url


def _autograde_one(root: str, db_url: str, assignment: str, student: str,
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
            report = _verify_one(course, assignment, student, notes) if verify else None
            outcomes.write_notes(course, assignment, student, notes)
            return {"ok": True, "error": "", "notes": notes, "zero_recorded": False,
                    "verify": report}
        error = f"{result.get('log') or ''}\n{result.get('error') or ''}"
        if "database is locked" not in error:
            break
        time.sleep(1 + attempt)
    reason = _explain(error, assignment, student)
    if any(sign in error for sign in KERNEL_START_FAILURES):
        # The kernel did not start: the grader's fault, not the submission's. No 0 recorded.
        return {"ok": False, "error": f"the grading kernel did not start: {reason}",
                "notes": notes, "zero_recorded": False, "verify": None}
    # nbgrader itself failed (a case preflight did not foresee): never a missing grade.
    outcomes.record_zero(course, assignment, student, reason)
    notes.append(outcomes.note("zero", f"graded 0: {reason}"))
    outcomes.write_notes(course, assignment, student, notes)
    return {"ok": False, "error": reason, "notes": notes, "zero_recorded": True, "verify": None}


def _verify_one(course: Course, assignment: str, student: str, notes: list[dict]):
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


def _outcome(student: str, assignment: str, seconds: float, result: dict) -> Graded:
    return Graded(student, assignment, result["ok"], seconds, result["error"],
                   notes=[n["message"] for n in result["notes"]],
                   zero_recorded=result["zero_recorded"], verify=result.get("verify"))


def _explain(error: str, assignment: str, student: str) -> str:
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


def grade(course: Course, assignment: str, students: list[str] | None = None,
          workers: int = 2, progress: bool = True, verify: bool = True) -> list[Graded]:
    """Autograde the submissions of ``assignment`` in ``workers`` processes; with
    ``verify`` (the default), re-check each one independently right after, in its worker,
    and update ``reports/ASSIGNMENT_verify.json`` for the students graded.

    A submission that cannot be graded (invalid JSON, a kernel that dies) comes back with
    ``success=False`` and its reason; the others are graded regardless.
    """
    from autograder import pool, sandbox

    students = course.students(assignment) if students is None else students
    if not students:
        return []
    sandbox.require()  # isolated grading, or an explicit opt-out: never silently unisolated
    if not course.notebook(assignment, released=True).exists() or not _in_gradebook(
            course, assignment):
        course.generate(assignment)
    jobs = [(str(course.root), course.db_url, assignment, student, verify)
            for student in students]
    outcomes = [_outcome(job[3], assignment, seconds, result)
                for job, result, seconds in pool.run(
                    _autograde_one, jobs, workers, crashed=_crashed,
                    desc=f"grading {assignment}", progress=progress)]
    outcomes.sort(key=lambda o: o.student)
    _attach_scores(course, outcomes)
    _write_verify_report(course, assignment, outcomes)
    return outcomes


def _crashed(job: tuple, exc: BaseException) -> dict:
    return {"ok": False, "error": f"the grading process failed: {exc}", "notes": [],
            "zero_recorded": False, "verify": None}


def verify_report_path(course: Course, assignment: str):
    return course.root / "reports" / f"{assignment}_verify.json"


def _write_verify_report(course: Course, assignment: str, outcomes: list[Graded]) -> None:
    """The re-check's reports of this run into reports/ASSIGNMENT_verify.json (this
    process alone writes it, after the pool: no race between workers). The other
    students' entries stay; a student graded again without a re-check loses the old one."""
    from autograder.verify import batch

    path = verify_report_path(course, assignment)
    reports = [o.verify for o in outcomes if o.verify is not None]
    if reports or path.exists():
        batch.update_json(path, reports, [o.student for o in outcomes])


def _in_gradebook(course: Course, assignment: str) -> bool:
    from nbgrader.api import MissingEntry

    with course.gradebook() as gb:
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            return False
    return True


def _attach_scores(course: Course, outcomes: list[Graded]) -> None:
    from nbgrader.api import MissingEntry

    with course.gradebook() as gb:
        for outcome in outcomes:
            if not (outcome.success or outcome.zero_recorded):
                continue
            try:
                sub = gb.find_submission(outcome.assignment, outcome.student)
            except MissingEntry:
                continue
            outcome.score, outcome.max_score = sub.score, sub.max_score
            outcome.needs_manual_grade = bool(sub.needs_manual_grade)
            tests = [g for nb in sub.notebooks for g in nb.grades if g.cell.cell_type == "code"]
            outcome.n_tests = len(tests)
            outcome.failed_tests = [g.name for g in tests if (g.auto_score or 0) < g.max_score]


def summary_table(outcomes: list[Graded]) -> str:
    """A plain-text table of the graded submissions."""
    rows = [("student", "assignment", "score", "status")]
    notes = []
    for o in outcomes:
        score = "-" if o.score is None else f"{o.score:g} / {o.max_score:g}"
        if not o.success:
            verdict = "NOT RUN, 0 recorded" if o.zero_recorded else "NOT GRADED"
            rows.append((o.student, o.assignment, score, f"{verdict}: {o.error}"))
            continue
        status = "needs manual grading" if o.needs_manual_grade else "done"
        if o.failed_tests:
            status += f"; failed: {', '.join(o.failed_tests)}"
        if o.notes:
            status += f"; {len(o.notes)} note(s)"
            notes += [f"  {o.student}: {n}" for n in o.notes]
        rows.append((o.student, o.assignment, score, status))
    table = format_table(rows)
    table += ("\n\nNotes:\n" + "\n".join(notes)) if notes else ""
    flagged = [review_line(o) for o in outcomes if o.flagged]
    if flagged:
        table += ("\n\nFor review (the independent re-check; details in reports/"
                  f"{outcomes[0].assignment}_verify.json):\n" + "\n".join(flagged))
    return table


def review_line(outcome: Graded) -> str:
    """One line for a human about a submission the re-check flagged."""
    report = outcome.verify
    parts = []
    if report.revoked:
        lost = sum(c.nbgrader_score or 0 for c in report.revoked)
        parts.append(f"{lost:g} point(s) revoked ("
                     + "; ".join(f"{c.grade_id}: {c.reason}" for c in report.revoked) + ")")
    if report.suspicious:
        parts.append(f"{len(report.suspicious)} suspicious line(s)")
    return f"  {outcome.student}: " + ", ".join(parts)


def format_table(rows: list[tuple]) -> str:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [str(v).ljust(w) for v, w in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def feedback(course: Course, assignment: str, students: list[str] | None = None) -> dict:
    """Feedback HTML for the autograded submissions; {student: html path or error}.

    A submission that could not run (recorded as 0) gets a short page with the reason.
    """
    from autograder import outcomes

    api = course.api()
    base = course.root / "autograded"
    if students is None:
        students = sorted(p.name for p in base.iterdir() if (p / assignment).is_dir()) \
            if base.is_dir() else []
    written = {}
    for student in students:
        notebook = base / student / assignment / f"{assignment}.ipynb"
        notes = outcomes.read_notes(course, assignment, student)
        if not notebook.exists() and notes:
            written[student] = _reason_page(course, assignment, student, notes)
            continue
        result = api.generate_feedback(assignment, student, force=True)
        html = course.feedback_html(student, assignment)
        written[student] = html if result["success"] and html.exists() else _explain(
            result.get("error") or result.get("log", ""), assignment, student)
    return written


def _reason_page(course: Course, assignment: str, student: str, notes: list[dict]):
    """A feedback page for a submission that could not run: its recorded reason."""
    import html

    items = "".join(f"<li>{html.escape(n['message'])}</li>" for n in notes)
    page = course.feedback_html(student, assignment)
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{assignment}</title></head>"
        f"<body><h1>{html.escape(assignment)}: feedback for {html.escape(student)}</h1>"
        f"<h2>How this submission was graded</h2><ul>{items}</ul>"
        "<p>Every graded cell scores 0. Submit the notebook again to be graded.</p>"
        "</body></html>\n")
    return page


EXPORT_COLUMNS = ["assignment", "student_id", "last_name", "first_name", "email", "timestamp",
                  "submitted", "score", "max_score", "needs_manual_grade", "status"]


def export(course: Course, path: str | os.PathLike) -> int:
    """Write every assignment x student to CSV; return the number of rows.

    Unlike ``nbgrader export``, a row says whether the score is final: ``status`` is
    ``final``, ``needs manual grading`` (the score is a partial total), or ``missing``.
    """
    from nbgrader.api import MissingEntry

    rows = []
    with course.gradebook() as gb:
        for assignment in gb.assignments:
            for student in gb.students:
                row = {"assignment": assignment.name, "student_id": student.id,
                       "last_name": student.last_name or "", "first_name":
                       student.first_name or "", "email": student.email or "",
                       "max_score": assignment.max_score}
                try:
                    sub = gb.find_submission(assignment.name, student.id)
                except MissingEntry:
                    row.update(timestamp="", submitted=False, score=0.0,
                               needs_manual_grade=False, status="missing")
                else:
                    manual = bool(sub.needs_manual_grade)
                    row.update(timestamp=sub.timestamp or "", submitted=True, score=sub.score,
                               needs_manual_grade=manual,
                               status="needs manual grading" if manual else "final")
                rows.append(row)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
