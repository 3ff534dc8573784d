"""Grading on a Dask cluster: workers that share nothing with the coordinator but the wire.

The coordinator (``grade --scheduler ADDRESS``) sends one task per submission. A task
carries everything grading needs, as bytes: the course's ``nbgrader_config.py``, the
assignment's ``source/`` and ``release/`` folders and its gradebook rows (its *bundle*, the
same for every task), the submission's files, and the submission's rows of the
coordinator's gradebook (manual grades, extension, timestamp). The worker grades it in a
scratch course of its own, exactly as the local pool does (``autograde.autograde_one``:
preflight, nbgrader, the sandbox, the re-check), and sends back the autograded folder and
the submission's rows of its scratch gradebook. Only the coordinator writes the gradebook
and ``autograded/``; it copies those rows into its own.

What Dask gives, and we do not rebuild:
- a worker that dies mid-task: the scheduler runs the task again on another worker;
- a submission that kills every worker it runs on: after ``allowed-failures`` deaths the
  scheduler gives up with ``KilledWorker``, and the coordinator records it as 0;
- the version check of the coordinator, the scheduler and the workers
  (``Client.get_versions(check=True)``), with the course's pins added.

The coordinator keeps at most ``WINDOW_PER_THREAD`` tasks per worker thread in flight, so
its memory does not grow with the size of the class. docs/GRADING.md has the design and
the cluster recipes.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

#: Seconds to reach the scheduler before giving up with a clear error.
CONNECT_TIMEOUT_S = 5
#: Seconds to wait for the first worker of a scheduler that has none yet (a batch queue).
WORKER_WAIT_S = 300
#: Deaths of its worker a task survives before it is called poison (Dask's own default, 3,
#: set here for ``local`` clusters; a remote scheduler uses its own configuration).
ALLOWED_FAILURES = 3
#: Tasks in flight per worker thread: enough that no worker waits on the coordinator.
WINDOW_PER_THREAD = 2
#: Dask settings for grading: one task per worker thread at a time (a grading is seconds
#: long; queueing ahead only ties tasks to a worker that may die).
DASK_CONFIG = {"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
               "distributed.scheduler.worker-saturation": 1.0}
#: The coordinator's grading settings that travel with every task (the cell timeout, the
#: sandbox switch and limits). The gradebook URL and the exchange stay behind.
ENV_PREFIX = "ACTIVATION_UNITS_"
ENV_KEPT_HOME = ("ACTIVATION_UNITS_DB_URL", "ACTIVATION_UNITS_EXCHANGE",
                 "ACTIVATION_UNITS_TEST_PG_URL")


class ClusterError(RuntimeError):
    """The cluster cannot grade (unreachable, no workers, other versions): say why and how."""


# --- Files as data ------------------------------------------------------------------------

def pack(directory: Path) -> list[tuple[str, str, bytes | str]] | None:
    """A folder as ``(relative path, kind, payload)`` entries, links kept as links.

    ``kind`` is "file" (payload: bytes), "link" (payload: its target) or "dir". None when
    ``directory`` does not exist. Links are not followed: preflight refuses them.
    """
    if not directory.is_dir():
        return None
    entries = []
    for path in sorted(directory.rglob("*")):
        rel = str(path.relative_to(directory))
        if path.is_symlink():
            entries.append((rel, "link", os.readlink(path)))
        elif path.is_dir():
            entries.append((rel, "dir", b""))
        elif path.is_file():
            entries.append((rel, "file", path.read_bytes()))
    return entries


def unpack(entries: list[tuple[str, str, bytes | str]] | None, directory: Path) -> None:
    """Write ``pack``'s entries into ``directory`` (emptied first); None: remove it."""
    if directory.exists() or directory.is_symlink():
        shutil.rmtree(directory) if directory.is_dir() and not directory.is_symlink() \
            else directory.unlink()
    if entries is None:
        return
    directory.mkdir(parents=True)
    root = directory.resolve()
    for rel, kind, payload in entries:
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise ValueError(f"refusing a path outside the folder: {rel!r}")
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if kind == "dir":
            target.mkdir(exist_ok=True)
        elif kind == "link":
            target.symlink_to(payload)
        else:
            target.write_bytes(payload)


# --- The gradebook rows of the assignment -------------------------------------------------

