"""The instructor commands of the course: ``python -m autograder COMMAND`` (or
``activation-units COMMAND``), over nbgrader's Python API.

    build [ASSIGNMENT ...]        generate release/ from source/ (all assignments by default)
    collect ASSIGNMENT [--zip F]  submissions from nbgrader's exchange, or an LMS zip download
    grade ASSIGNMENT              autograde submitted/ in worker processes, re-check each
                                  where learner code cannot reach (--no-verify: not), summary
    verify ASSIGNMENT             re-check graded submissions again, without re-grading
    feedback ASSIGNMENT           feedback HTML without hidden tests or mark schemes
    export [--to grades.csv]      grades as CSV, saying which still need manual grading
    report ASSIGNMENT             pass rate per exercise across the class, table and PNG
    selfgrade NOTEBOOK            grade one notebook in a scratch course (for self-learners)
    progress [NOTEBOOK ...]       where a learner stands: visible tests only, nothing written
    demo                          the whole pipeline on bundled example submissions

The stock ``nbgrader`` commands work from the course root too; they read the same
``nbgrader_config.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from autograder.course import Course


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Instructor commands of the Activation Units course (over nbgrader).",
    )
    parser.add_argument("--root", type=Path, default=None,
                        help="the course directory (default: the repository)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("build", help="generate release/ from source/")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                   help="assignments to build (default: every one in source/)")

    p = sub.add_parser("collect", help="collect submissions into submitted/")
    p.add_argument("assignment", metavar="ASSIGNMENT")
    p.add_argument("--zip", nargs="+", metavar="FILE", default=None,
                   help="LMS download(s) to collect (nbgrader zip_collect)")
    p.add_argument("--regexp", default=None,
                   help="file-name pattern with groups student_id and file_id")

    p = sub.add_parser("grade", help="autograde the submissions of an assignment")
    p.add_argument("assignment", metavar="ASSIGNMENT")
    p.add_argument("--student", nargs="+", default=None, help="only these students")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--no-verify", action="store_true",
                   help="skip the independent re-check after autograding (nbgrader's scores "
                        "stand unchecked; `verify` can run it later)")
    _scheduler_flag(p)
    _isolation_flag(p)

    p = sub.add_parser("verify", help="re-check autograded scores in a separate process")
    p.add_argument("assignment", metavar="ASSIGNMENT")
    p.add_argument("--student", nargs="+", default=None, help="only these students")
    p.add_argument("--dry-run", action="store_true", help="report only; leave the gradebook")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    _scheduler_flag(p)

    p = sub.add_parser("feedback", help="write feedback HTML for autograded submissions")
    p.add_argument("assignment", metavar="ASSIGNMENT")
    p.add_argument("--student", nargs="+", default=None, help="only these students")

    p = sub.add_parser("export", help="export the gradebook as CSV")
    p.add_argument("--to", type=Path, default=Path("grades.csv"), metavar="CSV",
                   help="output file (default grades.csv)")

    p = sub.add_parser("report", help="pass rate per exercise across the class")
    p.add_argument("assignment", metavar="ASSIGNMENT")
    p.add_argument("--png", type=Path, default=None,
                   help="bar chart file (default reports/ASSIGNMENT_pass_rates.png)")

    p = sub.add_parser("selfgrade", help="grade one notebook you worked on (hidden tests too)")
    p.add_argument("notebook", type=Path, metavar="NOTEBOOK")
    p.add_argument("--assignment", default=None,
                   help="the assignment (default: guessed from the notebook's name)")
    p.add_argument("--workdir", type=Path, default=None,
                   help="scratch course directory (default .selfgrade/ in the course root)")
    _isolation_flag(p)

    p = sub.add_parser("progress", help="run every visible test of your notebooks, per exercise")
    p.add_argument("notebooks", nargs="*", type=Path, metavar="NOTEBOOK",
                   help="notebooks to run (default: every notebook in release/)")

    p = sub.add_parser("demo", help="run the pipeline on bundled example submissions")
    p.add_argument("--workdir", type=Path, default=None,
                   help="scratch course directory (default .demo/ in the course root)")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--all", action="store_true", dest="everything",
                   help="every assignment in source/, not only 02 and 05")
    p.add_argument("--assignment", action="append", default=None, metavar="NAME",
                   help="grade only this assignment (repeatable)")
    _isolation_flag(p)
    return parser


def _scheduler_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="grade on a Dask cluster: its scheduler (tcp://host:8786), or `local` "
                        "for a LocalCluster of --workers processes (docs/GRADING.md)")


def _isolation_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-isolation", action="store_true",
                   help="run graded code unsandboxed: the explicit opt-out (docs/GRADING.md)")


#: Commands that grade code the person at the keyboard brought themselves (the bundled
#: examples, a self-learner's own notebook): where the sandbox cannot run, they fall back to
#: unsandboxed grading and say so. `grade` runs other people's code: it refuses instead.
OWN_CODE_COMMANDS = ("demo", "selfgrade")


def choose_isolation(args) -> None:
    """Settle ACTIVATION_UNITS_ISOLATION before the course's config is read."""
    from autograder import sandbox

    if getattr(args, "no_isolation", False):
        os.environ[sandbox.ENV_SWITCH] = "off"
    elif (args.command in OWN_CODE_COMMANDS and sandbox.ENV_SWITCH not in os.environ
          and sandbox.unavailable()):
        print(f"{args.command}: {sandbox.unavailable()}. Grading your own code unsandboxed; "
              "`grade` (students' code) would refuse.", file=sys.stderr)
        os.environ[sandbox.ENV_SWITCH] = "off"


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the exit status (0 success, 1 failure, 2 usage error)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        choose_isolation(args)
        course = Course(args.root)
        with warnings.catch_warnings():
            # SQLAlchemy warns about nbgrader's session handling on every autograde.
            warnings.filterwarnings("ignore", module="sqlalchemy")
            warnings.filterwarnings("ignore", message=".*not in session.*")
            return COMMANDS[args.command](course, args)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1


