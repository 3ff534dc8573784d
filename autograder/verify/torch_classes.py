"""The learner's torch classes (03_swish_mish), recorded in the child and replayed here.

* A ``torch.autograd.Function`` subclass is recorded by a subclass of it whose ``forward``
  and ``backward`` call the learner's and record them: the output, which input it is, the
  inputs changed in place, what ``ctx.save_for_backward`` got (an input, the output, or a
  tensor of some shape and dtype), the tensors kept on ``ctx``; per backward, the
  gradients. Everything else (gradcheck, the saved-tensor hooks that measure memory) is
  torch's own, in both processes. Replayed, a Function of the same name answers from the
  records and saves stand-ins of what the learner saved.
* An ``nn.Module`` subclass is recorded per instance: its parameters when built, and per
  call the output and, per upstream gradient, the gradients for the inputs and every
  parameter (the call runs on copies, as ``torch.func.functional_call``). Replayed, a
  module of the same name holds real parameters with the recorded values, so that
  ``.double()``, ``fill_`` and optimizer steps happen here as they did there; a call is
  found by its inputs and the parameters' current values.
"""

from __future__ import annotations

import itertools
import warnings
import weakref

import torch
from torch import nn

from autograder.verify.transcript import Unverifiable, decode, digest, encode


def kind(value) -> str | None:
    if isinstance(value, type) and issubclass(value, torch.autograd.Function):
        return "torch_function"
    if isinstance(value, type) and issubclass(value, nn.Module):
        return "module"
    return None


def _same(a, b) -> bool:
    """One view of one memory (shape, strides and dtype alike)."""
    return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
            and a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
            and a.storage_offset() == b.storage_offset() and a.shape == b.shape
            and a.stride() == b.stride() and a.dtype == b.dtype)


def _state(module: nn.Module) -> list:
    return [module.training, list(module.named_parameters()), list(module.named_buffers())]


def _bytes(tensors) -> list:
    return [t.detach().clone() if isinstance(t, torch.Tensor) else None for t in tensors]


def _changed(tensors, before) -> list[int]:
    return [k for k, (t, b) in enumerate(zip(tensors, before, strict=True))
            if b is not None and not torch.equal(t.detach(), b)]


class _Recorded:
    """Run ``fn`` for the log: errors and warnings recorded, then raised and re-emitted."""

    def __init__(self, log, record: dict):
        self.log, self.record = log, record

    def run(self, fn, *args, **kwargs):
        self.log.depth += 1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 (recorded, then raised again)
                self.record["error"] = [type(exc).__name__, str(exc)[:500]]
                raise
            finally:
                self.log.depth -= 1
                self.record["warnings"] = [[w.category.__name__, str(w.message)[:300]]
                                           for w in caught[:5]]
                self.log.add(self.record)
                for w in caught:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


# ---------------------------------------------------------------------------------------
# The child's side


def recording(log, name: str, cls: type, what: str) -> type:
    """A recording stand-in for the learner's class ``cls``, named like it."""
    return (_recording_function if what == "torch_function" else _recording_module)(
        log, name, cls)


def _recording_function(log, name, cls):
    numbers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def forward(ctx, *args):
        if log.depth:
            return cls.forward(ctx, *args)
        n = numbers[ctx] = next(_COUNT)
        record = {"key": digest(["apply", name, args]), "name": name, "n": n, "error": None}
        before = _bytes(args)
        out = _Recorded(log, record).run(cls.forward, ctx, *args)
        record["result"] = encode(out, log.blobs)
        record["alias"] = next((k for k, a in enumerate(args) if a is out), None)
        record["mutated"] = [[k, encode(args[k], log.blobs)] for k in _changed(args, before)]
        record["saves"] = [_classify(t, args, out, getattr(ctx, "to_save", None) or ())
                           for t in getattr(ctx, "to_save", None) or ()]
        record["ctx_tensors"] = [k for k, v in vars(ctx).items() if isinstance(v, torch.Tensor)
                                 or (isinstance(v, (list, tuple))
                                     and any(isinstance(t, torch.Tensor) for t in v))]
        record["nondiff"] = any(t is out for t in getattr(ctx, "non_differentiable", None) or ())
        return out

    def backward(ctx, *grads):
        if log.depth or ctx not in numbers:
            return cls.backward(ctx, *grads)
        record = {"key": digest(["backward", name, numbers[ctx], grads]), "name": name,
                  "error": None}
        before = _bytes(grads)
        out = _Recorded(log, record).run(cls.backward, ctx, *grads)
        record["result"] = encode(out, log.blobs)
        record["mutated"] = [[k, encode(grads[k], log.blobs)] for k in _changed(grads, before)]
        return out

    return type(name, (cls,), {"forward": staticmethod(forward), "__wrapped__": cls,
                               "backward": staticmethod(backward), "__module__": cls.__module__})


