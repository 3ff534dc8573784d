r"""Re-check autograded submissions in a process the learner's code never ran in.

nbgrader runs the learner's cells and the test cells in one kernel, so a solution cell can
change what the test cells see: ``np.allclose = lambda *a, **k: True``, a no-op'd
``course_utils.checks._core.compare``, a custom exception handler that swallows
``AssertionError``, a behaviour that depends on ``NBGRADER_EXECUTION``... The verifier
decides every test cell it covers again, in a design where none of that can reach the
comparison:

* the **verifier process** (this module) never executes learner code. It executes the
  instructor's test cells, read from ``source/`` (hidden tests included), with the
  instructor's setup and helper cells, and the learner's functions replaced by *proxies*;
* each proxy call goes over a pipe to a **child process** that executed only the
  notebook's setup cell and the instructor's definition-only helper cells (from
  ``source/``), then the learner's solution cells (by grade id) and the code cells the
  learner added, from the submitted notebook. The child calls the learner's function and
  sends back the output. It runs in part A's bubblewrap sandbox (``autograder.sandbox``:
  no network, uid nobody, rlimits, read-only view) when isolation is on, plainly otherwise
  (the report says which);
* arguments and results cross the pipe as NumPy's ``.npy`` bytes (``allow_pickle=False``
  both ways) inside a small JSON header: no pickle, no object arrays, no learner objects
  in the verifier (they stay opaque stand-ins). Functions and random generators that a
  check passes (``sigma``, ``init``, ``rng``) stay in the verifier: the child gets
  stand-ins that call back. Warnings, exceptions, modified inputs and a returned input
  array are reported and reproduced by the proxy, so ``course_utils.checks`` decides
  dtype, shape, warnings and values with the same code, inputs and tolerances as in the
  kernel, hidden tests included.

A test cell is *not covered* (nbgrader's score stands) only for reasons no submission
controls: its checks pass an argument the pipe cannot carry, it needs a name defined
outside the solutions, or the setup cells fail in a child without any learner code. A
child that misbehaves (garbage on the pipe, a hang, a crash, a forged answer) fails the
cells it was asked about. Where nbgrader gave points that the verifier denies, the
verifier sets that grade's ``auto_score`` to 0 in the gradebook and explains why in the
``auto_comment`` of the exercise's solution cell; suspicious source patterns are listed
for a human, never penalised.

Use: ``python -m autograder verify ASSIGNMENT [--workers N] [--dry-run]`` after ``grade``
(it writes ``reports/ASSIGNMENT_verify.json``), or :func:`verify_submission` for one
student right after autograding it.
"""

from __future__ import annotations

import ast
import builtins
import io
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import time
import warnings
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

#: Seconds one call of a learner function may take in the child.
CALL_TIMEOUT_S = 20.0
#: Seconds one solution cell may run in the child; all of them together.
CELL_TIMEOUT_S = 60.0
LOAD_TIMEOUT_S = 240.0
#: Seconds all verification of one submission may take.
SUBMISSION_TIMEOUT_S = 300.0

