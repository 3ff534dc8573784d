r"""SELU's self-normalisation, measured (05_beyond_the_note).

Klambauer et al. (2017) chose SELU's lambda and alpha so that a layer ``selu(a @ W.T)``
with weights of mean 0 and variance 1 / fan_in (LeCun normal) maps activations of mean 0
and variance 1 to mean 0 and variance 1 again, and draws nearby moments towards that fixed
point. Two measurements:

* ``layer_statistics``: at initialisation, a batch goes through a deep MLP built from any
  unit and initialiser (the learner's ``selu`` and ``lecun_normal`` among them), with
  dropout or alpha-dropout after every layer if asked; the mean and variance of every
  layer's activations over the batch and the units;
* ``train_deep``: deep torch MLPs trained on the digits (SELU with LeCun weights, ReLU with
  He, tanh with Xavier), the same statistics on the test set before and after training,
  and the accuracy.

Shapes: a batch is (N, width), one example per row; W is (width, width).

Example
-------
>>> import numpy as np
>>> from course_utils.units import relu
>>> from course_utils.stability_lab import INITS
>>> means, variances = layer_statistics(relu, INITS["He"], depth=5, width=50, n=200)
>>> means.shape
(5,)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["DEPTH", "WIDTH", "SEEDS", "dropout", "alpha_dropout", "layer_statistics",
           "statistics_grid", "DeepRun", "train_deep"]

DEPTH, WIDTH, N, SEEDS = 50, 100, 500, (0, 1, 2)


def dropout(a, p, rng, floor=0.0):
    r"""Inverted dropout: each entry is 0 with probability p, the rest scaled by 1/(1-p).

    Keeps the mean of ``a``; multiplies the second moment by 1/(1 - p), so the variance
    grows layer after layer under SELU. ``floor`` is unused (the signature of
    ``alpha_dropout``).
    """
    keep = rng.random(a.shape) >= p
    return np.where(keep, a / (1.0 - p), 0.0)


def alpha_dropout(a, p, rng, floor):
    r"""Alpha-dropout (Klambauer et al. 2017): dropped entries go to SELU's floor
    -lambda alpha (not 0), then an affine map restores the mean and variance.

        x' = A (keep * a + (1 - keep) floor) + B,
        A = ((1 - p) (1 + p floor**2))**(-1/2),  B = -A floor p

    so that inputs of mean 0 and variance 1 keep them.
    """
    keep = rng.random(a.shape) >= p
    scale = ((1.0 - p) * (1.0 + p * floor**2)) ** -0.5
    return scale * np.where(keep, a, floor) - scale * floor * p


def layer_statistics(sigma: Callable, init: Callable, *, depth: int = DEPTH,
                     width: int = WIDTH, n: int = N, seed: int = 0,
                     drop: Callable | None = None, p: float = 0.1,
                     floor: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and variance of each layer's activations at initialisation.

        a^(0) = x ~ N(0, 1) (n, width),  a^(l) = drop(sigma(a^(l-1) @ W^(l).T)),
        W^(l) = init(width, width, rng)

    Parameters
    ----------
    sigma : elementwise function, the unit
    init : init(fan_in, fan_out, rng) -> (fan_out, fan_in) array
    depth, width, n : int, layers, units per layer, examples
    seed : int, the one generator's seed (x, then each W, then each dropout mask)
    drop : dropout or alpha_dropout (or None), applied after each layer with rate p
    floor : SELU's lower limit -lambda alpha, for alpha_dropout

    Returns
    -------
    (means, variances), each an ndarray (depth,): over the batch and the units.
    """
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, width))
    means, variances = np.empty(depth), np.empty(depth)
    for layer in range(depth):
        a = np.asarray(sigma(a @ init(width, width, rng).T), dtype=np.float64)
        if drop is not None:
            a = drop(a, p, rng, floor)
        means[layer], variances[layer] = a.mean(), a.var()
    return means, variances


def statistics_grid(setups: Mapping[str, Mapping], seeds: Iterable[int] = SEEDS,
                    **kwargs) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    r"""``layer_statistics`` for every setup and seed.

    Parameters
    ----------
    setups : name -> keyword arguments of ``layer_statistics`` (sigma, init, drop, floor)
    seeds : iterable of int
    **kwargs : depth, width, n, p for every setup

    Returns
    -------
    {name: (means (seeds, depth), variances (seeds, depth))}
    """
    seeds = list(seeds)
    out = {}
    for name, setup in setups.items():
        stats = [layer_statistics(**setup, seed=seed, **kwargs) for seed in seeds]
        out[name] = (np.stack([m for m, _ in stats]), np.stack([v for _, v in stats]))
    return out


@dataclass
class DeepRun:
    r"""One deep network trained on the digits.

    Attributes
    ----------
    setup : str, e.g. "SELU, LeCun"
    seed : int
    before, after : ndarray (2, depth): mean and variance of each hidden layer's
        activations on the test set, before and after training
    accuracy : float, final test accuracy
    """

    setup: str
    seed: int
    before: np.ndarray
    after: np.ndarray
    accuracy: float


def _hidden_statistics(model, x) -> np.ndarray:
    """(2, depth): mean and variance of every activation module's output on x."""
    import torch
    from torch import nn

    found = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: found.append(out.detach()))
             for m in model if not isinstance(m, (nn.Linear, nn.Dropout, nn.AlphaDropout))]
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return np.array([[float(h.mean()) for h in found], [float(h.var(unbiased=False))
                                                        for h in found]])


def train_deep(setups: Mapping[str, tuple[Callable, str]], data, *, depth: int = 16,
               width: int = 64, epochs: int = 30, lr: float = 3e-3,
               batch_size: int | None = None, seeds: Iterable[int] = SEEDS,
               progress: bool = True) -> list[DeepRun]:
    r"""Train one deep MLP per (setup, seed) on the digits; statistics before and after.

    Parameters
    ----------
    setups : name -> (activation factory, init name of ``course_utils.training.INITS``)
    data : ``course_utils.data.DigitsSplit``
    depth, width : hidden layers and their width
    epochs, lr, batch_size : Adam, full-batch by default (``course_utils.training.train``)
    seeds : iterable of int; the network is built right after ``torch.manual_seed(seed)``
    progress : a tqdm bar over the runs

    Returns
    -------
    list of DeepRun, in the order setup, seed.
    """
    import torch

    from course_utils.training import make_mlp, one_thread, train

    seeds = list(seeds)
    jobs = [(name, seed) for name in setups for seed in seeds]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc="training deep networks", unit="run")
    x = torch.as_tensor(data.x_test)
    runs = []
    with torch.random.fork_rng(), one_thread():
        for name, seed in jobs:
            factory, init = setups[name]
            torch.manual_seed(seed)
            model = make_mlp(data.n_features, data.n_classes, width=width, depth=depth,
                             activation=factory, init=init)
            before = _hidden_statistics(model, x)
            _, accuracy = train(model, data, epochs=epochs, lr=lr, batch_size=batch_size,
                                seed=seed)
            runs.append(DeepRun(name, seed, before, _hidden_statistics(model, x),
                                float(accuracy[-1])))
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.close()
    return runs