_COUNT = itertools.count()


def _classify(t, args, out, saved) -> dict:
    """What a saved tensor is: an input, the output, or a tensor of a shape and dtype."""
    if not isinstance(t, torch.Tensor):
        return {"none": True}
    k = next((k for k, a in enumerate(args) if _same(a, t)), None)
    if k is not None:
        return {"input": k}
    if _same(out, t):
        return {"output": True}
    same = next((m for m, s in enumerate(saved) if s is not t and _same(s, t)), None)
    return {"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch."),
            "same": same}


def _recording_module(log, name, cls):
    count = itertools.count()

    class Recording(cls):
        def __init__(self, *args, **kwargs):
            if log.depth:
                super().__init__(*args, **kwargs)
                return
            record = {"key": digest(["new", name, args, kwargs]), "name": name,
                      "error": None, "n": next(count)}
            _Recorded(log, record).run(super().__init__, *args, **kwargs)
            params = list(self.named_parameters(remove_duplicate=False))
            record["params"] = [
                [pname, encode(p, log.blobs), next(k for k, (_, q) in enumerate(params)
                                                   if q is p)] for pname, p in params]
            record["buffers"] = [[b, encode(t, log.blobs)] for b, t in self.named_buffers()]
            self.__dict__["_verify_n"] = record["n"]

        def forward(self, *args, **kwargs):
            if log.depth or "_verify_n" not in self.__dict__:
                return super().forward(*args, **kwargs)
            key = digest(["forward", name, self._verify_n, args, kwargs, _state(self)])
            return _graph(self, key, args, kwargs, log, name)

    Recording.__name__ = Recording.__qualname__ = name
    Recording.__module__, Recording.__wrapped__ = cls.__module__, cls
    return Recording


def _graph(module, key, args, kwargs, log, name):
    """The module's call on copies of its inputs and parameters, kept for backward."""
    names = [n for n, _ in module.named_parameters()]
    tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
    params = [p for _, p in module.named_parameters()]
    return _Graph.apply((module, args, kwargs, names, len(tensors), key, log, name),
                        *tensors, *params)


class _Graph(torch.autograd.Function):
    graphs: dict[int, tuple] = {}

    @staticmethod
    def forward(ctx, call, *tensors):
        module, args, kwargs, names, n_in, key, log, name = call
        record = {"key": key, "name": name, "error": None, "n": next(_COUNT)}
        with torch.enable_grad():
            leaves = [t.detach().clone().requires_grad_(t.requires_grad) for t in tensors]
            swap = iter(leaves[:n_in])
            a = [next(swap) if isinstance(v, torch.Tensor) else v for v in args]
            k = {key_: next(swap) if isinstance(v, torch.Tensor) else v
                 for key_, v in kwargs.items()}
            before = _bytes(leaves)
            out = _Recorded(log, record).run(
                lambda: torch.func.functional_call(module, dict(zip(names, leaves[n_in:],
                                                                    strict=True)), tuple(a), k))
        record["result"] = encode(out, log.blobs)
        changed = _changed(leaves, before)
        record["mutated"] = [[k, encode(leaves[k], log.blobs)] for k in changed]
        with torch.no_grad():
            for k in changed:
                tensors[k].copy_(leaves[k])
        differentiable = isinstance(out, torch.Tensor) and out.requires_grad
        record["nondiff"] = not differentiable
        ctx.verify_n = record["n"]
        if not isinstance(out, torch.Tensor):
            return out
        _Graph.graphs[record["n"]] = (out, leaves, log, name)
        out = out.detach()
        if not differentiable:
            ctx.mark_non_differentiable(out)
        return out

    @staticmethod
    def backward(ctx, upstream):
        y, leaves, log, name = _Graph.graphs[ctx.verify_n]
        record = {"key": digest(["mbackward", name, ctx.verify_n, upstream]), "name": name,
                  "error": None}
        wrt = [t for t in leaves if t.requires_grad]
        grads = iter(_Recorded(log, record).run(
            torch.autograd.grad, [y], wrt, [upstream], retain_graph=True, allow_unused=True))
        out = [next(grads) if t.requires_grad else None for t in leaves]
        record["result"] = encode(out, log.blobs)
        return (None, *out)


