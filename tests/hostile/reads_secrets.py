import glob
import os

import numpy as np


def _leaks():
    """Everything outside its own submission that this kernel can read."""
    found = []
    here = os.getcwd()
    course = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    for pattern in ("source/*/*.ipynb", "release/*/*.ipynb", "gradebook.db", "submitted/*/*/*",
                    "autograded/*/*/*.ipynb", "nbgrader_config.py"):
        for path in glob.glob(os.path.join(course, pattern)):
            try:
                with open(path, "rb") as handle:
                    handle.read(10)
                if not path.startswith(here):
                    found.append(path)
            except OSError:
                pass
    for path in glob.glob(os.path.join(here, "*")):  # the hidden tests in its own directory
        try:
            with open(path, "rb") as handle:
                if b"_probe_" in handle.read():
                    found.append(path)
        except OSError:
            pass
    for path in glob.glob(os.path.join(os.path.dirname(here), "*", "*.ipynb")):
        if not path.startswith(here):
            found.append(path)  # another student's work
    return found


# A submission that finds the secrets scores less: the test can see whether it did.
if _leaks() or os.getuid() == 0:
    def sigmoid(z):
        return z
else:
    def sigmoid(z):
        """Logistic sigmoid, elementwise, without overflow."""
        z = np.asarray(z, dtype=float)
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e))
