"""Grading on a real Dask cluster: `dask scheduler` and two `dask worker` processes on
127.0.0.1, driven through ``python -m autograder grade --scheduler ADDRESS``.

- The hostile corpus gets the outcomes the local pool gives it (tests/test_hostile.py holds
  both to tests/hostile/manifest.toml), re-checked, on PostgreSQL where .ci/run provides a
  server (on SQLite elsewhere).
- A worker SIGKILLed mid-task: every grade is present, once.
- The coordinator SIGKILLed mid-run: the next run resumes and says so.
- A submission that kills its worker on every try is graded 0 with the reason, and the rest
  are graded (the scheduler's allowed-failures is 1 here: two tries).
- An unreachable scheduler is a clear error within seconds.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from corpus import (
    CASES,
    PG_URL,
    A,
    auto_scores,
    cell,
    check_case,
    grading_env,
    pg_admin,
    submit_case,
)
from examples import example_course

from autograder import cluster, journal, outcomes, sandbox, submissions
from autograder.cli import main
from autograder.course import Course

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    bool(sandbox.unavailable()), reason=f"no sandbox here: {sandbox.unavailable()}")]

DASK = str(Path(sys.executable).parent / "dask")
COMPLETE = {"sigmoid_values": 2, "relu_grad_values": 1}
#: Added to a correct solution cell: it takes a while, so that a kill lands mid-task.
SLOW = "\n\nimport time\n\ntime.sleep(2)\n"


def _start(argv: list[str], log: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """The address of a scheduler on 127.0.0.1 with two single-thread workers (nannied:
    a worker that dies is restarted), the allowed failures set to 1."""
    from distributed import Client

    base = tmp_path_factory.mktemp("dask")
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
           "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0"}
    file = base / "scheduler.json"
    processes = [_start([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                         "--no-dashboard", "--scheduler-file", str(file)],
                        base / "scheduler.log", env)]
    try:
        deadline = time.monotonic() + 60
        while not file.exists():
            assert time.monotonic() < deadline, (base / "scheduler.log").read_text()
            time.sleep(0.2)
        address = json.loads(file.read_text())["address"]
        for n in (1, 2):
            processes.append(_start(
                [DASK, "worker", address, "--nthreads", "1", "--name", f"w{n}",
                 "--no-dashboard", "--local-directory", str(base / f"w{n}")],
                base / f"worker{n}.log", env))
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=90)
        yield address
    finally:
        for process in reversed(processes):
            _stop(process)


#: The cluster's gradebook: PostgreSQL where .ci/run provides a server, as a class on a
#: cluster would have it; SQLite elsewhere. (The local pool's corpus, tests/test_hostile.py,
#: is graded on SQLite; tests/test_postgres.py grades on PostgreSQL with the local pool.)
DATABASE = "postgresql" if PG_URL else "sqlite"


@pytest.fixture(scope="module")
def graded(tmp_path_factory, scheduler):
    """The hostile corpus graded by one `grade --scheduler` run, re-check included:
    (exit code, course)."""
    root = tmp_path_factory.mktemp(f"dask-{DATABASE}") / "course"
    saved = os.environ.get("ACTIVATION_UNITS_DB_URL")
    database = ""
    with grading_env():
        course = example_course(root)
        if DATABASE == "postgresql":
            database = f"au_dask_{uuid.uuid4().hex[:12]}"
            pg_admin(f'CREATE DATABASE "{database}"')
            os.environ["ACTIVATION_UNITS_DB_URL"] = PG_URL.rsplit("/", 1)[0] + "/" + database
            course = Course(root)
        else:
            os.environ.pop("ACTIVATION_UNITS_DB_URL", None)
        try:
            assert main(["--root", str(root), "build"]) == 0
            for case in CASES:
                submit_case(course, case)
            code = main(["--root", str(root), "grade", A, "--scheduler", scheduler])
            yield code, course
        finally:
            if saved is None:
                os.environ.pop("ACTIVATION_UNITS_DB_URL", None)
            else:
                os.environ["ACTIVATION_UNITS_DB_URL"] = saved
            if database:
                pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(scope="module")
def scores(graded):
    return auto_scores(graded[1])


def test_every_submission_is_graded_once(graded, scores):
    code, course = graded
    assert sorted(scores) == sorted(c["name"] for c in CASES)
    assert code == 1  # the corpus has submissions that cannot run (their 0 is recorded)
    assert not journal.path(course, A).exists()  # the run ended: no journal left


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_outcome_as_on_the_local_pool(case, graded, scores):
    check_case(graded[1], case, scores)


def test_a_manual_grade_survives_regrading_on_the_cluster(graded, scheduler):
    """The task carries the submission's gradebook rows: an instructor's manual score and
    comment come back as they were, the autograded scores as they were."""
    _, course = graded
    with course.gradebook() as gb:
        grade = next(g for g in gb.find_submission(A, "complete").notebooks[0].grades
                     if g.cell.cell_type == "markdown")
        grade.manual_score = 1.5
        comment = gb.find_comment(grade.name, A, A, "complete")
        comment.manual_comment = "Well argued."
        gb.db.commit()
        name = grade.name
    with grading_env():
        assert main(["--root", str(course.root), "grade", A, "--student", "complete",
                     "--scheduler", scheduler]) == 0
    with course.gradebook() as gb:
        assert gb.find_grade(name, A, A, "complete").manual_score == 1.5
        assert gb.find_comment(name, A, A, "complete").manual_comment == "Well argued."
    assert auto_scores(course)["complete"] == COMPLETE


def test_verify_on_the_cluster_agrees(graded, scheduler, capsys):
    _, course = graded
    with grading_env():
        assert main(["--root", str(course.root), "verify", A, "--scheduler", scheduler,
                     "--student", "complete", "uses_reference", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "uses_reference" in out and "complete" in out
    reports = {r["student"]: r for r in json.loads(
        (course.root / "reports" / f"{A}_verify.json").read_text())}
    assert not reports["complete"]["flagged"]
    assert all(c["status"] == "pass" for c in reports["complete"]["cells"])


def _slow_course(root: Path, n: int) -> Course:
    course = example_course(root)
    course.generate(A)
    nb = submissions.build(course, A, "complete")
    cell(nb, "sigmoid_solution").source += SLOW
    for i in range(n):
        submissions.submit(course, f"s{i}", A, copy.deepcopy(nb))
    return course


def test_a_worker_killed_mid_task(tmp_path, scheduler, monkeypatch):
    """SIGKILL the worker of a running task: it runs again on the other worker (or the
    restarted one), and every submission has its grade, once."""
    from distributed import Client

    monkeypatch.delenv("ACTIVATION_UNITS_DB_URL", raising=False)
    course = _slow_course(tmp_path / "course", 4)
    killed = []

    def kill_one() -> None:
        with Client(scheduler, timeout=10) as client:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                busy = [w for w, keys in client.processing().items() if keys]
                if busy:
                    time.sleep(1.0)  # well into the task
                    pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(busy[0])
                    return
                time.sleep(0.1)

    killer = threading.Thread(target=kill_one)
    with grading_env():
        killer.start()
        code = main(["--root", str(course.root), "grade", A, "--scheduler", scheduler,
                     "--no-verify"])
        killer.join()
    assert killed, "no task was seen running"
    assert code == 0
    assert auto_scores(course) == {f"s{i}": COMPLETE for i in range(4)}
    for i in range(4):
        assert [p.name for p in (course.root / "autograded" / f"s{i}").iterdir()] == [A]


def test_the_coordinator_killed_mid_run_resumes(tmp_path, scheduler, monkeypatch, capsys):
    monkeypatch.delenv("ACTIVATION_UNITS_DB_URL", raising=False)
    n = 6
    course = _slow_course(tmp_path / "course", n)
    log = tmp_path / "coordinator.log"
    with grading_env():
        coordinator = _start([sys.executable, "-m", "autograder", "--root", str(course.root),
                              "grade", A, "--scheduler", scheduler, "--no-verify"],
                             log, dict(os.environ))
        file = journal.path(course, A)
        deadline = time.monotonic() + 120
        while not (file.exists() and len(file.read_text().splitlines()) >= 3):
            assert coordinator.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        os.killpg(coordinator.pid, signal.SIGKILL)
        coordinator.wait()
        done = len(file.read_text().splitlines()) - 1
        assert done < n, "the run finished before it was killed"
        capsys.readouterr()
        assert main(["--root", str(course.root), "grade", A, "--scheduler", scheduler,
                     "--no-verify"]) == 0
    out = capsys.readouterr().out
    assert f"Resumed an interrupted run: {done} submission(s)" in out
    assert f"{n - done} graded now" in out
    assert auto_scores(course) == {f"s{i}": COMPLETE for i in range(n)}
    assert not file.exists()


def test_a_submission_that_kills_every_worker_is_graded_zero(tmp_path, scheduler,
                                                             monkeypatch):
    """Isolation off (with it on, the kernel cannot see its worker): the kernel kills its
    parent, the worker. After the allowed failures the scheduler gives up on that task."""
    monkeypatch.delenv("ACTIVATION_UNITS_DB_URL", raising=False)
    course = example_course(tmp_path / "course")
    course.generate(A)
    nb = submissions.build(course, A, "complete")
    submissions.submit(course, "fine", A, copy.deepcopy(nb))
    cell(nb, "relu_grad_solution").source = (
        "import os\nimport signal\n\nos.kill(os.getppid(), signal.SIGKILL)\n")
    submissions.submit(course, "poison", A, nb)
    with grading_env():
        monkeypatch.setenv("ACTIVATION_UNITS_ISOLATION", "off")
        code = main(["--root", str(course.root), "grade", A, "--scheduler", scheduler,
                     "--no-verify", "--no-isolation"])
    assert code == 1
    scores = auto_scores(course)
    assert scores["fine"] == COMPLETE
    assert scores["poison"] == {"sigmoid_values": 0, "relu_grad_values": 0}
    notes = " ".join(n["message"] for n in outcomes.read_notes(course, A, "poison"))
    assert "graded 0" in notes and "ended the grading worker on each of its tries" in notes


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ACTIVATION_UNITS_DB_URL", raising=False)
    course = _slow_course(tmp_path / "course", 1)
    t0 = time.monotonic()
    address = "tcp://127.0.0.1:9"
    assert main(["--root", str(course.root), "grade", A, "--scheduler", address]) == 1
    assert time.monotonic() - t0 < cluster.CONNECT_TIMEOUT_S + 10
    err = capsys.readouterr().err
    assert f"cannot reach the Dask scheduler at {address}" in err
    assert "leave out --scheduler" in err
    assert auto_scores(course) == {}


def test_a_scheduler_file_and_a_client_are_accepted(scheduler, tmp_path):
    """A batch cluster's scheduler file connects like its address; a Client passed in (from
    dask-jobqueue or dask-gateway) is used and left open for its owner."""
    from distributed import Client

    from autograder import cluster

    file = tmp_path / "scheduler.json"
    file.write_text(json.dumps({"address": scheduler}))
    client = cluster.connect(str(file))
    try:
        assert client.scheduler.address == scheduler
    finally:
        cluster.close(client)
    assert client.status == "closed"
    with Client(scheduler, timeout=10) as mine:
        assert cluster.connect(mine) is mine
        cluster.close(mine)
        assert mine.status == "running"