#: (regular expression, why it deserves a look) over the learner's code cells.
SUSPICIOUS = [
    (r"NBGRADER_EXECUTION", "reads NBGRADER_EXECUTION (behaves differently under grading?)"),
    (r"course_utils\s*\.\s*checks|from\s+course_utils\s+import\s+checks",
     "touches the checks module"),
    (r"\b_core\b", "names the checks' _core module"),
    (r"course_utils\s*\.\s*reference|reference_torch|from\s+course_utils\s+import\s+reference",
     "imports the reference solutions"),
    (r"course_utils\s*\.\s*fixtures|elementwise\.npz|from\s+course_utils\s+import\s+fixtures",
     "reads the visible tests' fixtures"),
    (r"sys\s*\.\s*modules", "edits or reads sys.modules"),
    (r"\bbuiltins\b|__builtins__", "touches builtins"),
    (r"setattr\s*\(\s*(np|numpy|torch)\b", "setattr on numpy/torch"),
    (r"\b(np|numpy|torch)\s*\.\s*[\w.]+\s*=(?!=)", "assigns into numpy/torch"),
    (r"\bctypes\b", "uses ctypes"),
    (r"os\s*\.\s*_exit|os\s*\.\s*kill|\bsys\s*\.\s*exit|raise\s+SystemExit", "exits the process"),
    (r"signal\s*\.\s*signal", "installs a signal handler"),
    (r"gc\s*\.\s*get_objects|gc\s*\.\s*get_referrers", "walks the garbage collector"),
    (r"get_ipython|set_custom_exc|showtraceback|InteractiveShell",
     "reaches into IPython (exception display?)"),
    (r"sys\s*\.\s*_getframe|inspect\s*\.\s*(stack|currentframe)|sys\s*\.\s*settrace",
     "inspects or traces stack frames"),
    (r"\bAssertionError\s*=|except\s+AssertionError", "redefines or swallows AssertionError"),
    (r"def\s+__eq__|def\s+__array_ufunc__|def\s+__array_function__|np\.ndarray\s*\)",
     "defines array-like comparison hooks (an ndarray subclass?)"),
]


class Unverifiable(BaseException):
    """A test cell the pipe cannot carry (a BaseException, so that checks don't catch it)."""


# ---------------------------------------------------------------------------------------
# The wire: a JSON header and .npy blobs, length-prefixed


def _encode(value, blobs: list[bytes], *, strict: bool, refs: list | None = None):
    """A JSON tree of ``value``; arrays go to ``blobs`` as .npy bytes (no pickle).

    ``strict`` (the verifier's side): anything else raises Unverifiable, except functions
    and random generators when ``refs`` collects them: the child gets a stand-in that calls
    back (the verifier runs the function, or draws from the generator, itself). Otherwise
    (the child's side) an unknown object is sent as its type name only.
    """
    sub = {"strict": strict, "refs": refs}
    if isinstance(value, _Opaque):  # the learner's own object, back to the learner
        return {"t": "obj", "v": type(value).__name__}
    if isinstance(value, (np.ndarray, np.generic)):  # first: np.float64 is a float
        arr = np.asarray(value)  # a subclass becomes a plain ndarray: its hooks stay behind
        if arr.dtype.hasobject:
            if strict:
                raise Unverifiable("an object array cannot cross the pipe")
            return {"t": "obj", "v": f"{type(value).__name__} of Python objects"}
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        blobs.append(buf.getvalue())
        return {"t": "np" if isinstance(value, np.generic) else "nd", "b": len(blobs) - 1}
    if value is None or type(value) in (bool, int, float, str):
        return {"t": "py", "v": value}
    if isinstance(value, (list, tuple)):
        return {"t": type(value).__name__ if type(value) in (list, tuple) else "list",
                "v": [_encode(v, blobs, **sub) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"t": "dict", "v": {k: _encode(v, blobs, **sub) for k, v in value.items()}}
    if isinstance(value, _Remote) and value._method is None:  # the verifier's own, back
        return {"t": "backref", "v": value._ref}
    if refs is not None and (callable(value) or isinstance(value, np.random.Generator)):
        refs.append(value)
        return {"t": "ref", "v": len(refs) - 1, "name": getattr(value, "__name__", "")}
    if strict:
        raise Unverifiable(f"a {type(value).__name__} argument cannot cross the pipe")
    return {"t": "obj", "v": type(value).__name__}


def _decode(tree, blobs: list[bytes], remote=None, refs: list | None = None):
    """The value of an ``_encode`` tree; ``remote`` (the child) turns references into
    call-back stand-ins, ``refs`` (the verifier) resolves references sent back."""
    kind = tree["t"]
    if kind == "py":
        return tree["v"]
    if kind in ("nd", "np"):
        arr = np.load(io.BytesIO(blobs[tree["b"]]), allow_pickle=False)
        return arr[()] if kind == "np" else arr
    if kind in ("list", "tuple"):
        items = [_decode(v, blobs, remote, refs) for v in tree["v"]]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {k: _decode(v, blobs, remote, refs) for k, v in tree["v"].items()}
    if kind == "backref" and refs is not None and 0 <= tree["v"] < len(refs):
        return refs[tree["v"]]
    if kind == "ref" and remote is not None:
        return _Remote(remote, tree["v"], tree.get("name") or "function")
    # an opaque stand-in with the learner's type name; sent back to the child as such
    return type(str(tree["v"]), (_Opaque,), {})()


class _Opaque:
    """What a learner's object (not an array or number) becomes in the verifier."""


def _send(fd: int, header: dict, blobs: list[bytes]) -> None:
    head = json.dumps({**header, "blobs": [len(b) for b in blobs]}).encode()
    data = struct.pack(">Q", len(head)) + head + b"".join(blobs)
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, left = [], n
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _receive(fd: int, deadline: float | None = None) -> tuple[dict, list[bytes]]:
    (size,) = struct.unpack(">Q", _read_exact(fd, 8, deadline))
    if size > 1 << 24:
        raise EOFError
    header = json.loads(_read_exact(fd, size, deadline))
    sizes = header.get("blobs", [])
    if sum(sizes) > 1 << 28:
        raise EOFError
    return header, [_read_exact(fd, s, deadline) for s in sizes]


def _leaves(value, path=()):
    """(path, array) of every ndarray inside nested lists, tuples and dicts."""
    if isinstance(value, np.ndarray):
        yield path, value
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))