# ---------------------------------------------------------------------------------------
# The deciding process's side


def replay_function(take, name: str) -> type:
    """A Function named like the learner's that answers from the transcript (``take``)."""
    numbers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def forward(ctx, *args):
        record, blobs, outer = take(digest(["apply", name, args]), name, [list(args)])
        for k, tree in record["mutated"]:
            with torch.no_grad():
                args[int(k)].copy_(decode(tree, blobs))
        alias = record["alias"]
        out = args[alias] if isinstance(alias, int) else decode(record["result"], blobs)
        if isinstance(out, torch.Tensor):
            out = out.detach() if out.requires_grad and alias is None else out
            ctx.save_for_backward(*[saved_stand_in(s, args, out) for s in record["saves"]])
            for attribute in record["ctx_tensors"]:
                setattr(ctx, str(attribute), torch.empty(0))
            if record["nondiff"]:
                ctx.mark_non_differentiable(out)
        numbers[ctx] = record["n"]
        return out

    def backward(ctx, *grads):
        if torch.is_grad_enabled():
            raise Unverifiable("a double backward (create_graph=True) is not replayed")
        record, blobs, _ = take(digest(["backward", name, numbers[ctx], grads]), name,
                                [list(grads)])
        for k, tree in record["mutated"]:
            grads[int(k)].copy_(decode(tree, blobs))
        return decode(record["result"], blobs)

    return type(name, (torch.autograd.Function,), {
        "forward": staticmethod(forward), "backward": staticmethod(backward),
        "__module__": "__main__"})


def saved_stand_in(entry: dict, args, out):
    """A tensor equivalent to what the learner saved: the input or output itself, or one
    element expanded to the shape and dtype the learner's had (its bytes, no memory)."""
    if "input" in entry:
        return args[int(entry["input"])]
    if "output" in entry:
        return out
    if "none" in entry:
        return None
    return torch.empty((), dtype=getattr(torch, str(entry["dtype"]))).expand(
        [int(s) for s in entry["shape"]])


def replay_module(take, name: str) -> type:
    """An ``nn.Module`` named like the learner's that answers from the transcript."""

    class Replayed(nn.Module):
        def __init__(self, *args, **kwargs):
            super().__init__()
            record, blobs, _ = take(digest(["new", name, args, kwargs]), name,
                                    [list(args), kwargs])
            made: list = []
            for pname, tree, first in record["params"]:
                p = made[first] if first < len(made) else nn.Parameter(
                    decode(tree, blobs), requires_grad=bool(tree.get("g")))
                made.append(p)
                *path, leaf = str(pname).split(".")
                owner = self
                for part in path:
                    if part not in owner._modules:
                        owner.add_module(part, nn.Module())
                    owner = owner._modules[part]
                owner.register_parameter(leaf, p)
            for bname, tree in record["buffers"]:
                self.register_buffer(str(bname), decode(tree, blobs))
            self.__dict__["_verify_n"] = record["n"]

        def forward(self, *args, **kwargs):
            key = digest(["forward", name, self._verify_n, args, kwargs, _state(self)])
            tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
            params = [p for _, p in self.named_parameters()]
            return _Replay.apply((take, key, name, len(tensors)), *tensors, *params)

        def __getattr__(self, attribute):
            try:
                return super().__getattr__(attribute)
            except AttributeError:
                if attribute.startswith("_") or "_verify_n" not in self.__dict__:
                    raise
                raise Unverifiable(f"the test reads {name}.{attribute}, which is not a "
                                   "parameter or buffer") from None

    Replayed.__name__ = Replayed.__qualname__ = name
    return Replayed


class _Replay(torch.autograd.Function):
    @staticmethod
    def forward(ctx, call, *tensors):
        take, key, name, n_in = call
        record, blobs, _ = take(key, name, [list(tensors)])
        with torch.no_grad():
            for k, tree in record["mutated"]:
                tensors[int(k)].copy_(decode(tree, blobs))
        out = decode(record["result"], blobs)
        ctx.verify = (take, name, record["n"])
        if isinstance(out, torch.Tensor):
            out = out.detach()
            if record["nondiff"]:
                ctx.mark_non_differentiable(out)
        return out

    @staticmethod
    def backward(ctx, upstream):
        if torch.is_grad_enabled():
            raise Unverifiable("a double backward (create_graph=True) is not replayed")
        take, name, n = ctx.verify
        record, blobs, _ = take(digest(["mbackward", name, n, upstream]), name, [])
        return (None, *decode(record["result"], blobs))
