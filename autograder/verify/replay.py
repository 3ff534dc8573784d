"""Deciding one submission: the child records (``record``), then the instructor's test
cells run again here, in a process that never runs learner code, with stand-ins that answer
from the transcript (``decide``)."""

from __future__ import annotations

import builtins
import io
import os
import signal
import struct
import subprocess
import sys
import time
import types
import warnings
from collections import defaultdict, deque
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder.course import cell_timeout
from autograder.verify.child import errstate, python_source
from autograder.verify.notebooks import Plan, cells_to_run
from autograder.verify.transcript import (
    Unverifiable,
    decode,
    digest,
    receive,
    send,
    value_at,
)

#: Seconds the child may take beyond the cell timeout for one cell (it interrupts a cell at
#: the cell timeout itself; this catches one that ignores that), and to start.
GRACE_S, START_S = 10.0, 60.0
#: The most a child may record for one submission, in array bytes.
MAX_TRANSCRIPT = 1 << 30


@dataclass
class CellVerdict:
    grade_id: str
    status: str          # "pass", "fail" or "not covered"
    reason: str = ""
    nbgrader_score: float | None = None
    max_score: float = 0.0
    revoked: bool = False


@dataclass
class SubmissionReport:
    student: str
    assignment: str
    cells: list[CellVerdict] = field(default_factory=list)
    suspicious: list[str] = field(default_factory=list)
    error: str = ""
    isolation: str = ""
    seconds: float = 0.0

    @property
    def revoked(self) -> list[CellVerdict]:
        return [c for c in self.cells if c.revoked]

    @property
    def flagged(self) -> bool:
        return bool(self.revoked or self.suspicious)


class Missing(BaseException):
    """A call the child never made (or recorded garbled): the test cell fails."""


class Transcript:
    """What the child recorded: the calls by digest, the names each test cell saw, the
    cells where it died or hung, and how its run went."""

    def __init__(self):
        self.calls: dict[str, deque] = defaultdict(deque)
        self.names: dict[int, tuple[dict, list[bytes]]] = {}
        self.dead: dict[int, str] = {}
        self.load_errors: list[str] = []
        self.setup_errors: list[str] = []
        self.truncated: list[str] = []
        self.defined: list[str] = []
        self.env_error = ""
        self.isolation = "none"
        self.size = 0

    def take(self, key: str, name: str, outer=None):
        """The next record of the call ``key``: (record, blobs, outer). Its warnings are
        re-emitted and its error raised here, as the learner's function did in the child."""
        if not self.calls.get(key):
            raise Missing(f"{name} was called with arguments your code was never called "
                          "with when it ran on its own")
        record, blobs = self.calls[key].popleft()
        try:
            for category, message in record.get("warnings", ()):
                cls = getattr(builtins, str(category), None)
                if not (isinstance(cls, type) and issubclass(cls, Warning)):
                    cls = UserWarning
                warnings.warn(str(message), cls, stacklevel=3)
            error = record.get("error")
            error = None if error is None else learner_exception(*error)
        except (KeyError, TypeError, ValueError):
            raise Missing(f"{name}: the record of this call is garbled") from None
        if error is not None:
            raise error
        return record, blobs, outer