def _at(value, path):
    for key in path:
        value = value[key]
    return value


# ---------------------------------------------------------------------------------------
# The child: executes the learner's cells, serves calls


class _ShellStub:
    """``get_ipython()`` in the child: every method does nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


class _Remote:
    """In the child: a function or generator of the verifier; calling it calls back."""

    def __init__(self, channel, ref: int, name: str, method: str | None = None):
        self._channel, self._ref, self._method = channel, ref, method
        self.__name__ = name

    def __call__(self, *args, **kwargs):
        return self._channel.callback(self._ref, self._method, args, kwargs)

    def __getattr__(self, method):
        if method.startswith("__"):
            raise AttributeError(method)
        return _Remote(self._channel, self._ref, method, method)


class _Channel:
    """The child's end of the pipe: serves calls, and calls back while serving one."""

    def __init__(self, fd_in: int, fd_out: int, namespace: dict):
        self.fd_in, self.fd_out, self.namespace = fd_in, fd_out, namespace

    def callback(self, ref: int, method: str | None, args, kwargs):
        blobs: list[bytes] = []
        header = {"op": "callback", "ref": ref, "method": method,
                  "args": _encode(list(args), blobs, strict=False),
                  "kwargs": _encode(dict(kwargs), blobs, strict=False)}
        _send(self.fd_out, header, blobs)
        while True:
            reply, out = _receive(self.fd_in)
            if reply["op"] == "call":  # the verifier calls the learner again meanwhile
                _send(self.fd_out, *_child_call(self, reply, out))
                continue
            if reply.get("error"):
                kind, message = reply["error"]
                raise type(kind, (Exception,), {})(message)
            return _decode(reply["result"], out, self)


def _cell_timeout(signum, frame):
    raise TimeoutError(f"the cell ran longer than {CELL_TIMEOUT_S:g} s")


