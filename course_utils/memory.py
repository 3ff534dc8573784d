r"""What a forward pass keeps alive for backward, measured with saved-tensor hooks.

During a forward pass autograd *saves* tensors that the backward pass will need (an op's
input, its output, intermediate values). They stay in memory until backward runs, so in a
deep network they, not the weights, dominate training memory. PyTorch lets us watch every
saved tensor through ``torch.autograd.graph.saved_tensors_hooks(pack, unpack)``: ``pack``
is called once per tensor saved, including by ``ctx.save_for_backward`` in a custom
``torch.autograd.Function``.

Example
-------
>>> import torch
>>> x = torch.randn(1000, dtype=torch.float64, requires_grad=True)
>>> saved_for_backward(torch.nn.functional.mish, x).nbytes   # native Mish saves its input
8000
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

__all__ = ["SavedTensors", "saved_for_backward", "tensor_attributes"]


@dataclass(frozen=True)
class SavedTensors:
    r"""Tensors saved for backward by one call.

    Attributes
    ----------
    shapes : list of tuple, the shape of each saved tensor, in the order they were saved
    nbytes : int, total bytes of the saved tensors (a tensor saved twice counts twice, as
        two saves of the same input still keep only one copy alive, see ``unique_nbytes``)
    unique_nbytes : int, bytes of distinct storages among them
    """

    shapes: list[tuple[int, ...]]
    nbytes: int
    unique_nbytes: int

    @property
    def count(self) -> int:
        return len(self.shapes)


def saved_for_backward(fn: Callable[..., torch.Tensor], *inputs: torch.Tensor) -> SavedTensors:
    r"""Call ``fn(*inputs)`` and record every tensor autograd saves for its backward.

    Parameters
    ----------
    fn : callable taking tensors and returning a tensor (a Function's ``apply``, a module,
        a composition of torch ops)
    *inputs : tensors; give at least one ``requires_grad=True``, or nothing is saved

    Returns
    -------
    SavedTensors with the shapes and the bytes of what was saved.
    """
    shapes: list[tuple[int, ...]] = []
    sizes: list[int] = []
    storages: dict[tuple[int, int], int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nbytes = tensor.numel() * tensor.element_size()
        shapes.append(tuple(tensor.shape))
        sizes.append(nbytes)
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset())
        storages[key] = max(storages.get(key, 0), nbytes)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        fn(*inputs)
    return SavedTensors(shapes, int(sum(sizes)), int(sum(storages.values())))


def tensor_attributes(output: torch.Tensor) -> list[str]:
    r"""Names of tensors stashed as plain attributes on the ``ctx`` of ``output.grad_fn``.

    Tensors kept as ``ctx.name = tensor`` bypass ``save_for_backward`` (and therefore the
    hooks above, and autograd's checks that they were not modified in place). A custom
    Function should keep none.
    """
    node = output.grad_fn
    if node is None:
        return []
    names = []
    for name, value in vars(node).items() if hasattr(node, "__dict__") else []:
        if isinstance(value, torch.Tensor):
            names.append(name)
        elif isinstance(value, Sequence) and not isinstance(value, str) and any(
                isinstance(v, torch.Tensor) for v in value):
            names.append(name)
    return names
