"""The transcript: what the learner's functions did in the child, as the deciding process
reads it. Values cross as a JSON tree plus raw array bytes (booleans and numbers only):
no pickle, no object arrays, and a learner object never becomes a live object here
(:class:`Opaque`). A call is found again by the :func:`digest` of its arguments, which
both processes compute alike from the same check code and the same inputs."""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import select
import struct
import sys
import time
import types

import numpy as np


class Unverifiable(BaseException):
    """A test cell the transcript cannot decide (a BaseException: checks don't catch it)."""


class Opaque:
    """A learner object (not data) as the deciding process holds it: its token only, in a
    class named like the learner's (a check says "returned a Mine")."""

    def __init__(self, token: str):
        self.token = token
        self.__name__ = token.rsplit(":", 1)[-1]

    @staticmethod
    def of(token: str) -> Opaque:
        name = token.split(":")[1] if token.startswith("obj:") else "function"
        if name not in _OPAQUE:
            _OPAQUE[name] = type(name if name.isidentifier() else "object", (Opaque,), {})
        return _OPAQUE[name](token)

    def __repr__(self):
        return f"<{self.token}>"

    def __eq__(self, other):  # a copy of a learner object is equal to it
        return isinstance(other, Opaque) and other.token == self.token

    def __hash__(self):
        return hash(self.token)


_OPAQUE: dict[str, type] = {}


def _torch():
    return sys.modules.get("torch")  # only where a torch notebook imported it


def plain(dtype: np.dtype) -> bool:
    """Booleans and numbers only: no objects, strings, records or sub-arrays."""
    return dtype.kind in "biufc" and dtype.names is None and dtype.shape == ()


def token(obj, depth: int = 0) -> str:
    """What names a non-data object in both processes: a learner stand-in or recorder by its
    name, a function by its code and closure (the same check code compiles alike in both),
    anything else by its type."""
    if isinstance(obj, Opaque):
        return obj.token
    own = getattr(obj, "__transcript_token__", None)
    if isinstance(own, str):
        return own
    if isinstance(obj, types.FunctionType):
        code = hashlib.blake2b(marshal.dumps(obj.__code__), digest_size=8).hexdigest()
        cells = [c.cell_contents for c in obj.__closure__ or () if _filled(c)]
        return f"fn:{obj.__qualname__}:{code}:{digest([cells, obj.__defaults__], depth)}"
    if isinstance(obj, np.ufunc):
        return f"ufunc:{obj.__name__}"
    if isinstance(obj, type):
        return f"class:{obj.__module__}.{obj.__qualname__}"
    if isinstance(obj, (types.BuiltinFunctionType, types.MethodType)):
        owner = getattr(obj, "__self__", None)
        bound = ("" if owner is None or isinstance(owner, types.ModuleType)
                 else digest(owner, depth))
        return f"builtin:{getattr(obj, '__qualname__', obj.__name__)}:{bound}"
    return f"obj:{type(obj).__name__}"


