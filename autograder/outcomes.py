"""Every submission gets a grade and a reason: the defined outcome of each way grading fails.

Three pieces, each documented case by case in docs/GRADING.md:

- ``preflight``: looks at ``submitted/STUDENT/ASSIGNMENT`` before nbgrader does and either
  says why the submission cannot be run at all (missing, not JSON, not a notebook, too large:
  the grade is then recorded as 0 with that reason by ``record_zero``), or returns notes about
  what grading will repair (a renamed notebook, extra files, split cells, edited test cells,
  changed points, another kernel, an older notebook format).
- ``GuardedExecute``: nbgrader's ``Execute`` that survives the kernel. A cell that runs past
  the timeout is interrupted and scores 0; a kernel that ignores the interrupt is killed after
  a grace period; a kernel that dies (``os._exit``, a segfault, the memory or CPU limit) is
  recorded on the cell where it died. Either way the cells after it are marked "not run" and
  score 0, the cells before it keep their scores, and the notebook is saved and graded.
- ``ShowGradingNotes``: the feedback preprocessor that puts the notes at the top of the
  feedback, so the learner sees the reason as well.

Notes are kept next to the autograded notebook in ``grading_notes.json`` (a list of
``{"kind", "message"}``) for the ``grade`` summary and the feedback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute, NbGraderPreprocessor, OverwriteCells
from traitlets import Integer

NOTES_FILE = "grading_notes.json"
MAX_NOTEBOOK_MB = 20
#: The error name on a cell where grading stopped, and on the cells never run after it.
KERNEL_ENAME = "GradingStopped"
NOT_RUN_ENAME = "NotRun"

#: Incidents of the GuardedExecute runs in this process (the grading worker reads them).
INCIDENTS: list[dict] = []


def note(kind: str, message: str) -> dict:
    return {"kind": kind, "message": message}


# --- Before grading ------------------------------------------------------------------------
def _cells_by_id(nb) -> dict[str, NotebookNode]:
    out = {}
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid:
            out.setdefault(gid, cell)
    return out


def preflight(course, assignment: str, student: str) -> tuple[list[dict], str]:
    """Inspect a submission before grading: (notes, fatal reason or '').

    A renamed notebook (the only ``.ipynb`` in the directory, under another name) is copied
    to the expected name and graded; the student's file stays as it was.
    """
    notes: list[dict] = []
    directory = course.submitted(student, assignment)
    expected = directory / f"{assignment}.ipynb"
    if not directory.is_dir():
        return notes, "missing: there is no submission directory"
    links = sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_symlink())
    if links:
        # The grader (not the sandbox) copies the submission: a link could copy any file of
        # the course (the solutions) next to the notebook.
        return notes, ("symbolic links in the submission (" + ", ".join(links[:5])
                       + "); submit regular files")
    notebooks = sorted(p for p in directory.glob("*.ipynb") if p.name != expected.name)
    if not expected.exists():
        if len(notebooks) == 1:
            expected.write_bytes(notebooks[0].read_bytes())
            notes.append(note("renamed", f"the notebook was named {notebooks[0].name}; it was "
                              f"graded as {expected.name}"))
        elif not notebooks:
            return notes, f"missing notebook: {expected.name} was not submitted"
        else:
            names = ", ".join(p.name for p in notebooks)
            return notes, (f"missing notebook: {expected.name} was not submitted, and "
                           f"{len(notebooks)} other notebooks were ({names})")
    elif notebooks:
        notes.append(note("extra", "other notebooks are not graded: "
                          + ", ".join(p.name for p in notebooks)))
    extras = sorted(str(p.relative_to(directory)) for p in directory.rglob("*")
                    if p.is_file() and p.suffix != ".ipynb" and p.name != "timestamp.txt")
    if extras:
        notes.append(note("extra", "extra files were submitted (code files among them are "
                          "removed before the notebook runs, data files kept): "
                          + ", ".join(extras[:10])
                          + (" ..." if len(extras) > 10 else "")))
    if expected.is_symlink() or not expected.is_file():
        return notes, "not a regular file: the notebook is a link or a directory"
    size_mb = expected.stat().st_size / 1e6
    if size_mb > MAX_NOTEBOOK_MB:
        return notes, (f"too large: the notebook is {size_mb:.0f} MB (limit {MAX_NOTEBOOK_MB} "
                       "MB); clear its outputs and submit again")
    try:
        raw = json.loads(expected.read_bytes())
    except (ValueError, UnicodeDecodeError):
        return notes, "not valid JSON: the notebook file is broken or truncated"
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        return notes, "not a notebook: the file is JSON but has no cells"
    try:
        nb = nbformat.reads(json.dumps(raw), as_version=4)
    except Exception as exc:  # nbformat's many validation errors
        return notes, f"not a readable notebook: {str(exc).splitlines()[0][:200]}"
    if raw.get("nbformat", 4) < 4:
        notes.append(note("format", f"an older notebook format (nbformat {raw.get('nbformat')})"
                          " was converted to version 4 and graded"))
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    if kernel and kernel != "python3":
        notes.append(note("kernel", f"the notebook asked for kernel {kernel!r}; it was graded "
                          "with the course's Python 3 kernel"))
    if size_mb > 1 and any(c.get("outputs") for c in nb.cells):
        notes.append(note("outputs", f"stored outputs ({size_mb:.0f} MB) were cleared before "
                          "grading"))
    notes.extend(_compare_with_release(course, assignment, nb))
    return notes, ""


def _compare_with_release(course, assignment: str, nb) -> list[dict]:
    """Notes on duplicated, deleted or edited graded cells (nbgrader repairs them)."""
    notes = []
    seen: dict[str, int] = {}
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid:
            seen[gid] = seen.get(gid, 0) + 1
    dups = sorted(g for g, n in seen.items() if n > 1)
    if dups:
        notes.append(note("duplicate", "cells share a grade id (a split or copied cell): "
                          f"{', '.join(dups)}; the last one is graded, the others run as "
                          "ordinary cells"))
    release = course.notebook(assignment, released=True)
    if not release.exists():
        return notes
    reference = _cells_by_id(nbformat.read(str(release), as_version=4))
    mine = _cells_by_id(nb)
    unknown = sorted(set(mine) - set(reference))
    if unknown:
        notes.append(note("release", "cells with grade ids this release does not have (an "
                          f"older release?): {', '.join(unknown)}; they run as ordinary cells "
                          "and earn nothing"))
    for gid, cell in reference.items():
        meta = cell.metadata.get("nbgrader", {})
        if not (meta.get("grade") or meta.get("locked")):
            continue
        if gid not in mine:
            if meta.get("grade"):
                notes.append(note("restored", f"the graded cell {gid} was missing; it was "
                                  "restored from the source and graded"))
            continue
        theirs = mine[gid]
        if theirs.source.strip() != cell.source.strip() and meta.get("locked"):
            notes.append(note("restored", f"the read-only cell {gid} was edited; the original "
                              "was restored before grading"))
        their_meta = theirs.metadata.get("nbgrader", {})
        changed = [k for k in ("grade", "solution", "locked")
                   if bool(their_meta.get(k)) != bool(meta.get(k))]
        if changed:
            notes.append(note("metadata", f"the grading metadata of {gid} was changed "
                              f"({', '.join(changed)}); the source's was used"))
        elif meta.get("grade") and their_meta.get("points") != meta.get("points"):
            notes.append(note("metadata", f"the points of {gid} were changed to "
                              f"{their_meta.get('points')!r}; the gradebook's "
                              f"{meta.get('points')} count"))
    return notes


#: Files in a submission that Python could import from the kernel's working directory.
CODE_SUFFIXES = (".py", ".pyc", ".pyd", ".so", ".pth")


def strip_code_files(directory: str | os.PathLike) -> list[str]:
    """Remove importable files from an autograded directory; return their names.

    nbgrader copies every extra file of a submission next to the notebook it runs, and the
    kernel's working directory comes first on ``sys.path``: a submitted ``numpy.py`` or
    ``course_utils/`` would replace the real package. Data files stay.
    """
    directory = Path(directory)
    removed = []
    for path in sorted(directory.rglob("*"), reverse=True):
        if path.is_symlink() or (path.is_file() and path.suffix in CODE_SUFFIXES):
            removed.append(str(path.relative_to(directory)))
            path.unlink()
        elif path.is_dir() and (path.name == "__pycache__" or not any(path.iterdir())):
            shutil.rmtree(path, ignore_errors=True)
    return sorted(removed)


# --- Repairs before the notebook runs (sanitize preprocessors) ---------------------------
class DeduplicateGradeIds(NbGraderPreprocessor):
    """Cells sharing a grade id (a cell split or copied in JupyterLab): the last one keeps it.

    nbgrader's ``DeduplicateIds`` leaves an empty ``nbgrader`` dict on the others, which its
    ``OverwriteCells`` then fails on (``KeyError: 'grade_id'``); here the others lose their
    grading metadata entirely and run as ordinary cells.
    """

    def preprocess(self, nb, resources):
        seen = set()
        for cell in reversed(nb.cells):
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if gid is None:
                continue
            if gid in seen:
                del cell.metadata["nbgrader"]
                cell.metadata.pop("deletable", None)
                cell.metadata.pop("editable", None)
            seen.add(gid)
        return nb, resources


class RestoreGradingMetadata(NbGraderPreprocessor):
    """Put back the gradebook's grading metadata on every cell whose grade id it knows.

    A learner who edits a test cell's metadata (``grade: false``, unlocked, other points) gets
    the source's metadata back, so ``OverwriteCells`` restores the cell and it is graded.
    """

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook, MissingEntry

        info = resources.get("nbgrader", {})
        try:
            with Gradebook(info["db_url"]) as gb:
                source = gb.find_notebook(info["notebook"], info["assignment"])
                grade = {c.name: c.max_score for c in source.grade_cells}
                solution = {c.name for c in source.solution_cells}
                task = {c.name for c in source.task_cells}
                locked = {c.name: c.locked for c in source.source_cells}
        except (KeyError, MissingEntry):
            return nb, resources
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader")
            if not isinstance(meta, dict):
                continue
            gid = meta.get("grade_id")
            if gid not in locked:
                # A grade id the gradebook does not know (an older release, a hand edit):
                # the cell runs as an ordinary cell; nbgrader would half-strip it and fail.
                del cell.metadata["nbgrader"]
                continue
            meta.update(grade=gid in grade, solution=gid in solution, task=gid in task,
                        locked=bool(locked[gid]))
            if gid in grade:
                meta["points"] = grade[gid]
            else:
                meta.pop("points", None)
            meta.setdefault("schema_version", 3)
        return nb, resources


class RestoreCells(OverwriteCells):
    """nbgrader's ``OverwriteCells``, putting a missing test cell back after the nearest
    earlier cell of the source that the submission still has (nbgrader looks only at the
    one just before it, and fails when that one is gone too, or is a read-only cell)."""

    def add_missing_grade_cells(self, nb, resources):
        source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        order = [cell.name for cell in source_nb.source_cells]
        solution = {cell.name for cell in source_nb.solution_cells}
        for grade_cell in source_nb.grade_cells:
            present = {c.metadata.nbgrader.get("grade_id"): i for i, c in enumerate(nb.cells)
                       if isinstance(c.get("metadata", {}).get("nbgrader"), dict)}
            if grade_cell.name in present:
                continue
            self.log.warning("Missing grade cell %s, adding it to the notebook", grade_cell.name)
            position = order.index(grade_cell.name)
            new = nbformat.from_dict(self.missing_cell_transform(
                source_nb.source_cells[position], grade_cell.max_score,
                is_solution=grade_cell.name in solution))
            earlier = [present[name] for name in order[:position] if name in present]
            nb.cells.insert(max(earlier) + 1 if earlier else 0, new)
        return nb, resources


# --- Recording --------------------------------------------------------------------------
def record_zero(course, assignment: str, student: str, reason: str) -> None:
    """Record a submission that could not be run: every graded cell scores 0."""
    with course.gradebook() as gb:
        gb.update_or_create_student(student)
        submission = gb.update_or_create_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = 0
                grade.manual_score = None
                grade.needs_manual_grade = False
        gb.db.commit()


def notes_path(course, assignment: str, student: str) -> Path:
    return course.autograded(student, assignment) / NOTES_FILE


def write_notes(course, assignment: str, student: str, notes: list[dict]) -> None:
    path = notes_path(course, assignment, student)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notes, indent=1))


def read_notes(course, assignment: str, student: str) -> list[dict]:
    path = notes_path(course, assignment, student)
    try:
        notes = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [n for n in notes if isinstance(n, dict) and "message" in n]


# --- While grading ----------------------------------------------------------------------
def _error(ename: str, text: str) -> NotebookNode:
    return nbformat.v4.new_output("error", ename=ename, evalue=text,
                                  traceback=[f"{ename}: {text}"])


def death_reason(returncode: int | None) -> str:
    """Words for how a kernel process ended."""
    if returncode is None:
        return "the kernel stopped responding"
    sig = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if sig:
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        why = {"SIGKILL": "the kernel was killed (out of memory, or past its CPU-time limit)",
               "SIGXCPU": "the kernel was stopped at its CPU-time limit",
               "SIGSEGV": "the kernel crashed (segfault)",
               "SIGBUS": "the kernel crashed (bus error)", "SIGABRT": "the kernel aborted",
               "SIGXFSZ": "the kernel was stopped at its file-size limit",
               }.get(name, "the kernel was killed")
        return f"{why} ({name})"
    return f"the kernel exited (exit code {returncode}: os._exit or a fatal error)"


def _sandbox_kernel_manager():
    """``AsyncKernelManager`` that also knows the in-memory grading kernelspec."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    from autograder import sandbox

    class SandboxSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            if kernel_name == sandbox.KERNEL_NAME:
                return KernelSpec(resource_dir="", **sandbox.kernelspec())
            return super().get_kernel_spec(kernel_name)

    class SandboxKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self):
            return SandboxSpecs(data_dir=self.data_dir)

    return SandboxKernelManager