def read_assignment(course, assignment: str) -> dict:
    """The gradebook's rows of ``assignment`` as plain data: its due date and, per notebook,
    the kernelspec and the cells ``nbgrader generate_assignment`` recorded (grade, solution,
    task and source cells, with their checksums). What autograding compares a submission
    with, so a worker copies it rather than generating the assignment again."""
    from nbgrader.api import MissingEntry

    with course.gradebook() as gb:
        try:
            a = gb.find_assignment(assignment)
        except MissingEntry:
            raise ClusterError(f"{assignment} is not in the gradebook: run "
                               f"`python -m autograder build {assignment}` first") from None
        return {"duedate": a.duedate, "notebooks": {nb.name: {
            "kernelspec": nb.kernelspec,
            "grade_cells": {c.name: {"max_score": c.max_score, "cell_type": c.cell_type}
                            for c in nb.grade_cells},
            "solution_cells": sorted(c.name for c in nb.solution_cells),
            "task_cells": {c.name: {"max_score": c.max_score, "cell_type": c.cell_type}
                           for c in nb.task_cells},
            "source_cells": {c.name: {"cell_type": c.cell_type, "locked": c.locked,
                                      "source": c.source, "checksum": c.checksum}
                             for c in nb.source_cells}} for nb in a.notebooks}}


def write_assignment(course, assignment: str, rows: dict) -> None:
    """Create ``assignment`` in the gradebook from ``read_assignment``'s rows."""
    with course.gradebook() as gb:
        gb.update_or_create_assignment(assignment, duedate=rows["duedate"])
        for name, nb in rows["notebooks"].items():
            gb.update_or_create_notebook(name, assignment, kernelspec=nb["kernelspec"])
            for cell, kw in nb["grade_cells"].items():
                gb.update_or_create_grade_cell(cell, name, assignment, **kw)
            for cell in nb["solution_cells"]:
                gb.update_or_create_solution_cell(cell, name, assignment)
            for cell, kw in nb["task_cells"].items():
                gb.update_or_create_task_cell(cell, name, assignment, **kw)
            for cell, kw in nb["source_cells"].items():
                gb.update_or_create_source_cell(cell, name, assignment, **kw)


# --- The gradebook rows of one submission --------------------------------------------------

def read_rows(course, assignment: str, student: str) -> dict | None:
    """The gradebook's rows of one submission, as plain data (None: not in the gradebook).

    Everything grading or an instructor may have set: the timestamp and extension, per
    notebook the flag and late penalty, per cell the scores and comments."""
    from nbgrader.api import MissingEntry

    with course.gradebook() as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return None
        return {
            "timestamp": sub.timestamp, "extension": sub.extension,
            "notebooks": {nb.name: {
                "flagged": nb.flagged, "late_submission_penalty": nb.late_submission_penalty,
                "grades": {g.name: (g.auto_score, g.manual_score, g.extra_credit,
                                    g.needs_manual_grade) for g in nb.grades},
                "comments": {c.name: (c.auto_comment, c.manual_comment)
                             for c in nb.comments}} for nb in sub.notebooks}}


def write_rows(course, assignment: str, student: str, rows: dict | None) -> None:
    """Set one submission's rows to ``rows`` (``read_rows``' form); None: remove it."""
    from nbgrader.api import MissingEntry

    with course.gradebook() as gb:
        if rows is None:
            try:
                gb.remove_submission(assignment, student)
            except MissingEntry:
                pass
            return
        gb.update_or_create_student(student)
        sub = gb.update_or_create_submission(assignment, student, timestamp=rows["timestamp"],
                                             extension=rows["extension"])
        for nb in sub.notebooks:
            saved = rows["notebooks"].get(nb.name)
            if saved is None:
                continue
            nb.flagged = saved["flagged"]
            nb.late_submission_penalty = saved["late_submission_penalty"]
            for g in nb.grades:
                if g.name in saved["grades"]:
                    (g.auto_score, g.manual_score, g.extra_credit,
                     g.needs_manual_grade) = saved["grades"][g.name]
            for c in nb.comments:
                if c.name in saved["comments"]:
                    c.auto_comment, c.manual_comment = saved["comments"][c.name]
        gb.db.commit()


# --- The coordinator ----------------------------------------------------------------------

def bundle(course, assignment: str) -> dict:
    """What every task of ``assignment`` carries from the course (see the module's doc):
    the configuration, the source and release folders, and the assignment's gradebook
    rows, all as they are here (the coordinator generated the release before)."""
    from autograder.course import CONFIG_FILE, gradebook_version

    env = {k: v for k, v in os.environ.items()
           if k.startswith(ENV_PREFIX) and k not in ENV_KEPT_HOME}
    files = {"config": (course.root / CONFIG_FILE).read_bytes(),
             "source": pack(course.source / assignment),
             "release": pack(course.release / assignment),
             "rows": read_assignment(course, assignment),
             "gradebook_version": gradebook_version(course)}
    digest = hashlib.sha256(repr((sorted(env.items()), files)).encode()).hexdigest()
    return {"assignment": assignment, "env": env, "digest": digest, **files}


