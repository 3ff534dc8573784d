r"""Remote stand-ins for the learner's torch classes, in the verifier (03_swish_mish).

The checks of ``course_utils.checks.torch_functions`` and ``torch_modules`` take the
learner's *class*: they call
``SwishFunction.apply``, run backward and ``torch.autograd.gradcheck``, measure what
forward saves with saved-tensor hooks, build modules, read their parameters, fill
``.grad``. So the verifier hands them classes that are real torch classes here and compute
in the child (``autograder.verify.torch_child``), where the learner's classes live:

* a **Function proxy** is a ``torch.autograd.Function`` subclass named like the learner's.
  Its forward sends the input tensors (as arrays) and ``ctx.needs_input_grad``; the child
  applies the learner's Function to copies that require grad alike, keeps the graph under a
  handle and answers with the output and what the learner saved. The proxy saves the
  equivalent (the input itself where the learner saved an input, the output where it saved
  the output, a tensor of the same shape and dtype otherwise) and sets a placeholder for
  every tensor the learner kept on ``ctx``, so ``check_*_saved`` measures the same thing.
  Its backward sends the upstream gradient and the handle; the child answers with
  ``torch.autograd.grad`` (``None`` where the learner's backward gave none). gradcheck runs
  here, through forward and backward calls over the pipe, in float64;
* a **Module proxy** is an ``nn.Module`` subclass named like the learner's. Building one
  builds the learner's module in the child and mirrors its parameters (values,
  ``requires_grad``, and which are one object) and buffers as real ones here. Its forward
  goes through a remote Function whose inputs are the argument tensors and the parameters:
  the child first loads the current values (so ``.double()``, ``fill_``, optimizer steps
  are seen), and backward returns gradients for x and every parameter.

Learner exceptions come back as the same type name and message (built-in types are raised
as themselves: the checks tell ``NotImplementedError`` and ``RuntimeError`` apart),
warnings are re-emitted. A hang or a crash of the child raises here and fails the test
cell being decided. Whatever the pipe cannot carry (a bfloat16 tensor, a tensor inside a
list, an attribute of a learner module that is not a parameter or buffer) raises
``Unverifiable``: the cell is not covered and nbgrader's score stands.
"""

from __future__ import annotations

import builtins
import warnings

import numpy as np
import torch
from torch import nn

from autograder.verify.wire import Unverifiable, decode, encode

__all__ = ["Session", "install"]


def install(child, classes: list[str], namespace: dict) -> Session:
    """Put proxies for the learner's torch classes ``classes`` (those the child defines)
    into ``namespace``; returns the session, to ``release`` after the test cell."""
    session = getattr(child, "torch_session", None)
    if session is None or session.generation != child.starts:
        session = Session(child)
        child.torch_session = session
    names = [n for n in classes if n in child.defined]
    if not names:
        return session
    if session.kinds is None:
        reply, _ = session.request({"op": "torch_describe", "names": names}, [])
        try:
            session.kinds = {str(k): str(v) for k, v in dict(reply["kinds"]).items()}
        except (KeyError, TypeError, ValueError):
            raise RuntimeError("the process running your code sent a garbled answer") from None
    for name in names:
        kind = session.kinds.get(name)
        if kind == "function":
            namespace[name] = _function_proxy(session, name)
        elif kind == "module":
            namespace[name] = type(name, (_RemoteModule,), {"_verify_session": session,
                                                            "__module__": "__main__"})
        elif kind == "class":
            namespace[name] = type(name, (_RemoteObject,), {"_verify_session": session,
                                                            "__module__": "__main__"})
        # anything else keeps the function proxy decide() installed
    return session


