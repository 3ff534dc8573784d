"""Figures of 04's watched training (``course_utils.gradient_watch``): gradient norms against
layer and epoch, and the distribution of every layer's activations.

Each function takes the ``Watch`` list of ``gradient_watch.watch_grid`` and returns the
matplotlib Figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_activation_violins", "plot_norms_during_training"]


def _find(watches, activation, init, seed):
    for w in watches:
        if (w.activation, w.init, w.seed) == (activation, init, seed):
            return w
    raise KeyError(f"no run for {activation}, {init}, seed {seed}")


def plot_norms_during_training(watches: Sequence, *, seed: int = 0,
                               band: tuple[float, float] = (1e-3, 1e3), limit: float = 6.0):
    r"""log10 ||dL/dW^(l)|| against epoch (x) and layer (y), one panel per (activation, init).

    Rows are activations and columns initialisations, in the order of ``watches``; the
    panel's title gives the run's final test accuracy. The colour scale runs from
    10^-limit (blue, vanished) through 1 (white) to 10^limit (red, exploded); black is inf
    or nan (training diverged). Dashed contours mark the edges of ``band``.

    Returns
    -------
    matplotlib Figure
    """
    activations = list(dict.fromkeys(w.activation for w in watches))
    inits = list(dict.fromkeys(w.init for w in watches))
    fig, axes = plt.subplots(len(activations), len(inits), sharex=True, sharey=True,
                             figsize=(3.4 * len(inits), 1.9 * len(activations) + 0.8),
                             squeeze=False)
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="black")
    image = None
    for row, act in enumerate(activations):
        for col, init in enumerate(inits):
            ax = axes[row][col]
            w = _find(watches, act, init, seed)
            with np.errstate(divide="ignore", invalid="ignore"):
                logs = np.log10(w.grad_norms.T)                       # (L, epochs + 1)
            shown = np.ma.masked_invalid(np.clip(logs, -limit, limit))
            depth, steps = logs.shape
            extent = (-0.5, steps - 0.5, depth + 0.5, 0.5)
            image = ax.imshow(shown, cmap=cmap, vmin=-limit, vmax=limit, aspect="auto",
                              extent=extent, interpolation="nearest")
            if np.isfinite(logs).any():
                ax.contour(np.arange(steps), np.arange(1, depth + 1),
                           np.where(np.isfinite(logs), logs, limit),
                           levels=np.log10(band), colors="k", linewidths=0.8,
                           linestyles="--")
            ax.set_title(f"{act}, {init}: accuracy {w.final_accuracy:.2f}", fontsize="small")
            if col == 0:
                ax.set_ylabel("layer")
            if row == len(activations) - 1:
                ax.set_xlabel("epoch")
    fig.suptitle(f"Gradient norm per layer during training (seed {seed}); black: inf or nan, "
                 f"dashed: the band {band[0]:g} .. {band[1]:g}", fontsize="medium")
    fig.tight_layout(rect=(0, 0, 0.92, 1))
    bar = fig.add_axes((0.93, 0.15, 0.015, 0.7))
    fig.colorbar(image, cax=bar, label="log10 ||dL/dW||")
    return fig


def plot_activation_violins(watches: Sequence, configs: Sequence[tuple[str, str]], *,
                            seed: int = 0):
    r"""The distribution of every hidden layer's activations, before and after training.

    One column per (activation, init) of ``configs``; top row at epoch 0, bottom row at the
    last epoch snapshotted. A violin per layer (layer 1 on the left), the y-axis cut at
    the 0.5% and 99.5% quantiles; a run whose activations are no longer finite says so
    instead.

    Returns
    -------
    matplotlib Figure
    """
    fig, axes = plt.subplots(2, len(configs), figsize=(3.6 * len(configs), 5.6), sharex=True,
                             squeeze=False)
    for col, (act, init) in enumerate(configs):
        w = _find(watches, act, init, seed)
        epochs = sorted(w.snapshots)
        for row, epoch in enumerate([epochs[0], epochs[-1]]):
            ax = axes[row][col]
            sample = w.snapshots[epoch]
            layers = np.arange(1, len(sample) + 1)
            if np.isfinite(sample).all():
                ax.violinplot(list(sample), positions=layers, showextrema=False,
                              showmedians=True)
                # A long tail (the ReLU family's few large values) would squash the body.
                low, high = np.quantile(sample, [0.005, 0.995])
                pad = 0.05 * (high - low) + 1e-12
                ax.set_ylim(low - pad, high + pad)
            else:
                ax.text(0.5, 0.5, "not finite:\ntraining diverged", ha="center",
                        va="center", transform=ax.transAxes)
            ax.set_title(f"{act}, {init}, epoch {epoch}", fontsize="small")
            ax.set_xticks(layers)
            ax.grid(alpha=0.3)
            if col == 0:
                ax.set_ylabel("activation a^(l)")
            if row == 1:
                ax.set_xlabel("layer")
    fig.suptitle(f"Activations of every hidden layer, before and after training (seed {seed})",
                 fontsize="medium")
    fig.tight_layout()
    return fig