#: The clients ``connect`` made (``close`` closes those only).
_MADE: set[int] = set()


def connect(address, workers: int = 2):
    """A Dask client with at least one worker and the course's versions everywhere, or a
    ClusterError.

    ``address``: a scheduler address (``tcp://host:8786``), a scheduler file (the JSON that
    ``dask scheduler --scheduler-file`` writes: batch clusters), ``"local"`` (a
    LocalCluster of ``workers`` processes), or a ``distributed.Client`` already connected
    (dask-gateway, dask-jobqueue from Python); a client passed in is not closed here.
    """
    import dask
    from distributed import Client, LocalCluster

    dask.config.set(DASK_CONFIG)
    if isinstance(address, Client):
        client, address = address, address.scheduler.address
    elif address == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
        _MADE.add(id(client))
    else:
        where = {"scheduler_file": address} if Path(address).is_file() else {
            "address": address}
        try:
            client = Client(**where, timeout=CONNECT_TIMEOUT_S)
            _MADE.add(id(client))
        except (OSError, TimeoutError) as exc:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT_S} s "
                f"({type(exc).__name__}: {str(exc)[:200]}). Check the address and that "
                "`dask scheduler` runs there (docs/GRADING.md), or grade on this machine: "
                "leave out --scheduler, or pass --scheduler local.") from None
    try:
        if not client.scheduler_info().get("workers"):
            print(f"grade: waiting up to {WORKER_WAIT_S} s for a worker of {address} ...",
                  file=sys.stderr)
            try:
                client.wait_for_workers(1, timeout=WORKER_WAIT_S)
            except TimeoutError:
                raise ClusterError(
                    f"the Dask scheduler at {address} has no workers after {WORKER_WAIT_S} s;"
                    " start some (`dask worker ADDRESS --nthreads 1`)") from None
        check_versions(client)
    except BaseException:
        close(client)
        raise
    return client


def close(client) -> None:
    """Close a client ``connect`` made (and its LocalCluster); leave one passed in."""
    if id(client) not in _MADE:
        return
    _MADE.discard(id(client))
    cluster = client.cluster
    client.close()
    if cluster is not None:
        cluster.close()


def course_pins() -> list[str]:
    """The distributions grading depends on: the course's own, and every pin of it."""
    names = ["activation-units"]
    for requirement in importlib.metadata.requires("activation-units") or []:
        if "==" in requirement and "extra ==" not in requirement:
            names.append(requirement.split("==")[0].strip())
    return names


def code_digest() -> str:
    """A digest of the grading code (``autograder`` and ``course_utils``) as installed here:
    the same version string can hide an edited checkout."""
    import autograder
    import course_utils

    h = hashlib.sha256()
    for package in (autograder, course_utils):
        base = Path(package.__file__).parent
        for path in sorted(base.rglob("*.py")):
            h.update(str(path.relative_to(base)).encode() + path.read_bytes())
    return h.hexdigest()[:16]


def check_versions(client) -> None:
    """Dask's version check with the course's pins, and the same grading code everywhere."""
    try:
        client.get_versions(check=True, packages=course_pins())
    except ValueError as exc:
        raise ClusterError(
            "the workers do not run the coordinator's versions (install the same "
            f"environment there: pip install -e . in the course repository):\n{exc}") from None
    mine = code_digest()
    others = {w: d for w, d in client.run(code_digest).items() if d != mine}
    if others:
        raise ClusterError(
            "these workers run other grading code than the coordinator (another checkout "
            f"of autograder/course_utils): {', '.join(sorted(others))}; install the "
            "coordinator's commit there")


def run(client, fn: Callable, students: Sequence[str], prepare: Callable[[str], tuple], *,
        crashed: Callable[[str, BaseException], dict], desc: str = "", progress: bool = False
        ) -> Iterator[tuple[str, dict, float]]:
    """Yield ``(student, fn(*prepare(student)), seconds)`` as the cluster finishes them.

    At most ``WINDOW_PER_THREAD`` tasks per worker thread are in flight (``prepare`` reads a
    submission only when its task is sent). A task that failed, or that killed its workers
    ``allowed-failures`` times (``KilledWorker``), yields ``crashed(student, exc)``."""
    from distributed import as_completed
    from tqdm import tqdm

    threads = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
    window = max(2, WINDOW_PER_THREAD * threads)
    token = uuid.uuid4().hex[:8]
    queue = iter(students)
    started: dict[str, tuple[str, float]] = {}
    pending = as_completed()

    def send(student: str) -> None:
        future = client.submit(fn, *prepare(student), key=f"grade-{student}-{token}",
                               pure=False)
        started[future.key] = (student, time.perf_counter())
        pending.add(future)

    for student in [s for _, s in zip(range(window), queue, strict=False)]:
        send(student)
    with tqdm(total=len(students), desc=desc, unit="submission", file=sys.stderr,
              disable=not progress) as bar:
        for future in pending:
            student, t0 = started.pop(future.key)
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 (KilledWorker, or a bug in the task)
                result = crashed(student, exc)
            future.release()
            yield student, result, time.perf_counter() - t0
            bar.update()
            following = next(queue, None)
            if following is not None:
                send(following)


