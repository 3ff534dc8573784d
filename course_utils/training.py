r"""Small, seeded training experiments for 03_swish_mish.

An MLP is built from an *activation factory* (a zero-argument callable returning a fresh
``nn.Module``, e.g. ``nn.ReLU`` or ``lambda: Swish(learnable=True)``), so every hidden layer
gets its own activation instance: a PReLU slope or a learned Swish beta per layer.

``run_grid`` trains every (activation, depth, seed) combination under one progress bar and
returns one ``Run`` per combination, with the learning curves and the learned activation
parameters per layer.

Example
-------
>>> from torch import nn
>>> data = load_digits_split()
>>> runs = run_grid({"ReLU": nn.ReLU}, data, seeds=(0,), epochs=5, progress=False)
>>> runs[0].activation, len(runs[0].test_accuracy)
('ReLU', 5)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["INITS", "Run", "make_mlp", "learned_parameters", "train", "run_grid", "summarize",
           "input_spread", "spread_at_init", "one_thread"]

ActivationFactory = Callable[[], nn.Module]

#: How ``make_mlp`` draws each Linear weight W (n_out, n_in); "default" keeps PyTorch's.
#: PyTorch's default is U(-1/sqrt(n_in), 1/sqrt(n_in)), Var(W) = 1/(3 n_in): a third of the
#: 1/n_in that keeps a linear layer's second moment, a sixth of He's 2/n_in for ReLU
#: (04_numerical_stability derives both). Biases start at 0 except under "default".
INITS: dict[str, Callable[[torch.Tensor], object] | None] = {
    "default": None,
    "He": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),   # Var = 2 / n_in
    "Xavier": nn.init.xavier_normal_,                                   # Var = 2 / (n_in + n_out)
    "LeCun": lambda w: nn.init.kaiming_normal_(w, nonlinearity="linear"),  # Var = 1 / n_in
}


@dataclass
class Run:
    r"""One training run.

    Attributes
    ----------
    activation : str, the factory's name in the grid
    depth : int, number of hidden layers
    seed : int
    train_loss : ndarray, shape (epochs,), mean cross-entropy on the training set per epoch
    test_accuracy : ndarray, shape (epochs,), accuracy on the test set after each epoch
    learned : list of float, one per hidden layer holding parameters (the learned Swish beta
        or PReLU slope); empty for parameter-free activations
    setup : str, the name of the network's setup in the grid (its initialisation and
        normalisation, see ``run_grid``)
    """

    activation: str
    depth: int
    seed: int
    train_loss: np.ndarray
    test_accuracy: np.ndarray
    learned: list[float] = field(default_factory=list)
    setup: str = "default"

    @property
    def final_accuracy(self) -> float:
        return float(self.test_accuracy[-1])


@contextmanager
def one_thread():
    """torch on one thread inside the block: small networks train faster so, and a busy
    second core does not slow them down (05's experiments)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def make_mlp(n_in: int, n_out: int, *, width: int, depth: int,
             activation: ActivationFactory, init: str = "default",
             norm: bool = False) -> nn.Sequential:
    r"""An MLP ``Linear -> act -> ... -> Linear`` with ``depth`` hidden layers of ``width``.

    Parameters
    ----------
    n_in, n_out : int, input size d and output size D
    width : int, hidden width m (the same for every hidden layer)
    depth : int >= 1, number of hidden layers, each followed by a fresh ``activation()``
    activation : zero-argument callable returning an ``nn.Module``
    init : a key of ``INITS``, default "default" (PyTorch's own initialisation)
    norm : bool, default False; True puts an ``nn.LayerNorm(width)`` between each hidden
        Linear and its activation, so that every unit sees pre-activations of mean 0 and
        variance 1 over the layer, whatever the weights ("change z" of the note)

    Returns
    -------
    nn.Sequential mapping (N, d) to logits (N, D).
    """
    if depth < 1:
        raise ValueError(f"make_mlp: depth must be at least 1, got {depth}.")
    if init not in INITS:
        raise ValueError(f"make_mlp: init must be one of {sorted(INITS)}, got {init!r}.")
    layers: list[nn.Module] = []
    size = n_in
    for _ in range(depth):
        layers.append(nn.Linear(size, width))
        if norm:
            layers.append(nn.LayerNorm(width))
        layers.append(activation())
        size = width
    layers.append(nn.Linear(size, n_out))
    draw = INITS[init]
    if draw is not None:
        for layer in layers:
            if isinstance(layer, nn.Linear):
                draw(layer.weight)
                nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