class Session:
    """The verifier's end of one child (one start of it): requests, parameter mirrors."""

    def __init__(self, child):
        self.child, self.generation = child, child.starts
        self.kinds: dict[str, str] | None = None
        self.params: dict[int, nn.Parameter] = {}  # the child's parameter id -> its mirror

    def request(self, header: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
        """One round trip; the learner's error and warnings are raised and re-emitted."""
        if self.child.starts != self.generation:
            raise Unverifiable("a learner object outlived the child process that held it")
        reply, out = self.child.request(header, blobs)
        try:
            for category, message in reply["warnings"]:
                cls = getattr(builtins, str(category), None)
                if not (isinstance(cls, type) and issubclass(cls, Warning)):
                    cls = UserWarning
                warnings.warn(str(message), cls, stacklevel=3)
            error = reply["error"]
        except (KeyError, TypeError, ValueError):
            raise RuntimeError("the process running your code sent a garbled answer") from None
        if error is not None:
            raise exception_of(*error)
        return reply, out

    def release(self) -> None:
        """Forget the test cell's graphs in the child (instances stay: a test cell may keep
        one for the next)."""
        if self.child.alive() and self.child.starts == self.generation:
            try:
                self.child.request({"op": "torch_release"}, [])
            except (TimeoutError, RuntimeError):
                pass


def exception_of(kind, message) -> BaseException:
    """The learner's exception: a built-in type as itself, any other as a new Exception
    subclass of that name (never a BaseException that would stop the verifier)."""
    cls = getattr(builtins, str(kind), None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(str(message))
        except TypeError:  # UnicodeDecodeError and friends take more arguments
            pass
    return type(str(kind), (Exception,), {})(str(message))


# ---------------------------------------------------------------------------------------
# Tensors on the wire


def _array(t: torch.Tensor) -> np.ndarray:
    if t.device.type != "cpu" or t.is_sparse or t.layout != torch.strided:
        raise Unverifiable("a tensor that is not a dense CPU tensor cannot cross the pipe")
    try:
        return t.detach().resolve_conj().resolve_neg().numpy()
    except (TypeError, RuntimeError):
        raise Unverifiable(f"a {t.dtype} tensor cannot cross the pipe") from None


def pack(value, blobs: list[bytes], inputs: list | None):
    """An argument for the child; a tensor becomes the next input (``inputs``)."""
    if isinstance(value, torch.Tensor):
        tree = {"t": "tensor", "i": -1, "v": encode(_array(value), blobs, strict=True)}
        if inputs is not None:
            inputs.append(value)
            tree["i"] = len(inputs) - 1
        return tree
    return encode(value, blobs, strict=True)  # a tensor inside a list: Unverifiable


def _tensor(tree, blobs: list[bytes]) -> torch.Tensor:
    arr = decode(tree, blobs)
    if not isinstance(arr, (np.ndarray, np.generic)):
        raise RuntimeError("the process running your code sent a garbled tensor")
    return torch.from_numpy(np.array(arr))


def _dtype(name: str) -> torch.dtype:
    dtype = getattr(torch, str(name), None)
    if not isinstance(dtype, torch.dtype):
        raise RuntimeError("the process running your code sent a garbled dtype")
    return dtype


# ---------------------------------------------------------------------------------------
# The remote forward and backward, shared by both proxies


class _Record:
    """What a proxy's ctx keeps (not a tensor, so ``tensor_attributes`` ignores it)."""

    def __init__(self, session: Session, handle, positions: list[int], n_args: int):
        self.session, self.handle = session, handle
        self.positions, self.n_args = positions, n_args


_RECORD = "_verify_record"


def _remote_forward(ctx, session: Session, target: dict, args: tuple, kwargs: dict,
                    extra: list[torch.Tensor], n_args: int, positions: list[int],
                    module: _RemoteModule | None = None):
    """Forward of either proxy: ``target`` computes on ``args``/``kwargs`` in the child;
    ``extra`` are further inputs (``module``'s parameters). ``positions``: the apply
    arguments that are the inputs, in order (where their gradients go)."""
    blobs: list[bytes] = []
    inputs: list[torch.Tensor] = []
    header = {"op": "torch_forward", "target": target,
              "args": [pack(a, blobs, inputs) for a in args],
              "kwargs": {str(k): pack(v, blobs, inputs) for k, v in kwargs.items()}}
    everything = inputs + list(extra)
    header["needs"] = [bool(ctx.needs_input_grad[k]) for k in positions]
    if module is not None:
        target["state"] = _module_state(module, blobs)
    reply, out = session.request(header, blobs)
    try:
        result = reply["result"]
        for k, tree in reply["mutated"]:  # the learner changed an input in place
            new = _tensor(tree, out)
            if new.shape == inputs[k].shape:
                inputs[k].copy_(new)
        saves = rebuild_saves(reply["saves"], everything, result, out)
        names = [str(n) for n in reply["ctx_tensors"]]
        state = reply.get("state", [])
    except (KeyError, TypeError, ValueError, IndexError):
        raise RuntimeError("the process running your code sent a garbled answer") from None
    if module is not None:
        _module_sync(module, state, out)
    if result["kind"] != "tensor":
        setattr(ctx, _RECORD, _Record(session, None, positions, n_args))
        return decode(result["v"], out)
    alias = result["alias"]
    y = everything[alias] if isinstance(alias, int) and 0 <= alias < len(everything) \
        else _tensor(result["v"], out)
    ctx.save_for_backward(*[y if s is None else s for s in saves])
    setattr(ctx, _RECORD, _Record(session, result["handle"], positions, n_args))
    for name in names:  # tensors the learner kept on ctx: placeholders of the same name
        try:  # (after the record: a learner's ctx._verify_record shows, and fails)
            setattr(ctx, name, torch.empty(0))
        except (AttributeError, TypeError):  # as setting it failed in the learner's forward
            raise RuntimeError(f"ctx.{name} cannot be set") from None
    if not result["differentiable"]:
        ctx.mark_non_differentiable(y)
    return y


def rebuild_saves(entries: list, inputs: list[torch.Tensor], result: dict, out: list[bytes]):
    """Tensors equivalent to what the learner saved (``None``: the output itself)."""
    made: list = []
    for entry in entries:
        if "input" in entry:
            made.append(inputs[int(entry["input"])])
        elif "output" in entry:
            made.append(None if result["kind"] == "tensor" else torch.empty(0))
        elif isinstance(entry.get("same"), int) and 0 <= entry["same"] < len(made):
            made.append(made[entry["same"]])
        else:  # one element, expanded: the shape and bytes of the learner's, no memory
            shape = [int(s) for s in entry["shape"]]
            made.append(torch.empty((), dtype=_dtype(entry["dtype"])).expand(shape))
    return made


def _remote_backward(ctx, upstream):
    """Backward of either proxy: one gradient per apply argument."""
    if torch.is_grad_enabled():  # create_graph: the gradients would need a graph here
        raise Unverifiable("a double backward (create_graph=True) cannot cross the pipe")
    record: _Record = getattr(ctx, _RECORD)
    session = record.session
    ctx.saved_tensors  # noqa: B018 (raises as in the kernel if a saved input was modified)
    grads: list = [None] * record.n_args
    if record.handle is None:
        return tuple(grads)
    blobs: list[bytes] = []
    header = {"op": "torch_backward", "handle": record.handle,
              "upstream": None if upstream is None else encode(_array(upstream), blobs,
                                                                strict=True)}
    reply, out = session.request(header, blobs)
    try:
        for k, tree in reply["grads"]:
            if tree is not None:
                grads[record.positions[int(k)]] = _tensor(tree, out)
        for _, tree in reply["mutated"]:  # the learner's backward changed upstream in place
            new = _tensor(tree, out)
            if upstream is not None and new.shape == upstream.shape:
                upstream.copy_(new)
    except (KeyError, TypeError, ValueError, IndexError):
        raise RuntimeError("the process running your code sent a garbled answer") from None
    return tuple(grads)


# ---------------------------------------------------------------------------------------
# The Function proxy


def _function_proxy(session: Session, name: str) -> type:
    """A ``torch.autograd.Function`` subclass named ``name`` that computes in the child."""

    def forward(ctx, *args):
        positions = [k for k, a in enumerate(args) if isinstance(a, torch.Tensor)]
        return _remote_forward(ctx, session, {"function": name}, args, {}, [], len(args),
                               positions)

    def backward(ctx, upstream):
        return _remote_backward(ctx, upstream)

    return type(name, (torch.autograd.Function,), {
        "forward": staticmethod(forward), "backward": staticmethod(backward),
        "__module__": "__main__",
        "__doc__": f"The learner's {name}, computed in the verifier's child process."})


# ---------------------------------------------------------------------------------------
# The Module proxy


class _ModuleCall(torch.autograd.Function):
    """The remote forward of a module proxy: inputs (call, *argument tensors, *params)."""

    @staticmethod
    def forward(ctx, call, *tensors):
        module, args, kwargs, params = call
        n_args = 1 + len(tensors)
        return _remote_forward(ctx, module._verify_session, {"module": module._verify_id},
                               args, kwargs, params, n_args, list(range(1, n_args)), module)

    @staticmethod
    def backward(ctx, upstream):
        return _remote_backward(ctx, upstream)


def _module_state(module: nn.Module, blobs: list[bytes]) -> dict:
    """The module's current parameter and buffer values, for a forward request."""
    params = dict(module.named_parameters(remove_duplicate=False))
    return {
        "training": bool(module.training),
        "order": [n for n, _ in module.named_parameters()],
        "params": {n: [encode(_array(p), blobs, strict=True), bool(p.requires_grad)]
                   for n, p in params.items()},
        "buffers": {n: encode(_array(b), blobs, strict=True)
                    for n, b in module.named_buffers(remove_duplicate=False)}}


def _module_sync(module: nn.Module, state: list, out: list[bytes]) -> None:
    """Parameters and buffers the learner's forward changed: the mirrors take the values."""
    with torch.no_grad():
        for kind, name, tree in state:
            t = module.get_parameter(name) if kind == "params" else module.get_buffer(name)
            new = _tensor(tree, out)
            if t is not None and new.shape == t.shape:
                t.copy_(new)


class _RemoteModule(nn.Module):
    """Base of the module proxies: the learner's module lives in the child."""

    _verify_session: Session

    def __init__(self, *args, **kwargs):
        super().__init__()
        session = type(self)._verify_session
        blobs: list[bytes] = []
        header = {"op": "torch_new", "name": type(self).__name__,
                  "args": [pack(a, blobs, None) for a in args],
                  "kwargs": {str(k): pack(v, blobs, None) for k, v in kwargs.items()}}
        reply, out = session.request(header, blobs)
        try:
            self._verify_id = int(reply["id"])
            for name, tree, requires_grad, key in reply["params"]:
                p = session.params.get(key)
                if p is None:
                    p = nn.Parameter(_tensor(tree, out), requires_grad=bool(requires_grad))
                    session.params[key] = p
                owner, leaf = _owner(self, str(name))
                owner.register_parameter(leaf, p)
            for name, tree in reply["buffers"]:
                owner, leaf = _owner(self, str(name))
                owner.register_buffer(leaf, _tensor(tree, out))
        except (KeyError, TypeError, ValueError, IndexError):
            raise RuntimeError("the process running your code sent a garbled answer") from None
        self._verify_ready = True  # from now on, a missing attribute is the learner's

    def forward(self, *args, **kwargs):
        params = [p for _, p in self.named_parameters()]
        tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
        return _ModuleCall.apply((self, args, kwargs, params), *tensors, *params)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name.startswith("_") or not self.__dict__.get("_verify_ready"):
                raise  # nn.Module's own hasattr() while registering
            raise Unverifiable(f"the test reads {type(self).__name__}.{name}, which is not a "
                               "parameter or buffer (it stays in the child)") from None


def _owner(module: nn.Module, dotted: str) -> tuple[nn.Module, str]:
    """The submodule holding ``a.b.name`` (made as an empty container) and ``name``."""
    *path, leaf = dotted.split(".")
    for part in path:
        sub = module._modules.get(part)
        if sub is None:
            sub = nn.Module()
            module.add_module(part, sub)
        module = sub
    return module, leaf


class _RemoteObject:
    """A learner class that is neither a Function nor a Module: instances are built in the
    child (so that their errors show) and stay opaque here."""

    _verify_session: Session

    def __init__(self, *args, **kwargs):
        blobs: list[bytes] = []
        header = {"op": "torch_new", "name": type(self).__name__,
                  "args": [pack(a, blobs, None) for a in args],
                  "kwargs": {str(k): pack(v, blobs, None) for k, v in kwargs.items()}}
        type(self)._verify_session.request(header, blobs)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        raise Unverifiable(f"the test uses {type(self).__name__}.{name} (a learner object)")
