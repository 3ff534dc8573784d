"""Batch autograding, feedback, and the export of grades.

Each submission is autograded by nbgrader's API (autograder.autograde) in a worker process
of the local pool (autograder.pool), or on a Dask cluster (autograder.cluster): the
kernels, which take almost all the time, run in parallel. A run killed half-way resumes
where it stopped (autograder.journal).

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
from dataclasses import dataclass, field

from autograder.course import Course


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
    #: Graded by an earlier run of the same students that was killed (autograder.journal).
    resumed: bool = False

    @property
    def flagged(self) -> bool:
        """The re-check revoked points or found lines a person should look at."""
        return bool(self.verify is not None and self.verify.flagged)


def _outcome(student: str, assignment: str, seconds: float, result: dict,
             resumed: bool = False) -> Graded:
    return Graded(student, assignment, result["ok"], seconds, result["error"],
                  notes=[n["message"] for n in result["notes"]],
                  zero_recorded=result["zero_recorded"], verify=result.get("verify"),
                  resumed=resumed)


def grade(course: Course, assignment: str, students: list[str] | None = None,
          workers: int = 2, progress: bool = True, verify: bool = True,
          scheduler=None) -> list[Graded]:
    """Autograde the submissions of ``assignment`` in ``workers`` processes; with
    ``verify`` (the default), re-check each one independently right after, in its worker,
    and update ``reports/ASSIGNMENT_verify.json`` for the students graded.

    With ``scheduler`` (a Dask scheduler's address or scheduler file, "local", or a
    ``distributed.Client``) the submissions are graded on that cluster instead
    (autograder.cluster), and this process alone writes the
    gradebook and ``autograded/``. A run killed half-way resumes where it stopped
    (autograder.journal): those outcomes come back with ``resumed`` set.

    A submission that cannot be graded (invalid JSON, a kernel that dies) comes back with
    ``success=False`` and its reason; the others are graded regardless.
    """
    from autograder import autograde, journal, pool, sandbox

    students = course.students(assignment) if students is None else students
    if not students:
        return []
    if scheduler is None:
        sandbox.require()  # isolated grading, or an explicit opt-out: never silently unisolated
    if not course.notebook(assignment, released=True).exists() or not _in_gradebook(
            course, assignment):
        course.generate(assignment)
    run = journal.Journal.start(course, assignment, students)
    todo = run.todo()
    desc = f"grading {assignment}"
    if scheduler is not None:
        results = _on_cluster(course, assignment, todo, scheduler, workers, verify, progress)
    else:
        jobs = [(str(course.root), course.db_url, assignment, student, verify)
                for student in todo]
        results = ((job[3], result, seconds) for job, result, seconds in pool.run(
            autograde.autograde_one, jobs, workers, desc=desc, progress=progress,
            crashed=lambda job, exc: autograde.crashed(exc)))
    outcomes = []
    for student, result, seconds in results:
        run.write(course, assignment, student, result, seconds)
        outcomes.append(_outcome(student, assignment, seconds, result))
    for student, (result, seconds) in run.kept.items():
        outcomes.append(_outcome(student, assignment, seconds, result, resumed=True))
    outcomes.sort(key=lambda o: o.student)
    _attach_scores(course, outcomes)
    _write_verify_report(course, assignment, outcomes)
    run.end()
    return outcomes


def _on_cluster(course: Course, assignment: str, students: list[str], scheduler,
                workers: int, verify: bool, progress: bool):
    """Grade on a Dask cluster; yield (student, result, seconds) once each is recorded here:
    the autograded folder written, the gradebook rows copied, a poison submission 0."""
    from autograder import autograde, cluster, outcomes

    if not students:
        return
    b = cluster.bundle(course, assignment)

    def prepare(student: str) -> tuple:
        return (b, student, cluster.pack(course.submitted(student, assignment)),
                cluster.read_rows(course, assignment, student), verify)

    def crashed(student: str, exc: BaseException) -> dict:
        from distributed import KilledWorker

        if not isinstance(exc, KilledWorker):
            return autograde.crashed(exc)
        reason = (f"it ended the grading worker on each of its tries "
                  f"(Dask's allowed-failures: {exc})"[:300])
        outcomes.record_zero(course, assignment, student, reason)
        notes = [outcomes.note("zero", f"graded 0: {reason}")]
        outcomes.write_notes(course, assignment, student, notes)
        return {"ok": False, "error": reason, "notes": notes, "zero_recorded": True,
                "verify": None}

    client = cluster.connect(scheduler, workers)
    try:
        for student, result, seconds in cluster.run(
                client, cluster.grade_remote, students, prepare, crashed=crashed,
                desc=f"grading {assignment} on {client.scheduler.address}",
                progress=progress):
            if "rows" in result:
                cluster.unpack(result["autograded"], course.autograded(student, assignment))
                cluster.write_rows(course, assignment, student, result["rows"])
            yield student, result, seconds
    finally:
        cluster.close(client)


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
    from autograder import autograde, outcomes

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
        written[student] = html if result["success"] and html.exists() else autograde.explain(
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
