r"""Where a learner stands: every visible check of a notebook, run now, as one table.

Call it at the end of a notebook (each one ends with this cell), or at any time:

    from course_utils.progress import progress
    progress()

It runs the *visible* part of every test cell of the notebook (never the hidden tests,
which a release does not contain anyway) against the functions defined in the kernel, and
prints one row per exercise: the points its passing tests are worth and what failed,

    exercise              points    status
    sigmoid               3 / 3     passes
    sigmoid_grad          2 / 4     sigmoid_grad_edges: sigmoid_grad: 3 of 13 values are wrong
    ...
    9 of 15 exercises pass (31 of 45 points, before the hidden tests).

It writes nothing and grades nothing: the points are what the visible checks say now.
``./course.sh progress`` does the same for every notebook in ``release/``.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ExerciseProgress", "exercise_progress", "first_line", "progress", "progress_table",
           "read_tests", "run_visible"]

HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
#: How much of a failure's first line a row shows.
REASON_CHARS = 72


@dataclass
class ExerciseProgress:
    """One exercise: its test cells' points, the points passing now, and what failed."""

    name: str
    possible: float = 0.0
    earned: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def passes(self) -> bool:
        return self.earned >= self.possible


def visible_part(source: str) -> str:
    """A test cell's source without its hidden-test region."""
    kept, hidden = [], False
    for line in source.splitlines():
        if HIDDEN[0] in line:
            hidden = True
        elif HIDDEN[1] in line:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept)


def read_tests(notebook: str | os.PathLike) -> list[tuple[str, str, float, str]]:
    """(exercise, test grade id, points, visible source) for every autograded test cell, in
    notebook order; a test belongs to the exercise (solution cell) above it."""
    import nbformat

    exercise, tests = None, []
    for cell in nbformat.read(notebook, as_version=4).cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id", "")
        if cell.cell_type != "code":
            continue
        if meta.get("solution"):
            exercise = gid.removesuffix("_solution")
        elif meta.get("grade"):
            tests.append((exercise or gid, gid, float(meta.get("points") or 0),
                          visible_part(cell.source)))
    return tests


def run_visible(source: str, namespace: dict) -> str:
    """Run one test cell's visible part in ``namespace``; '' if it passes, else why not
    (the first line of the failure, or of what it wrote to stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            exec(compile(source, "<test cell>", "exec"), namespace)
        except NameError:  # the exercise cell has not run in this kernel
            return "its exercise cell has not run yet"
        except Exception as error:  # a failing check: its message says why
            text = str(error) or type(error).__name__
            return first_line(text)
    return first_line(f"wrote to stderr: {err.getvalue()}") if err.getvalue() else ""


def first_line(text: str, limit: int = REASON_CHARS) -> str:
    """The first line of a message (a check says what is wrong there), at most ``limit``
    characters, cut at the end with '...'."""
    first = (text.strip().splitlines() or [""])[0]
    return first if len(first) <= limit else first[:limit - 3].rstrip() + "..."


def _this_notebook() -> Path:
    """The notebook of this kernel: the server names it (JPY_SESSION_NAME), else the one
    notebook in the kernel's working directory."""
    named = os.environ.get("JPY_SESSION_NAME", "")
    if named.endswith(".ipynb") and Path(named).is_file():
        return Path(named)
    here = sorted(p for p in Path.cwd().glob("*.ipynb") if not p.name.startswith("."))
    if len(here) == 1:
        return here[0]
    if not here:  # grading moves the notebook out of the kernel's folder while it runs
        raise FileNotFoundError("progress: cannot tell which notebook this is: there is no "
                                "notebook file beside this kernel (as while it is graded).")
    raise FileNotFoundError(
        f"progress: cannot tell which notebook this is ({len(here)} notebooks here); "
        "call progress(notebook='NAME.ipynb').")


#: The table fits the width of the checks' messages (course_utils.checks: 88 columns).
WIDTH = 88


def status(row: ExerciseProgress, room: int = WIDTH) -> str:
    """'passes', 'not implemented yet', or why the first failing test fails (and how many
    more fail), in at most ``room`` characters."""
    if row.passes:
        return "passes"
    reasons = [f.split(": ", 1)[1] if ": " in f else f for f in row.failures]
    if all(r.endswith("is not implemented yet.") for r in reasons):
        return "not implemented yet"
    if all(r == reasons[0] for r in reasons):
        reasons = reasons[:1]
    more = f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else ""
    first = reasons[0]
    if len(first) + len(more) > room:
        first = first[:max(room - len(more) - 3, 10)].rstrip() + "..."
    return first + more


def progress_table(rows: list[ExerciseProgress]) -> str:
    """The table ``progress`` prints, and its closing count."""
    width = max([len("exercise"), *(len(r.name) for r in rows)])
    lines = [f"{'exercise':{width}}  {'points':>9}  status", f"{'-' * width}  {'-' * 9}  {'-' * 6}"]
    room = WIDTH - width - 13
    for r in rows:
        lines.append(f"{r.name:{width}}  {f'{r.earned:g} / {r.possible:g}':>9}  "
                     f"{status(r, room)}")
    passing = sum(r.passes for r in rows)
    earned, possible = sum(r.earned for r in rows), sum(r.possible for r in rows)
    lines.append(f"{passing} of {len(rows)} exercises pass ({earned:g} of {possible:g} points, "
                 "before the hidden tests).")
    return "\n".join(lines)


def exercise_progress(namespace: dict, notebook: str | os.PathLike) -> list[ExerciseProgress]:
    """One ``ExerciseProgress`` per exercise of ``notebook``, its visible checks run against
    the functions in ``namespace``. Never runs hidden tests, never writes anything."""
    rows: dict[str, ExerciseProgress] = {}
    for exercise, gid, points, source in read_tests(notebook):
        row = rows.setdefault(exercise, ExerciseProgress(exercise))
        row.possible += points
        why = run_visible(source, namespace)
        if why:
            row.failures.append(f"{gid}: {why}")
        else:
            row.earned += points
    return list(rows.values())


def progress(notebook: str | os.PathLike | None = None) -> None:
    """Print where you stand: every visible check of this notebook (or ``notebook``), run
    now against your functions, one row per exercise (see the module's docstring)."""
    namespace = inspect.stack()[1].frame.f_globals
    try:
        path = Path(notebook) if notebook else _this_notebook()
    except FileNotFoundError as error:
        print(error)  # not an error of the learner's work: say so, and stop
        return
    print(progress_table(exercise_progress(namespace, path)))
