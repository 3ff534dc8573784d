r"""The claims registry: every number or comparison a notebook's prose states about its own results.

A course is judged first on whether what it teaches is true. The prose of a notebook says
things like "about x2 per layer" or "Mish keeps the most accuracy at 15 layers"; each such
sentence is a ``Claim`` here, with the check that decides it from what the notebook computed.

    Claim(cell="e6868c45", says="by about x2 per layer",
          check=lambda nb: within(growth(nb["grids"], "tanh", "N(0,1)"), 1.8, 2.2))

- ``cell`` is the id of the markdown cell that makes the claim, ``says`` its words, verbatim
  up to whitespace: rewording the sentence without updating its claim fails the test.
- ``check`` receives the notebook's own results: ``tests/test_claims.py`` runs the source
  notebook top to bottom in a kernel, once, and carries back the variables its module lists
  in ``RESULTS`` (plain data: arrays, dicts, dataclasses of numbers). It raises
  ``AssertionError`` with the measured values when the claim is false. ``nb["printed"]``
  maps each code cell's id to what it printed, for figures the notebook only prints.
- A claim that depends on randomness is checked over every seed the notebook runs, and the
  prose states it with its spread ("1e-31 to 7e-31 over the five seeds").

One module per notebook (``nb01`` ... ``nb04``) holds ``NOTEBOOK``, ``RESULTS`` and ``CLAIMS``.
Every "What to notice" cell must carry at least one claim (``test_claims.py`` checks it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Claim:
    """One sentence of a notebook and the check that decides it."""

    cell: str
    says: str
    check: Callable[[dict], object]


def within(value, low, high, what="value"):
    """Assert low <= value <= high for a number or every number of an iterable."""
    values = np.atleast_1d(np.asarray(list(value) if isinstance(value, Iterable)
                                      and not isinstance(value, np.ndarray) else value,
                                      dtype=np.float64))
    bad = values[~((values >= low) & (values <= high))]
    assert bad.size == 0, f"{what}: measured {np.array2string(values, precision=4)}, " \
                          f"outside [{low:g}, {high:g}]"
    return values


def holds(condition, message):
    """Assert ``condition``, with the measured values in ``message``."""
    assert condition, message
    return condition


def printed_numbers(text: str, after: str) -> list[float]:
    """The numbers printed right after each occurrence of ``after`` in a cell's output."""
    pattern = re.escape(after) + r"\s*([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)"
    found = [float(x) for x in re.findall(pattern, text)]
    assert found, f"nothing printed after {after!r} in:\n{text}"
    return found


def normalised(text: str) -> str:
    """Whitespace collapsed to single spaces, so that line breaks in prose do not matter."""
    return " ".join(text.split())
