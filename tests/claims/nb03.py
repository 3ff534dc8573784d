"""Claims of 03_swish_mish, decided from the notebook's own results (3 seeds)."""

from __future__ import annotations

import numpy as np

from claims import Claim, holds, within

NOTEBOOK = "03_swish_mish"
RESULTS = ["saved", "x", "runs", "depth_runs", "deep_runs", "spread", "data"]


def final(runs, name, depth=None):
    return np.array([r.final_accuracy for r in runs
                     if r.activation == name and (depth is None or r.depth == depth)])


def learned(nb, name):
    return [r.learned for r in nb["runs"] if r.activation == name]


def saved(nb, label):
    return nb["saved"][label] - nb["x"].nbytes


def exp1_tie(nb):
    names = sorted({r.activation for r in nb["runs"]})
    means = [final(nb["runs"], n).mean() for n in names]
    widest = max(np.ptp(final(nb["runs"], n)) for n in names)
    within(max(means) - min(means), 0, 0.015, "span of the means")
    holds(max(means) - min(means) <= widest, f"means span {max(means) - min(means):.4f} > "
          f"widest seed spread {widest:.4f}")


def apart(low_runs, high_runs):
    """Every seed of ``high_runs`` above every seed of ``low_runs``."""
    holds(high_runs.min() > low_runs.max(), f"ranges overlap: {low_runs} vs {high_runs}")


def falls_with_depth(nb):
    for name in ("ReLU", "Swish", "Mish"):
        means = [final(nb["depth_runs"], name, d).mean() for d in (2, 5, 10, 15, 20)]
        holds(np.all(np.diff(means) < 0), f"{name}: means {np.round(means, 3)}")


def d(nb, name, depth):
    return final(nb["depth_runs"], name, depth)


def deep(nb, setup, name, depth):
    """Final accuracies over seeds of experiment 3 (``setup`` "He" or "LayerNorm")."""
    return np.array([r.final_accuracy for r in nb["deep_runs"]
                     if (r.setup, r.activation, r.depth) == (setup, name, depth)])


UNITS = ("ReLU", "Swish", "Mish")


def spreads(nb, setup, names=UNITS):
    return np.concatenate([nb["spread"][(setup, n, 20)] for n in names])


def he_order_at_20(nb):
    means = {n: deep(nb, "He", n, 20).mean() for n in UNITS}
    holds(means["Mish"] > means["Swish"] > means["ReLU"], f"means {means}")
    for name, about in (("Mish", 0.79), ("Swish", 0.66)):
        within(means[name], about - 0.05, about + 0.05, f"{name} mean")
    within(means["ReLU"], 0.35, 0.55, "ReLU mean")
    holds(deep(nb, "He", "ReLU", 20).max() < min(deep(nb, "He", n, 20).min()
                                                 for n in ("Swish", "Mish")), "ReLU's range")


def split_sizes(nb):
    data = nb["data"]
    return len(data.y_train), len(data.y_test)


CLAIMS = [
    Claim("2bbefcea", "a fixed split of 1347 for training and 450 for testing",
          lambda nb: holds(split_sizes(nb) == (1347, 450), f"{split_sizes(nb)}")),
    Claim("d6cfb588", "on $10^5$ float32 numbers",
          lambda nb: holds(nb["x"].numel() == 100_000 and str(nb["x"].dtype) == "torch.float32",
                           f"{nb['x'].shape} {nb['x'].dtype}")),
    Claim("3313a74d", "The naive compositions keep twice the input's size alive",
          lambda nb: [within(nb["saved"][k] / nb["x"].nbytes, 1.99, 2.01, k)
                      for k in nb["saved"] if "naive" in k]),
    Claim("3313a74d", r"Your Functions keep only the input (Swish adds the 4 bytes of its float32 "
                      r"$\beta$), as much as PyTorch's native kernels",
          lambda nb: (holds(saved(nb, "Mish: your MishFunction") == 0, "MishFunction"),
                      holds(saved(nb, "Swish: your SwishFunction") == 4, "SwishFunction"),
                      holds(saved(nb, "Mish: native F.mish") == 0, "F.mish"),
                      holds(saved(nb, "Swish: native F.silu (beta = 1)") == 0, "F.silu"))),
    Claim("2bbefcea", "25 epochs take every activation to about 95% test accuracy",
          lambda nb: within([r.final_accuracy for r in nb["runs"]], 0.93, 0.965)),
    Claim("444d9d9c", "All six end within about 1.5 percentage points of each other", exp1_tie),
    Claim("444d9d9c", "that is no more than the spread over seeds of a single activation",
          exp1_tie),
    Claim("81fae826", "they move up by about 0.1 to 0.2",
          lambda nb: within(np.concatenate(learned(nb, "Swish (learned beta)")) - 1.0, 0.08, 0.2)),
    Claim("81fae826", "Our slopes also grow from 0.25 (to about 0.4)",
          lambda nb: within(np.concatenate(learned(nb, "PReLU")), 0.33, 0.45)),
    Claim("81fae826", "the two layers end up within 0.04 of each other, and the first layer's "
                      "slope is the smaller one for every seed",
          lambda nb: [(within(abs(a - b), 0, 0.04), holds(a < b, f"layers {a:.3f}, {b:.3f}"))
                      for a, b in learned(nb, "PReLU")]),
    Claim("81fae826", "on this small MLP no unit beats another beyond the seed spread", exp1_tie),
    Claim("341cf3da", "the means fall at every step from 2 to 20 layers", falls_with_depth),
    Claim("341cf3da", "at 15 layers it is ahead of Swish and ReLU beyond the seed spread",
          lambda nb: (apart(d(nb, "Swish", 15), d(nb, "Mish", 15)),
                      apart(d(nb, "ReLU", 15), d(nb, "Mish", 15)))),
    Claim("341cf3da", "at 10 layers it is ahead on the mean, but its range overlaps Swish's",
          lambda nb: (holds(d(nb, "Mish", 10).mean() > d(nb, "Swish", 10).mean(), "mean"),
                      holds(d(nb, "Mish", 10).min() < d(nb, "Swish", 10).max(), "no overlap"))),
    Claim("341cf3da", "Swish is ahead of ReLU at 10 layers (the ranges do not overlap) and level "
                      "with it at 15 (means within 0.01)",
          lambda nb: (apart(d(nb, "ReLU", 10), d(nb, "Swish", 10)),
                      within(abs(d(nb, "Swish", 15).mean() - d(nb, "ReLU", 15).mean()), 0, 0.01))),
    Claim("341cf3da", "the collapse starts much earlier (around 10 layers",
          lambda nb: [within(d(nb, n, 10).mean(), 0, 0.6) for n in ("ReLU", "Swish", "Mish")]),
    Claim("341cf3da", "at 20 layers every unit, Mish included, is at or near chance (10%; no seed "
                      "above 0.2)",
          lambda nb: [within(d(nb, n, 20), 0.05, 0.2) for n in ("ReLU", "Swish", "Mish")]),
    Claim("e3d4f3b2", "With He's weights every unit trains at 10 layers (every seed above 0.75, "
                      "against means of 0.24 to 0.52 with PyTorch's default start)",
          lambda nb: ([within(deep(nb, "He", n, 10), 0.75, 1, n) for n in UNITS],
                      within([d(nb, n, 10).mean() for n in UNITS], 0.235, 0.525))),
    Claim("e3d4f3b2", "at 20 layers the means still order Mish (about 0.79), Swish (about 0.66) "
                      "and ReLU (0.40 to 0.50: the number here that moves most from one CPU to "
                      "another), "
                      "with ReLU's range below both others'",
          he_order_at_20),
    Claim("e3d4f3b2", "At 25 layers Mish's and Swish's ranges overlap, and both means are more "
                      "than 0.15 above ReLU's",
          lambda nb: (holds(deep(nb, "He", "Mish", 25).min() < deep(nb, "He", "Swish", 25).max()
                            and deep(nb, "He", "Swish", 25).min()
                            < deep(nb, "He", "Mish", 25).max(), "no overlap"),
                      [within(deep(nb, "He", n, 25).mean() - deep(nb, "He", "ReLU", 25).mean(),
                              0.15, 1, n) for n in ("Swish", "Mish")])),
    Claim("e3d4f3b2", "differ from one digit to the next by less than $10^{-6}$ of their size, "
                      "for every unit and seed",
          lambda nb: within(spreads(nb, "default"), 0, 1e-6)),
    Claim("e3d4f3b2", "Under He the spread is 0.55 to 1",
          lambda nb: within(spreads(nb, "He"), 0.545, 1)),
    Claim("e3d4f3b2", "LayerNorm rescues 10 layers (0.74 to 0.92, every unit)",
          lambda nb: within([deep(nb, "LayerNorm", n, 10) for n in UNITS], 0.735, 0.925)),
    Claim("e3d4f3b2", "at 20 and 25 layers no unit learns much (no seed above 0.3)",
          lambda nb: [within(deep(nb, "LayerNorm", n, k), 0.05, 0.3, f"{n}, {k}")
                      for n in UNITS for k in (20, 25)]),
    Claim("e3d4f3b2", "more spread than the default start (0.06 to 0.37), but less than He",
          lambda nb: (within(spreads(nb, "LayerNorm"), 0.055, 0.375),
                      holds(spreads(nb, "LayerNorm").max() < spreads(nb, "He").min(), "He"))),
    Claim("e3d4f3b2", "Under He, Swish keeps the most spread (0.99 to 1, Mish 0.82 to 0.97) and "
                      "Mish still trains best at 20 layers",
          lambda nb: (within(spreads(nb, "He", ["Swish"]), 0.985, 1),
                      within(spreads(nb, "He", ["Mish"]), 0.815, 0.975),
                      holds(spreads(nb, "He", ["Swish"]).min()
                            > spreads(nb, "He", ["Mish", "ReLU"]).max(), "Swish the most"),
                      he_order_at_20(nb))),
    Claim("e3d4f3b2", "the paper's order shows at 20 and 25 layers: Mish first, then Swish, then "
                      "ReLU",
          lambda nb: [holds(deep(nb, "He", "Mish", k).mean() > deep(nb, "He", "Swish", k).mean()
                            > deep(nb, "He", "ReLU", k).mean(), f"{k} layers") for k in (20, 25)]),
    Claim("e3d4f3b2", "keeps more of the signal at the start, and it still trails at 20 layers",
          lambda nb: (holds(spreads(nb, "He", ["Swish"]).mean()
                            > spreads(nb, "He", ["Mish"]).mean(), "spread"),
                      holds(deep(nb, "He", "Swish", 20).mean() < deep(nb, "He", "Mish", 20).mean(),
                            "accuracy"))),
    Claim("mish_vs_swish_answer", "In experiment 1 Mish and Swish end within about one "
                                  "percentage point of each other",
          lambda nb: within(abs(final(nb["runs"], "Mish").mean()
                                - final(nb["runs"], "Swish (beta = 1)").mean()), 0, 0.01)),
    Claim("mish_vs_swish_answer", "(their min..max ranges overlap)",
          lambda nb: holds(final(nb["runs"], "Mish").min() < final(nb["runs"], "Swish (beta = 1)")
                           .max(), "no overlap")),
    Claim("mish_vs_swish_answer", "In experiment 2 Mish keeps more accuracy than Swish at 10 and "
                                  "15 layers",
          lambda nb: [holds(d(nb, "Mish", k).mean() > d(nb, "Swish", k).mean(), f"{k} layers")
                      for k in (10, 15)]),
    Claim("mish_vs_swish_answer", "at 20 layers both fail",
          lambda nb: [within(d(nb, n, 20), 0, 0.2) for n in ("Swish", "Mish")]),
    Claim("f58d89da", "(within about one percentage point on the 2-layer MLP)",
          lambda nb: within(abs(final(nb["runs"], "Mish").mean()
                                - final(nb["runs"], "Swish (beta = 1)").mean()), 0, 0.01)),
    Claim("f58d89da", "Notes that Mish holds more accuracy than Swish at intermediate depth (10 to "
                      "15 layers)",
          lambda nb: [holds(d(nb, "Mish", k).mean() > d(nb, "Swish", k).mean(), f"{k} layers")
                      for k in (10, 15)]),
    Claim("e3d4f3b2", "ReLU's mean at 20 layers came out between 0.40 and 0.50 on the machines we "
                      "ran, and the orders above held on every one",
          he_order_at_20),
    Claim("eb9aa4ab", "half of what the naive composition of torch ops keeps",
          lambda nb: within(nb["saved"]["Mish: your MishFunction"]
                            / nb["saved"]["Mish: naive x * tanh(softplus(x))"], 0.49, 0.51)),
    Claim("eb9aa4ab", "learned $\\beta$ stays near 1 and PReLU slopes grow from 0.25",
          lambda nb: (within(np.concatenate(learned(nb, "Swish (learned beta)")), 0.8, 1.2),
                      within(np.concatenate(learned(nb, "PReLU")), 0.26, 1.0))),
    Claim("eb9aa4ab", "Mish degrades a little more gracefully than Swish and ReLU in our miniature",
          lambda nb: [holds(d(nb, "Mish", k).mean() >= max(d(nb, "Swish", k).mean(),
                                                           d(nb, "ReLU", k).mean()), f"{k}")
                      for k in (10, 15)]),
    Claim("eb9aa4ab", "with He's weights every unit trains at 10 layers",
          lambda nb: [within(deep(nb, "He", n, 10), 0.75, 1, n) for n in UNITS]),
    Claim("eb9aa4ab", "the paper's order (Mish, Swish, ReLU) shows at 20 and 25",
          lambda nb: [holds(deep(nb, "He", "Mish", k).mean() > deep(nb, "He", "Swish", k).mean()
                            > deep(nb, "He", "ReLU", k).mean(), f"{k} layers") for k in (20, 25)]),
    Claim("eb9aa4ab", "LayerNorm alone rescues 10 layers, not 20",
          lambda nb: ([within(deep(nb, "LayerNorm", n, 10), 0.735, 1, n) for n in UNITS],
                      [within(deep(nb, "LayerNorm", n, 20), 0, 0.3, n) for n in UNITS])),
]