def learned_parameters(model: nn.Module) -> list[float]:
    r"""The learned parameter of each activation layer, in order (its mean if it has several).

    Activation layers are the modules of ``model`` that are not ``nn.Linear``,
    ``nn.LayerNorm`` or containers and own parameters directly (a PReLU slope, a
    learnable Swish beta).
    """
    values = []
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.LayerNorm, nn.Sequential)):
            continue
        own = [p.detach().reshape(-1) for p in module.parameters(recurse=False)]
        if own:
            values.append(float(torch.cat(own).mean()))
    return values


def _tensors(data) -> tuple[torch.Tensor, ...]:
    return (torch.as_tensor(data.x_train), torch.as_tensor(data.y_train),
            torch.as_tensor(data.x_test), torch.as_tensor(data.y_test))


def train(model: nn.Module, data, *, epochs: int = 30, lr: float = 1e-2,
          batch_size: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""Train ``model`` with Adam and cross-entropy; return the learning curves.

    Parameters
    ----------
    model : nn.Module mapping (N, d) to logits (N, D)
    data : a ``course_utils.data.DigitsSplit`` (x_train, y_train, x_test, y_test)
    epochs : int, default 30, passes over the training set
    lr : float, default 1e-2, Adam's learning rate
    batch_size : int or None (full batch), examples per step; batches are shuffled by a
        generator seeded with ``seed``
    seed : int, default 0

    Returns
    -------
    (train_loss, test_accuracy), each an ndarray of shape (epochs,).
    """
    x_train, y_train, x_test, y_test = _tensors(data)
    n = len(y_train)
    size = n if batch_size is None else int(batch_size)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses, accuracies = np.zeros(epochs), np.zeros(epochs)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(n, generator=generator) if size < n else torch.arange(n)
        total = 0.0
        for start in range(0, n, size):
            index = order[start:start + size]
            loss = F.cross_entropy(model(x_train[index]), y_train[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(index)
        losses[epoch] = total / n
        model.eval()
        with torch.no_grad():
            accuracies[epoch] = float((model(x_test).argmax(dim=1) == y_test).float().mean())
    return losses, accuracies


def run_grid(activations: Mapping[str, ActivationFactory], data, *,
             seeds: Iterable[int] = (0, 1, 2), depths: Sequence[int] = (2,), width: int = 64,
             epochs: int = 30, lr: float = 1e-2, batch_size: int | None = None,
             setups: Mapping[str, Mapping] | None = None,
             progress: bool = True, desc: str = "training") -> list[Run]:
    r"""Train one MLP per (setup, activation, depth, seed) and collect the curves.

    The model of a run is built right after ``torch.manual_seed(seed)``, so runs with the
    same seed, depth and setup start from the same weights whatever the activation
    (parameter-free activations draw no random numbers; a PReLU or Swish parameter is set,
    not drawn).

    Parameters
    ----------
    activations : name -> activation factory (zero-argument callable returning nn.Module)
    data : DigitsSplit
    seeds : iterable of int, default (0, 1, 2)
    depths : sequence of int, default (2,), numbers of hidden layers
    width : int, default 64, hidden width
    epochs, lr, batch_size : passed to ``train``
    setups : name -> keyword arguments of ``make_mlp`` (``init``, ``norm``), default
        ``{"default": {}}``: PyTorch's initialisation, no normalisation
    progress : bool, default True, show one tqdm progress bar over all runs
    desc : str, the progress bar's label

    Returns
    -------
    list of Run, in the order setup, activation, depth, seed.
    """
    seeds = list(seeds)
    setups = {"default": {}} if setups is None else dict(setups)
    jobs = [(setup, name, depth, seed) for setup in setups for name in activations
            for depth in depths for seed in seeds]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc=desc, unit="run")
    runs = []
    try:
        for setup, name, depth, seed in jobs:
            if bar is not None:
                bar.set_postfix_str(f"{setup}, {name}, depth {depth}, seed {seed}")
            torch.manual_seed(seed)
            model = make_mlp(data.n_features, data.n_classes, width=width, depth=depth,
                             activation=activations[name], **setups[setup])
            loss, accuracy = train(model, data, epochs=epochs, lr=lr, batch_size=batch_size,
                                   seed=seed)
            runs.append(Run(name, depth, seed, loss, accuracy, learned_parameters(model),
                            setup))
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    return runs


def summarize(runs: Iterable[Run], *, by: str = "activation") -> dict:
    r"""Final test accuracy over seeds: ``{key: (mean, min, max)}``.

    ``by`` is "activation" (key: name), "depth" (key: (name, depth)) or "setup"
    (key: (setup, name, depth)).
    """
    keys = {"activation": lambda r: r.activation, "depth": lambda r: (r.activation, r.depth),
            "setup": lambda r: (r.setup, r.activation, r.depth)}
    if by not in keys:
        raise ValueError(f"summarize: by must be one of {list(keys)}, got {by!r}.")
    groups: dict = {}
    for run in runs:
        groups.setdefault(keys[by](run), []).append(run.final_accuracy)
    return {key: (float(np.mean(v)), float(np.min(v)), float(np.max(v)))
            for key, v in groups.items()}


def input_spread(model: nn.Sequential, x: torch.Tensor) -> float:
    r"""How much the last hidden layer of ``model`` still tells the inputs ``x`` apart.

    With :math:`H` (N, m) the last hidden layer's output on the N examples of ``x``,

    .. math::

        \text{spread} = \sqrt{\tfrac{1}{m}\textstyle\sum_j \operatorname{Var}_n H_{nj}}
        \Big/ \sqrt{\tfrac{1}{Nm}\textstyle\sum_{n,j} H_{nj}^2} \in [0, 1]:

    1 when the examples' representations vary as much as they are large, 0 when every input
    maps to the same vector. Then the logits cannot depend on the input, its gradient
    cannot either, and the network learns no more than the class frequencies.
    """
    with torch.no_grad():
        h = model[:-1](x)
    return float(h.var(dim=0, unbiased=False).mean().sqrt() / h.pow(2).mean().sqrt())


def spread_at_init(activations: Mapping[str, ActivationFactory], data, *,
                   seeds: Iterable[int] = (0, 1, 2), depths: Sequence[int] = (2,),
                   width: int = 64, setups: Mapping[str, Mapping] | None = None) -> dict:
    r"""``input_spread`` of each network of ``run_grid`` before training, on the training set.

    The networks are built exactly as ``run_grid`` builds them (same seeds, same order of
    draws), so these are the starting points of its runs.

    Returns
    -------
    {(setup, activation, depth): ndarray (seeds,)}
    """
    seeds = list(seeds)
    setups = {"default": {}} if setups is None else dict(setups)
    x = torch.as_tensor(data.x_train)
    out = {}
    for setup, kwargs in setups.items():
        for name, factory in activations.items():
            for depth in depths:
                values = []
                for seed in seeds:
                    torch.manual_seed(seed)
                    model = make_mlp(data.n_features, data.n_classes, width=width,
                                     depth=depth, activation=factory, **kwargs)
                    values.append(input_spread(model, x))
                out[(setup, name, depth)] = np.array(values)
    return out
