"""Verifying submissions: one (right after autograding it) or all of an assignment, the
gradebook writes for points the re-check denies, and the reports.

What the learner reads (the ``auto_comment`` of a solution cell, the grading notes shown
at the top of the feedback) never quotes a test cell that has hidden tests: the failing
line of such a cell can be a hidden input (:func:`public_reason`). The instructor's
report (``reports/ASSIGNMENT_verify.json``, the summary) keeps the full reason.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from autograder.verify.notebooks import Plan, plan, suspicious
from autograder.verify.replay import CellVerdict, SubmissionReport, decide

#: Suspicious lines listed in the grading notes of one submission (the report has them all).
MAX_SUSPICIOUS_NOTES = 5


def _solution_for(test_id: str, solutions: list[str]) -> str | None:
    """The solution cell of the exercise a test cell belongs to (longest common prefix)."""
    best = None
    for sol in solutions:
        stem = sol.removesuffix("_solution")
        if test_id.startswith(stem + "_") and (best is None or len(sol) > len(best)):
            best = sol
    return best


def public_reason(verdict: CellVerdict, p: Plan) -> str:
    """Why a test cell failed the re-check, in words the learner may read.

    A cell with hidden tests: no detail (its first failing line can quote a hidden input).
    Other cells: the failing check's first line, as in the instructor's report."""
    from autograder.feedback import hidden_lines  # the feedback's own rule for hidden tests

    source = p.tests.get(verdict.grade_id, ("", 0.0))[0]
    if hidden_lines(source):
        return "the test cell, hidden tests included, fails when re-checked"
    return verdict.reason


def apply(course, assignment: str, report: SubmissionReport, p: Plan, *, write: bool) -> None:
    """Read nbgrader's scores into ``report``; with ``write``, set denied scores to 0."""
    from nbgrader.api import MissingEntry

    with course.gradebook() as gb:
        reasons: dict[str, list[str]] = {}
        for verdict in report.cells:
            try:
                grade = gb.find_grade(verdict.grade_id, p.notebook, assignment, report.student)
            except MissingEntry:
                continue
            verdict.nbgrader_score = grade.auto_score
            verdict.max_score = float(grade.max_score or 0)
            if verdict.status == "fail" and (grade.auto_score or 0) > 0:
                verdict.revoked = True
                if write:
                    grade.auto_score = 0.0
                sol = _solution_for(verdict.grade_id, p.solutions)
                if sol:
                    reasons.setdefault(sol, []).append(
                        f"{verdict.grade_id}: {verdict.nbgrader_score:g} point(s) set to 0 by "
                        f"the independent re-check ({public_reason(verdict, p)})")
        if write:
            for sol, lines in reasons.items():
                try:
                    comment = gb.find_comment(sol, p.notebook, assignment, report.student)
                except MissingEntry:
                    continue
                note = "\n".join(lines)
                if not (comment.auto_comment or "").endswith(note):
                    comment.auto_comment = note
            gb.db.commit()


# ---------------------------------------------------------------------------------------
# Entry points


def _workdir(submission: Path) -> tempfile.TemporaryDirectory:
    """A scratch copy of what the grading kernel's directory held: the submission's data
    files, without its notebooks (the autograded one carries the hidden tests), its code
    files (``outcomes.CODE_SUFFIXES``: a submitted numpy.py) and its links."""
    from autograder.outcomes import CODE_SUFFIXES

    work = tempfile.TemporaryDirectory(prefix="au-verify-")
    for path in sorted(submission.rglob("*")):
        if path.is_symlink() or not path.is_file() or path.suffix in (".ipynb", *CODE_SUFFIXES):
            continue
        target = Path(work.name) / path.relative_to(submission)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return work


def check_submission(course, assignment: str, student: str,
                     p: Plan | None = None) -> SubmissionReport:
    """Decide the test cells of one submission (no gradebook access)."""
    t0 = time.perf_counter()
    p = p or plan(course.notebook(assignment))
    report = SubmissionReport(student, assignment)
    # The notebook as grading ran it: an older format converted, a renamed file under its
    # name, split cells and unknown grade ids resolved, the grading metadata restored
    # (autograder.outcomes). The child runs its cells, with the test cells as source/ has
    # them, in a directory that is a copy of the submission's data files.
    path = course.autograded(student, assignment) / f"{p.notebook}.ipynb"
    try:
        submitted = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(submitted, dict):
            raise ValueError("not a notebook")
    except FileNotFoundError:
        report.error = "it has not been autograded (run `python -m autograder grade` first)"
        report.seconds = time.perf_counter() - t0
        return report
    except (OSError, ValueError) as exc:
        report.error = f"the autograded notebook cannot be read ({type(exc).__name__})"
        report.seconds = time.perf_counter() - t0
        return report
    report.suspicious = suspicious(submitted)
    with _workdir(course.submitted(student, assignment)) as cwd:
        verdicts, transcript = decide(submitted, p, Path(cwd))
    report.isolation = transcript.isolation
    report.cells = [CellVerdict(gid, status, reason) for gid, (status, reason) in verdicts.items()]
    problem = (f"the setup cells fail in the verifier: {p.setup_error}" if p.setup_error
               else transcript.env_error)
    if problem and all(c.status == "not covered" for c in report.cells):
        # The verifier's own failure (the machine, the course), never the learner's.
        report.error = f"the re-check could not run ({problem})"
    report.seconds = time.perf_counter() - t0
    return report