def _child_main(fd_in: int, fd_out: int) -> None:
    namespace: dict = {"__name__": "__main__", "get_ipython": _ShellStub}
    channel = _Channel(fd_in, fd_out, namespace)
    while True:
        try:
            header, blobs = _receive(fd_in)
        except (EOFError, OSError):
            return
        if header["op"] == "load":
            errors, setup_errors = [], []
            signal.signal(signal.SIGALRM, _cell_timeout)
            for n, source in enumerate(header["cells"]):
                signal.alarm(int(CELL_TIMEOUT_S))  # like nbgrader's per-cell timeout
                try:
                    exec(compile(_python(source), "<cell>", "exec"), namespace)
                except BaseException as exc:  # noqa: BLE001 (nbgrader goes on after errors)
                    text = f"{type(exc).__name__}: {exc}"[:200]
                    (setup_errors if n in header["instructor"] else errors).append(text)
                finally:
                    signal.alarm(0)
            names = [n for n in header["names"] if n in namespace]
            _send(fd_out, {"names": names, "errors": errors, "setup_errors": setup_errors}, [])
        elif header["op"] == "call":
            _send(fd_out, *_child_call(channel, header, blobs))


def _child_call(channel: _Channel, header: dict, blobs: list[bytes]) -> tuple[dict, list]:
    namespace = channel.namespace
    args = _decode(header["args"], blobs, channel)
    kwargs = _decode(header["kwargs"], blobs, channel)
    before = [(p, a.copy()) for p, a in _leaves([args, kwargs])]
    reply: dict = {"op": "reply", "error": None, "warnings": [], "mutated": [], "returns_arg": None}
    out: list[bytes] = []
    result = None
    with warnings.catch_warnings(record=True) as caught, np.errstate(**header["errstate"]):
        warnings.simplefilter("always")
        try:
            result = namespace[header["name"]](*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 (reported to the verifier)
            reply["error"] = [type(exc).__name__, str(exc)[:500]]
    reply["warnings"] = [[w.category.__name__, str(w.message)[:300]] for w in caught[:5]]
    try:
        if reply["error"] is None:
            reply["result"] = _encode(result, out, strict=False)
            if isinstance(result, np.ndarray):
                for path, original in _leaves([args, kwargs]):
                    if np.shares_memory(result, original):
                        reply["returns_arg"] = list(path)
                        break
        for path, copy in before:
            now = _at([args, kwargs], path)
            if now.shape != copy.shape or now.tobytes() != copy.tobytes():
                reply["mutated"].append([list(path), _encode(now, out, strict=False)])
    except BaseException as exc:  # noqa: BLE001 (a result that cannot be sent)
        reply = {"op": "reply",
                 "error": [type(exc).__name__, f"its result could not be sent: {exc}"[:500]],
                 "warnings": [], "mutated": [], "returns_arg": None}
        out = []
    return reply, out


def _python(source: str) -> str:
    """Cell source as plain Python (IPython magics become calls on get_ipython())."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


# ---------------------------------------------------------------------------------------
# The verifier's side of the pipe


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
        _send(self.fd_out, {"op": "load", "cells": self.cells, "names": self.names,
                            "instructor": self.instructor}, [])
        try:
            header, _ = _receive(self.fd_in, time.monotonic() + LOAD_TIMEOUT_S)
        except (TimeoutError, EOFError, OSError, ValueError, KeyError, struct.error):
            self.stop()
            self.defined, self.load_errors = [], ["the solution cells did not finish loading"]
            self.loaded = False
            return
        try:
            self.defined = [n for n in header["names"] if n in self.names]
            self.load_errors = list(header["errors"])
            self.setup_errors = list(header["setup_errors"])
        except (KeyError, TypeError):
            self.stop()
            self.defined, self.load_errors = [], ["the child's answer was garbled"]
            return
        self.loaded = True

    def _sandboxed(self, argv: list[str]) -> tuple[list[str], object]:
        """``argv`` inside part A's bubblewrap sandbox (``autograder.sandbox``) when isolation
        is on and available: no network, uid nobody, rlimits, only the Python installation,
        ``course_utils``, this package and the submission's directory visible (read-only).
        Otherwise ``argv`` as is, with the reason in ``self.isolation``. Returns the argv
        and the ``preexec_fn`` that sets the rlimits."""
        try:
            from autograder import sandbox
            bwrap_argv, set_limits = sandbox.bwrap_argv, sandbox._set_limits
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
        package = Path(__file__).resolve().parent
        boot = (f"import sys; sys.path.insert(0, {str(package.parent)!r}); "
                "from autograder.verify import _child_main; "
                f"_child_main({argv[-2]}, {argv[-1]})")
        self.isolation = "bubblewrap (autograder.sandbox), uid nobody, no network"
        wrapped = bwrap_argv(str(self.cwd), [], [sys.executable, "-c", boot],
                             ro_extra=[str(package), str(self.cwd)])
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

    def call(self, name: str, args: tuple, kwargs: dict):
        blobs: list[bytes] = []
        refs: list = []
        header = {"op": "call", "name": name, "errstate": np.geterr(),
                  "args": _encode(list(args), blobs, strict=True, refs=refs),
                  "kwargs": _encode(kwargs, blobs, strict=True, refs=refs)}
        if not self.alive():
            raise RuntimeError(f"{name}: the process running your code has stopped")
        try:
            _send(self.fd_out, header, blobs)
            while True:
                reply, out = _receive(self.fd_in, time.monotonic() + CALL_TIMEOUT_S)
                if reply.get("op") != "callback":
                    break
                _send(self.fd_out, *self._callback(refs, reply, out))
        except TimeoutError:
            self.stop()
            raise TimeoutError(f"{name} did not return within {CALL_TIMEOUT_S:g} s") from None
        except (EOFError, OSError):
            self.stop()
            raise RuntimeError(f"{name}: the process running your code died") from None
        for path, tree in reply["mutated"]:
            target = _at([list(args), kwargs], path)
            new = _decode(tree, out)
            if isinstance(target, np.ndarray) and target.flags.writeable and isinstance(
                    new, np.ndarray) and new.shape == target.shape:
                np.copyto(target, new, casting="unsafe")
        for category, message in reply["warnings"]:
            cls = getattr(builtins, category, None)
            if not (isinstance(cls, type) and issubclass(cls, Warning)):
                cls = UserWarning
            warnings.warn(message, cls, stacklevel=2)
        if reply["error"] is not None:
            kind, message = reply["error"]
            if kind == "NotImplementedError":
                raise NotImplementedError(message)
            raise type(kind, (Exception,), {})(message)
        if reply["returns_arg"] is not None:
            return _at([list(args), kwargs], reply["returns_arg"])
        return _decode(reply["result"], out)


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
            args = _decode(header["args"], blobs, refs=refs)
            kwargs = _decode(header["kwargs"], blobs, refs=refs)
            result = target(*args, **kwargs)
            return {"op": "return", "result": _encode(result, out, strict=True)}, out
        except (Exception, Unverifiable) as exc:  # noqa: BLE001 (raised in the learner's code)
            return {"op": "return", "error": [type(exc).__name__, str(exc)[:300]]}, []


class Proxy:
    """Stands in for the learner's function ``name`` in the verifier's test cells."""

    def __init__(self, child: Child, name: str):
        self.child, self.__name__, self.__qualname__ = child, name, name

    def __call__(self, *args, **kwargs):
        return self.child.call(self.__name__, args, kwargs)

    def __repr__(self):
        return f"<function {self.__name__}>"


# ---------------------------------------------------------------------------------------
# Reading the notebooks


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def defined_names(source: str, *, classes: bool = False) -> list[str]:
    """Top-level names a cell defines (def, class, assignment); only classes with
    ``classes``."""
    try:
        tree = ast.parse(_python(source))
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) or (not classes and isinstance(
                node, (ast.FunctionDef, ast.AsyncFunctionDef))):
            names.append(node.name)
        elif isinstance(node, ast.Assign) and not classes:
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return names


def _definitions_only(source: str) -> bool:
    """Whether an instructor cell only imports and defines (safe and cheap to re-run)."""
    try:
        tree = ast.parse(_python(source))
    except SyntaxError:
        return False
    allowed = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Assign)
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.Expr) and "get_ipython" in ast.unparse(node):
            continue  # %matplotlib inline and friends
        if not isinstance(node, allowed):
            return False
    return True


@dataclass
class Plan:
    """What the source notebook says: the cells to run and the test cells to decide."""

    notebook: str
    instructor: list[tuple[str, str]]      # (grade id or "", source) of setup/helper cells
    solutions: list[str]                   # solution grade ids, in order
    order: list[tuple[str, str]]           # ("instructor", source) | ("solution", grade id)
    learner_names: list[str]
    tests: dict[str, tuple[str, float]]    # grade id -> (source with hidden tests, points)
    classes: list[str] = field(default_factory=list)  # learner names defined by `class`
    setup_error: str | None = None         # why the setup cells fail in a child, if they do
    setup_checked: bool = False

    def check_setup(self, cwd: Path) -> str:
        """Run the setup and helper cells alone in a child, once: '' when they work.

        Decided without any learner code, so that no submission can claim it."""
        if not self.setup_checked:
            child = Child([src for _, src in self.instructor], [], cwd,
                          list(range(len(self.instructor))))
            try:
                child.start()
            finally:
                child.stop()
            problems = ([child.env_error] if child.env_error else []) + child.setup_errors + (
                [] if child.loaded else child.load_errors)
            self.setup_error = problems[0] if problems else ""
            self.setup_checked = True
        return self.setup_error or ""


def plan(source_notebook: Path) -> Plan:
    """Read ``source/<a>/<a>.ipynb``: setup and helper cells, solutions, test cells."""
    import nbformat

    nb = nbformat.read(str(source_notebook), as_version=4)
    instructor, solutions, order, names, tests = [], [], [], [], {}
    solution_sources: list[tuple[str, str]] = []
    first_code = True
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = _meta(cell)
        gid = meta.get("grade_id", "")
        if meta.get("solution"):
            solution_sources.append((gid, cell.source))
            solutions.append(gid)
            order.append(("solution", gid))
            names += defined_names(cell.source)
        elif meta.get("grade"):
            tests[gid] = (cell.source, float(meta.get("points", 0) or 0))
        elif first_code or _definitions_only(cell.source):
            instructor.append((gid, cell.source))
            order.append(("instructor", cell.source))
        first_code = False
    names = list(dict.fromkeys(names))
    # a helper cell that calls the learner's code at top level is a demonstration, not setup
    keep = [k for k, (_, src) in enumerate(instructor) if k == 0 or not _uses(src, names)]
    dropped = {instructor[k][1] for k in range(len(instructor)) if k not in keep}
    instructor = [instructor[k] for k in keep]
    order = [(kind, v) for kind, v in order if not (kind == "instructor" and v in dropped)]
    classes = [n for _, src in solution_sources for n in defined_names(src, classes=True)]
    return Plan(source_notebook.stem, instructor, solutions, order, names, tests,
                classes=classes)


def _uses(source: str, names: list[str]) -> bool:
    """Whether a cell's top-level statements (not def/class bodies) read one of ``names``."""
    try:
        tree = ast.parse(_python(source))
    except SyntaxError:
        return True  # the careful answer
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node)):
            return True
    return False


