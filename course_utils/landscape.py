r"""Testing the note's smoothness claim (05_beyond_the_note): loss-landscape slices of small
trained networks with ReLU, Swish, Mish and GELU.

The note says a smooth unit "produces smooth outputs and in turn smooth loss landscape,
which makes it easier to optimize". Two scales are measured, along directions drawn at
random and *filter-normalised* (Li et al. 2018: each row of a weight matrix, one unit's
incoming weights, is scaled to the norm of that row of the trained weights; biases are not
moved), so that slices of different networks are comparable:

* the scale an optimiser moves at (alpha up to 1, Li et al.'s plots): ``slice_1d`` and
  ``slice_2d``, and ``curvature`` (the second difference at the minimum) of the 1-D slice;
* far below it (a window of 1e-3 with a step of 1e-5, float64): ``kinks``, how spiky the
  second-difference quotient (L(a+h) - 2 L(a) + L(a-h)) / h**2 is. A smooth loss gives a
  smooth quotient; each unit whose pre-activation crosses a ReLU's corner adds a jump in
  L' and a spike of size jump / h in the quotient.

Shapes: x (N, d) float64 inside, y (N,); a direction is one tensor per parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["UNITS", "Trained", "train_small", "direction", "losses_at", "slice_1d",
           "slice_2d", "curvature", "kinks", "landscape_grid", "second_derivatives"]


def _units() -> dict[str, Callable]:
    from torch import nn

    return {"ReLU": nn.ReLU, "Swish": nn.SiLU, "Mish": nn.Mish, "GELU": nn.GELU}


UNITS = ("ReLU", "Swish", "Mish", "GELU")


@dataclass
class Trained:
    """A small network trained on the digits: its unit, seed, model and test accuracy."""

    unit: str
    seed: int
    model: object
    accuracy: float


def train_small(data, *, units: Iterable[str] = UNITS, seeds: Iterable[int] = (0, 1, 2),
                width: int = 32, depth: int = 2, epochs: int = 40,
                progress: bool = True) -> list[Trained]:
    r"""One MLP per (unit, seed), trained full-batch with Adam (``training.train``), in
    float64 afterwards (the slices need its precision)."""
    import torch

    from course_utils.training import make_mlp, one_thread, train

    factories = _units()
    jobs = [(u, s) for u in units for s in seeds]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc="training small networks", unit="run")
    out = []
    with torch.random.fork_rng(), one_thread():
        for unit, seed in jobs:
            torch.manual_seed(seed)
            model = make_mlp(data.n_features, data.n_classes, width=width, depth=depth,
                             activation=factories[unit])
            _, accuracy = train(model, data, epochs=epochs, seed=seed)
            out.append(Trained(unit, seed, model.double().eval(), float(accuracy[-1])))
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.close()
    return out


def direction(model, seed: int) -> list:
    r"""A random direction, filter-normalised: d ~ N(0, 1) per parameter, each row of a
    weight matrix scaled to the norm of the same row of the weights; 0 for biases."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    out = []
    for p in model.parameters():
        d = torch.randn(p.shape, generator=generator, dtype=p.dtype)
        if p.dim() < 2:
            out.append(torch.zeros_like(p))
            continue
        d = d * (p.detach().norm(dim=1, keepdim=True) / d.norm(dim=1, keepdim=True))
        out.append(d)
    return out