def verify_submission(course, assignment: str, student: str, *, write: bool = True,
                      p: Plan | None = None) -> SubmissionReport:
    """Re-check one autograded submission; revoke denied points when ``write``.

    The one call for a grading loop, right after nbgrader autograded ``student``."""
    p = p or plan(course.notebook(assignment))
    report = check_submission(course, assignment, student, p)
    if not report.error:
        apply(course, assignment, report, p, write=write)
    return report


_WORKER_PLANS: dict[tuple[str, int], Plan] = {}


def worker_plan(course, assignment: str) -> Plan:
    """The plan of ``assignment``, built once per process (and again if the source
    notebook changes): its setup check starts a child, so it is not repeated per student."""
    path = course.notebook(assignment)
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _WORKER_PLANS:
        _WORKER_PLANS[key] = plan(path)
    return _WORKER_PLANS[key]


def _check_worker(root: str, assignment: str, student: str) -> SubmissionReport:
    from autograder.course import Course

    course = Course(root)
    return check_submission(course, assignment, student, worker_plan(course, assignment))


def _crashed(job: tuple, exc: BaseException) -> SubmissionReport:
    root, assignment, student = job
    return SubmissionReport(student, assignment, error=f"the re-check process failed: {exc}")


def verify(course, assignment: str, students: list[str] | None = None, *,
           write: bool = True, workers: int = 1) -> list[SubmissionReport]:
    """Re-check the autograded submissions of ``assignment`` (all by default).

    With ``workers`` > 1 the submissions are decided in that many processes; the
    gradebook is written by this process alone, afterwards."""
    from autograder import pool

    p = plan(course.notebook(assignment))
    students = course.students(assignment) if students is None else students
    jobs = [(str(course.root), assignment, student) for student in students]
    reports = [report for _, report, _ in pool.run(_check_worker, jobs, workers,
                                                   crashed=_crashed, desc="re-checking")]
    reports.sort(key=lambda r: students.index(r.student))
    for report in reports:
        if not report.error:
            apply(course, assignment, report, p, write=write)
    return reports


def render(reports: list[SubmissionReport]) -> str:
    """A plain-text summary: per submission, revoked points and suspicious lines."""
    lines = []
    for r in reports:
        covered = [c for c in r.cells if c.status != "not covered"]
        head = f"{r.student}: "
        if r.error:
            lines.append(head + f"not verified: {r.error}")
            continue
        lost = sum(c.nbgrader_score or 0 for c in r.revoked)
        head += f"{len(covered)} of {len(r.cells)} test cell(s) re-checked"
        head += f"; {lost:g} point(s) revoked" if r.revoked else "; agrees with nbgrader"
        lines.append(head)
        lines += [f"  revoked {c.grade_id}: {c.reason}" for c in r.revoked]
        lines += [f"  suspicious: {s}" for s in r.suspicious]
    if reports:
        lines.append(f"(learner code ran in a child process; isolation: {reports[0].isolation})")
    return "\n".join(lines)


def notes(report: SubmissionReport, p: Plan) -> list[dict]:
    """Grading notes (``autograder.outcomes.note``) for one re-checked submission.

    ``revoked``: points set to 0, with the reason the learner may read; ``suspicious``:
    lines for the instructor to look at (no points taken; the feedback leaves them out);
    ``verify``: the re-check could not run, so nbgrader's scores stand."""
    from autograder.outcomes import note

    if report.error:
        return [note("verify", f"not re-checked independently: {report.error}; the scores "
                               "above are nbgrader's")]
    out = [note("revoked", f"{c.grade_id}: {c.nbgrader_score or 0:g} point(s) set to 0 by the "
                           f"independent re-check ({public_reason(c, p)})")
           for c in report.revoked]
    shown = report.suspicious[:MAX_SUSPICIOUS_NOTES]
    out += [note("suspicious", f"for review, no points taken: {s}") for s in shown]
    if len(report.suspicious) > len(shown):
        out.append(note("suspicious", f"for review: {len(report.suspicious) - len(shown)} more "
                                      f"suspicious line(s) in reports/{report.assignment}"
                                      "_verify.json"))
    return out


def as_json(report: SubmissionReport) -> dict:
    return {**asdict(report), "flagged": report.flagged}


def write_json(reports: list[SubmissionReport], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([as_json(r) for r in reports], indent=1))


def update_json(path: Path, reports: list[SubmissionReport],
                students: list[str] | None = None) -> None:
    """Put ``reports`` into the report file at ``path``, keeping the other students' entries.

    The entries of ``students`` without a new report (graded again without the re-check,
    or not graded) are removed: their old re-check no longer describes the gradebook."""
    try:
        old = json.loads(path.read_text())
        entries = {e["student"]: e for e in old if isinstance(e, dict) and "student" in e}
    except (OSError, ValueError, TypeError):
        entries = {}
    for student in students or []:
        entries.pop(student, None)
    entries.update({r.student: as_json(r) for r in reports})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps([entries[s] for s in sorted(entries)], indent=1))
    tmp.replace(path)