def learner_exception(kind, message) -> BaseException:
    """The learner's exception: a built-in type as itself, any other as a new Exception
    subclass of that name (never a BaseException that would stop this process)."""
    cls = getattr(builtins, str(kind), None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(str(message))
        except TypeError:  # UnicodeDecodeError and friends take more arguments
            pass
    return type(str(kind), (Exception,), {})(str(message))


# ---------------------------------------------------------------------------------------
# Recording: the child, started again after a death or a hang


def record(cells: list[tuple[str, str, str]], names: list[str], cwd: Path, *,
           torch: bool = False) -> Transcript:
    """Run ``cells`` ((kind, source, grade id); kind "setup", "learner" or "test") in a
    child, sandboxed when isolation is on. A death or a hang in a test cell costs that cell
    (a fresh child carries on after it); in a learner cell, the learner cells from there on
    (the kernel lost them too)."""
    t = Transcript()
    start, dropped = 0, set()
    per_cell = cell_timeout()
    for _ in range(len(cells) + 1):  # each new child starts further on
        job = {"cells": [("skip" if k in dropped else kind, src)
                         for k, (kind, src, _) in enumerate(cells)],
               "names": names, "start": start, "torch": torch, "cell_timeout": per_cell}
        status, at = _run_child(job, cwd, t, per_cell)
        if status == "done":
            return t
        if at is None or cells[at][0] == "setup":
            t.env_error = t.env_error or f"the re-check's process {status} before it started"
            return t
        if cells[at][0] == "test":
            t.dead[at] = (f"the process running your code {status} in this test cell"
                          if status != "hung" else
                          f"the test cell did not finish within {per_cell:g} s")
            start = at + 1
        else:
            n = sum(1 for kind, _, _ in cells[:at + 1] if kind == "learner")
            t.truncated.append(f"the process stopped in the code cell {n} of yours it ran; "
                               "the cells from there on were not run")
            dropped |= {k for k in range(at, len(cells)) if cells[k][0] == "learner"}
            start = at
    return t


def _run_child(job: dict, cwd: Path, t: Transcript, per_cell: float):
    """One child: ("done", None), or ("died" / "hung", the cell it was in)."""
    c_in, p_out = os.pipe()
    p_in, c_out = os.pipe()
    argv = [sys.executable, "-m", "autograder.verify", "--child", str(c_in), str(c_out)]
    argv, preexec, t.isolation = sandboxed(argv, cwd)
    env = {**os.environ, "NBGRADER_EXECUTION": "autograde", "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, pass_fds=(c_in, c_out),
                                cwd=str(cwd), env=env, start_new_session=True,
                                preexec_fn=preexec)
    except (OSError, subprocess.SubprocessError) as exc:  # the machine, not the learner
        for fd in (c_in, c_out, p_in, p_out):
            os.close(fd)
        t.env_error = f"the child process could not start: {exc}"
        return "could not start", None
    os.close(c_in)
    os.close(c_out)
    at, status = None, "done"
    try:
        send(p_out, job, [])
        deadline = time.monotonic() + START_S
        while True:
            header, blobs = receive(p_in, deadline)
            op = header.get("op")
            t.size += sum(map(len, blobs))
            if t.size > MAX_TRANSCRIPT:
                raise EOFError
            if op == "cell":
                at, deadline = int(header["i"]), time.monotonic() + per_cell + GRACE_S
            elif op == "names":
                t.names[int(header["i"])] = (dict(header["names"]), blobs)
            elif op == "calls":
                for one in header["records"]:
                    t.calls[str(one["key"])].append((one, blobs))
            elif op == "end":
                t.load_errors = [str(e) for e in header["errors"]] + t.truncated
                t.setup_errors = [str(e) for e in header["setup_errors"]]
                t.defined = [str(n) for n in header["defined"]]
                break
    except TimeoutError:
        status = "hung"
    except (EOFError, OSError, ValueError, KeyError, TypeError, struct.error):
        status = "died"
    finally:
        for fd in (p_in, p_out):
            os.close(fd)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
    return status, (None if status == "done" else at)


def sandboxed(argv: list[str], cwd: Path):
    """``argv`` in bubblewrap (``autograder.sandbox``: no network, uid nobody, rlimits, a
    read-only view without the reference solutions) when isolation is on and available;
    returns the argv, its ``preexec_fn`` and what the isolation is."""
    from autograder import sandbox

    if not sandbox.enabled():
        return argv, None, "none (ACTIVATION_UNITS_ISOLATION=off)"
    reason = sandbox.unavailable()
    if reason:
        return argv, None, f"none ({reason})"
    package = Path(__file__).resolve().parents[1]  # autograder/
    boot = (f"import sys; sys.path.insert(0, {str(package.parent)!r}); "
            f"from autograder.verify.child import child_main; child_main({argv[-2]}, {argv[-1]})")
    wrapped = sandbox.bwrap_argv(str(cwd), [], [sys.executable, "-c", boot],
                                 ro_extra=[str(package), str(cwd)],
                                 hide=sandbox.reference_paths())
    return wrapped, sandbox.set_limits, ("bubblewrap (autograder.sandbox), uid nobody, no "
                                        "network, no reference solutions")


# ---------------------------------------------------------------------------------------
# Replaying: the test cells, here


def stand_in(t: Transcript, name: str):
    """The learner's function ``name`` as the test cells see it here: each call answered
    from its record, with the inputs it changed, the generators' final states, and the
    calls it made of the checks' own functions made again here."""
    def replay(*args, **kwargs):
        key = digest([name, args, kwargs, errstate()])
        outer = [list(args), kwargs]
        record, blobs = t.calls[key][0] if t.calls.get(key) else ({}, [])
        try:
            for callback in record.get("callbacks", []):
                fn = value_at(outer, callback["arg"])
                for path, tree in callback["states"]:
                    value_at(outer, path).bit_generator.state = decode(tree, blobs)
                if isinstance(fn, types.FunctionType) and not hasattr(fn, "__transcript_token__"):
                    a, k = decode(callback["args"], blobs, outer)
                    try:
                        fn(*a, **dict(k))
                    except Exception:  # noqa: BLE001 (as it raised into the learner's code)
                        pass
            for path, tree in record.get("states", []):
                value_at(outer, path).bit_generator.state = decode(tree, blobs)
            for path, tree in record.get("mutated", []):
                target, new = value_at(outer, path), decode(tree, blobs)
                if target.flags.writeable and new.shape == target.shape:
                    np.copyto(target, new, casting="unsafe")
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            raise Missing(f"{name}: the record of this call is garbled") from None
        record, blobs, _ = t.take(key, name)
        try:
            if record.get("returns") is not None:
                return value_at(outer, record["returns"])
            return decode(record["result"], blobs)
        except (KeyError, TypeError, ValueError, IndexError):
            raise Missing(f"{name}: the record of this call is garbled") from None

    replay.__name__ = replay.__qualname__ = name
    replay.__transcript_token__ = f"learner:{name}"
    return replay


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    if not text and isinstance(exc, AssertionError):
        return "a test cell assertion failed"
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:200]


