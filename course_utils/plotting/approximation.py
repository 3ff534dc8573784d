"""Figures of 01_nonlinearity: the collapse of a linear stack, and sup error against width."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from course_utils.approximation import POLY_DEGREE, SweepResult, forward_stack

__all__ = ["plot_collapse", "plot_fits", "plot_width_sweep"]

_STYLE = {
    "sigmoid": ("tab:blue", "o"),
    "tanh": ("tab:orange", "s"),
    "ReLU": ("tab:green", "^"),
    "z²": ("tab:red", "v"),
    "z³": ("tab:purple", "D"),
}


def plot_collapse(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], A: np.ndarray,
                  b: np.ndarray, sigma: Callable | None = np.tanh, sigma_name: str = "tanh",
                  x_range: tuple[float, float] = (-3.0, 3.0)):
    """Left: a deep stack (1 input, 1 output) without activation and its collapsed map
    ``A x + b``. Right (if ``sigma``): the same layers with ``sigma`` between them, and the
    best straight line through that curve (least squares), which cannot follow it.

    Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    x = np.linspace(*x_range, 400)[:, None]
    panels = 1 if sigma is None else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.8), squeeze=False)
    ax = axes[0][0]
    ax.plot(x[:, 0], forward_stack(x, weights, biases)[:, 0], lw=5, alpha=0.4,
            color="tab:blue", label=f"{len(weights)} linear layers, no activation")
    ax.plot(x[:, 0], (x @ A.T + b)[:, 0], "--", color="black", label="collapsed: A x + b")
    ax.set_title("Without activation: one affine map")
    ax.set_xlabel("input x")
    ax.set_ylabel("network output")
    ax.legend()
    if sigma is not None:
        ax = axes[0][1]
        y = forward_stack(x, weights, biases, sigma)[:, 0]
        line = np.polyval(np.polyfit(x[:, 0], y, 1), x[:, 0])
        ax.plot(x[:, 0], y, color="tab:red", label=f"the same layers, {sigma_name} between")
        ax.plot(x[:, 0], line, "--", color="black", label="best affine fit (least squares)")
        ax.set_title(f"With {sigma_name}: no affine map fits")
        ax.set_xlabel("input x")
        ax.set_ylabel("network output")
        ax.legend()
    fig.tight_layout()
    return fig


def plot_fits(x: np.ndarray, target: np.ndarray, fits: dict[str, np.ndarray], *,
              target_name: str = "target", width: int | None = None):
    """The target and each network's prediction on the grid x (N,) or (N, 1), one axis.

    ``fits`` maps a label (the activation) to the predictions on x. Returns the Figure.
    """
    import matplotlib.pyplot as plt

    x = np.ravel(x)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(x, target, color="black", lw=3, alpha=0.35, label=f"target {target_name}")
    for label, prediction in fits.items():
        color = _STYLE.get(label, (None, None))[0]
        ax.plot(x, np.ravel(prediction), color=color, label=f"network, σ = {label}")
    suffix = "" if width is None else f" of width {width}"
    ax.set_title(f"Least-squares fits of one-hidden-layer networks{suffix}")
    ax.set_xlabel("x")
    ax.set_ylabel("value")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_width_sweep(result: SweepResult, *, show_baselines: bool = True):
    """Sup error against width, log-log, one panel per target.

    Each activation: the median over seeds (line and markers) and the min-max range over
    seeds (shaded). Dashed horizontal lines: the sup error of the direct least-squares
    polynomial of degree 2 and 3 on the same fit grid, where the z² and z³ curves must
    land. Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    targets = list(dict.fromkeys(t for t, _ in result.errors))
    fig, axes = plt.subplots(1, len(targets), figsize=(6.0 * len(targets), 4.6), sharex=True,
                             squeeze=False)
    widths = np.asarray(result.widths)
    for ax, target in zip(axes[0], targets, strict=True):
        for (t, act), err in result.errors.items():
            if t != target:
                continue
            color, marker = _STYLE.get(act, (None, "o"))
            ax.plot(widths, np.median(err, axis=1), marker=marker, ms=4, color=color,
                    label=f"σ = {act}")
            ax.fill_between(widths, err.min(axis=1), err.max(axis=1), color=color, alpha=0.2,
                            lw=0)
        if show_baselines:
            for degree, style in zip(sorted(set(POLY_DEGREE.values())), ("--", ":"),
                                     strict=False):
                level = result.baselines[(target, degree)]
                ax.axhline(level, color="black", ls=style, lw=1,
                           label=f"least-squares polynomial, degree {degree}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(f"target {target} on [-π, π]")
        ax.set_xlabel("hidden width m")
        ax.set_ylabel("sup error on the evaluation grid")
        ax.grid(True, which="major", alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="lower left")
    fig.suptitle(f"Random-feature networks, least-squares output layer "
                 f"(median and range over {len(result.seeds)} seeds)")
    fig.tight_layout()
    return fig
