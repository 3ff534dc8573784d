"""The child process: runs the notebook's setup cells and the learner's cells, then serves
calls of the learner's functions over the pipe (``python -m autograder.verify --child IN OUT``).

Only this process ever executes learner code; everything it sends back is data."""

from __future__ import annotations

import signal
import warnings

import numpy as np

from autograder.verify.wire import (
    Remote,
    decode,
    encode,
    generator_from_state,
    leaves,
    receive,
    send,
    value_at,
)


class _ShellStub:
    """``get_ipython()`` in the child: every method does nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


class _Channel:
    """The child's end of the pipe: serves calls, and calls back while serving one."""

    def __init__(self, fd_in: int, fd_out: int, namespace: dict):
        self.fd_in, self.fd_out, self.namespace = fd_in, fd_out, namespace
        #: The random generators of the call being served, by the verifier's reference.
        self.generators: dict[int, object] = {}

    def callback(self, ref: int, method: str | None, args, kwargs):
        # A generator the verifier lent goes back as its reference, and every lent generator
        # crosses in its current state both ways: the verifier's function draws from the
        # verifier's generator, then the child's copy carries on from where that one stopped.
        lent = {id(g): r for r, g in self.generators.items()}

        def back(value):
            if isinstance(value, np.random.Generator) and id(value) in lent:
                return Remote(self, lent[id(value)], "rng")
            return value

        blobs: list[bytes] = []
        header = {"op": "callback", "ref": ref, "method": method,
                  "args": encode([back(a) for a in args], blobs, strict=False),
                  "kwargs": encode({k: back(v) for k, v in kwargs.items()}, blobs,
                                    strict=False),
                  "generators": self.states(blobs)}
        send(self.fd_out, header, blobs)
        while True:
            reply, out = receive(self.fd_in)
            if reply["op"] == "call":  # the verifier calls the learner again meanwhile
                send(self.fd_out, *_child_call(self, reply, out))
                continue
            for r, tree in reply.get("generators", []):
                if r in self.generators:
                    self.generators[r].bit_generator.state = generator_from_state(
                        decode(tree, out)).bit_generator.state
            if reply.get("error"):
                kind, message = reply["error"]
                raise type(kind, (Exception,), {})(message)
            return decode(reply["result"], out, self)


    def states(self, blobs: list[bytes]) -> list:
        """[[reference, state]] of the generators the verifier lent for this call."""
        return [[r, encode(g.bit_generator.state, blobs, strict=False)]
                for r, g in self.generators.items()]


class NoReference:
    """A ``sys.meta_path`` finder that refuses ``course_utils.reference`` and
    ``course_utils.reference_torch``: the re-check's child runs the learner's code without
    the reference solutions. In the sandbox the files are not even there
    (``sandbox.reference_paths``); this covers the child run without isolation."""

    HIDDEN = ("course_utils.reference", "course_utils.reference_torch")

    def find_spec(self, name, path=None, target=None):
        if any(name == h or name.startswith(h + ".") for h in self.HIDDEN):
            raise ImportError(f"{name} is not available where submissions are re-checked")
        return None


def hide_reference() -> None:
    """Refuse every later import of the reference solutions in this process."""
    import sys

    for name in [n for n in sys.modules if n.startswith(NoReference.HIDDEN)]:
        del sys.modules[name]
    sys.meta_path.insert(0, NoReference())


def _cell_timeout(signum, frame):
    raise TimeoutError("the cell ran longer than the cell timeout")