def losses_at(model, directions: list[list], coefficients: np.ndarray, data) -> np.ndarray:
    r"""Cross-entropy on the training set at theta* + sum_i c_i d_i, for every row c of
    ``coefficients`` (K, len(directions)) at once: the network's Linear layers are applied
    with a batch of K weight matrices (theta* itself is not changed)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    c = torch.as_tensor(np.atleast_2d(coefficients), dtype=torch.float64)      # (K, n)
    h = torch.as_tensor(data.x_train, dtype=torch.float64).expand(len(c), -1, -1)
    y = torch.as_tensor(data.y_train)
    k = 0
    with torch.no_grad():
        for module in model:
            if isinstance(module, nn.Linear):
                w, b = module.weight, module.bias
                dw = sum(c[:, i, None, None] * d[k] for i, d in enumerate(directions))
                h = h @ (w + dw).transpose(1, 2) + b
                k += 2
            else:
                h = module(h)
        logits = h.reshape(-1, h.shape[-1])
        loss = F.cross_entropy(logits, y.repeat(len(c)), reduction="none")
    return loss.reshape(len(c), -1).mean(dim=1).numpy()


def slice_1d(model, data, *, seed: int = 0, span: float = 1.0, points: int = 31):
    r"""(alphas (points,), losses (points,)) along one filter-normalised direction."""
    alphas = np.linspace(-span, span, points)
    return alphas, losses_at(model, [direction(model, seed)], alphas[:, None], data)


def slice_2d(model, data, *, seed: int = 0, span: float = 1.0, points: int = 15):
    r"""(alphas (points,), losses (points, points)) on the plane of two directions;
    losses[i, j] is at alpha_i along the first and alpha_j along the second."""
    alphas = np.linspace(-span, span, points)
    grid = np.array([(a, b) for a in alphas for b in alphas])
    d = [direction(model, seed), direction(model, seed + 1000)]
    return alphas, losses_at(model, d, grid, data).reshape(points, points)


def curvature(alphas: np.ndarray, losses: np.ndarray) -> float:
    r"""The second difference quotient of a 1-D slice at its centre (alpha = 0)."""
    k, h = len(alphas) // 2, alphas[1] - alphas[0]
    return float((losses[k + 1] - 2 * losses[k] + losses[k - 1]) / h**2)


def kinks(model, data, *, seed: int = 0, window: float = 5e-4, step: float = 1e-5) -> float:
    r"""How spiky the second-difference quotient of the loss is, far below a training step.

    Along a filter-normalised direction, q(a) = (L(a+h) - 2 L(a) + L(a-h)) / h**2 for a in
    [-window, window] at step h. Returns max |q - median q| / (median |q| + 1e-12): near 0
    for a smooth loss (q barely changes over 1e-3), large where corners make spikes.
    """
    alphas = np.arange(-window - step, window + 2 * step, step)
    losses = losses_at(model, [direction(model, seed)], alphas[:, None], data)
    q = (losses[2:] - 2 * losses[1:-1] + losses[:-2]) / step**2
    centre = np.median(q)
    return float(np.max(np.abs(q - centre)) / (np.median(np.abs(q)) + 1e-12))


def landscape_grid(trained: list[Trained], data, *, progress: bool = True) -> dict:
    r"""For every trained network: its 1-D slice, curvature at the minimum and kink score;
    the 2-D slice for seed 0 of each unit.

    Returns
    -------
    {"slice": {(unit, seed): (alphas, losses)}, "curvature": {unit: ndarray (seeds,)},
     "kinks": {unit: ndarray (seeds,)}, "plane": {unit: (alphas, losses (n, n))},
     "accuracy": {unit: ndarray (seeds,)}}
    """
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(trained), desc="slicing loss landscapes", unit="network")
    out: dict = {"slice": {}, "curvature": {}, "kinks": {}, "plane": {}, "accuracy": {}}
    for run in trained:
        alphas, losses = slice_1d(run.model, data, seed=run.seed)
        out["slice"][(run.unit, run.seed)] = (alphas, losses)
        out["curvature"].setdefault(run.unit, []).append(curvature(alphas, losses))
        out["kinks"].setdefault(run.unit, []).append(kinks(run.model, data, seed=run.seed))
        out["accuracy"].setdefault(run.unit, []).append(run.accuracy)
        if run.unit not in out["plane"]:
            out["plane"][run.unit] = slice_2d(run.model, data, seed=run.seed)
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    for key in ("curvature", "kinks", "accuracy"):
        out[key] = {u: np.array(v) for u, v in out[key].items()}
    return out


def second_derivatives(grads: Mapping[str, Callable], z: np.ndarray) -> dict[str, np.ndarray]:
    r"""Each unit's second derivative on ``z`` (a fine, even grid), from its first
    derivative by central differences (``np.gradient``)."""
    return {name: np.gradient(np.asarray(grad(z), dtype=np.float64), z)
            for name, grad in grads.items()}