def learner_cells(submitted: dict, p: Plan) -> tuple[list[str], list[int]]:
    """The cells the child runs, and which of them are the instructor's.

    First the setup and helper cells from source/ (so that no learner code can make them
    fail), then the learner's code in the submitted notebook's order: every cell carrying
    a solution grade id of source/ (a split cell keeps both halves) and every code cell
    the learner added (no nbgrader metadata: helpers live there too)."""
    cells = [value for kind, value in p.order if kind == "instructor"]
    instructor = list(range(len(cells)))
    for cell in submitted.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        meta = _meta(cell)
        added = not meta.get("grade_id")
        if (meta.get("solution") and meta.get("grade_id") in p.solutions) or added:
            src = cell.get("source", "")
            cells.append("".join(src) if isinstance(src, list) else src)
    return cells, instructor


def suspicious(submitted: dict) -> list[str]:
    """'cell N: reason: `line`' for every suspicious line in the learner's code cells."""
    found = []
    for n, cell in enumerate(submitted.get("cells", [])):
        meta = _meta(cell)
        if cell.get("cell_type") != "code" or (meta.get("locked") and not meta.get("solution")):
            continue
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        for line in src.splitlines():
            for pattern, why in SUSPICIOUS:
                if re.search(pattern, line):
                    found.append(f"cell {n} ({meta.get('grade_id', 'added cell')}): {why}: "
                                 f"`{line.strip()[:80]}`")
    return found


