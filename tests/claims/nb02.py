"""Claims of 02_activation_units, decided from the notebook's own results."""

from __future__ import annotations

import numpy as np

from claims import Claim, holds, printed_numbers, within
from course_utils import reference as ref

NOTEBOOK = "02_activation_units"
RESULTS = ["sigmoid_products", "relu_products", "results", "z_min", "mish_min", "z_min_swish",
           "swish_min", "fixes"]

#: The cells that print derivative_report's "max relative error".
REPORTS = ["c021", "c033", "c063", "c079", "c080", "c101"]


def report_errors(nb):
    return [e for cid in REPORTS for e in printed_numbers(nb["printed"][cid], "relative error")]


def wrong_derivative_error():
    """derivative_report's measure for a typical wrong sigmoid_grad (sigma itself)."""
    z = np.linspace(-6.0, 6.0, 241)
    z = z[np.abs(z) > 1e-3]
    numeric = (ref.sigmoid(z + 1e-5) - ref.sigmoid(z - 1e-5)) / 2e-5
    return np.max(np.abs(ref.sigmoid(z) - numeric) / np.maximum(np.abs(numeric), 1e-8))


def fix(nb, unit, setting, field):
    """``field`` of the fixes experiment's runs of ``unit`` in ``setting``, over the seeds."""
    rows = [r for r in nb["fixes"] if r.unit.startswith(unit) and r.setting.startswith(setting)]
    assert len(rows) in (3, 6), (unit, setting, len(rows))  # three seeds (of one or both settings)
    return [getattr(r, field) for r in rows]


def setting(nb, start):
    return next(r for r in nb["results"] if r.label.startswith(start))


def overflow_threshold(dtype):
    return float(np.log(np.finfo(dtype).max))


def swish_minima(nb):
    text = nb["printed"]["c082"]
    betas = printed_numbers(text, "beta =")
    places = printed_numbers(text, "smallest at z =")
    depths = printed_numbers(text, "where swish =")
    return np.array(betas), np.array(places), np.array(depths)


def scales_like_one_over_beta(nb):
    betas, places, depths = swish_minima(nb)
    # the table prints 4 decimals: 20 * 0.0639 is 1.278
    within(places * betas, -1.2795, -1.2775, "beta * place of the minimum")
    within(depths * betas, -0.2795, -0.2775, "beta * depth of the minimum")
    holds(np.all(np.diff(np.abs(depths)) < 0) and np.all(np.diff(np.abs(places)) < 0),
          f"not narrower and shallower as beta grows: {places}, {depths}")


def nan_arithmetic():
    with np.errstate(all="ignore"):
        return 1 / np.inf, np.inf - np.inf, 0 * np.inf


GRID = np.linspace(-10.0, 10.0, 200001)