def run_test_cell(source: str, namespace: dict, learner_names: list[str]) -> tuple[str, str]:
    """Execute one instructor test cell in ``namespace``; (status, reason)."""
    stderr = io.StringIO()
    try:
        code = compile(python_source(source), "<test cell>", "exec")
        with redirect_stdout(io.StringIO()), redirect_stderr(stderr), \
                warnings.catch_warnings(), np.errstate(all="warn", under="ignore"):
            warnings.simplefilter("default")
            exec(code, namespace)
    except Unverifiable as exc:
        return "not covered", str(exc)
    except Missing as exc:
        return "fail", str(exc)
    except NameError as exc:
        if exc.name in learner_names:
            return "fail", f"{exc.name} is not defined"
        return "not covered", f"the test cell needs {exc.name}, defined outside the solutions"
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 (the learner's failure)
        return "fail", _first_line(exc)
    if stderr.getvalue().strip():
        return "fail", "wrote to stderr: " + stderr.getvalue().strip().splitlines()[0][:150]
    return "pass", ""


def check_setup(p: Plan, cwd: Path) -> str:
    """Run the plan's setup and helper cells alone in a child, once: '' when they work.
    Decided without any learner code, so that no submission can claim it."""
    if not p.setup_checked:
        t = record([("setup", src, gid) for gid, src in p.instructor], [], cwd)
        problems = ([t.env_error] if t.env_error else []) + t.setup_errors
        p.setup_error, p.setup_checked = (problems[0] if problems else ""), True
    return p.setup_error or ""


def decide(submitted: dict, p: Plan, cwd: Path) -> tuple[dict[str, tuple[str, str]], Transcript]:
    """{test grade id: (status, reason)} for one submitted notebook, and its transcript."""
    setup_error = check_setup(p, cwd)
    cells = cells_to_run(submitted, p)
    if setup_error:  # the child cannot stand in for the kernel: decide nothing
        t = Transcript()
        return {gid: ("not covered", f"the setup cells fail in the verifier: {setup_error}")
                for gid in p.tests}, t
    t = record(cells, p.learner_names, cwd, torch=bool(p.classes))
    verdicts: dict[str, tuple[str, str]] = {}
    namespace: dict = {"__name__": "__verify__"}
    for _, source in p.instructor:
        try:
            exec(compile(python_source(source), "<setup>", "exec"), namespace)
        except Exception:  # noqa: BLE001 (an instructor cell that needs a kernel)
            pass
    if t.env_error:
        return {gid: ("not covered", t.env_error) for gid in p.tests}, t
    for index, (kind, source, gid) in enumerate(cells):
        if kind != "test":
            continue
        if index in t.dead or index not in t.names:
            verdicts[gid] = ("fail", t.dead.get(index, "your code did not get this far "
                                                       "when it ran on its own"))
            continue
        ns = {k: v for k, v in namespace.items() if k not in p.learner_names}
        try:
            ns.update(_stand_ins(t, *t.names[index]))
        except (KeyError, TypeError, ValueError, IndexError):
            verdicts[gid] = ("fail", "the record of your names is garbled")
            continue
        verdicts[gid] = run_test_cell(source, ns, p.learner_names)
        namespace.update({k: v for k, v in ns.items() if k not in p.learner_names})
    return verdicts, t


def _stand_ins(t: Transcript, kinds: dict, blobs: list[bytes]) -> dict:
    """What each learner name is here, by the kind the child saw."""
    out = {}
    for name, kind in kinds.items():
        if kind == "function":
            out[name] = stand_in(t, name)
        elif kind in ("torch_function", "module"):
            from autograder.verify import torch_classes  # imports torch

            make = (torch_classes.replay_function if kind == "torch_function"
                    else torch_classes.replay_module)
            out[name] = make(t.take, name)
        else:
            out[name] = decode(kind[1], blobs)
    return out
