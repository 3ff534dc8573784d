"""Claims of 01_nonlinearity, decided from the notebook's own results."""

from __future__ import annotations

import numpy as np

from claims import Claim, holds, within
from course_utils import approximation as approx
from course_utils.reference import fit_output_layer, hidden_features

NOTEBOOK = "01_nonlinearity"
RESULTS = ["rounding", "miss", "fits", "x_eval", "x_fit", "sweep"]


def errors(nb, target, act, width=None):
    """(widths, seeds) sup errors, or the row of one width."""
    sweep = nb["sweep"]
    err = sweep.errors[(target, act)]
    return err if width is None else err[list(sweep.widths).index(width)]


def baseline(nb, target, degree):
    return nb["sweep"].baselines[(target, degree)]


def flat_from(nb, act, degree, width):
    for target in ("|x|", "sin(3x)"):
        keep = nb["sweep"].widths >= width
        within(errors(nb, target, act)[keep] / baseline(nb, target, degree), 1 - 1e-9, 1 + 1e-9,
               f"{target}, {act}: error / least-squares polynomial for m >= {width}")


def keeps_falling(nb):
    for target in ("|x|", "sin(3x)"):
        for act in ("sigmoid", "tanh", "ReLU"):
            med = np.median(errors(nb, target, act), axis=1)
            widths = list(nb["sweep"].widths)
            at = {m: med[widths.index(m)] for m in (16, 128, 1024)}
            holds(at[1024] < at[128] < at[16], f"{target}, {act}: median errors {at}")


def no_bias_cannot_fit_abs(nb):
    """Odd units tanh(w x) sum to an odd function, which misses |x| by pi somewhere."""
    W1, _ = approx.random_features(256, np.random.default_rng(0))
    H = hidden_features(nb["x_fit"], W1, np.zeros(len(W1)), np.tanh)
    W2 = fit_output_layer(H, np.abs(nb["x_fit"][:, 0]))
    fit = hidden_features(nb["x_eval"], W1, np.zeros(len(W1)), np.tanh) @ W2
    within(np.max(np.abs(fit - np.abs(nb["x_eval"][:, 0]))), np.pi - 1e-6, np.inf,
           "sup error of a bias-free tanh network on |x|")


def abs_fit(nb, name):
    return np.abs(nb["fits"][name] - np.abs(nb["x_eval"][:, 0]))


