"""Figures of 04_numerical_stability: float limits, per-layer gradient norms, the remedies.

Every function draws into new axes and returns the matplotlib Figure; every panel has a
title, labelled axes and a legend. Log scales where the quantities span decades; values
that are 0, inf or nan are left out of a log plot and said so in the legend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = [
    "plot_clipping",
    "plot_layer_norms",
    "plot_loss_scaling",
    "plot_naive_vs_stable",
    "plot_remedies",
    "plot_singular_values",
]

_STYLES = {"N(0,1)": "C3", "Xavier": "C0", "He": "C2"}


def _layers(values) -> np.ndarray:
    return np.arange(1, len(values) + 1)


def _positive(values) -> np.ndarray:
    """Values for a log axis: 0, inf and nan become nan (not drawn)."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def plot_naive_vs_stable(z, curves: Mapping[str, np.ndarray], *, title: str,
                         ylabel: str, logy: bool = False):
    """Several formulas of one function against z, e.g. naive and stable softplus.

    ``curves`` maps a label to values on ``z``; non-finite values are drawn as gaps.
    """
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for (label, values), style in zip(curves.items(), ["-", "--", ":", "-."] * 4, strict=False):
        values = np.asarray(values, dtype=np.float64)
        shown = np.where(np.isfinite(values), values, np.nan)
        if logy:
            shown = _positive(shown)
        ax.plot(z, shown, style, lw=2, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set(title=title, xlabel="z", ylabel=ylabel)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_layer_norms(grid: Mapping[tuple[str, str], np.ndarray], *,
                     title: str = "Gradient norm per layer at initialisation"):
    """One panel per activation, one curve per initialisation: ||dL/dW^(l)|| against l."""
    activations = list(dict.fromkeys(act for act, _ in grid))
    fig, axes = plt.subplots(1, len(activations), figsize=(4.2 * len(activations), 3.6),
                             sharey=True, squeeze=False)
    for ax, act in zip(axes[0], activations, strict=False):
        for (a, init), norms in grid.items():
            if a != act:
                continue
            ax.semilogy(_layers(norms), _positive(norms), lw=2,
                        color=_STYLES.get(init), label=init)
        ax.set(title=f"{act}", xlabel="layer l (1 = next to the input)")
        ax.legend(title="initialisation")
    axes[0][0].set_ylabel(r"$\|\partial L / \partial W^{(l)}\|_F$")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_singular_values(svs: Mapping[str, np.ndarray], *,
                         title: str = "Singular values of the Jacobian product against depth"):
    """Largest (solid) and median (dashed) singular value of da^(l)/dx against depth l.

    ``svs`` maps a label to an array (depth, width) as ``jacobian_singular_values`` returns.
    """
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (label, values) in enumerate(svs.items()):
        values = np.asarray(values)
        layers = _layers(values)
        ax.semilogy(layers, _positive(values[:, 0]), "-", color=f"C{i}", lw=2,
                    label=f"{label}: largest")
        ax.semilogy(layers, _positive(np.median(values, axis=1)), "--", color=f"C{i}",
                    label=f"{label}: median")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set(title=title, xlabel="depth l", ylabel=r"singular value of $\partial a^{(l)}/\partial x$")
    ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    return fig


def plot_remedies(remedies: Mapping[str, Mapping[str, np.ndarray]], band: Sequence[float], *,
                  title: str = "The note's three remedies"):
    """One panel per remedy: per-layer norms before (dashed) and after (solid), the band shaded."""
    fig, axes = plt.subplots(1, len(remedies), figsize=(4.2 * len(remedies), 3.6),
                             sharey=True, squeeze=False)
    for ax, (name, curves) in zip(axes[0], remedies.items(), strict=False):
        ax.axhspan(band[0], band[1], color="0.9", label="band")
        ax.semilogy(_layers(curves["before"]), _positive(curves["before"]), "--", color="C3",
                    lw=2, label="before")
        ax.semilogy(_layers(curves["after"]), _positive(curves["after"]), "-", color="C2",
                    lw=2, label="after")
        ax.set(title=name, xlabel="layer l")
        ax.legend()
    axes[0][0].set_ylabel(r"$\|\partial L / \partial W^{(l)}\|_F$")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_clipping(before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray],
                  max_norm: float, *, title: str = "Gradient clipping by global norm"):
    """Per-layer norms of exploding networks before (dashed) and after (solid) clipping."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, label in enumerate(before):
        ax.semilogy(_layers(before[label]), _positive(before[label]), "--", color=f"C{i}",
                    label=f"{label}: raw")
        ax.semilogy(_layers(after[label]), _positive(after[label]), "-", color=f"C{i}", lw=2,
                    label=f"{label}: clipped")
    ax.axhline(max_norm, color="k", lw=0.8, label=f"max_norm = {max_norm:g}")
    ax.set(title=title, xlabel="layer l", ylabel=r"$\|\partial L / \partial W^{(l)}\|_F$")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_loss_scaling(scales, rel_error, zero_fraction, *,
                      title: str = "float16 gradients against the loss scale"):
    """Relative error of the float16 gradients (left) and fraction of zeros (right) against S.

    ``rel_error`` is inf where the gradients overflowed; those scales are marked with x.
    """
    scales = np.asarray(scales, dtype=np.float64)
    rel_error = np.asarray(rel_error, dtype=np.float64)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    finite = np.isfinite(rel_error)
    ax1.loglog(scales[finite], _positive(rel_error[finite]), "o-", label="median relative error")
    if (~finite).any():
        top = np.nanmax(_positive(rel_error)) if finite.any() else 1.0
        ax1.loglog(scales[~finite], np.full((~finite).sum(), top), "x", color="C3", ms=10,
                   label="overflow (inf/nan)")
    ax1.set(title=title, xlabel="loss scale S", ylabel="relative error vs float64")
    ax1.legend()
    ax2.semilogx(scales, zero_fraction, "s-", color="C1", label="entries that are 0")
    ax2.set(title="Underflow to zero", xlabel="loss scale S", ylabel="fraction of entries")
    ax2.legend()
    fig.tight_layout()
    return fig
