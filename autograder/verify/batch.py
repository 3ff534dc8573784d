"""Verifying submissions: one (right after autograding it) or all of an assignment, the
gradebook writes for points the re-check denies, and the reports."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

from autograder.verify.decide import CellVerdict, SubmissionReport, decide
from autograder.verify.notebooks import Plan, plan, suspicious


def _solution_for(test_id: str, solutions: list[str]) -> str | None:
    """The solution cell of the exercise a test cell belongs to (longest common prefix)."""
    best = None
    for sol in solutions:
        stem = sol.removesuffix("_solution")
        if test_id.startswith(stem + "_") and (best is None or len(sol) > len(best)):
            best = sol
    return best


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
                        f"the independent re-check ({verdict.reason})")
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


def check_submission(course, assignment: str, student: str,
                     p: Plan | None = None) -> SubmissionReport:
    """Decide the test cells of one submission (no gradebook access)."""
    t0 = time.perf_counter()
    p = p or plan(course.notebook(assignment))
    report = SubmissionReport(student, assignment)
    path = course.submitted(student, assignment) / f"{p.notebook}.ipynb"
    try:
        submitted = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(submitted, dict):
            raise ValueError("not a notebook")
    except (OSError, ValueError) as exc:
        report.error = f"the submitted notebook cannot be read ({type(exc).__name__})"
        report.seconds = time.perf_counter() - t0
        return report
    report.suspicious = suspicious(submitted)
    verdicts, child = decide(submitted, p, path.parent)
    report.isolation = child.isolation
    report.cells = [CellVerdict(gid, status, reason) for gid, (status, reason) in verdicts.items()]
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


_WORKER_PLANS: dict[str, Plan] = {}


def _check_worker(root: str, assignment: str, student: str) -> SubmissionReport:
    from autograder.course import Course

    course = Course(root)
    key = str(course.notebook(assignment))
    if key not in _WORKER_PLANS:  # one setup check per worker process
        _WORKER_PLANS[key] = plan(course.notebook(assignment))
    return check_submission(course, assignment, student, _WORKER_PLANS[key])


def verify(course, assignment: str, students: list[str] | None = None, *,
           write: bool = True, workers: int = 1) -> list[SubmissionReport]:
    """Re-check the autograded submissions of ``assignment`` (all by default).

    With ``workers`` > 1 the submissions are decided in that many processes; the
    gradebook is written by this process alone, afterwards."""
    from autograder.grading import submitted_students

    p = plan(course.notebook(assignment))
    students = submitted_students(course, assignment) if students is None else students
    if workers > 1 and len(students) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(students)),
                                 mp_context=context) as pool:
            reports = list(pool.map(_check_worker, [str(course.root)] * len(students),
                                    [assignment] * len(students), students))
    else:
        reports = [check_submission(course, assignment, s, p) for s in students]
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


def write_json(reports: list[SubmissionReport], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([{**asdict(r), "flagged": r.flagged} for r in reports],
                               indent=1))
