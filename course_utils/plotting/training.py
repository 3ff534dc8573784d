r"""Figures of 03_swish_mish: learning curves, accuracy against depth, learned parameters.

Every function takes the ``Run`` list of ``course_utils.training.run_grid`` (or a plain
mapping for the memory bar chart), draws on ``ax`` (a new figure when None), gives the axes
a title, labels and a legend, and returns the figure. Spread over seeds is drawn as a band
or error bar from the minimum to the maximum, around the mean.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_learning_curves", "plot_final_accuracy", "plot_learned_parameters",
           "plot_accuracy_vs_depth", "plot_depth_by_setup", "plot_saved_bytes"]


def _axes(ax, ncols=1, width=6.0):
    if ax is not None:
        return (ax.figure, ax)
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, 4.0))
    return fig, axes


def _by_activation(runs) -> dict[str, list]:
    groups: dict[str, list] = {}
    for run in runs:
        groups.setdefault(run.activation, []).append(run)
    return groups


def plot_learning_curves(runs: Iterable, axes: Sequence | None = None):
    r"""Training loss and test accuracy per epoch, mean over seeds with a min-max band.

    Parameters
    ----------
    runs : iterable of Run (one depth)
    axes : two matplotlib Axes, or None for a new figure with two panels

    Returns
    -------
    matplotlib Figure
    """
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.0))
    else:
        fig = axes[0].figure
    groups = _by_activation(runs)
    for (metric, title, label), ax in zip(
            [("train_loss", "Training loss", "cross-entropy (train)"),
             ("test_accuracy", "Test accuracy", "accuracy (test)")], axes, strict=True):
        for name, group in groups.items():
            curves = np.stack([getattr(r, metric) for r in group])
            epochs = np.arange(1, curves.shape[1] + 1)
            line, = ax.plot(epochs, curves.mean(axis=0), label=f"{name} ({len(group)} seeds)")
            ax.fill_between(epochs, curves.min(axis=0), curves.max(axis=0),
                            color=line.get_color(), alpha=0.2)
        ax.set_title(f"{title} per epoch (mean, band = min..max over seeds)")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[1].legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


def plot_final_accuracy(runs: Iterable, ax=None):
    r"""Final test accuracy per activation: each seed as a dot, the mean as a bar, min..max.

    Returns
    -------
    matplotlib Figure
    """
    fig, ax = _axes(ax, width=7.5)
    groups = _by_activation(runs)
    for i, (name, group) in enumerate(groups.items()):
        finals = np.array([r.final_accuracy for r in group])
        ax.errorbar([i], [finals.mean()], yerr=[[finals.mean() - finals.min()],
                                                [finals.max() - finals.mean()]],
                    fmt="o", capsize=6, markersize=8, label=f"{name}: {finals.mean():.3f}")
        ax.scatter(np.full(len(finals), i + 0.15), finals, s=12, color="grey", zorder=3)
    ax.set_xticks(range(len(groups)), list(groups), rotation=20)
    ax.set_title("Final test accuracy (mean, bars = min..max, grey = seeds)")
    ax.set_xlabel("activation")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    return fig


def plot_learned_parameters(runs: Iterable, ax=None, *, initial: Mapping[str, float] | None = None):
    r"""Learned activation parameter per hidden layer (Swish beta, PReLU slope), per seed.

    Parameters
    ----------
    runs : iterable of Run; runs whose ``learned`` list is empty are skipped
    initial : activation name -> starting value, drawn as a dotted line

    Returns
    -------
    matplotlib Figure
    """
    fig, ax = _axes(ax)
    for name, group in _by_activation(runs).items():
        values = [r.learned for r in group if r.learned]
        if not values:
            continue
        values = np.array(values)
        layers = np.arange(1, values.shape[1] + 1)
        line, = ax.plot(layers, values.mean(axis=0), marker="o", label=f"{name} (mean)")
        for row in values:
            ax.scatter(layers, row, s=14, color=line.get_color(), alpha=0.5)
        if initial and name in initial:
            ax.axhline(initial[name], color=line.get_color(), linestyle=":",
                       label=f"{name}: initial value {initial[name]:g}")
    ax.set_title("Learned activation parameter per layer (dots = seeds)")
    ax.set_xlabel("hidden layer (1 = closest to the input)")
    ax.set_ylabel("learned value")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_accuracy_vs_depth(runs: Iterable, ax=None):
    r"""Final test accuracy against the number of hidden layers, mean with a min..max band.

    Returns
    -------
    matplotlib Figure
    """
    fig, ax = _axes(ax)
    runs = list(runs)
    ax.set_xticks(sorted({r.depth for r in runs}))
    for name, group in _by_activation(runs).items():
        depths = sorted({r.depth for r in group})
        finals = [np.array([r.final_accuracy for r in group if r.depth == d]) for d in depths]
        mean = np.array([f.mean() for f in finals])
        line, = ax.plot(depths, mean, marker="o", label=name)
        ax.fill_between(depths, [f.min() for f in finals], [f.max() for f in finals],
                        color=line.get_color(), alpha=0.2)
    ax.axhline(0.1, color="grey", linestyle=":", label="chance (10 classes)")
    ax.set_title("Test accuracy against depth (mean, band = min..max over seeds)")
    ax.set_xlabel("number of hidden layers")
    ax.set_ylabel("final test accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_depth_by_setup(runs: Iterable, setups: Sequence[str] | None = None):
    r"""Accuracy against depth, one panel per setup (initialisation, normalisation).

    Each panel is :func:`plot_accuracy_vs_depth` of the runs of one setup, on shared axes,
    so that the learner compares the same unit at the same depth across panels.

    Parameters
    ----------
    runs : iterable of Run
    setups : the setups to draw, in order; default: every setup of ``runs``, as they come

    Returns
    -------
    matplotlib Figure
    """
    runs = list(runs)
    if setups is None:
        setups = list(dict.fromkeys(r.setup for r in runs))
    fig, axes = plt.subplots(1, len(setups), figsize=(4.5 * len(setups), 4.0), sharex=True,
                             sharey=True, squeeze=False)
    for setup, ax in zip(setups, axes[0], strict=True):
        plot_accuracy_vs_depth([r for r in runs if r.setup == setup], ax=ax)
        ax.set_title(f"{setup}: accuracy against depth", fontsize="medium")
        if ax is not axes[0][0]:
            ax.set_ylabel("")
            ax.get_legend().remove()
    axes[0][0].set_xticks(sorted({r.depth for r in runs if r.setup in setups}))
    fig.suptitle("Final test accuracy (mean, band = min..max over seeds)")
    fig.tight_layout()
    return fig


def plot_saved_bytes(saved: Mapping[str, int], ax=None, *, input_bytes: int | None = None):
    r"""Bytes saved for backward by each implementation, as horizontal bars.

    Parameters
    ----------
    saved : label -> bytes saved for backward
    input_bytes : the input's size, drawn as a dashed line (saving only the input)

    Returns
    -------
    matplotlib Figure
    """
    fig, ax = _axes(ax)
    labels = list(saved)
    ax.barh(labels, [saved[k] / 1024 for k in labels], color="tab:blue",
            label="saved for backward")
    if input_bytes is not None:
        ax.axvline(input_bytes / 1024, color="black", linestyle="--", label="size of the input")
    ax.invert_yaxis()
    ax.set_title("Memory kept alive for backward")
    ax.set_xlabel("KiB saved for backward")
    ax.set_ylabel("implementation")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig
