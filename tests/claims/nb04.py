"""Claims of 04_numerical_stability, decided from the notebook's own results."""

from __future__ import annotations

import numpy as np

from claims import Claim, holds, within
from course_utils import gradient_watch as watch
from course_utils import stability_lab as lab

NOTEBOOK = "04_numerical_stability"
RESULTS = ["SEEDS", "grids", "sv_runs", "remedy_runs", "raw", "clipped", "half", "sweeps",
           "trapped", "scales", "factors", "z32", "naive", "watches"]


RELU_FAMILY = ("relu", "swish", "mish")


def watched(nb, act, init):
    return [w for w in nb["watches"] if (w.activation, w.init) == (act, init)]


def watch_acc(nb, acts, inits):
    return [w.final_accuracy for a in acts for i in inits for w in watched(nb, a, i)]


def in_band_all_along(nb, acts, inits):
    for a in acts:
        for i in inits:
            for w in watched(nb, a, i):
                holds(watch.epochs_in_band(w) == len(w.grad_norms), f"{a}, {i}, seed {w.seed}")


def saturated(nb, act, init):
    return [watch.saturation(w, e) for w in watched(nb, act, init) for e in (0, 60)]


def limits(dtype):
    return next(r for r in lab.float_limits() if r["dtype"] == dtype)


def naive_log_sigmoid(z):
    with np.errstate(all="ignore"):
        return np.log(1 / (1 + np.exp(-np.float64(z))))


def over_seeds(nb, act, init, measure):
    return [measure(grid[act, init]) for grid in nb["grids"].values()]


def growth(nb, act, init):
    return over_seeds(nb, act, init, lab.growth_per_layer)


def first(nb, act, init):
    return over_seeds(nb, act, init, lambda norms: norms[0])


def spread(norms):
    return norms.max() / norms.min()


def sv_largest(nb, label):
    return [s[:, 0] for s in nb["sv_runs"][label]]


def sv_zero_at_layer1(nb, label):
    return [np.mean(s[0] < 1e-12 * s[0, 0]) for s in nb["sv_runs"][label]]


def sweep_errors(nb, low_exp, high_exp):
    exps = np.log2(nb["scales"]).round().astype(int)
    keep = (exps >= low_exp) & (exps <= high_exp)
    return np.concatenate([rel[keep] for rel, _ in nb["sweeps"].values()])


def every_seed_in_band(nb):
    for seed, remedies in nb["remedy_runs"].items():
        for name, curves in remedies.items():
            holds(not lab.in_band(curves["before"]), f"seed {seed}, {name}: already in band")
            holds(lab.in_band(curves["after"]), f"seed {seed}, {name}: not in band after")


