"""The verifier's handle on the child process: start it (sandboxed when isolation is on),
call the learner's functions through it, and stand in for them in the test cells."""

from __future__ import annotations

import builtins
import os
import signal
import struct
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from autograder.course import cell_timeout
from autograder.verify.wire import (
    Unverifiable,
    decode,
    encode,
    leaves,
    receive,
    send,
    value_at,
)

#: Seconds one call of a learner function may take in the child; None: the course's cell
#: timeout (autograder.course.cell_timeout), the time the call had in the kernel at most.
CALL_TIMEOUT_S: float | None = None
#: Seconds the child may take beyond the cell timeout for one cell at load (the child
#: interrupts a cell at the cell timeout itself; this catches one that ignores that).
LOAD_GRACE_S = 10.0


def call_timeout() -> float:
    return float(cell_timeout() if CALL_TIMEOUT_S is None else CALL_TIMEOUT_S)


class Child:
    """A child process running the learner's cells; ``call`` evaluates one function."""

    def __init__(self, cells: list[str], names: list[str], cwd: Path,
                 instructor: list[int] = ()):
        self.cells, self.names, self.cwd = cells, names, cwd
        self.instructor = list(instructor)  # indices of the instructor's cells
        self.setup_errors: list[str] = []
        self.env_error = ""  # the child could not start at all (not the learner's doing)
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.loaded = False
        self.defined: list[str] = []
        self.load_errors: list[str] = []
        self.isolation = "none"
        #: Serve the torch stand-ins (autograder.verify.torch_proxy): the child imports
        #: their server before it runs any learner code.
        self.torch = False
        #: Why the learner's cells were cut short at load (a death in one of them).
        self.truncated: list[str] = []
        #: When the test cell being decided runs out of time (set by ``decide``), or None.
        self.deadline: float | None = None
        #: The calls and repeats sent so far (one round trip each, call-backs aside).
        self.round_trips: list[str] = []

    def start(self) -> None:
        self.starts += 1
        c_in, p_out = os.pipe()   # verifier -> child
        p_in, c_out = os.pipe()   # child -> verifier
        argv = [sys.executable, "-m", "autograder.verify", "--child", str(c_in), str(c_out)]
        argv, preexec = self._sandboxed(argv)
        env = {**os.environ, "NBGRADER_EXECUTION": "autograde", "MPLBACKEND": "Agg",
               "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, pass_fds=(c_in, c_out), cwd=str(self.cwd), env=env,
                start_new_session=True, preexec_fn=preexec)
        except (OSError, subprocess.SubprocessError) as exc:  # the machine, not the learner
            for fd in (c_in, c_out, p_in, p_out):
                os.close(fd)
            self.env_error = f"the child process could not start: {exc}"
            self.loaded = False
            return
        os.close(c_in)
        os.close(c_out)
        self.fd_out, self.fd_in = p_out, p_in
        per_cell = cell_timeout()
        send(self.fd_out, {"op": "load", "cells": self.cells, "names": self.names,
                            "instructor": self.instructor, "torch": self.torch,
                            "cell_timeout": per_cell}, [])
        running = None
        try:
            while True:  # each cell has the cell timeout, as in the kernel
                header, _ = receive(self.fd_in, time.monotonic() + per_cell + LOAD_GRACE_S)
                if header.get("op") != "progress":
                    break
                running = header.get("cell")
        except (TimeoutError, EOFError, OSError, ValueError, KeyError, struct.error):
            self.stop()
            if self._stop_before(running):
                self.start()
                return
            self.defined, self.load_errors = [], ["the solution cells did not finish loading"]
            self.loaded = False
            return
        try:
            self.defined = [n for n in header["names"] if n in self.names]
            self.load_errors = list(header["errors"]) + self.truncated
            self.setup_errors = list(header["setup_errors"])
        except (KeyError, TypeError):
            self.stop()
            self.defined, self.load_errors = [], ["the child's answer was garbled"]
            return
        self.loaded = True

    def _stop_before(self, cell) -> bool:
        """After the child died (or hung) in learner cell ``cell`` while loading: keep only
        the cells before it, as the kernel had them when it died there. False when there is
        nothing to keep (the instructor's setup cells themselves)."""
        if not (isinstance(cell, int) and 0 < cell < len(self.cells)
                and cell not in self.instructor):
            return False
        self.truncated = [f"the process stopped in the code cell {cell - len(self.instructor) + 1}"
                          f" of yours it ran; the cells from there on were not run"]
        self.cells = self.cells[:cell]
        return True

    def _sandboxed(self, argv: list[str]) -> tuple[list[str], object]:
        """``argv`` inside part A's bubblewrap sandbox (``autograder.sandbox``) when isolation
        is on and available: no network, uid nobody, rlimits, only the Python installation,
        ``course_utils``, this package and the submission's directory visible (read-only).
        Otherwise ``argv`` as is, with the reason in ``self.isolation``. Returns the argv
        and the ``preexec_fn`` that sets the rlimits."""
        try:
            from autograder import sandbox
            bwrap_argv, set_limits = sandbox.bwrap_argv, sandbox.set_limits
        except (ImportError, AttributeError):
            self.isolation = "none (autograder.sandbox offers no bwrap_argv)"
            return argv, None
        if not sandbox.enabled():
            self.isolation = "none (ACTIVATION_UNITS_ISOLATION=off)"
            return argv, None
        reason = sandbox.unavailable()
        if reason:
            self.isolation = f"none ({reason})"
            return argv, None
        package = Path(__file__).resolve().parents[1]  # autograder/
        boot = (f"import sys; sys.path.insert(0, {str(package.parent)!r}); "
                "from autograder.verify import child_main; "
                f"child_main({argv[-2]}, {argv[-1]})")
        self.isolation = ("bubblewrap (autograder.sandbox), uid nobody, no network, no "
                          "reference solutions")
        # The reference solutions are not there at all: a learner function that calls them
        # fails in the child, and the re-check takes back the points nbgrader gave it.
        wrapped = bwrap_argv(str(self.cwd), [], [sys.executable, "-c", boot],
                             ro_extra=[str(package), str(self.cwd)],
                             hide=sandbox.reference_paths())
        return wrapped, set_limits

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        for fd in (self.fd_in, self.fd_out):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        self.proc = None

    def _wait(self) -> tuple[float, str]:
        """Seconds the next reply may take, and how to say it ran out."""
        limit = call_timeout()
        if self.deadline is not None and self.deadline - time.monotonic() < limit:
            return max(0.1, self.deadline - time.monotonic()), "before the test cell's time ran out"
        return limit, f"within {limit:g} s"

    def call(self, name: str, args: tuple, kwargs: dict):
        """The learner's ``name(*args, **kwargs)``, run in the child: its result, its
        warnings re-emitted, its exception re-raised, its changes to array inputs copied."""
        reply, out = self._exchange({"op": "call"}, name, args, kwargs)
        return self._finish(reply, out, name, args, kwargs)

    def repeat(self, name: str, times: int, args: tuple, kwargs: dict) -> list:
        """``times`` calls of ``name(*args, **kwargs)`` in one round trip: one replay per
        call made (a function that returns that call's result, or re-emits its warnings and
        re-raises its error, as ``call`` does); the child stops after the first call that
        fails, warns or modifies its inputs."""
        reply, out = self._exchange({"op": "repeat", "times": int(times)}, name, args, kwargs)
        calls = reply.get("calls")
        if not isinstance(calls, list) or not 0 < len(calls) <= times:
            raise RuntimeError(f"{name}: the process running your code sent a garbled answer")
        def replay_of(one: dict):
            def replay(*_arguments, **_keywords):  # called as the function was
                return self._finish(one, out, name, args, kwargs)
            return replay

        return [replay_of(one) for one in calls]

    def _exchange(self, header: dict, name: str, args: tuple, kwargs: dict):
        """Send a call, serve the child's call-backs until it answers: (reply, blobs)."""
        blobs: list[bytes] = []
        refs: list = []
        self.round_trips.append(header["op"])
        header = {**header, "name": name, "errstate": np.geterr(),
                  "args": encode(list(args), blobs, strict=True, refs=refs),
                  "kwargs": encode(kwargs, blobs, strict=True, refs=refs)}
        if not self.alive():
            raise RuntimeError(f"{name}: the process running your code has stopped")
        wait, said = self._wait()
        try:
            send(self.fd_out, header, blobs)
            while True:
                reply, out = receive(self.fd_in, time.monotonic() + wait)
                if reply.get("op") != "callback":
                    break
                for ref, tree in reply.get("generators", []):
                    _take_state(refs, ref, decode(tree, out), name)
                send(self.fd_out, *self._callback(refs, reply, out))
            for ref, tree in reply.get("generators", []):
                _take_state(refs, ref, decode(tree, out), name)
        except TimeoutError:
            self.stop()
            raise TimeoutError(f"{name} did not return {said}") from None
        except (EOFError, OSError):
            self.stop()
            raise RuntimeError(f"{name}: the process running your code died") from None
        except RuntimeError:  # a garbled generator state: the conversation is out of step
            self.stop()
            raise
        return reply, out

    @staticmethod
    def _finish(reply: dict, out: list[bytes], name: str, args: tuple, kwargs: dict):
        """What the call returned in the kernel, from its reply."""
        for path, tree in reply["mutated"]:
            target = value_at([list(args), kwargs], path)
            new = decode(tree, out)
            if isinstance(target, np.ndarray) and target.flags.writeable and isinstance(
                    new, np.ndarray) and new.shape == target.shape:
                np.copyto(target, new, casting="unsafe")
        for category, message in reply["warnings"]:
            cls = getattr(builtins, category, None)
            if not (isinstance(cls, type) and issubclass(cls, Warning)):
                cls = UserWarning
            warnings.warn(message, cls, stacklevel=3)
        if reply["error"] is not None:
            kind, message = reply["error"]
            if kind == "NotImplementedError":
                raise NotImplementedError(message)
            raise type(kind, (Exception,), {})(message)
        if reply["returns_arg"] is not None:
            return value_at([list(args), kwargs], reply["returns_arg"])
        return decode(reply["result"], out)

    @staticmethod
    def _callback(refs: list, header: dict, blobs: list[bytes]) -> tuple[dict, list]:
        """Run the verifier's function (or generator method) the child called back."""
        out: list[bytes] = []
        try:
            target = refs[header["ref"]]
            if header["method"] is not None:
                if header["method"].startswith("_"):
                    raise AttributeError(header["method"])
                target = getattr(target, header["method"])
            args = decode(header["args"], blobs, refs=refs)
            kwargs = decode(header["kwargs"], blobs, refs=refs)
            result = target(*args, **kwargs)
            reply = {"op": "return", "result": encode(result, out, strict=True)}
        except (Exception, Unverifiable) as exc:  # noqa: BLE001 (raised in the learner's code)
            out = []
            reply = {"op": "return", "error": [type(exc).__name__, str(exc)[:300]]}
        reply["generators"] = [[ref, encode(r.bit_generator.state, out, strict=True)]
                               for ref, r in enumerate(refs)
                               if isinstance(r, np.random.Generator)]
        return reply, out

    def request(self, header: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
        """One round trip of a request other than ``call`` (the ``torch_*`` operations of
        ``autograder.verify.torch_proxy``): the reply's header and blobs. A hang stops the
        child and raises TimeoutError, a death RuntimeError, as ``call`` does."""
        what = str(header.get("op", "request")).removeprefix("torch_")
        if not self.alive():
            raise RuntimeError(f"{what}: the process running your code has stopped")
        wait, said = self._wait()
        try:
            send(self.fd_out, header, blobs)
            return receive(self.fd_in, time.monotonic() + wait)
        except TimeoutError:
            self.stop()
            raise TimeoutError(f"{what} did not return {said}") from None
        except (EOFError, OSError, ValueError, KeyError, struct.error):
            self.stop()
            raise RuntimeError(f"{what}: the process running your code died") from None


def _take_state(refs: list, ref, state, name: str) -> None:
    """Set the verifier's generator ``refs[ref]`` to the state the child's copy ended in."""
    generator = refs[ref] if isinstance(ref, int) and 0 <= ref < len(refs) else None
    if not isinstance(generator, np.random.Generator):
        raise RuntimeError(f"{name}: the process running your code sent a garbled answer")
    kind = type(generator.bit_generator).__name__
    try:
        if not isinstance(state, dict) or state.get("bit_generator") != kind:
            raise ValueError(kind)
        generator.bit_generator.state = state  # numpy checks the rest
    except (TypeError, ValueError, KeyError, OverflowError):
        raise RuntimeError(f"{name}: the random generator came back garbled") from None


class Proxy:
    """Stands in for the learner's function ``name`` in the verifier's test cells."""

    def __init__(self, child: Child, name: str):
        self.child, self.__name__, self.__qualname__ = child, name, name

    def __call__(self, *args, **kwargs):
        return self.child.call(self.__name__, args, kwargs)

    def repeated(self, times: int, args: tuple, kwargs: dict) -> list:
        """For ``course_utils.checks.engine.call_repeated``: the same call ``times`` times in
        one round trip (04's hidden initialiser test draws 9,000 matrices per function);
        one replay per call made."""
        if any(True for _ in leaves([list(args), kwargs])):
            # array arguments: each call may modify them for the next; one at a time
            return [lambda *_a, **_k: self.child.call(self.__name__, args, kwargs)
                    for _ in range(times)]
        return self.child.repeat(self.__name__, times, args, kwargs)

    def __repr__(self):
        return f"<function {self.__name__}>"

