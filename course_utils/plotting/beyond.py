"""Figures of 05_beyond_the_note: GELU and its approximations, SELU's layer statistics,
second derivatives and loss-landscape slices. Each function returns the matplotlib Figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_gelu_forms", "plot_layer_statistics", "plot_deep_statistics",
           "plot_second_derivatives", "plot_landscapes"]

COLORS = {"ReLU": "tab:blue", "Swish": "tab:orange", "Mish": "tab:green", "GELU": "tab:red"}


def plot_gelu_forms(z: np.ndarray, forms: Mapping[str, np.ndarray], exact: str = "gelu"):
    r"""Left: the forms of GELU on ``z``; right: |form - exact| on a log scale.

    ``forms`` maps a label to its values on z; ``exact`` is the label of the exact GELU.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for label, values in forms.items():
        left.plot(z, values, label=label, lw=2 if label == exact else 1.2,
                  ls="-" if label == exact else "--")
        if label != exact:
            gap = np.abs(np.asarray(values, dtype=np.float64) - forms[exact])
            right.semilogy(z, np.maximum(gap, 1e-18), label=label)
    left.set(xlabel="z", ylabel="value", title="GELU and its approximations")
    left.legend(fontsize=8)
    right.set(xlabel="z", ylabel=f"|form - {exact}|", title="distance from the exact GELU",
              ylim=(1e-18, 1))
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _band(ax, values: np.ndarray, label: str, color=None):
    """Median over seeds as a line, min..max as a band; x is the layer (1-based)."""
    layers = np.arange(1, values.shape[1] + 1)
    line, = ax.plot(layers, np.median(values, axis=0), label=label, color=color)
    ax.fill_between(layers, values.min(axis=0), values.max(axis=0), alpha=0.25,
                    color=line.get_color())


def plot_layer_statistics(stats: Mapping[str, tuple[np.ndarray, np.ndarray]]):
    r"""Mean (left) and variance (right, log scale) of each layer's activations against
    depth, one line per setup (the median over seeds, the band min..max)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.9))
    for name, (means, variances) in stats.items():
        _band(left, means, name)
        _band(right, variances, name)
    left.axhline(0.0, color="k", lw=0.8)
    right.axhline(1.0, color="k", lw=0.8)
    left.set(xlabel="layer", ylabel="mean of the activations", title="mean at initialisation")
    right.set(xlabel="layer", ylabel="variance of the activations", yscale="log",
              title="variance at initialisation")
    right.legend(fontsize=8, loc="lower left")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_deep_statistics(runs: Sequence):
    r"""Mean and variance of each hidden layer's activations on the test set, before
    (dashed) and after (solid) training, one colour per setup, median and band over seeds;
    the legend gives each setup's final accuracy (range over seeds)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.9))
    setups = list(dict.fromkeys(r.setup for r in runs))
    for k, setup in enumerate(setups):
        mine = [r for r in runs if r.setup == setup]
        color = f"C{k}"
        acc = np.array([r.accuracy for r in mine])
        for which, style in (("before", "--"), ("after", "-")):
            stack = np.stack([getattr(r, which) for r in mine])        # (seeds, 2, depth)
            for i, ax in enumerate(axes):
                layers = np.arange(1, stack.shape[2] + 1)
                label = (f"{setup} (accuracy {acc.min():.2f}-{acc.max():.2f})"
                         if which == "after" and i == 1 else None)
                ax.plot(layers, np.median(stack[:, i], axis=0), style, color=color,
                        label=label)
                ax.fill_between(layers, stack[:, i].min(axis=0), stack[:, i].max(axis=0),
                                color=color, alpha=0.15)
    axes[0].set(xlabel="hidden layer", ylabel="mean", title="mean (dashed: before training)")
    axes[1].set(xlabel="hidden layer", ylabel="variance", yscale="log",
                title="variance (dashed: before training)")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_second_derivatives(z: np.ndarray, second: Mapping[str, np.ndarray]):
    r"""Each unit's second derivative on z; ReLU's is 0 away from 0, with its corner
    marked at z = 0 (an infinite spike: the first derivative jumps by 1 there)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for name, values in second.items():
        if name == "ReLU":
            ax.plot(z[z < 0], np.zeros((z < 0).sum()), color=COLORS[name], label=name)
            ax.plot(z[z > 0], np.zeros((z > 0).sum()), color=COLORS[name])
            ax.annotate("", xy=(0, 1.0), xytext=(0, 0),
                        arrowprops={"arrowstyle": "->", "color": COLORS[name], "lw": 2})
            continue
        ax.plot(z, values, color=COLORS.get(name), label=name)
    ax.set(xlabel="z", ylabel="second derivative", ylim=(-0.35, 1.05),
           title="second derivatives (ReLU: 0, and a corner at 0)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_landscapes(grid: Mapping):
    r"""Top: each unit's 1-D loss slices (one line per seed); bottom: the 2-D slice of
    seed 0 as contours. ``grid`` is ``landscape.landscape_grid``'s result."""
    units = list(grid["plane"])
    fig, axes = plt.subplots(2, len(units), figsize=(3.2 * len(units), 6.2))
    for col, unit in enumerate(units):
        top, bottom = axes[0][col], axes[1][col]
        for (name, _seed), (alphas, losses) in grid["slice"].items():
            if name == unit:
                top.plot(alphas, losses, color=COLORS.get(unit), alpha=0.8)
        top.set(title=unit, xlabel="alpha", yscale="log")
        alphas, plane = grid["plane"][unit]
        levels = np.quantile(plane, np.linspace(0.02, 0.98, 12))
        bottom.contour(alphas, alphas, plane.T, levels=np.unique(levels), cmap="viridis")
        bottom.set(xlabel="alpha (direction 1)", ylabel="alpha (direction 2)")
        bottom.plot(0, 0, "k+")
    axes[0][0].set_ylabel("training loss")
    fig.tight_layout()
    return fig
