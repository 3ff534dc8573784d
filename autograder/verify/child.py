"""The child: runs what the grading kernel ran (the notebook's setup cells, the learner's
cells, the instructor's test cells) with the learner's functions wrapped by a recorder, and
streams the transcript to the deciding process (``python -m autograder.verify --child IN
OUT``). Only this process ever runs learner code; all it sends is data.

The child has no reference solutions: ``course_utils.reference`` and ``reference_torch``
are stand-ins that answer with the learner's own functions, so that the hidden checks make
every call they make in the kernel, while deciding nothing here."""

from __future__ import annotations

import signal
import sys
import types
import warnings

import numpy as np

from autograder.verify.transcript import (
    digest,
    encode,
    leaves,
    receive,
    send,
    token,
    value_at,
)

HIDDEN = ("course_utils.reference", "course_utils.reference_torch")


class ShellStub:
    """``get_ipython()`` in the child: every method does nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


class NoReference:
    """A ``sys.meta_path`` finder that refuses the reference solutions (in the sandbox their
    files are not even there)."""

    def find_spec(self, name, path=None, target=None):
        if any(name == h or name.startswith(h + ".") for h in HIDDEN):
            raise ImportError(f"{name} is not available where submissions are re-checked")
        return None


class LearnerAsReference(types.ModuleType):
    """Stands in for a reference module: its functions are the learner's own."""

    def __init__(self, name: str, namespace: dict, names: list[str]):
        super().__init__(name)
        self._namespace, self._names = namespace, names

    def __getattr__(self, name):
        if name in self._names and name in self._namespace:
            value = self._namespace[name]
            return getattr(value, "__wrapped__", value)
        raise AttributeError(f"{name} is not available where submissions are re-checked")