CLAIMS = [
    # 1. floating point
    Claim("83e933c9", r"float16 overflows at $e^{11.1} \approx 65504$",
          lambda nb: (within(limits("float16")["exp_overflow"], 11.05, 11.15),
                      holds(limits("float16")["max"] == 65504, "float16 max"))),
    Claim("83e933c9", r"float32 overflows past $z \approx 88.7$ and float64 past $z \approx 709.8$",
          lambda nb: (within(limits("float32")["exp_overflow"], 88.65, 88.75),
                      within(limits("float64")["exp_overflow"], 709.75, 709.85))),
    Claim("ec633dcd", r"at $z=-40$ it returns `0`, although $\mathrm{softplus}(-40) \approx "
                      r"e^{-40} \approx 4\times 10^{-18}$",
          lambda nb: (holds(np.log(1 + np.exp(-40.0)) == 0.0, "naive softplus(-40) != 0"),
                      within(np.log1p(np.exp(-40.0)), 4e-18, 4.5e-18))),
    Claim("ec633dcd", r"The naive $\log\sigma(z)$ gives $-\infty$ at $z=-1000$",
          lambda nb: holds(naive_log_sigmoid(-1000.0) == -np.inf, "not -inf")),
    Claim("f90c5257", r"The naive curve stops near $z \approx -88$",
          lambda nb: within(nb["z32"][np.isfinite(nb["naive"])].min(), -89.0, -87.0,
                            "smallest z with a finite naive log sigmoid")),
    Claim("c0eb715e", "Seven factors for four layers",
          lambda nb: holds(len(nb["factors"]) == 7, f"{len(nb['factors'])} factors")),
    Claim("loose04a", r"whose gradients shrink by only about $\times 0.85$ per layer",
          lambda nb: within(growth(nb, "sigmoid", "N(0,1)"), 0.8, 0.9)),
    # 4.1 the grid
    Claim("e6868c45", r"by about $\times 0.23$ per layer with Xavier",
          lambda nb: within(growth(nb, "sigmoid", "Xavier"), 0.21, 0.25)),
    Claim("e6868c45", r"about $10^{-31}$ (from $1 \times 10^{-31}$ to $8 \times 10^{-31}$ over "
                      r"the seeds), the last one's about 7",
          lambda nb: (within(first(nb, "sigmoid", "Xavier"), 1e-31, 8e-31),
                      within(over_seeds(nb, "sigmoid", "Xavier", lambda n: n[-1]), 6, 8.5))),
    Claim("e6868c45", r"by $\times 0.8$ to $\times 0.9$ per layer",
          lambda nb: within(growth(nb, "sigmoid", "N(0,1)"), 0.8, 0.9)),
    Claim("e6868c45", r"by about $\times 2$ per layer, to a first-layer norm of $10^{15}$ to "
                      r"$10^{16}$",
          lambda nb: (within(growth(nb, "tanh", "N(0,1)"), 1.9, 2.1),
                      within(first(nb, "tanh", "N(0,1)"), 5e14, 2e16))),
    Claim("e6868c45", "tanh stays within a factor of 4 across all fifty layers",
          lambda nb: within(over_seeds(nb, "tanh", "Xavier", spread), 1, 4)),
    Claim("e6868c45", "the growth per layer is within 2% of 1",
          lambda nb: [within(growth(nb, "relu", init), 0.98, 1.02)
                      for init in ("N(0,1)", "Xavier", "He")]),
    Claim("e6868c45", r"about $10^{38}$ with $\mathcal N(0,1)$, $10^{-6}$ with Xavier, and "
                      "between 10 and a few hundred with He, at every layer",
          lambda nb: (within(np.concatenate([g["relu", "N(0,1)"] for g in nb["grids"].values()]),
                             3e37, 3e39),
                      within(np.concatenate([g["relu", "Xavier"] for g in nb["grids"].values()]),
                             3e-7, 3e-5),
                      within(np.concatenate([g["relu", "He"] for g in nb["grids"].values()]),
                             10, 500))),
    # 4.2 singular values
    Claim("21d4abc3", r"the largest by about $\times 0.24$ per layer",
          lambda nb: within([lab.growth_per_layer(s[::-1])
                             for s in sv_largest(nb, "sigmoid, Xavier")], 0.22, 0.26)),
    Claim("21d4abc3", "the largest stays near 1 while the median decays",
          lambda nb: [(within(s[:, 0], 0.2, 2.0), within(np.median(s[-1]), 0, 1e-6))
                      for s in nb["sv_runs"]["tanh, Xavier"]]),
    Claim("21d4abc3", "ReLU with He keeps the largest between 1 and 15",
          lambda nb: within(np.concatenate(sv_largest(nb, "relu, He")), 1, 15)),
    Claim("21d4abc3", "about half of its singular values (41% to 61% over the seeds) are 0 "
                      "from the first layer on",
          lambda nb: within(sv_zero_at_layer1(nb, "relu, He"), 0.40, 0.62)),
    Claim("21d4abc3", r"the largest grows by about $\sqrt{64/2} \approx 5.7$ per layer",
          lambda nb: within([lab.growth_per_layer(s[::-1])
                             for s in sv_largest(nb, "relu, N(0,1)")], 5.5, 5.9)),
    # 4.3 remedies
    Claim("033510fc", "All three remedies bring the fifty norms into the band, for every seed.",
          every_seed_in_band),
    # 4.4 clipping
    Claim("b9b0c91c", r"the first layer still gets about $10^{14}$ times the update of the last",
          lambda nb: within(nb["clipped"]["tanh, N(0,1)"][0] / nb["clipped"]["tanh, N(0,1)"][-1],
                            1e14, 1e15)),
    Claim("b9b0c91c", r"between $10^{14}$ and $10^{16}$ over the seeds of section 4.1",
          lambda nb: within(over_seeds(nb, "tanh", "N(0,1)", lambda n: n[0] / n[-1]),
                            1e14, 1e16)),
    Claim("b9b0c91c", "It keeps the ratio between layers",
          lambda nb: [np.testing.assert_allclose(nb["clipped"][k] / nb["clipped"][k][-1],
                                                 nb["raw"][k] / nb["raw"][k][-1], rtol=1e-9)
                      for k in nb["raw"]]),
    # 4.5 float16
    Claim("37680bb5", r"With $N = 32$ each entry is $3.1 \times 10^{-8}$: already *below* "
                      "float16's smallest subnormal",
          lambda nb: holds(1e-6 / 32 < float(np.finfo(np.float16).smallest_subnormal),
                           "not below")),
    Claim("37680bb5", r"it rounds to the nearest float16, which is $6 \times 10^{-8}$: twice too "
                      "large",
          lambda nb: within(float(np.float16(1e-6 / 32)) / (1e-6 / 32), 1.8, 2.0)),
    Claim("e93a3627", "half or more of the float16 gradient entries are exactly 0 (50% to 72% "
                      "over the seeds)",
          lambda nb: within([h["zeros"] for h in nb["half"].values()], 0.495, 0.725)),
    Claim("e93a3627", "the per-layer norms come out too **large**, not too small: by a median "
                      "factor of 3 to 6 over the seeds, and up to about 25 in some layers",
          lambda nb: (within([h["ratio"].min() for h in nb["half"].values()], 1.0, np.inf),
                      within([np.median(h["ratio"]) for h in nb["half"].values()], 3, 6),
                      within([h["ratio"].max() for h in nb["half"].values()], 5, 30))),
    Claim("e93a3627", r"A scale between $2^{12}$ and $2^{36}$ lifts almost every entry out of the "
                      "subnormals (fewer than 1% stay 0) and the error drops to float16's own "
                      r"precision (about $10^{-3}$)",
          lambda nb: (within(sweep_errors(nb, 12, 36), 1e-4, 3e-3),
                      within([zf[(np.log2(nb["scales"]) >= 12) & (np.log2(nb["scales"]) <= 36)]
                              .max() for _, zf in nb["sweeps"].values()], 0, 0.01))),
    Claim("trapped04md", r"The product $10^{-4} \cdot 10^{-4} = 10^{-8}$ is below half of "
                         "float16's smallest subnormal, so it rounds to exactly 0",
          lambda nb: (holds(nb["trapped"]["exact"]
                            < float(np.finfo(np.float16).smallest_subnormal) / 2, "not below"),
                      holds(float(np.float16(1e-4) * np.float16(1e-4)) == 0.0, "not 0"))),
    Claim("trapped04md", "scaling it afterwards gives 0 again, by 4096 or by any other number",
          lambda nb: holds(nb["trapped"]["after"] == 0.0, f"got {nb['trapped']['after']}")),
    Claim("trapped04md", r"Scaled *before* the multiplication, it comes out within 0.1% of "
                         r"$10^{-8}$",
          lambda nb: within(nb["trapped"]["before"] / 1e-8, 0.999, 1.001)),
    Claim("e93a3627", r"at $2^{40}$ the backward pass overflows to `inf`",
          lambda nb: holds(all(np.isinf(rel[np.log2(nb["scales"]).round() == 40]).all()
                               for rel, _ in nb["sweeps"].values()), "no overflow at 2^40")),
    # the written answer and its mark scheme quote 4.1
    Claim("d74af985", r"go from about $10^{38}$ with $\mathcal N(0,1)$ and $10^{-6}$ with Xavier "
                      "to between 10 and a few hundred with He, flat across all 50 layers",
          lambda nb: within(np.concatenate([g["relu", "He"] for g in nb["grids"].values()]),
                            10, 500)),
    Claim("11ca8514", "Sigmoid vanishes under Xavier and He",
          lambda nb: (within(growth(nb, "sigmoid", "Xavier"), 0, 0.5),
                      within(growth(nb, "sigmoid", "He"), 0, 0.5))),
    Claim("watch04md", "8 hidden layers of width 32",
          lambda nb: holds({w.grad_norms.shape[1] for w in nb["watches"]} == {8}, "depth")),
    Claim("watch04md", "on the first three seeds (45 runs)",
          lambda nb: holds(len(nb["watches"]) == 45
                           and {w.seed for w in nb["watches"]} == set(nb["SEEDS"][:3]), "runs")),
    Claim("watch04read", "Under N(0,1), ReLU, Swish and Mish start with every layer's gradient "
                         "above $10^{3}$",
          lambda nb: [holds(w.grad_norms[0].min() > 1e3, f"{a}: {w.grad_norms[0].min():.3g}")
                      for a in RELU_FAMILY for w in watched(nb, a, "N(0,1)")]),
    Claim("watch04read", "by epoch 3 every run is trapped",
          lambda nb: [holds(watch.trapped_at(w) is not None and watch.trapped_at(w) <= 3,
                            f"{a}, seed {w.seed}: {watch.trapped_at(w)}")
                      for a in RELU_FAMILY for w in watched(nb, a, "N(0,1)")]),
    Claim("watch04read", "the accuracy stays at chance",
          lambda nb: within(watch_acc(nb, RELU_FAMILY, ["N(0,1)"]), 0.05, 0.12)),
    Claim("watch04read", "Sigmoid under Xavier and He starts outside the band, its first layers "
                         "getting gradients below $10^{-3}$, and learns nothing (chance, for "
                         "every seed)",
          lambda nb: ([holds(watch.epochs_in_band(w) == 0 and w.grad_norms[0][0] < 1e-3,
                             f"{i}, seed {w.seed}")
                       for i in ("Xavier", "He") for w in watched(nb, "sigmoid", i)],
                      within(watch_acc(nb, ["sigmoid"], ["Xavier", "He"]), 0.05, 0.12))),
    Claim("watch04read", "Yet none of its activations is saturated, before or after",
          lambda nb: [within(saturated(nb, "sigmoid", i), 0, 0.001) for i in ("Xavier", "He")]),
    Claim("watch04read", "tanh and the ReLU family under Xavier and He, for every seed",
          lambda nb: in_band_all_along(nb, ("tanh", *RELU_FAMILY), ("Xavier", "He"))),
    Claim("watch04read", "Sigmoid and tanh under N(0,1) stay in the band too, and learn little "
                         "(at most 0.35)",
          lambda nb: (in_band_all_along(nb, ("sigmoid", "tanh"), ("N(0,1)",)),
                      within(watch_acc(nb, ["sigmoid", "tanh"], ["N(0,1)"]), 0, 0.35))),
    Claim("watch04read", "about two thirds of its activations (60% to 70%) sit at $\\pm 1$",
          lambda nb: within(saturated(nb, "tanh", "N(0,1)"), 0.6, 0.7)),
    Claim("watch04read", "about a fifth of sigmoid's (15% to 25%) are saturated",
          lambda nb: within(saturated(nb, "sigmoid", "N(0,1)"), 0.15, 0.25)),
    Claim("watch04read", "The ReLU family under Xavier also stays in the band and learns slowly, "
                         "between 0.1 and 0.45 after 60 epochs, against 0.5 to 0.9 under He",
          lambda nb: (in_band_all_along(nb, RELU_FAMILY, ("Xavier",)),
                      within(watch_acc(nb, RELU_FAMILY, ["Xavier"]), 0.1, 0.45),
                      within(watch_acc(nb, RELU_FAMILY, ["He"]), 0.5, 0.9))),
    Claim("watch04read", "tanh under Xavier and He (0.8 to 0.9)",
          lambda nb: within(watch_acc(nb, ["tanh"], ["Xavier", "He"]), 0.8, 0.9)),
    Claim("watch04read", "where Mish ends between 0.85 and 0.9, above every seed of ReLU and "
                         "Swish",
          lambda nb: (within(watch_acc(nb, ["mish"], ["He"]), 0.85, 0.9),
                      holds(min(watch_acc(nb, ["mish"], ["He"]))
                            > max(watch_acc(nb, ["relu", "swish"], ["He"])), "Mish above"))),
    Claim("watch04read", "ReLU's three He runs end anywhere from about 0.55 to 0.85",
          lambda nb: (within(watch_acc(nb, ["relu"], ["He"]), 0.5, 0.87),
                      within(np.ptp(watch_acc(nb, ["relu"], ["He"])), 0.15, 0.37))),
    Claim("11ca8514", "exploding runs are trapped at inf, nan or 0 within 3 epochs",
          lambda nb: [holds(watch.trapped_at(w) is not None and watch.trapped_at(w) <= 3,
                            f"{a}, seed {w.seed}")
                      for a in RELU_FAMILY for w in watched(nb, a, "N(0,1)")]),
    Claim("11ca8514", "inside it a unit can still saturate (tanh under N(0,1)) or learn slowly "
                      "(ReLU under Xavier)",
          lambda nb: (in_band_all_along(nb, ("tanh",), ("N(0,1)",)),
                      within(saturated(nb, "tanh", "N(0,1)"), 0.5, 1),
                      in_band_all_along(nb, ("relu",), ("Xavier",)),
                      within(watch_acc(nb, ["relu"], ["Xavier"]), 0, 0.4))),
]
