"""Claims of 05_beyond_the_note, decided from the notebook's own results.

The training experiments (2.7, 3.2) are chaotic in the last bits of floating point, so
their claims carry the ranges the prose can promise on any CPU, not the digits of one run.
"""

from __future__ import annotations

import numpy as np

from claims import Claim, holds, within

NOTEBOOK = "05_beyond_the_note"
RESULTS = ["z", "gaps", "best_gate", "best_gelu", "gate_gap", "gelu_gap", "tanh_vs_torch",
           "stats", "deep", "zz", "second", "grid"]

SETUPS = ("SELU, LeCun", "ReLU, He", "tanh, Xavier")
SMOOTH = ("Swish", "Mish", "GELU")


def gap(nb, form):
    return float(nb["gaps"][form].max())


def where(nb, form):
    """|z| of the largest gap (the gaps are even in z: gelu(-z) = gelu(z) - z, and so are
    the forms')."""
    return abs(float(nb["z"][int(np.argmax(nb["gaps"][form]))]))


def layer50(nb, setup):
    means, variances = nb["stats"][setup]
    return means[:, -1], variances[:, -1]


def deep(nb, setup, field):
    runs = [r for r in nb["deep"] if r.setup == setup]
    assert len(runs) == 3, (setup, len(runs))
    if field == "accuracy":
        return np.array([r.accuracy for r in runs])
    which, stat, layer = field  # ("after", 1, -1): the variance of the last layer after training
    return np.array([getattr(r, which)[stat, layer] for r in runs])


def selu_before(nb):
    return np.concatenate([r.before[1] for r in nb["deep"] if r.setup == "SELU, LeCun"])


def second_max(nb, unit):
    return float(nb["second"][unit].max())


def kink_ratio(nb):
    return nb["grid"]["kinks"]["ReLU"].min() / max(nb["grid"]["kinks"][u].max() for u in SMOOTH)


def curvatures(nb, units):
    return np.concatenate([nb["grid"]["curvature"][u] for u in units])


def relu_curvature_highest(nb):
    means = {u: nb["grid"]["curvature"][u].mean() for u in nb["grid"]["curvature"]}
    holds(max(means, key=means.get) == "ReLU", f"mean curvatures {means}")