def python_source(source: str) -> str:
    """Cell source as plain Python (IPython magics become calls on get_ipython())."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def errstate() -> tuple:
    """NumPy's error state, part of a call's digest (it decides which warnings it gives)."""
    e = np.geterr()
    return e["divide"], e["over"], e["under"], e["invalid"]


def generator_state(generator: np.random.Generator, blobs: list[bytes]):
    state = generator.bit_generator.state
    if state.get("bit_generator") in ("PCG64", "PCG64DXSM"):  # numbers only: JSON as is
        return {"t": "json", "v": state}
    return encode(state, blobs)


class Log:
    """The transcript being written: one record per call the test cells make."""

    def __init__(self, fd: int):
        self.fd, self.records, self.blobs, self.depth = fd, [], [], 0

    def flush(self) -> None:
        if self.records:
            send(self.fd, {"op": "calls", "records": self.records}, self.blobs)
        self.records, self.blobs = [], []

    def add(self, record: dict) -> None:
        self.records.append(record)
        if len(self.records) >= 2000 or len(self.blobs) > 1000:
            self.flush()

    def recorder(self, name: str, fn):
        """``fn`` wrapped: a call from the checks is recorded, a call from inside a recorded
        one (the learner's own code, a callback) goes straight through."""
        def recorded(*args, **kwargs):
            if self.depth:
                return fn(*args, **kwargs)
            return self.call(name, fn, args, kwargs)
        recorded.__name__ = recorded.__qualname__ = name
        recorded.__wrapped__, recorded.__transcript_token__ = fn, f"learner:{name}"
        return recorded

    def call(self, name: str, fn, args: tuple, kwargs: dict):
        """Call the learner's ``fn`` and record what the kernel would have seen: the result,
        its warnings or its error, the inputs it changed or returned, the state its random
        generators ended in, and the check's functions it called (with what)."""
        key = digest([name, args, kwargs, errstate()])
        found = list(leaves([args, kwargs]))
        copies = [(p, x.copy()) for p, x in found if isinstance(x, np.ndarray)]
        generators = [(p, g) for p, g in found if isinstance(g, np.random.Generator)]
        record: dict = {"key": key, "name": name}
        spied = [self._spy(v, (0, k), record, generators) for k, v in enumerate(args)]
        kwspied = {k: self._spy(v, (1, k), record, generators) for k, v in kwargs.items()}
        result = error = None
        self.depth += 1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = fn(*spied, **kwspied)
            except BaseException as exc:  # noqa: BLE001 (recorded, then raised again)
                error = exc
            finally:
                self.depth -= 1
        blobs = self.blobs
        if caught:
            record["warnings"] = [[w.category.__name__, str(w.message)[:300]]
                                  for w in caught[:5]]
        if error is not None:
            record["error"] = [type(error).__name__, str(error)[:500]]
        else:
            record["result"] = encode(result, blobs)
            if isinstance(result, np.ndarray):
                record["returns"] = next((list(p) for p, x in found if isinstance(
                    x, np.ndarray) and np.shares_memory(result, x)), None)
        mutated = [[list(p), encode(value_at([args, kwargs], p), blobs)]
                   for p, copy in copies if _changed(value_at([args, kwargs], p), copy)]
        if mutated:
            record["mutated"] = mutated
        if generators:
            record["states"] = [[list(p), generator_state(g, blobs)] for p, g in generators]
        self.add(record)
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if error is not None:
            raise error
        return result

    def _spy(self, value, path: tuple, record: dict, generators: list):
        """An argument as the learner gets it: a function of the checks' (``init``,
        ``sigma``) comes wrapped, so that every call the learner makes of it is recorded,
        with the generators' states at that moment; the deciding process makes the same
        calls of its own function, for what they do there (a check counts them)."""
        if not isinstance(value, types.FunctionType) or hasattr(value, "__transcript_token__"):
            return value
        refs = {id(g): p for p, g in generators}

        def spy(*a, **k):
            blobs = self.blobs
            record.setdefault("callbacks", []).append({
                "arg": list(path), "args": encode([list(a), k], blobs, refs),
                "states": [[list(p), generator_state(g, blobs)] for p, g in generators]})
            return value(*a, **k)
        spy.__name__ = getattr(value, "__name__", "function")
        spy.__transcript_token__ = token(value)
        return spy


def _changed(now, before: np.ndarray) -> bool:
    return not isinstance(now, np.ndarray) or now.shape != before.shape or (
        now.tobytes() != before.tobytes())


#: The modules whose names the checks use: a learner's cell that rebinds one of their names
#: (``np.allclose = ...``, ``engine.compare = ...``) has it rebound before each test cell,
#: so that the checks make here every call they make in a kernel left alone.
MACHINERY = ("builtins", "numpy", "numpy.linalg", "numpy.random", "numpy.testing", "course_utils.")
TORCH_MACHINERY = ("torch", "torch.autograd", "torch.autograd.function", "torch.autograd.graph",
                   "torch.nn", "torch.nn.functional", "torch.testing")


def snapshot(torch: bool) -> list[tuple[object, dict]]:
    """The names of the checks' modules as they are before any learner code runs."""
    import importlib
    import pkgutil

    import course_utils.checks

    for info in pkgutil.iter_modules(course_utils.checks.__path__, "course_utils.checks."):
        if torch or not info.name.startswith("course_utils.checks.torch"):
            importlib.import_module(info.name)
    wanted = MACHINERY + (TORCH_MACHINERY if torch else ())
    for name in wanted:
        if not name.endswith("."):
            importlib.import_module(name)
    return [(module, dict(vars(module))) for name, module in list(sys.modules.items())
            if module is not None and (name in wanted or name.startswith("course_utils."))]


def restore(machinery: list[tuple[object, dict]]) -> None:
    for module, saved in machinery:
        current = vars(module)
        for key, value in saved.items():
            if current.get(key, restore) is not value:
                current[key] = value


def _cell_timeout(signum, frame):
    raise TimeoutError("the test cell did not return within the cell timeout")


def _install(log: Log, namespace: dict, names: list[str], torch_classes,
             blobs: list[bytes]) -> dict:
    """Recorders in place of the learner's names; {name: kind} for the deciding process."""
    kinds = {}
    for name in names:
        if name not in namespace:
            continue
        value = namespace[name]
        kind = torch_classes.kind(value) if torch_classes else None
        if kind:
            namespace[name] = torch_classes.recording(log, name, value, kind)
        elif callable(value):
            kind, namespace[name] = "function", log.recorder(name, value)
        else:
            kind = "value"
        kinds[name] = kind if kind != "value" else ["value", encode(value, blobs)]
    return kinds


def child_main(fd_in: int, fd_out: int) -> None:
    """Read the job, run its cells, stream the transcript, exit."""
    job, _ = receive(fd_in)
    namespace: dict = {"__name__": "__main__", "get_ipython": ShellStub}
    names = list(job["names"])
    for name in list(sys.modules):
        if name.startswith(HIDDEN):
            del sys.modules[name]
    sys.meta_path.insert(0, NoReference())
    import course_utils

    for hidden in HIDDEN:
        sys.modules[hidden] = LearnerAsReference(hidden, namespace, names)
        setattr(course_utils, hidden.rsplit(".", 1)[1], sys.modules[hidden])
    torch_classes = None
    if job["torch"]:  # imported before any learner code runs, and held here
        from autograder.verify import torch_classes
    machinery = snapshot(job["torch"])
    log = Log(fd_out)
    errors, setup_errors = [], []
    signal.signal(signal.SIGALRM, _cell_timeout)
    for index, (kind, source) in enumerate(job["cells"]):
        if kind == "skip" or (kind == "test" and index < job["start"]):
            continue
        send(fd_out, {"op": "cell", "i": index}, [])  # where a death or a hang happened
        originals = dict(namespace)
        if kind == "test":
            log.flush()
            restore(machinery)
            blobs: list[bytes] = []
            kinds = _install(log, namespace, names, torch_classes, blobs)
            send(fd_out, {"op": "names", "i": index, "names": kinds}, blobs)
        signal.alarm(max(1, int(job["cell_timeout"])))
        try:
            name = "<test cell>" if kind == "test" else "<cell>"
            exec(compile(python_source(source), name, "exec"), namespace)
        except BaseException as exc:  # noqa: BLE001 (nbgrader goes on after errors)
            if kind != "test":
                (setup_errors if kind == "setup" else errors).append(
                    f"{type(exc).__name__}: {exc}"[:200])
        finally:
            signal.alarm(0)
        if kind == "test":
            for name in names:  # the learner's own functions again, unless the cell rebound one
                if name in originals and getattr(namespace.get(name), "__wrapped__",
                                                 None) is originals[name]:
                    namespace[name] = originals[name]
            log.flush()
    send(fd_out, {"op": "end", "errors": errors, "setup_errors": setup_errors,
                  "defined": [n for n in names if n in namespace]}, [])
