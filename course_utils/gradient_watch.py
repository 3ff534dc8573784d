r"""04's experiment in training: gradients and activations of every layer, step by step.

The network is the note's MLP, run by the learner's own ``mlp_forward`` and
``mlp_backward`` (passed in), with a linear read-out and softmax cross-entropy on top:

    a^(0) = x,  a^(l) = sigma(a^(l-1) W^(l)T)  for l = 1..L   (the learner's functions)
    logits = a^(L) V^T,  loss = mean over the batch of cross-entropy(logits, label)

trained by full-batch gradient descent on the digits data, one step per epoch. Before the
first step and after every step, it records the norm of each layer's gradient
``||dL/dW^(l)||`` and the test accuracy; at a few epochs it keeps a sample of every layer's
activations. Every run draws from ``np.random.default_rng(seed)``: the hidden weights
``init(n_in, n_out, rng)`` layer by layer, then ``V ~ N(0, 1 / width)``.

Example
-------
>>> from course_utils.reference import mlp_backward, mlp_forward   # or the learner's
>>> data = load_digits_split().subset(200)
>>> w = watch_training(mlp_forward, mlp_backward, data, "tanh", "Xavier", depth=3, epochs=5)
>>> w.grad_norms.shape
(6, 3)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from course_utils.stability_lab import BAND, INITS
from course_utils.units import ACTIVATIONS

try:  # a progress bar over the runs; plain iteration without tqdm
    from tqdm.auto import tqdm
except ImportError:  # pragma: no cover
    def tqdm(iterable, **_):
        return iterable

__all__ = ["Watch", "by_config", "epochs_in_band", "saturation", "trapped_at", "watch_grid",
           "watch_training"]


@dataclass
class Watch:
    r"""One training run, watched.

    Attributes
    ----------
    activation, init : str, keys of ``units.ACTIVATIONS`` and ``stability_lab.INITS``
    seed : int
    grad_norms : ndarray (epochs + 1, L): ``||dL/dW^(l)||`` at the weights of each epoch
        (row 0: at initialisation); inf or nan once training has diverged
    test_accuracy : ndarray (epochs + 1,)
    snapshots : {epoch: ndarray (L, k)}, a sample of k activations of every hidden layer
    """

    activation: str
    init: str
    seed: int
    grad_norms: np.ndarray
    test_accuracy: np.ndarray
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def final_accuracy(self) -> float:
        return float(self.test_accuracy[-1])


def _softmax_cross_entropy_grad(logits, labels):
    """The gradient of the mean softmax cross-entropy with respect to the logits (N, D):
    (softmax(logits) - onehot(labels)) / N."""
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(labels)), labels] -= 1.0
    return p / len(labels)


def watch_training(mlp_forward: Callable, mlp_backward: Callable, data, activation: str,
                   init: str, *, depth: int = 10, width: int = 32, epochs: int = 40,
                   lr: float = 0.1, seed: int = 0, snapshot_at: Iterable[int] = (),
                   sample: int = 2000) -> Watch:
    r"""Train one network by gradient descent and record its gradients layer by layer.

    Parameters
    ----------
    mlp_forward, mlp_backward : the note's forward and backward passes (04's graded functions)
    data : ``course_utils.data.DigitsSplit``; its float32 inputs are used in float64
    activation : a key of ``units.ACTIVATIONS`` ("sigmoid", "tanh", "relu", "swish", "mish")
    init : a key of ``stability_lab.INITS`` ("N(0,1)", "Xavier", "He")
    depth, width : number and width of the hidden layers (the first is (width, n_features))
    epochs : gradient-descent steps on the whole training set
    lr : the step size, for the hidden weights and the read-out alike
    snapshot_at : epochs (0 = before training) at which to keep ``sample`` activations of
        every layer, drawn at evenly spaced positions of a^(l) (N, width)

    Returns
    -------
    Watch. A run that diverges keeps going with inf and nan, as it would on a machine:
    floating-point warnings are silenced, and the record shows where it broke.
    """
    sigma, sigma_grad = ACTIVATIONS[activation]
    rng = np.random.default_rng(seed)
    sizes = [data.n_features] + [width] * depth
    weights = [INITS[init](n_in, n_out, rng)
               for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)]
    readout = rng.normal(0.0, np.sqrt(1.0 / width), size=(data.n_classes, width))
    x, y = np.asarray(data.x_train, np.float64), np.asarray(data.y_train)
    x_test, y_test = np.asarray(data.x_test, np.float64), np.asarray(data.y_test)
    snapshot_at = set(snapshot_at)
    norms = np.zeros((epochs + 1, depth))
    accuracy = np.zeros(epochs + 1)
    snapshots = {}
    # One BLAS thread: the matrices are small, and threads that wait for a busy core (a
    # second notebook, a test worker) make each product several times slower.
    with np.errstate(all="ignore"), threadpool_limits(1):
        for epoch in range(epochs + 1):
            top, cache = mlp_forward(x, weights, sigma)
            dlogits = _softmax_cross_entropy_grad(top @ readout.T, y)
            grads, _ = mlp_backward(cache, dlogits @ readout, weights, sigma_grad)
            norms[epoch] = [np.linalg.norm(g) for g in grads]
            test_top, _ = mlp_forward(x_test, weights, sigma)
            accuracy[epoch] = np.mean(np.argmax(test_top @ readout.T, axis=1) == y_test)
            if epoch in snapshot_at:
                picks = np.linspace(0, top.size - 1, min(sample, top.size)).astype(int)
                snapshots[epoch] = np.stack([np.ravel(a)[picks] for a in cache[0][1:]])
            if epoch == epochs:
                break
            grad_readout = dlogits.T @ top
            weights = [W - lr * g for W, g in zip(weights, grads, strict=True)]
            readout = readout - lr * grad_readout
    return Watch(activation, init, seed, norms, accuracy, snapshots)


def watch_grid(mlp_forward: Callable, mlp_backward: Callable, data, *,
               activations: Sequence[str] = ("sigmoid", "tanh", "relu", "swish", "mish"),
               inits: Sequence[str] = ("N(0,1)", "Xavier", "He"),
               seeds: Iterable[int] = (0, 1, 2), progress: bool = True, **kwargs
               ) -> list[Watch]:
    """``watch_training`` for every (activation, init, seed), in that order, under one bar;
    ``kwargs`` go to ``watch_training``."""
    jobs = [(a, i, s) for a in activations for i in inits for s in seeds]
    if progress:
        jobs = tqdm(jobs, desc="training, watched", unit="run")
    return [watch_training(mlp_forward, mlp_backward, data, a, i, seed=s, **kwargs)
            for a, i, s in jobs]


def epochs_in_band(watch: Watch, band: tuple[float, float] = BAND) -> int:
    """How many epochs, from the start, every layer's gradient norm stays inside ``band``
    (``epochs + 1`` if it never leaves; 0 if it starts outside)."""
    low, high = band
    inside = np.all((watch.grad_norms >= low) & (watch.grad_norms <= high), axis=1)
    return int(np.argmin(inside)) if not inside.all() else len(inside)


def trapped_at(watch: Watch) -> int | None:
    """The first epoch from which, to the end, every layer's gradient is inf, nan or exactly
    0: gradient descent can no longer move the weights anywhere useful (None: never)."""
    g = watch.grad_norms
    stuck = np.all(~np.isfinite(g) | (g == 0), axis=1)
    if not stuck[-1]:
        return None
    free = np.flatnonzero(~stuck)
    return int(free[-1] + 1) if free.size else 0


def saturation(watch: Watch, epoch: int) -> float:
    r"""The fraction of the snapshot's activations where a sigmoid or tanh unit is saturated:
    its derivative, read off the activation, below 2% of its largest value.

        tanh:    1 - a^2 < 0.02          (|a| > 0.99)
        sigmoid: a (1 - a) < 0.02 / 4    (a < 0.005 or a > 0.995)
    """
    a = watch.snapshots[epoch]
    if watch.activation == "tanh":
        return float(np.mean(1 - a * a < 0.02))
    if watch.activation == "sigmoid":
        return float(np.mean(a * (1 - a) < 0.005))
    raise ValueError(f"saturation: defined for sigmoid and tanh, not {watch.activation!r}.")


def by_config(watches: Iterable[Watch]) -> dict[tuple[str, str], list[Watch]]:
    """The runs grouped by (activation, init), seeds in order, groups in first-seen order."""
    groups: dict[tuple[str, str], list[Watch]] = {}
    for w in watches:
        groups.setdefault((w.activation, w.init), []).append(w)
    return groups
