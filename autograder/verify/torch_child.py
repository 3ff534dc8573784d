r"""The child's side of the learner's torch classes (``torch_*`` operations on the pipe).

The verifier stands in for the learner's ``torch.autograd.Function`` subclasses and
``nn.Module`` subclasses with remote proxies (``autograder.verify.torch_proxy``); every
computation happens here, on the learner's real classes, with real autograd:

* ``torch_describe``: which learner names are Function classes, Module classes, other
  classes;
* ``torch_new``: build an instance (a module) and report its parameters and buffers
  (names, values, ``requires_grad``, and which parameters are one object);
* ``torch_forward``: load the parameter and buffer values the verifier holds into the
  module, apply the Function (or call the module) on copies of the verifier's tensors that
  require grad where the verifier's do, and keep the graph under a handle. It reports the
  output, which input it aliases, the inputs it changed in place, what autograd saved
  (saved-tensor hooks: an input, the output, or a tensor of some shape and dtype), the
  tensors kept as ``ctx`` attributes, and whether the output is differentiable;
* ``torch_backward``: ``torch.autograd.grad`` of a kept graph with the verifier's upstream
  gradient (``retain_graph``: gradcheck asks several times); a gradient is ``None`` where
  the learner's backward gave none;
* ``torch_release``: forget the graphs of a test cell.

Tensors cross as NumPy arrays (raw bytes, dtype and shape: ``autograder.verify.wire``);
everything else in a reply is JSON. Learner
exceptions and warnings are reported as their type name and message.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from autograder.verify.wire import decode, encode

# Bound at import, before the learner's cells run (the child imports this module first): a
# cell that replaces torch.autograd.graph.saved_tensors_hooks cannot change what is measured.
_saved_tensors_hooks = torch.autograd.graph.saved_tensors_hooks

#: Instances (by id) of the submission, graphs (by handle) of the test cell.
_OBJECTS: dict[int, object] = {}
_GRAPHS: dict[int, tuple[torch.Tensor, list[torch.Tensor], list[int]]] = {}
_COUNTER = [0]


def serve(namespace: dict, header: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
    """Answer one ``torch_*`` request; never raises (a failure is reported as an error)."""
    out: list[bytes] = []
    reply: dict = {"op": "reply", "error": None, "warnings": []}
    op = header.get("op")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if op == "torch_describe":
                reply["kinds"] = {n: _kind(namespace.get(n)) for n in header["names"]}
            elif op == "torch_new":
                _new(namespace, header, blobs, reply, out)
            elif op == "torch_forward":
                _forward(namespace, header, blobs, reply, out)
            elif op == "torch_backward":
                _backward(header, blobs, reply, out)
            elif op == "torch_release":
                _GRAPHS.clear()
            else:
                reply["error"] = ["ValueError", f"unknown operation {op!r}"]
        except BaseException as exc:  # noqa: BLE001 (the learner's code raised: reported)
            reply["error"] = [type(exc).__name__, str(exc)[:500]]
            out.clear()
            for key in ("result", "grads", "params", "buffers", "saves", "mutated", "state"):
                reply.pop(key, None)
    reply["warnings"] = [[w.category.__name__, str(w.message)[:300]] for w in caught[:5]]
    return reply, out


def _kind(obj) -> str:
    if isinstance(obj, type) and issubclass(obj, torch.autograd.Function):
        return "function"
    if isinstance(obj, type) and issubclass(obj, nn.Module):
        return "module"
    return "class" if isinstance(obj, type) else "other"


# ---------------------------------------------------------------------------------------
# Tensors on the wire


def _array(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().resolve_conj().resolve_neg().numpy()


def _send_tensor(t: torch.Tensor, out: list[bytes]) -> dict:
    return encode(_array(t), out, strict=False)


def _tensor(tree: dict, blobs: list[bytes]) -> torch.Tensor:
    arr = np.array(decode(tree, blobs))  # a writable, owned copy
    return torch.from_numpy(arr)


def _unpack(tree, blobs: list[bytes], inputs: list):
    """An argument: ``{"t": "tensor", "i": k, "v": array}`` becomes the k-th input tensor."""
    if isinstance(tree, dict) and tree.get("t") == "tensor":
        t = _tensor(tree["v"], blobs)
        inputs.append((tree["i"], t))
        return t
    return decode(tree, blobs)


def _bytes(t: torch.Tensor) -> bytes:
    return _array(t).tobytes()


# ---------------------------------------------------------------------------------------
# Operations


def _new(namespace, header, blobs, reply, out) -> None:
    cls = namespace[header["name"]]
    args = [_unpack(a, blobs, []) for a in header["args"]]
    kwargs = {k: _unpack(v, blobs, []) for k, v in header["kwargs"].items()}
    obj = cls(*args, **kwargs)
    _OBJECTS[id(obj)] = obj
    reply.update(id=id(obj), module=isinstance(obj, nn.Module), params=[], buffers=[])
    if isinstance(obj, nn.Module):
        for name, p in obj.named_parameters(remove_duplicate=False):
            reply["params"].append([name, _send_tensor(p, out), bool(p.requires_grad), id(p)])
        for name, b in obj.named_buffers(remove_duplicate=False):
            reply["buffers"].append([name, _send_tensor(b, out)])


def _load(module: nn.Module, state: dict, blobs: list[bytes]) -> list:
    """Give the module the verifier's parameter and buffer values (dtype included: the
    verifier may have called ``.double()``); returns (kind, name, bytes) to spot changes."""
    module.train(bool(state["training"]))
    before = []
    for name, (tree, requires_grad) in state["params"].items():
        p = module.get_parameter(name)
        p.data = _tensor(tree, blobs)
        p.requires_grad_(bool(requires_grad))
        before.append(("params", name, p))
    for name, tree in state["buffers"].items():
        b = module.get_buffer(name)
        if b is not None:
            b.data = _tensor(tree, blobs)
            before.append(("buffers", name, b))
    return [(kind, name, t, _bytes(t)) for kind, name, t in before]


def _forward(namespace, header, blobs, reply, out) -> None:
    target = header["target"]
    inputs: list = []
    args = [_unpack(a, blobs, inputs) for a in header["args"]]
    kwargs = {k: _unpack(v, blobs, inputs) for k, v in header["kwargs"].items()}
    inputs = [t for _, t in sorted(inputs, key=lambda it: it[0])]
    for t, need in zip(inputs, header["needs"], strict=False):
        if need and (t.is_floating_point() or t.is_complex()):
            t.requires_grad_(True)
    state = []
    if "module" in target:
        module = _OBJECTS[target["module"]]
        state = _load(module, target["state"], blobs)
        params = [module.get_parameter(n) for n in target["state"]["order"]]
        fn = module
    else:
        params = []
        fn = namespace[target["function"]].apply
    everything = inputs + params
    before = [_bytes(t) for t in inputs]
    saved: list[torch.Tensor] = []

    def pack(t):
        saved.append(t)
        return t

    with torch.enable_grad(), _saved_tensors_hooks(pack, lambda t: t):
        y = fn(*args, **kwargs)
    reply["mutated"] = [[k, _send_tensor(t, out)] for k, (t, b) in enumerate(
        zip(inputs, before, strict=True)) if _bytes(t) != b]
    reply["state"] = [[kind, name, _send_tensor(t, out)] for kind, name, t, b in state
                      if _bytes(t) != b]
    reply["saves"] = _classify(saved, everything, y)
    reply["ctx_tensors"] = _ctx_tensors(y) if "function" in target else []
    if not isinstance(y, torch.Tensor):
        reply["result"] = {"kind": "value", "v": encode(y, out, strict=False)}
        return
    alias = next((k for k, t in enumerate(everything) if _same(t, y)), None)
    differentiable = bool(y.requires_grad)
    handle = None
    if differentiable:
        _COUNTER[0] += 1
        handle = _COUNTER[0]
        wrt = [k for k, t in enumerate(everything) if t.requires_grad]
        _GRAPHS[handle] = (y, [everything[k] for k in wrt], wrt)
    reply["result"] = {"kind": "tensor", "v": _send_tensor(y, out), "alias": alias,
                       "differentiable": differentiable, "handle": handle}


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether two tensors are one view of one memory (shape, strides and dtype alike)."""
    return (a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
            and a.storage_offset() == b.storage_offset() and a.shape == b.shape
            and a.stride() == b.stride() and a.dtype == b.dtype)