# ---------------------------------------------------------------------------------------
# Deciding the test cells


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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    if not text and isinstance(exc, AssertionError):
        return "a test cell assertion failed"
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:200]


def run_test_cell(source: str, namespace: dict, learner_names: list[str]) -> tuple[str, str]:
    """Execute one instructor test cell in ``namespace``; (status, reason)."""
    stderr = io.StringIO()
    try:
        code = compile(_python(source), "<test cell>", "exec")
        with redirect_stdout(io.StringIO()), redirect_stderr(stderr), \
                warnings.catch_warnings(), np.errstate(all="warn", under="ignore"):
            warnings.simplefilter("default")
            exec(code, namespace)
    except Unverifiable as exc:
        return "not covered", str(exc)
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


def decide(submitted: dict, p: Plan, cwd: Path) -> tuple[dict[str, tuple[str, str]], Child]:
    """{test grade id: (status, reason)} for one submitted notebook, and its child."""
    cells, instructor = learner_cells(submitted, p)
    child = Child(cells, p.learner_names, cwd, instructor)
    verdicts: dict[str, tuple[str, str]] = {}
    setup_error = p.check_setup(cwd)
    if setup_error:  # the verifier's child cannot stand in for the kernel: decide nothing
        return {gid: ("not covered", f"the setup cells fail in the verifier: {setup_error}")
                for gid in p.tests}, child
    deadline = time.monotonic() + SUBMISSION_TIMEOUT_S
    try:
        child.start()
        namespace: dict = {"__name__": "__verify__"}
        for _, source in p.instructor:
            try:
                exec(compile(_python(source), "<setup>", "exec"), namespace)
            except Exception:  # noqa: BLE001 (an instructor cell that needs a kernel)
                pass
        for gid, (source, _) in p.tests.items():
            if p.classes and _uses(source, p.classes):
                verdicts[gid] = ("not covered", "the test checks a class of the learner's "
                                 "(the verifier re-checks functions)")
                continue
            if time.monotonic() > deadline:
                verdicts[gid] = ("fail", f"the functions took more than "
                                 f"{SUBMISSION_TIMEOUT_S:g} s to re-check in all")
                continue
            if not child.alive() and child.loaded:
                child.start()  # after a timeout: a fresh child for the next test cell
            if child.env_error:
                verdicts[gid] = ("not covered", child.env_error)
                continue
            ns = dict(namespace)
            ns.update({n: Proxy(child, n) for n in child.defined})
            for n in p.learner_names:
                if n not in child.defined:
                    ns.pop(n, None)
            verdicts[gid] = run_test_cell(source, ns, p.learner_names)
            namespace.update({k: v for k, v in ns.items() if not isinstance(v, Proxy)
                              and k not in p.learner_names})
    finally:
        child.stop()
    return verdicts, child


# ---------------------------------------------------------------------------------------
# The gradebook


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


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--child":
    _child_main(int(sys.argv[2]), int(sys.argv[3]))