CLAIMS = [
    Claim("6419fbe2", "fits the output layer to $|x|$ on 2048 points, and measures the sup error "
                      "on 4001 points",
          lambda nb: holds(nb["x_fit"].shape == (2048, 1) and nb["x_eval"].shape == (4001, 1),
                           f"{nb['x_fit'].shape}, {nb['x_eval'].shape}")),
    Claim("c0cc666a", "three seeds per width",
          lambda nb: holds(len(nb["sweep"].seeds) == 3, f"{nb['sweep'].seeds}")),
    Claim("c0cc666a", "about 150 least-squares fits",
          lambda nb: holds(len(nb["sweep"].widths) * len(nb["sweep"].seeds)
                           * len({act for _, act in nb["sweep"].errors}) == 150, "fits")),
    Claim("loose01a", "with $\\sigma = \\tanh$ and $d = 1$, every unit $\\tanh(w x)$ is odd, so "
                      "the network cannot approximate $|x|$", no_bias_cannot_fit_abs),
    Claim("6fc126e2", "agree to a few units of float64 rounding (under 20 eps) relative to the "
                      "size of the outputs",
          lambda nb: within(nb["rounding"], 0, 20, "max difference / largest output / eps")),
    Claim("6fc126e2", "the best affine map misses it by about 30% of its range",
          lambda nb: within(nb["miss"], 0.25, 0.35, "affine miss / range")),
    Claim("66bdbe50", r"With $\tanh$ the network follows $|x|$ to within about 0.02, and its "
                      "largest error sits at the kink at 0",
          lambda nb: (within(abs_fit(nb, "tanh").max(), 0.015, 0.03),
                      within(nb["x_eval"][np.argmax(abs_fit(nb, "tanh")), 0], -0.1, 0.1))),
    Claim("66bdbe50", "exactly the best one: its error equals that of the least-squares parabola",
          lambda nb: within(abs_fit(nb, "z²").max() / approx.polynomial_baseline(
              np.abs, 2, nb["x_fit"], nb["x_eval"]), 1 - 1e-9, 1 + 1e-9)),
    Claim("be800f06", "The $z^2$ and $z^3$ curves are flat from four units on, and sit *on* the "
                      "dashed lines of the direct least-squares polynomial",
          lambda nb: (flat_from(nb, "z²", 2, 4), flat_from(nb, "z³", 3, 4))),
    Claim("be800f06", "the gap above is rounding, not approximation",
          lambda nb: within(list(approx.polynomial_gaps(nb["sweep"]).values()), 0, 1e-10)),
    Claim("be800f06", "the degree-2 and degree-3 lines coincide",
          lambda nb: within(baseline(nb, "|x|", 3) / baseline(nb, "|x|", 2), 1 - 1e-9, 1 + 1e-9)),
    Claim("be800f06", r"Sigmoid, $\tanh$ and ReLU keep falling as $m$ grows", keeps_falling),
    Claim("be800f06", r"ReLU's error on $\sin 3x$ falls like $m^{-2}$",
          lambda nb: within(approx.decay_exponents(nb["sweep"], "sin(3x)", "ReLU"), -2.2, -1.8)),
    Claim("be800f06", "with a fitted exponent between $-0.7$ and $-1.1$ depending on the seed",
          lambda nb: within(approx.decay_exponents(nb["sweep"], "|x|", "ReLU"), -1.15, -0.65)),
    Claim("be800f06", r"The smooth units reach $10^{-9}$ or less on $\sin 3x$ by $m = 256$, and "
                      "then fall by at most about one more order of magnitude up to $m = 1024$",
          lambda nb: [(within(errors(nb, "sin(3x)", act, 256), 0, 1e-9),
                       within(errors(nb, "sin(3x)", act, 256) / errors(nb, "sin(3x)", act, 1024),
                              0, 20)) for act in ("sigmoid", "tanh")]),
    # the written answer and its mark scheme quote section 6
    Claim("8e7ffa66", r"about 0.589 for $|x|$ and 1.16 for $\sin 3x$ in my sweep",
          lambda nb: (within(baseline(nb, "|x|", 2), 0.5885, 0.5895),
                      within(baseline(nb, "sin(3x)", 2), 1.155, 1.165))),
    Claim("8e7ffa66", r"a relative gap to the direct fit of order $10^{-12}$ or less",
          lambda nb: within(list(approx.polynomial_gaps(nb["sweep"]).values()), 0, 1e-11)),
    Claim("8e7ffa66", r"lower for $\sin 3x$ (1.09)",
          lambda nb: within(baseline(nb, "sin(3x)", 3), 1.085, 1.095)),
    Claim("10487068", r"about 0.59 for $|x|$, 1.16 for $\sin 3x$",
          lambda nb: (within(baseline(nb, "|x|", 2), 0.585, 0.595),
                      within(baseline(nb, "sin(3x)", 2), 1.155, 1.165))),
    Claim("10487068", r"lower for $\sin 3x$ (about 1.09)",
          lambda nb: within(baseline(nb, "sin(3x)", 3), 1.085, 1.095)),
    Claim("77b0d893", "you measured the agreement at float64 rounding",
          lambda nb: within(nb["rounding"], 0, 20)),
    Claim("77b0d893", "it stops at the error of the best polynomial of degree $k$, however wide",
          lambda nb: (flat_from(nb, "z²", 2, 4), flat_from(nb, "z³", 3, 4))),
]
