r"""Offline data for the course: scikit-learn's bundled handwritten digits.

The digits ship inside scikit-learn (``sklearn/datasets/data/digits.csv.gz``): 1797 images of
8 x 8 pixels (64 features, grey levels 0..16) in 10 classes. Nothing is downloaded. The file
is read directly with NumPy, so importing scikit-learn (about a second) is not needed; if
the file is not where scikit-learn keeps it, ``sklearn.datasets.load_digits`` is used.

Example
-------
>>> data = load_digits_split()
>>> data.x_train.shape, data.x_test.shape, data.n_classes
((1347, 64), (450, 64), 10)
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["DigitsSplit", "load_digits_arrays", "load_digits_split"]


@dataclass(frozen=True)
class DigitsSplit:
    r"""A fixed, standardized train/test split.

    Attributes
    ----------
    x_train : ndarray, shape (N_train, d), float32, standardized with the training statistics
    y_train : ndarray, shape (N_train,), int64 class labels
    x_test : ndarray, shape (N_test, d), float32, standardized with the *training* statistics
    y_test : ndarray, shape (N_test,), int64
    n_classes : int
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    def subset(self, n_train: int) -> DigitsSplit:
        r"""The same split with only the first ``n_train`` training examples (test set kept)."""
        if not 0 < n_train <= len(self.y_train):
            raise ValueError(f"DigitsSplit.subset: n_train must lie in 1..{len(self.y_train)}, "
                             f"got {n_train}.")
        return DigitsSplit(self.x_train[:n_train], self.y_train[:n_train], self.x_test,
                           self.y_test, self.n_classes)


def _digits_file() -> Path | None:
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
    return path if path.is_file() else None


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    r"""All 1797 digits as ``(x, y)``: x of shape (1797, 64) float64 in [0, 16], y int64."""
    path = _digits_file()
    if path is not None:
        table = np.loadtxt(path, delimiter=",", dtype=np.float64)
        return table[:, :-1], table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits  # slower fallback, still offline

    bunch = load_digits()
    return bunch.data.astype(np.float64), bunch.target.astype(np.int64)


def load_digits_split(test_fraction: float = 0.25, seed: int = 0) -> DigitsSplit:
    r"""The digits, shuffled with a fixed seed, split, and standardized.

    Each feature is shifted and scaled by the training set's mean and standard deviation
    (constant pixels, such as the always-blank corners, get standard deviation 1), so that
    no information from the test set leaks into training.

    Parameters
    ----------
    test_fraction : float, default 0.25
        Share of the 1797 examples held out for testing (0 < test_fraction < 1).
    seed : int, default 0
        Seed of the shuffle; the same seed gives the same split on every machine.

    Returns
    -------
    DigitsSplit with float32 features and int64 labels.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError("load_digits_split: test_fraction must lie in (0, 1), "
                         f"got {test_fraction}.")
    x, y = load_digits_arrays()
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(np.ceil(test_fraction * len(y)))  # as scikit-learn rounds the test share
    test, train = order[:n_test], order[n_test:]
    mean = x[train].mean(axis=0)
    std = x[train].std(axis=0)
    std[std == 0] = 1.0
    scale = lambda a: ((a - mean) / std).astype(np.float32)  # noqa: E731
    return DigitsSplit(scale(x[train]), y[train], scale(x[test]), y[test],
                       n_classes=int(y.max()) + 1)