CLAIMS = [
    # 1.4 GELU's forms
    Claim("c024", "The Swish form $z\\,\\sigma(1.702\\,z)$ is off by up to about 0.02 "
                  "(near $z = \\pm 2.3$)",
          lambda nb: (within(gap(nb, "z sigmoid(1.702 z)"), 0.019, 0.021),
                      within(where(nb, "z sigmoid(1.702 z)"), 2.2, 2.4))),
    Claim("c024", "the tanh form by about $5 \\times 10^{-4}$ (near $z = \\pm 2.7$): forty "
                  "times closer",
          lambda nb: (within(gap(nb, "gelu_tanh (yours)"), 4.5e-4, 5e-4),
                      within(where(nb, "gelu_tanh (yours)"), 2.6, 2.8),
                      within(gap(nb, "z sigmoid(1.702 z)") / gap(nb, "gelu_tanh (yours)"),
                             35, 50))),
    Claim("c024", "it agrees with yours to rounding, below $10^{-12}$), so it sits at the same "
                  "$5 \\times 10^{-4}$",
          lambda nb: (within(nb["tanh_vs_torch"], 0, 1e-12),
                      within(gap(nb, 'F.gelu(approximate="tanh")'), 4.5e-4, 5e-4))),
    Claim("c024", "while its exact mode agrees with your `gelu` to rounding",
          lambda nb: within(gap(nb, "F.gelu (exact)"), 0, 1e-12)),
    Claim("c024", "The 1.702 is the best $\\beta$ for the gate: it minimises "
                  "$\\max_z |\\sigma(\\beta z) - \\Phi(z)|$ (about 0.0095)",
          lambda nb: (within(nb["best_gate"], 1.70, 1.705),
                      within(min(nb["gate_gap"]), 0.0090, 0.0100))),
    Claim("c024", "For GELU itself the best $\\beta$ is larger, about 1.77, and cuts the largest "
                  "gap to about 0.014",
          lambda nb: (within(nb["best_gelu"], 1.75, 1.79),
                      within(min(nb["gelu_gap"]), 0.0135, 0.0145))),
    Claim("c024", "they sit at $|z| \\approx 2$, not near 0",
          lambda nb: within(where(nb, "z sigmoid(1.702 z)"), 1.5, 2.5)),
    # 2.6 Self-normalisation at initialisation
    Claim("c052", "after 50 layers the mean is within 0.02 of 0 and the variance within 0.05 "
                  "of 1, for every seed",
          lambda nb: (within(np.abs(layer50(nb, "SELU, LeCun")[0]), 0, 0.02),
                      within(np.abs(layer50(nb, "SELU, LeCun")[1] - 1), 0, 0.05))),
    Claim("c052", "Nothing else does.",
          lambda nb: [holds(np.any(np.abs(m) > 0.02) or np.any(np.abs(v - 1) > 0.05), name)
                      for name, (m, v) in ((n, layer50(nb, n)) for n in nb["stats"])
                      if name not in ("SELU, LeCun", "SELU, LeCun, alpha-dropout 0.1")]),
    Claim("c052", "(mean about 0.4 to 0.5, variance about 0.4)",
          lambda nb: (within(layer50(nb, "ReLU, He")[0], 0.35, 0.55),
                      within(layer50(nb, "ReLU, He")[1], 0.3, 0.5))),
    Claim("c052", "(variance about 0.01 at layer 50)",
          lambda nb: within(layer50(nb, "tanh, Xavier")[1], 0.005, 0.015)),
    Claim("c052", "(variance in the hundreds by layer 50)",
          lambda nb: within(layer50(nb, "SELU, He")[1], 100, 5000)),
    Claim("c052", "(variance about 1.5, the mean drifting above 0)",
          lambda nb: (within(layer50(nb, "SELU, LeCun, dropout 0.1")[1], 1.4, 1.7),
                      within(layer50(nb, "SELU, LeCun, dropout 0.1")[0], 0.01, 0.2))),
    Claim("c052", "while alpha-dropout keeps mean 0 and variance 1",
          lambda nb: (within(np.abs(layer50(nb, "SELU, LeCun, alpha-dropout 0.1")[0]), 0, 0.02),
                      within(np.abs(layer50(nb, "SELU, LeCun, alpha-dropout 0.1")[1] - 1),
                             0, 0.05))),
    # 2.7 ... and in training
    Claim("c055", "Before training every SELU layer has variance near 1 (0.8 to 1.2)",
          lambda nb: within(selu_before(nb), 0.75, 1.25)),
    Claim("c055", "After training SELU's last layer has variance of about 6 to 9 and a mean of "
                  "0.5 to 1",
          lambda nb: (within(deep(nb, "SELU, LeCun", ("after", 1, -1)), 4, 12),
                      within(deep(nb, "SELU, LeCun", ("after", 0, -1)), 0.3, 1.3))),
    Claim("c055", "ReLU's last layer drifted much further (variance about 30 to 130)",
          lambda nb: (within(deep(nb, "ReLU, He", ("after", 1, -1)), 15, 300),
                      holds(deep(nb, "ReLU, He", ("after", 1, -1)).min()
                            > deep(nb, "SELU, LeCun", ("after", 1, -1)).max(), "further"))),
    Claim("c055", "tanh's stays below 1 (about 0.55)",
          lambda nb: within(deep(nb, "tanh, Xavier", ("after", 1, -1)), 0.4, 0.7)),
    Claim("c055", "All three reach a test accuracy between 0.88 and 0.96 in 30 steps",
          lambda nb: [within(deep(nb, s, "accuracy"), 0.85, 0.98, s) for s in SETUPS]),
    # 3.1 Second derivatives
    Claim("c062", "about 0.5 for Swish, 0.64 for Mish and 0.80 for GELU ($2\\varphi(0)$)",
          lambda nb: (within(second_max(nb, "Swish"), 0.495, 0.505),
                      within(second_max(nb, "Mish"), 0.635, 0.65),
                      within(second_max(nb, "GELU"), 0.795, 0.8))),
    Claim("c062", "largest near 0",
          lambda nb: [within(nb["zz"][int(np.argmax(nb["second"][u]))], -0.2, 0.2, u)
                      for u in SMOOTH]),
    # 3.2 Loss-landscape slices
    Claim("c065", "ReLU's kink score is between about 3 and 30",
          lambda nb: within(nb["grid"]["kinks"]["ReLU"], 1.5, 60)),
    Claim("c065", "the smooth units' below 0.005, more than a thousand times smaller",
          lambda nb: ([within(nb["grid"]["kinks"][u], 0, 0.005, u) for u in SMOOTH],
                      within(kink_ratio(nb), 300, np.inf))),
    Claim("c065", "the curvatures at the minimum are of one size (between 0.4 and 0.95 for "
                  "every unit)",
          lambda nb: within(curvatures(nb, ("ReLU", *SMOOTH)), 0.35, 1.0)),
    Claim("c065", "ReLU's somewhat higher on average (about 0.8, against about 0.55 to 0.65 for "
                  "the smooth units)",
          lambda nb: (relu_curvature_highest(nb),
                      within(nb["grid"]["curvature"]["ReLU"].mean(), 0.7, 0.95),
                      [within(nb["grid"]["curvature"][u].mean(), 0.45, 0.75, u) for u in SMOOTH])),
    Claim("c065", "All twelve networks reach a test accuracy between 0.94 and 0.97",
          lambda nb: within(np.concatenate(list(nb["grid"]["accuracy"].values())), 0.93, 0.975)),
    # Summary and the model answer repeat the figures above.
    Claim("c080", "its tanh form is within about $5 \\times 10^{-4}$ of it, the Swish form "
                  "$z\\,\\sigma(1.702 z)$ within about 0.02",
          lambda nb: (within(gap(nb, "gelu_tanh (yours)"), 4.5e-4, 5e-4),
                      within(gap(nb, "z sigmoid(1.702 z)"), 0.019, 0.021))),
    Claim("c080", "and 1.702 is the best $\\beta$ for the gate, not for GELU itself",
          lambda nb: (within(nb["best_gate"], 1.70, 1.705), within(nb["best_gelu"], 1.75, 1.79))),
    Claim("c080", "keeps mean 0 and variance 1 through 50 layers at initialisation",
          lambda nb: within(np.abs(layer50(nb, "SELU, LeCun")[1] - 1), 0, 0.05)),
    Claim("smoothness_answer", "(at most 0.5, 0.64 and 0.80, largest near 0)",
          lambda nb: within([second_max(nb, u) for u in SMOOTH], 0.49, 0.8)),
    Claim("smoothness_answer", "their kink score is below 0.005 against 3 to 30 for ReLU",
          lambda nb: ([within(nb["grid"]["kinks"][u], 0, 0.005, u) for u in SMOOTH],
                      within(nb["grid"]["kinks"]["ReLU"], 1.5, 60))),
    Claim("smoothness_answer", "the curvatures at the minimum are of one size (0.4 to 0.95; "
                               "ReLU's somewhat higher on average)",
          lambda nb: (within(curvatures(nb, ("ReLU", *SMOOTH)), 0.35, 1.0),
                      relu_curvature_highest(nb))),
    Claim("c066", "by a factor of about 1.3 and within the range one unit's seeds span",
          lambda nb: (within(nb["grid"]["curvature"]["ReLU"].mean()
                             / np.mean(curvatures(nb, SMOOTH)), 1.1, 1.6),
                      holds(curvatures(nb, ["ReLU"]).mean() - np.mean(curvatures(nb, SMOOTH))
                            < max(np.ptp(nb["grid"]["curvature"][u]) for u in ("ReLU", *SMOOTH)),
                            "the difference exceeds every unit's seed range"))),
    Claim("c055", "ReLU the lowest (0.88 to 0.92)",
          lambda nb: (within(deep(nb, "ReLU, He", "accuracy"), 0.85, 0.94),
                      holds(deep(nb, "ReLU, He", "accuracy").mean()
                            < min(deep(nb, s, "accuracy").mean() for s in SETUPS[::2]),
                            "ReLU not the lowest"))),
    Claim("c055", "tanh, whose activations are far from normalised, does as well as SELU",
          lambda nb: within(abs(deep(nb, "tanh, Xavier", "accuracy").mean()
                                - deep(nb, "SELU, LeCun", "accuracy").mean()), 0, 0.02)),
]