class GuardedExecute(Execute):
    """``Execute`` that records kernel death and interrupt-ignoring code instead of failing.

    The cell where the kernel died (or would not stop) gets an error output saying why and
    scores 0; every later code cell gets a "not run" error and scores 0; earlier cells keep
    their results. The notebook is then graded as usual.
    """

    kill_grace = Integer(
        5, help="Seconds a timed-out cell has to stop after the interrupt before the kernel "
                "is killed."
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", _sandbox_kernel_manager())
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        self._stopped = ""
        self.iopub_timeout = self.kill_grace
        path = (resources or {}).get("metadata", {}).get("path")
        if not (path and os.path.isdir(path)):
            return super().preprocess(nb, resources, km)
        strip_code_files(path)
        # The notebooks in the kernel's directory hold the hidden tests (nbgrader restored
        # them); they are out of its reach while it runs, and put back afterwards.
        stash = tempfile.mkdtemp(prefix="au-stash-")
        moved = []
        try:
            for notebook in Path(path).glob("*.ipynb"):
                shutil.move(str(notebook), os.path.join(stash, notebook.name))
                moved.append(notebook)
            return super().preprocess(nb, resources, km)
        finally:
            for notebook in moved:
                shutil.move(os.path.join(stash, notebook.name), str(notebook))
            shutil.rmtree(stash, ignore_errors=True)

    def _returncode(self):
        try:
            return self.km.provisioner.process.poll()
        except AttributeError:
            return None

    def _kill(self) -> None:
        try:
            process = self.km.provisioner.process
            os.killpg(os.getpgid(process.pid), signal.SIGKILL)
        except (AttributeError, OSError):
            pass

    def preprocess_cell(self, cell, resources, index):
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        if cell.cell_type != "code" or not cell.source.strip():
            return cell, resources
        if self._stopped:
            cell.outputs = [_error(NOT_RUN_ENAME, f"not run: {self._stopped} in an earlier "
                                   "cell")]
            return cell, resources
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell {index}")
        self._interrupted = False
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            import time

            for _ in range(20):  # let the process be reaped
                if self._returncode() is not None:
                    break
                time.sleep(0.05)
            reason = death_reason(self._returncode())
        except CellTimeoutError:
            self._kill()
            if self._interrupted:
                reason = (f"the cell did not stop within {self.kill_grace} s of being "
                          f"interrupted at the {self.timeout} s limit, so the kernel was killed")
            else:
                reason = (f"the cell's output did not arrive within {self.kill_grace} s of its "
                          "end (a flood of output?), so the kernel was killed")
        message = f"{reason} while running this cell; the cells after it were not run"
        cell.setdefault("outputs", []).append(_error(KERNEL_ENAME, message))
        self._stopped = reason
        INCIDENTS.append(note("kernel", f"{reason} in {gid}; later cells were not run and "
                              "score 0"))
        return cell, resources

    async def _async_handle_timeout(self, timeout, cell=None):
        self._interrupted = True
        return await super()._async_handle_timeout(timeout, cell)

    def on_cell_executed(self, **kwargs):
        super().on_cell_executed(**kwargs)
        reply = kwargs["execute_reply"]["content"]
        if reply.get("status") == "error" and reply.get("ename") == "CellTimeoutError":
            cell = kwargs["cell"]
            gid = cell.metadata.get("nbgrader", {}).get("grade_id", "a cell")
            INCIDENTS.append(note("timeout", f"{gid} ran past the {self.timeout} s limit and "
                                  "was interrupted; it scores 0, the rest was graded"))


# --- Feedback ---------------------------------------------------------------------------
#: Note kinds for the instructor only, left out of the feedback (the independent re-check's
#: suspicious lines: a person decides, no points are taken).
INSTRUCTOR_ONLY = ("suspicious",)


class ShowGradingNotes(NbGraderPreprocessor):
    """Put the grading notes of a submission at the top of its feedback (all but the
    instructor-only kinds)."""

    def preprocess(self, nb, resources):
        path = resources.get("metadata", {}).get("path")
        notes = []
        if path:
            try:
                notes = json.loads((Path(path) / NOTES_FILE).read_text())
            except (OSError, ValueError):
                notes = []
        shown = [f"- {n.get('message', '')}" for n in notes if isinstance(n, dict)
                 and n.get("kind") not in INSTRUCTOR_ONLY]
        if shown:
            lines = ["**How this submission was graded**", "", *shown]
            nb.cells.insert(0, nbformat.v4.new_markdown_cell("\n".join(lines)))
        return nb, resources