def _assignment(course: Course, name: str) -> str:
    if name not in course.assignments():
        known = ", ".join(course.assignments()) or "none"
        raise ValueError(f"{name} is not an assignment in {course.source} (there: {known}); "
                         "check the spelling.")
    return name


def cmd_build(course: Course, args) -> int:
    names = args.assignments or course.assignments()
    if not names:
        raise ValueError(f"there is nothing to build: {course.source} has no assignment.")
    for name in names:
        course.generate(_assignment(course, name))
        print(f"built {course.notebook(name, released=True)}")
    return 0


def cmd_collect(course: Course, args) -> int:
    from autograder import collect

    name = _assignment(course, args.assignment)
    if args.zip:
        students = collect.from_zip(course, name, args.zip, args.regexp)
    else:
        students = collect.from_exchange(course, name)
    print(f"{len(students)} submission(s) of {name} in {course.root / 'submitted'}: "
          f"{', '.join(students)}")
    return 0


def cmd_grade(course: Course, args) -> int:
    from autograder.grading import grade, summary_table

    name = _assignment(course, args.assignment)
    if args.workers < 1:
        raise ValueError("--workers must be at least 1.")
    students = args.student or course.students(name)
    if not students:
        raise ValueError(f"there are no submissions of {name} in {course.root / 'submitted'}; "
                         f"run `python -m autograder collect {name}` first.")
    outcomes = grade(course, name, students, workers=args.workers, verify=not args.no_verify,
                     scheduler=args.scheduler)
    print(summary_table(outcomes))
    resumed = sum(o.resumed for o in outcomes)
    if resumed:
        print(f"\nResumed an interrupted run: {resumed} submission(s) it had graded were kept "
              f"as they are in the gradebook; {len(outcomes) - resumed} graded now.")
    broken = [o for o in outcomes if not o.success]
    print(f"\n{len(outcomes) - len(broken)} of {len(outcomes)} submission(s) graded"
          f"{'' if not broken else '; not graded: ' + ', '.join(o.student for o in broken)}.")
    print(_verify_summary(course, name, outcomes, args.no_verify))
    if broken:
        print(f"grade: {len(broken)} submission(s) could not be graded; see the table above, "
              "fix or ask for a new file, then grade them again with --student.",
              file=sys.stderr)
    return 1 if broken else 0