# --- The worker ---------------------------------------------------------------------------

#: One grading at a time per worker process: nbgrader and outcomes.INCIDENTS are not
#: thread-safe (run workers with --nthreads 1; a second thread waits here).
_LOCK = threading.Lock()
_SCRATCH: dict[str, object] = {}


def _scratch_course(b: dict):
    """This process's scratch course for bundle ``b``: the configuration, the source and
    release folders, and a SQLite gradebook holding the assignment's rows. Built once per
    bundle (nothing is generated here: the worker grades against the coordinator's
    release, byte for byte)."""
    from autograder.course import CONFIG_FILE, Course, new_gradebook, sqlite_url

    if b["digest"] not in _SCRATCH:
        try:
            from distributed import get_worker
            base = get_worker().local_directory
        except (ImportError, ValueError):
            base = tempfile.gettempdir()
        root = Path(tempfile.mkdtemp(prefix="au-course-", dir=base))
        (root / CONFIG_FILE).write_bytes(b["config"])
        unpack(b["source"], root / "source" / b["assignment"])
        unpack(b["release"], root / "release" / b["assignment"])
        url = sqlite_url(root / "gradebook.db")
        new_gradebook(url, b["gradebook_version"])  # the coordinator's: no `alembic heads`
        course = Course(root, db_url=url)
        write_assignment(course, b["assignment"], b["rows"])
        _SCRATCH[b["digest"]] = course
    return _SCRATCH[b["digest"]]


@contextlib.contextmanager
def _task(b: dict):
    """One task on this worker: the coordinator's settings in the environment, the
    bundle's scratch course, and nothing of the submission left behind afterwards."""
    with _LOCK:
        saved = {k: os.environ.get(k) for k in b["env"]}
        os.environ.update(b["env"])
        course = None
        try:
            course = _scratch_course(b)
            yield course
        finally:
            if course is not None:
                for folder in ("submitted", "autograded", "feedback"):
                    shutil.rmtree(course.root / folder, ignore_errors=True)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def grade_remote(b: dict, student: str, submission, rows: dict | None,
                 verify: bool) -> dict:
    """Worker: grade one submission from its bytes; return ``autograde_one``'s result with
    ``autograded`` (the folder, packed) and ``rows`` (its gradebook rows) added."""
    from autograder.autograde import autograde_one

    with _task(b) as course:
        a = b["assignment"]
        unpack(submission, course.submitted(student, a))
        write_rows(course, a, student, rows)
        result = autograde_one(str(course.root), course.db_url, a, student, verify)
        result["autograded"] = pack(course.autograded(student, a))
        result["rows"] = read_rows(course, a, student)
        write_rows(course, a, student, None)
        return result


def check_remote(b: dict, student: str, submission, autograded):
    """Worker: re-check one autograded submission from its bytes (``verify --scheduler``);
    return its ``SubmissionReport``, undecided against any gradebook."""
    from autograder.verify import batch

    with _task(b) as course:
        a = b["assignment"]
        unpack(submission, course.submitted(student, a))
        unpack(autograded, course.autograded(student, a))
        return batch.check_submission(course, a, student, batch.worker_plan(course, a))


def verify(course, assignment: str, students: list[str], scheduler: str, workers: int = 2,
           *, write: bool = True) -> list:
    """``verify.verify`` on a cluster: the submissions are decided on its workers, and this
    process alone writes the gradebook, afterwards."""
    from autograder.verify import batch
    from autograder.verify.notebooks import plan
    from autograder.verify.replay import SubmissionReport

    p = plan(course.notebook(assignment))
    b = bundle(course, assignment)

    def prepare(student: str) -> tuple:
        return (b, student, pack(course.submitted(student, assignment)),
                pack(course.autograded(student, assignment)))

    def crashed(student: str, exc: BaseException):
        return SubmissionReport(student, assignment,
                                error=f"the re-check process failed: {exc}"[:300])

    client = connect(scheduler, workers)
    try:
        reports = [report for _, report, _ in run(client, check_remote, students, prepare,
                                                   crashed=crashed, desc="re-checking")]
    finally:
        close(client)
    reports.sort(key=lambda r: students.index(r.student))
    for report in reports:
        if not report.error:
            batch.apply(course, assignment, report, p, write=write)
    return reports