def child_main(fd_in: int, fd_out: int) -> None:
    hide_reference()
    namespace: dict = {"__name__": "__main__", "get_ipython": _ShellStub}
    channel = _Channel(fd_in, fd_out, namespace)
    serve_torch = None
    while True:
        try:
            header, blobs = receive(fd_in)
        except (EOFError, OSError):
            return
        if header["op"] == "load":
            if header.get("torch"):
                # Imported before any learner code runs, and held here: replacing the module
                # in sys.modules (or torch's hook API, which it binds at import) afterwards
                # does not change what serves the torch stand-ins.
                from autograder.verify import torch_child

                serve_torch = torch_child.serve
            errors, setup_errors = [], []
            signal.signal(signal.SIGALRM, _cell_timeout)
            for n, source in enumerate(header["cells"]):
                send(fd_out, {"op": "progress", "cell": n}, [])  # where a death happened
                signal.alarm(max(1, int(header["cell_timeout"])))  # nbgrader's, per cell
                try:
                    exec(compile(python_source(source), "<cell>", "exec"), namespace)
                except BaseException as exc:  # noqa: BLE001 (nbgrader goes on after errors)
                    text = f"{type(exc).__name__}: {exc}"[:200]
                    (setup_errors if n in header["instructor"] else errors).append(text)
                finally:
                    signal.alarm(0)
            names = [n for n in header["names"] if n in namespace]
            send(fd_out, {"names": names, "errors": errors, "setup_errors": setup_errors}, [])
        elif header["op"] in ("call", "repeat"):
            send(fd_out, *_child_call(channel, header, blobs))
        elif str(header["op"]).startswith("torch_") and serve_torch is not None:
            send(fd_out, *serve_torch(namespace, header, blobs))  # the learner's classes
        else:
            send(fd_out, {"op": "reply", "error": ["RuntimeError", "unknown request"]}, [])


def _child_call(channel: _Channel, header: dict, blobs: list[bytes]) -> tuple[dict, list]:
    namespace = channel.namespace
    outer, channel.generators = channel.generators, {}
    try:
        return _serve_call(channel, namespace, header, blobs)
    finally:
        channel.generators = outer


def _serve_call(channel: _Channel, namespace: dict, header: dict,
                blobs: list[bytes]) -> tuple[dict, list]:
    """One call (op "call"), or ``header["times"]`` calls with the same arguments (op
    "repeat": a generator among them moves on from call to call), stopping after the first
    that raises or warns, as the check that asked for them would. A repeat's reply holds one
    reply per call made, under "calls"."""
    args = decode(header["args"], blobs, channel)
    kwargs = decode(header["kwargs"], blobs, channel)
    out: list[bytes] = []
    try:
        if header["op"] == "call":
            reply = _run(namespace, header, args, kwargs, out)
        else:
            reply = {"op": "reply", "calls": []}
            for _ in range(int(header["times"])):
                one = _run(namespace, header, args, kwargs, out)
                reply["calls"].append(one)
                if one["error"] is not None or one["warnings"] or one["mutated"]:
                    break
        reply["generators"] = channel.states(out)
    except BaseException as exc:  # noqa: BLE001 (a result that cannot be sent)
        reply = {"op": "reply",
                 "error": [type(exc).__name__, f"its result could not be sent: {exc}"[:500]],
                 "warnings": [], "mutated": [], "returns_arg": None}
        out = []
    return reply, out


def _run(namespace: dict, header: dict, args, kwargs, out: list[bytes]) -> dict:
    """Call the learner's function once; its reply (result, error, warnings, inputs it
    modified, an input it returned), the arrays appended to ``out``."""
    before = [(p, a.copy()) for p, a in leaves([args, kwargs])]
    reply: dict = {"op": "reply", "error": None, "warnings": [], "mutated": [], "returns_arg": None}
    result = None
    with warnings.catch_warnings(record=True) as caught, np.errstate(**header["errstate"]):
        warnings.simplefilter("always")
        try:
            result = namespace[header["name"]](*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 (reported to the verifier)
            reply["error"] = [type(exc).__name__, str(exc)[:500]]
    reply["warnings"] = [[w.category.__name__, str(w.message)[:300]] for w in caught[:5]]
    if reply["error"] is None:
        reply["result"] = encode(result, out, strict=False)
        if isinstance(result, np.ndarray):
            for path, original in leaves([args, kwargs]):
                if np.shares_memory(result, original):
                    reply["returns_arg"] = list(path)
                    break
    for path, copy in before:
        now = value_at([args, kwargs], path)
        if now.shape != copy.shape or now.tobytes() != copy.tobytes():
            reply["mutated"].append([list(path), encode(now, out, strict=False)])
    return reply


def python_source(source: str) -> str:
    """Cell source as plain Python (IPython magics become calls on get_ipython())."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)