def _verify_summary(course: Course, name: str, outcomes, skipped: bool) -> str:
    """The last line of `grade`: what the independent re-check did."""
    from autograder.grading import verify_report_path

    if skipped:
        return (f"Independent re-check skipped (--no-verify): the scores are nbgrader's, "
                f"unchecked; `python -m autograder verify {name}` re-checks them.")
    if not any(o.success for o in outcomes):
        return "Independent re-check: no submission was graded, so none was re-checked."
    done = [o.verify for o in outcomes if o.verify is not None and not o.verify.error]
    flagged = [o.student for o in outcomes if o.flagged]
    failed = [o.student for o in outcomes if o.success and (o.verify is None or o.verify.error)]
    isolation = f" (isolation: {done[0].isolation or 'none'})" if done else ""
    line = (f"Independent re-check: {len(done)} submission(s) re-checked{isolation}; "
            f"{len(flagged)} flagged for review" + (f": {', '.join(flagged)}" if flagged else ""))
    if failed:
        line += (f"; not re-checked (nbgrader's scores stand, see the notes): "
                 f"{', '.join(failed)}")
    return f"{line}.\nReport: {verify_report_path(course, name)}"


def cmd_verify(course: Course, args) -> int:
    from autograder import verify
    from autograder.verify import batch

    name = _assignment(course, args.assignment)
    if args.scheduler is None:
        reports = verify.verify(course, name, args.student, write=not args.dry_run,
                                workers=max(1, args.workers))
    else:
        from autograder import cluster

        reports = cluster.verify(course, name, args.student or course.students(name),
                                 args.scheduler, max(1, args.workers), write=not args.dry_run)
    if not reports:
        raise ValueError(f"there are no submissions of {name} in {course.root / 'submitted'}.")
    out = course.root / "reports" / f"{name}_verify.json"
    batch.update_json(out, reports)  # the other students' entries stay
    print(verify.render(reports))
    print(f"\nReport: {out}")
    return 0


def cmd_feedback(course: Course, args) -> int:
    from autograder.grading import feedback

    name = _assignment(course, args.assignment)
    written = feedback(course, name, args.student)
    if not written:
        raise ValueError(f"no autograded submission of {name}; run "
                         f"`python -m autograder grade {name}` first.")
    failed = 0
    for student, html in written.items():
        if isinstance(html, Path):
            print(f"{student}: {html}")
        else:
            failed += 1
            print(f"feedback: no feedback for {student}: {html}", file=sys.stderr)
    return 1 if failed else 0


def cmd_export(course: Course, args) -> int:
    from autograder.grading import export

    n = export(course, args.to)
    print(f"wrote {n} row(s) to {args.to} (column status: final, needs manual grading, missing)")
    return 0


def cmd_report(course: Course, args) -> int:
    from autograder import pass_rates

    name = _assignment(course, args.assignment)
    rates = pass_rates.measure(course, name)
    if not any(r.graded for r in rates):
        raise ValueError(f"no graded submission of {name} yet; run "
                         f"`python -m autograder grade {name}` first.")
    png = args.png or course.root / "reports" / f"{name}_pass_rates.png"
    pass_rates.chart(rates, png, f"{name}: tests passed across the class")
    print(pass_rates.table(rates))
    print(f"\nBy exercise:\n{pass_rates.table(pass_rates.by_exercise(rates), per_test=False)}")
    print(f"\nChart: {png}")
    return 0


def cmd_selfgrade(course: Course, args) -> int:
    from autograder.selfgrade import render, selfgrade

    print(render(selfgrade(args.notebook, course, args.assignment, args.workdir)))
    return 0


def cmd_progress(course: Course, args) -> int:
    from autograder.learner_progress import notebook_progress

    notebooks = args.notebooks or sorted(course.release.glob("*/*.ipynb"))
    for path in notebooks:
        print(f"{path.name}: running it top to bottom (visible tests only) ...", flush=True)
        print(notebook_progress(path), end="\n\n", flush=True)
    return 0


def cmd_demo(course: Course, args) -> int:
    from autograder import demo

    failures = demo.run(course, args.workdir, args.workers, args.everything,
                        only=args.assignment)
    if failures:
        print(f"demo: {failures} example submission(s) could not be graded; see above.",
              file=sys.stderr)
    return 1 if failures else 0


COMMANDS = {
    "build": cmd_build, "collect": cmd_collect, "grade": cmd_grade, "verify": cmd_verify,
    "feedback": cmd_feedback,
    "export": cmd_export, "report": cmd_report, "selfgrade": cmd_selfgrade,
    "progress": cmd_progress, "demo": cmd_demo,
}