CLAIMS = [
    Claim("c005", r"you will see errors from $10^{-11}$ to $2 \times 10^{-8}$",
          lambda nb: within(report_errors(nb), 1e-12, 2e-8, "derivative_report errors")),
    Claim("c008", r"(in this notebook, from $10^{-11}$ to $2 \times 10^{-8}$), a wrong one "
                  r"$10^{-2}$ or more",
          lambda nb: (within(report_errors(nb), 1e-12, 2e-8),
                      within(wrong_derivative_error(), 1e-2, np.inf, "a wrong derivative"))),
    Claim("primer02", r"`np.exp(z)` overflows to `inf` for $z > 709.8$ (float32: $z > 88.7$)",
          lambda nb: (within(overflow_threshold(np.float64), 709.78, 709.79),
                      within(overflow_threshold(np.float32), 88.72, 88.73))),
    Claim("primer02", r"Below about $2 \times 10^{-308}$ come the *subnormals*",
          lambda nb: within(np.finfo(np.float64).smallest_normal, 2.2e-308, 2.3e-308)),
    Claim("primer02", r"$1/\infty = 0$, but $\infty - \infty$ and $0 \cdot \infty$ are `nan`",
          lambda nb: holds(nan_arithmetic()[0] == 0 and np.isnan(nan_arithmetic()[1:]).all(),
                           str(nan_arithmetic()))),
    Claim("c010", "in float64 `sigmoid(40)` already rounds to exactly 1.0",
          lambda nb: holds(ref.sigmoid(40.0) == 1.0 and 1 / (1 + np.exp(-40.0)) == 1.0,
                           f"{ref.sigmoid(40.0)!r}")),
    Claim("c036", r"after 10 layers, less than $10^{-6}$",
          lambda nb: within(0.25 ** 10, 0, 1e-6)),
    Claim("c038", "The sigmoid curve lies below its bound on random inputs",
          lambda nb: holds(np.all(nb["sigmoid_products"] < 0.25 ** np.arange(1, 31)),
                           f"{nb['sigmoid_products'][:5]}")),
    Claim("c038", "by a factor of about 2 per layer",
          lambda nb: within((nb["relu_products"][9] / nb["relu_products"][0]) ** (1 / 9),
                            0.45, 0.55, "ReLU mean product, per layer (layers 1 to 10)")),
    Claim("c041", "With a sensible learning rate almost no unit dies (under 5%)",
          lambda nb: within(setting(nb, "good").dead_after, 0, 0.05)),
    Claim("c041", "nearly every unit dies, and accuracy falls to chance (10%)",
          lambda nb: (within(setting(nb, "lr too large").dead_after, 0.95, 1.0),
                      within(setting(nb, "lr too large").accuracy, 0.07, 0.13))),
    Claim("c041", "A badly chosen initial bias kills units before training starts, and training "
                  "does not revive a single one",
          lambda nb: [(within(r.dead_before, 0.3, 1.0),
                       holds(r.dead_after >= r.dead_before, f"{r.label}: revived"))
                      for r in nb["results"] if r.label.startswith("bad bias")]),
    Claim("c114", "a too-large learning rate killed every unit here, and a bad initial bias "
                  "killed 44% to 91% of them before training started",
          lambda nb: (within(setting(nb, "lr too large").dead_after, 1.0, 1.0),
                      within([r.dead_before for r in nb["results"]
                              if r.label.startswith("bad bias")], 0.435, 0.91))),
    Claim("c083", "the dip below zero gets narrower and shallower (the table: both the place and "
                  r"the depth of the minimum scale like $1/\beta$)", scales_like_one_over_beta),
    Claim("c104", r"about $-0.3088$ at $z \approx -1.1924$, against swish's $-0.2785$ at "
                  r"$z \approx -1.2785$",
          lambda nb: (within(nb["mish_min"], -0.30885, -0.30875),
                      within(nb["z_min"], -1.19245, -1.19235),
                      within(nb["swish_min"], -0.27855, -0.27845),
                      within(nb["z_min_swish"], -1.27855, -1.27845))),
    Claim("c104", "Where the derivative crosses 0 is exactly where the unit has its minimum",
          lambda nb: (within(ref.mish_grad(nb["z_min"]), -1e-6, 1e-6),
                      within(ref.swish_grad(nb["z_min_swish"]), -1e-6, 1e-6))),
    Claim("c104", r"$\Delta(z)$ goes from 1 (far left) to 0 (far right)",
          lambda nb: (within(ref.mish_delta(-40.0), 1 - 1e-9, 1),
                      within(ref.mish_delta(40.0), 0, 1e-9))),
    Claim("c107", r"Only sigmoid's derivative is small everywhere (at most $\tfrac14$)",
          lambda nb: (within(ref.sigmoid_grad(GRID).max(), 0.25, 0.25),
                      [within(g(np.array([10.0])), 0.99, 1.01) for g in
                       (ref.relu_grad, ref.leaky_relu_grad, ref.swish_grad, ref.mish_grad)])),
    Claim("c107", "overshoot 1 a little (to about 1.10 for Swish and 1.09 for Mish), and dip "
                  "below 0 for negative $z$",
          lambda nb: (within(ref.swish_grad(GRID).max(), 1.095, 1.105),
                      within(ref.mish_grad(GRID).max(), 1.085, 1.095),
                      within(ref.swish_grad(GRID).min(), -1, -0.01),
                      within(ref.mish_grad(GRID).min(), -1, -0.01))),
    Claim("c113", r"quotes the minima, about $-0.28$ and $-0.31$",
          lambda nb: (within(nb["swish_min"], -0.285, -0.275),
                      within(nb["mish_min"], -0.315, -0.305))),
    Claim("nonmonotone_answer", r"down to about $-0.28$ and $-0.31$",
          lambda nb: (within(nb["swish_min"], -0.285, -0.275),
                      within(nb["mish_min"], -0.315, -0.305))),
    # The fixes
    Claim("fixes02c", r"after $\text{lr} = 2$, 95% to 100% of the units are negative on every "
                      "digit and the accuracy is 10%",
          lambda nb: (within(fix(nb, "ReLU", "lr too large", "negative_after"), 0.945, 1.0),
                      within(fix(nb, "ReLU", "lr too large", "accuracy"), 0.095, 0.105))),
    Claim("fixes02c", "after the bad bias, the accuracy is 10% to 34%",
          lambda nb: within(fix(nb, "ReLU", "bad bias", "accuracy"), 0.095, 0.345)),
    Claim("fixes02c", "Leaky ReLU's slope of 0.01 helps against the large learning rate (45% to "
                      "53%) but not against the bad bias (10% to 35%)",
          lambda nb: (within(fix(nb, "Leaky", "lr too large", "accuracy"), 0.445, 0.535),
                      within(fix(nb, "Leaky", "bad bias", "accuracy"), 0.095, 0.355))),
    Claim("fixes02c", "a hundredth of the gradient does not bring a single unit back",
          lambda nb: [holds(after >= before, f"{before} -> {after}") for before, after in zip(
              fix(nb, "Leaky", "bad bias", "negative_before"),
              fix(nb, "Leaky", "bad bias", "negative_after"), strict=True)]),
    Claim("fixes02c", "its slope grows from 0.25 to 1.7–1.8 over the seeds",
          lambda nb: within(fix(nb, "PReLU", "bad bias", "slope"), 1.65, 1.85)),
    Claim("fixes02c", "the units negative everywhere fall from 88%–95% to 27%–30%, and the "
                      "accuracy reaches 74% to 90%",
          lambda nb: (within(fix(nb, "PReLU", "bad bias", "negative_before"), 0.875, 0.955),
                      within(fix(nb, "PReLU", "bad bias", "negative_after"), 0.265, 0.305),
                      within(fix(nb, "PReLU", "bad bias", "accuracy"), 0.735, 0.905))),
    Claim("fixes02c", r"At $\text{lr} = 2$ it diverges for every seed",
          lambda nb: holds(all(fix(nb, "PReLU", "lr too large", "diverged")), "did not")),
    Claim("fixes02c", "Swish keeps learning in both runs (82% to 91%, and 55% to 77%) although "
                      "most of its units stay negative on every digit (67% to 89%)",
          lambda nb: (within(fix(nb, "Swish", "lr too large", "accuracy"), 0.815, 0.915),
                      within(fix(nb, "Swish", "bad bias", "accuracy"), 0.545, 0.775),
                      within(fix(nb, "Swish", "", "negative_after"), 0.665, 0.895))),
    Claim("nonmonotone_answer", "a Swish network kept learning (55% to 91% accuracy) in the two "
                                "runs that left a ReLU network at or near chance",
          lambda nb: (within(fix(nb, "Swish", "", "accuracy"), 0.545, 0.915),
                      within(fix(nb, "ReLU", "", "accuracy"), 0.095, 0.345))),
]