def _classify(saved: list, inputs: list, y) -> list[dict]:
    """What each saved tensor is: ``{"input": k}``, ``{"output": True}``, or ``{"shape",
    "dtype", "same"}`` (``same``: the index of an earlier save of the same memory)."""
    found: list[dict] = []
    for n, t in enumerate(saved):
        k = next((k for k, i in enumerate(inputs) if _same(i, t)), None)
        if k is not None:
            found.append({"input": k})
        elif isinstance(y, torch.Tensor) and _same(y, t):
            found.append({"output": True})
        else:
            same = next((m for m in range(n) if _same(saved[m], t)), None)
            found.append({"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
                          "same": same})
    return found


def _ctx_tensors(y) -> list[str]:
    """Names of tensors kept as attributes of the Function's ctx (as
    ``course_utils.memory.tensor_attributes`` finds them)."""
    node = getattr(y, "grad_fn", None)
    names = []
    for name, value in (vars(node).items() if hasattr(node, "__dict__") else []):
        if isinstance(value, torch.Tensor) or (
                isinstance(value, (list, tuple)) and any(isinstance(v, torch.Tensor)
                                                         for v in value)):
            names.append(str(name))
    return names


def _backward(header, blobs, reply, out) -> None:
    y, wrt, positions = _GRAPHS[header["handle"]]
    upstream = None if header["upstream"] is None else _tensor(header["upstream"], blobs)
    before = None if upstream is None else _bytes(upstream)
    grads = torch.autograd.grad([y], wrt, None if upstream is None else [upstream],
                                retain_graph=True, allow_unused=True)
    reply["grads"] = [[k, None if g is None else _send_tensor(g, out)]
                      for k, g in zip(positions, grads, strict=True)]
    reply["mutated"] = ([] if upstream is None or _bytes(upstream) == before
                        else [[0, _send_tensor(upstream, out)]])
