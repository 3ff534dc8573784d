r"""Blocked elementwise loops for torch kernels: the reference Functions' forward and
backward (``course_utils.reference_torch``) run their elementwise work over blocks of
``BLOCK`` elements, so that every temporary is small and dies before the next block, and
the blocks are shared among threads. Shipped to students too: it holds no formula.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor

__all__ = ["BLOCK", "DEVICE_BLOCKS", "blocks", "for_each_block", "compute_dtype", "elementwise"]

#: Elements per block of the blocked elementwise loops on CPU. Just below PyTorch's grain size
#: (32768), so each op on a block runs on the calling thread: the blocks are shared among a few
#: Python threads (torch ops release the GIL) instead of paying an intra-op parallel region
#: (and, on a busy machine, its wait for the slowest thread) for every op of every block. As
#: large as that allows, to keep the Python overhead per element small (16384: 1.3x the time).
BLOCK = 32_000

#: On other devices (one kernel launch per op and block): at most this many blocks.
DEVICE_BLOCKS = 16


def blocks(*tensors: Tensor, size: int | None = None) -> Iterator[tuple[Tensor, ...]]:
    """Matching views of same-shaped ``tensors``, about ``size`` (``BLOCK``) elements at a time.

    Contiguous tensors are cut along their flat view; others (an expanded upstream
    gradient, a transposed input) along dim 0, which slices any strided tensor without
    copying it.
    """
    size = size or BLOCK
    first = tensors[0]
    if first.dim() == 0 or first.numel() <= size:
        yield tensors
    elif all(t.is_contiguous() for t in tensors):
        flat = [t.view(-1) for t in tensors]
        for start in range(0, first.numel(), size):
            yield tuple(f[start:start + size] for f in flat)
    else:
        rows = max(1, size // max(1, first[0].numel()))
        for start in range(0, first.shape[0], rows):
            yield tuple(t[start:start + rows] for t in tensors)


_pool: tuple[int, int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()


def for_each_block(kernel: Callable[..., object], *tensors: Tensor) -> list:
    """``[kernel(*block) for block in blocks(*tensors)]``, the blocks spread over as many
    threads as torch's intra-op pool has (``torch.get_num_threads()``); results in order.

    Grad mode is per thread: the kernels run under ``no_grad`` in every thread, as the
    body of an autograd Function's forward and backward does on the calling thread.
    """
    global _pool
    first = tensors[0]
    if first.device.type == "cpu":
        pieces = list(blocks(*tensors))
        workers = min(torch.get_num_threads(), len(pieces))
    else:  # a few large blocks, one thread: the device runs each op in parallel
        size = max(BLOCK, -(-first.numel() // DEVICE_BLOCKS))
        pieces, workers = list(blocks(*tensors, size=size)), 1

    def run(block: tuple[Tensor, ...]) -> object:
        with torch.no_grad():
            return kernel(*block)

    if workers <= 1:
        return [run(block) for block in pieces]
    with _pool_lock:  # one pool per process (a fork's child gets a new one) and thread count
        if _pool is None or _pool[:2] != (os.getpid(), workers):
            _pool = (os.getpid(), workers, ThreadPoolExecutor(workers, "reference_torch"))
        pool = _pool[2]
    return list(pool.map(run, pieces))


def compute_dtype(x: Tensor, name: str) -> torch.dtype:
    """float32/float64 as they are; float16 and bfloat16 computed in float32."""
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got {x.dtype}.")
    return torch.promote_types(x.dtype, torch.float32)


def elementwise(kernel: Callable[..., Tensor], dtype: torch.dtype, out: Tensor,
                 *inputs: Tensor) -> Tensor:
    """``out[:] = kernel(*inputs)`` block by block, the kernel computing in ``dtype``.

    The kernel writes its last op straight into the block of ``out`` (``out=``) when the
    dtypes agree, so that no full-size temporary ever exists.
    """
    def run(o: Tensor, *blocks: Tensor) -> None:
        direct = o if o.dtype == dtype else None
        value = kernel(*(b.to(dtype) for b in blocks), out=direct)
        if value is not o:
            o.copy_(value)

    for_each_block(run, out, *inputs)
    return out
