"""What crosses the pipe between the verifier and the child: a JSON header and raw array
bytes, length-prefixed; the header gives each array's dtype (booleans and numbers only) and
shape. No pickle either way, no object arrays, and no learner object ever becomes a live
object in the verifier (it stays an opaque stand-in)."""

from __future__ import annotations

import json
import os
import select
import struct
import time

import numpy as np


class Unverifiable(BaseException):
    """A test cell the pipe cannot carry (a BaseException, so that checks don't catch it)."""


# ---------------------------------------------------------------------------------------
# The wire: a JSON header and raw array bytes, length-prefixed


class Remote:
    """In the child: a function or generator of the verifier; calling it calls back."""

    def __init__(self, channel, ref: int, name: str, method: str | None = None):
        self._channel, self._ref, self._method = channel, ref, method
        self.__name__ = name

    def __call__(self, *args, **kwargs):
        return self._channel.callback(self._ref, self._method, args, kwargs)

    def __getattr__(self, method):
        if method.startswith("__"):
            raise AttributeError(method)
        return Remote(self._channel, self._ref, method, method)



def encode(value, blobs: list[bytes], *, strict: bool, refs: list | None = None):
    """A JSON tree of ``value``; arrays go to ``blobs`` as raw bytes (no pickle).

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
        if not _plain(arr.dtype):
            if strict:
                raise Unverifiable(f"an array of {arr.dtype} cannot cross the pipe")
            return {"t": "obj", "v": f"{type(value).__name__} of {arr.dtype}"}
        blobs.append(arr.tobytes())  # C order; the header carries dtype and shape
        return {"t": "np" if isinstance(value, np.generic) else "nd", "b": len(blobs) - 1,
                "d": arr.dtype.str, "s": list(arr.shape)}
    if value is None or type(value) in (bool, int, float, str):
        return {"t": "py", "v": value}
    if isinstance(value, (list, tuple)):
        return {"t": type(value).__name__ if type(value) in (list, tuple) else "list",
                "v": [encode(v, blobs, **sub) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"t": "dict", "v": {k: encode(v, blobs, **sub) for k, v in value.items()}}
    if isinstance(value, Remote) and value._method is None:  # the verifier's own, back
        return {"t": "backref", "v": value._ref}
    if refs is not None and isinstance(value, np.random.Generator):
        # The child draws from a generator in the same state, and this one takes the final
        # state back after the call (Child.call): the same draws as in the kernel, without a
        # round trip per draw (04's hidden initialiser test draws 18,000 times).
        refs.append(value)
        return {"t": "rng", "r": len(refs) - 1,
                "v": encode(value.bit_generator.state, blobs, strict=True)}
    if refs is not None and callable(value):
        refs.append(value)
        return {"t": "ref", "v": len(refs) - 1, "name": getattr(value, "__name__", "")}
    if strict:
        raise Unverifiable(f"a {type(value).__name__} argument cannot cross the pipe")
    return {"t": "obj", "v": type(value).__name__}


def _plain(dtype: np.dtype) -> bool:
    """Booleans and numbers only: no objects, strings, records or sub-arrays."""
    return dtype.kind in "biufc" and dtype.names is None and dtype.shape == ()


def decode(tree, blobs: list[bytes], remote=None, refs: list | None = None):
    """The value of an ``encode`` tree; ``remote`` (the child) turns references into
    call-back stand-ins, ``refs`` (the verifier) resolves references sent back."""
    kind = tree["t"]
    if kind == "py":
        return tree["v"]
    if kind in ("nd", "np"):
        try:
            dtype = np.dtype(tree["d"])
        except TypeError:
            raise ValueError(f"no such dtype: {tree['d']!r}") from None
        if not _plain(dtype):
            raise ValueError(f"an array of {dtype} on the pipe")
        arr = np.frombuffer(blobs[tree["b"]], dtype=dtype).reshape(tree["s"]).copy()
        return arr[()] if kind == "np" else arr
    if kind in ("list", "tuple"):
        items = [decode(v, blobs, remote, refs) for v in tree["v"]]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {k: decode(v, blobs, remote, refs) for k, v in tree["v"].items()}
    if kind == "backref" and refs is not None and 0 <= tree["v"] < len(refs):
        return refs[tree["v"]]
    if kind == "rng" and remote is not None:
        generator = generator_from_state(decode(tree["v"], blobs))
        remote.generators[tree["r"]] = generator
        return generator
    if kind == "ref" and remote is not None:
        return Remote(remote, tree["v"], tree.get("name") or "function")
    # an opaque stand-in with the learner's type name; sent back to the child as such
    return type(str(tree["v"]), (_Opaque,), {})()


#: The bit generators a state may name (numpy's own; nothing else is ever instantiated).
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def generator_from_state(state) -> np.random.Generator:
    """A new Generator in ``state`` (a ``bit_generator.state`` dict); ValueError if it is not
    one of numpy's bit generators or numpy refuses the state."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in BIT_GENERATORS:
        raise ValueError(f"not a random generator state: {name!r}")
    generator = np.random.Generator(getattr(np.random, name)())
    try:
        generator.bit_generator.state = state
    except (TypeError, KeyError) as exc:
        raise ValueError(f"not a {name} state: {exc}") from None
    return generator


class _Opaque:
    """What a learner's object (not an array or number) becomes in the verifier."""


def send(fd: int, header: dict, blobs: list[bytes]) -> None:
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


def receive(fd: int, deadline: float | None = None) -> tuple[dict, list[bytes]]:
    (size,) = struct.unpack(">Q", _read_exact(fd, 8, deadline))
    if size > 1 << 24:
        raise EOFError
    header = json.loads(_read_exact(fd, size, deadline))
    sizes = header.get("blobs", [])
    if sum(sizes) > 1 << 28:
        raise EOFError
    return header, [_read_exact(fd, s, deadline) for s in sizes]


def leaves(value, path=()):
    """(path, array) of every ndarray inside nested lists, tuples and dicts."""
    if isinstance(value, np.ndarray):
        yield path, value
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from leaves(v, (*path, i))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, (*path, k))


def value_at(value, path):
    for key in path:
        value = value[key]
    return value