def _filled(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018
        return True
    except ValueError:
        return False


def digest(value, depth: int = 0) -> str:
    """A hash of ``value`` that is equal in both processes for equal inputs: arrays by
    dtype, shape and bytes, generators by their state, tensors with ``requires_grad``."""
    parts: list = []
    _feed(parts, value, depth + 1, _torch())
    return hashlib.blake2b(b"".join(parts), digest_size=16).hexdigest()


_SCALARS = (type(None), bool, int, float, str)


def _feed(parts: list, value, depth: int, torch) -> None:
    kind = type(value)
    if kind in _SCALARS:
        parts.append(f"{kind.__name__}|{value!r}|".encode())
    elif kind in (list, tuple) and all(type(v) in _SCALARS for v in value):
        parts.append(f"{kind.__name__}|{value!r}|".encode())  # one repr: the common case
    elif kind in (list, tuple, dict):
        if depth > 20:
            raise Unverifiable("an argument nested more than 20 levels deep")
        parts.append(f"{kind.__name__}|{len(value)}|".encode())
        for k, v in value.items() if kind is dict else ((None, v) for v in value):
            if k is not None:
                _feed(parts, k, depth + 1, torch)
            _feed(parts, v, depth + 1, torch)
    elif isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        parts.append(f"{kind.__name__}|{arr.dtype.str}|{arr.shape}|".encode())
        parts.append(np.ascontiguousarray(arr).tobytes() if arr.dtype.kind != "O" else b"O")
    elif isinstance(value, np.random.Generator):
        parts.append(repr(value.bit_generator.state).encode())
    elif torch is not None and isinstance(value, torch.Tensor):
        parts.append(f"tensor|{value.requires_grad}|".encode())
        _feed(parts, tensor_array(value), depth + 1, torch)
    else:
        parts.append(f"token|{token(value, depth)}|".encode())


def tensor_array(t) -> np.ndarray:
    """A dense CPU tensor's values as an array (Unverifiable for anything else)."""
    if t.device.type != "cpu" or t.layout != _torch().strided:
        raise Unverifiable("a tensor that is not a dense CPU tensor")
    try:
        return t.detach().resolve_conj().resolve_neg().numpy()
    except (TypeError, RuntimeError):
        raise Unverifiable(f"a {t.dtype} tensor") from None


def encode(value, blobs: list[bytes], refs: dict | None = None, depth: int = 0):
    """A JSON tree of ``value`` (the child's side); arrays go to ``blobs`` as raw bytes, an
    object that is not data as its :func:`token`, and an object of ``refs`` ({id: path})
    as the path of the argument it is."""
    torch = _torch()
    if refs and id(value) in refs:
        return {"t": "ref", "p": list(refs[id(value)])}
    if isinstance(value, (np.ndarray, np.generic)) and plain(np.asarray(value).dtype):
        arr = np.asarray(value)  # a subclass becomes a plain ndarray: its hooks stay behind
        blobs.append(np.ascontiguousarray(arr).tobytes())
        return {"t": "np" if isinstance(value, np.generic) else "nd", "b": len(blobs) - 1,
                "d": arr.dtype.str, "s": list(arr.shape)}
    if value is None or type(value) in (bool, int, float, str):
        return {"t": "py", "v": value}
    if depth < 20 and isinstance(value, (list, tuple)):
        return {"t": "tuple" if isinstance(value, tuple) else "list",
                "v": [encode(v, blobs, refs, depth + 1) for v in value]}
    if depth < 20 and isinstance(value, dict) and all(type(k) is str for k in value):
        return {"t": "dict",
                "v": {k: encode(v, blobs, refs, depth + 1) for k, v in value.items()}}
    if torch is not None and isinstance(value, torch.Tensor):
        try:
            return {"t": "tensor", "v": encode(tensor_array(value), blobs),
                    "g": bool(value.requires_grad)}
        except Unverifiable:
            pass
    return {"t": "obj", "v": token(value)}


def decode(tree, blobs: list[bytes], outer=None):
    """The value of an :func:`encode` tree (the deciding process's side); a reference is
    resolved in ``outer``. Raises ValueError (or KeyError, IndexError, TypeError) for
    anything malformed."""
    kind = tree["t"]
    if kind == "py" and (tree["v"] is None or type(tree["v"]) in (bool, int, float, str)):
        return tree["v"]
    if kind in ("nd", "np"):
        dtype = np.dtype(tree["d"])
        if not plain(dtype):
            raise ValueError(f"an array of {dtype} in the transcript")
        arr = np.frombuffer(blobs[tree["b"]], dtype=dtype).reshape(tree["s"]).copy()
        return arr[()] if kind == "np" else arr
    if kind in ("list", "tuple"):
        items = [decode(v, blobs, outer) for v in tree["v"]]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {str(k): decode(v, blobs, outer) for k, v in tree["v"].items()}
    if kind == "tensor":
        t = _torch().from_numpy(np.array(decode(tree["v"], blobs)))
        return t.requires_grad_(bool(tree["g"]) and t.is_floating_point())
    if kind == "obj":
        return Opaque.of(str(tree["v"]))
    if kind == "json":  # JSON is data; only a generator's state is sent so
        return tree["v"]
    if kind == "ref" and outer is not None:
        return value_at(outer, tree["p"])
    raise ValueError(f"unknown kind {kind!r} in the transcript")


def leaves(value, path=()):
    """(path, leaf) of every array, tensor and generator inside lists, tuples and dicts."""
    kind = type(value)
    if kind in _SCALARS:
        return
    if kind in (list, tuple):
        for i, v in enumerate(value):
            yield from leaves(v, (*path, i))
    elif kind is dict:
        for k, v in value.items():
            yield from leaves(v, (*path, k))
    elif isinstance(value, (np.ndarray, np.random.Generator)) or (
            _torch() is not None and isinstance(value, _torch().Tensor)):
        yield path, value


def value_at(value, path):
    for key in path:
        value = value[key]
    return value


# ---------------------------------------------------------------------------------------
# Framing: a length-prefixed JSON header, then its blobs

#: The most one message may carry (header, arrays): a learner who returns more is cut off.
MAX_HEADER, MAX_BLOBS = 1 << 24, 1 << 28


def send(fd: int, header: dict, blobs: list[bytes]) -> None:
    head = json.dumps({**header, "blobs": [len(b) for b in blobs]}).encode()
    view = memoryview(struct.pack(">Q", len(head)) + head + b"".join(blobs))
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks = []
    while n:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def receive(fd: int, deadline: float | None = None) -> tuple[dict, list[bytes]]:
    """One message; EOFError at the end or for an oversized one, TimeoutError at
    ``deadline``, ValueError for garbage."""
    (size,) = struct.unpack(">Q", _read_exact(fd, 8, deadline))
    if size > MAX_HEADER:
        raise EOFError
    header = json.loads(_read_exact(fd, size, deadline))
    sizes = header.get("blobs", []) if isinstance(header, dict) else None
    if not isinstance(sizes, list) or sum(int(s) for s in sizes) > MAX_BLOBS:
        raise EOFError
    return header, [_read_exact(fd, int(s), deadline) for s in sizes]
