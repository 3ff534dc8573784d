"""A student install has no reference package: the visible checks must not need it.

Each test runs a fresh interpreter, so that what the checks import is what a learner's
kernel would import.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BLOCKER = """
import importlib.abc
import sys

class NoReference(importlib.abc.MetaPathFinder):
    # What `COURSE_UTILS_STUDENT=1 pip install .` leaves out.
    def find_spec(self, name, path=None, target=None):
        if name == "course_utils.reference" or name.startswith(
                ("course_utils.reference.", "course_utils.reference_torch")):
            raise ImportError(f"{name} is not installed (student install)")
        return None

sys.meta_path.insert(0, NoReference())
"""

# Correct solutions written the way a learner might, independent of the reference.
SOLUTIONS = """
import numpy as np

def _zf(z):
    return np.where(np.isinf(z), 0, z)

def sigmoid(z):
    z = np.asarray(z)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))

def sigmoid_grad(z):
    s = sigmoid(z)
    return s * (1 - s)

def relu(z):
    return np.maximum(z, 0)

def relu_grad(z):
    return np.heaviside(z, 1.0)

def leaky_relu(z, a=0.01):
    return np.where(np.asarray(z) >= 0, z, a * np.asarray(z))

def leaky_relu_grad(z, a=0.01):
    return np.where(np.asarray(z) < 0, a, np.heaviside(z, 1.0))

def prelu(z, a):
    return leaky_relu(z, a)

def prelu_grad(z, a):
    return leaky_relu_grad(z, a)

def prelu_grad_a(z, a, upstream):
    return float(np.sum(upstream * np.minimum(z, 0)))

def softplus(z):
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))

def log_sigmoid(z):
    return np.minimum(z, 0) - np.log1p(np.exp(-np.abs(z)))

stable_sigmoid = sigmoid

def swish(z, beta=1.0):
    z = np.asarray(z)
    return np.where(z == np.inf, z, _zf(z) * sigmoid(beta * z))

def swish_grad(z, beta=1.0):
    z = np.asarray(z)
    s = sigmoid(beta * z)
    return s + beta * _zf(z) * s * (1 - s)

def mish(z):
    z = np.asarray(z)
    return np.where(z == -np.inf, 0, z) * np.tanh(softplus(z))

def mish_delta(z):
    return 1 - np.tanh(softplus(z)) ** 2

def mish_grad(z):
    return mish_delta(z) * _zf(np.asarray(z)) * sigmoid(z) + np.tanh(softplus(z))

def numerical_derivative(f, z, h=1e-5):
    return (f(z + h) - f(z - h)) / (2 * h)

from scipy.special import erfc

def gelu(z):
    z = np.asarray(z)
    phi = 0.5 * erfc(-z / 2**0.5)
    return np.where(phi == 0, 0.0, z) * phi

def gelu_grad(z):
    z = np.asarray(z)
    zc = np.clip(z, -40.0, 40.0)
    return 0.5 * erfc(-z / 2**0.5) + zc * np.exp(-0.5 * zc * zc) / (2 * np.pi) ** 0.5

def gelu_tanh(z):
    z = np.asarray(z)
    zc = np.clip(z, -1e4, 1e4)
    gate = 0.5 * (1 + np.tanh((2 / np.pi) ** 0.5 * (zc + 0.044715 * zc**3)))
    return np.where(gate == 0, 0.0, z) * gate

def elu(z, alpha=1.0):
    z = np.asarray(z)
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))

def elu_grad(z, alpha=1.0):
    z = np.asarray(z)
    return np.where(z >= 0, 1.0, alpha * np.exp(np.minimum(z, 0)))

def selu(z):
    return 1.0507009873554804934 * elu(z, 1.6732632423543772848)

def selu_grad(z):
    return 1.0507009873554804934 * elu_grad(z, 1.6732632423543772848)
"""

VISIBLE = """
from course_utils.checks import (check_derivative, check_dtype_shape, check_edge_cases,
    check_mish_identity, check_numerical_derivative, check_prelu_grad_a, check_values,
    hidden_values)
from course_utils.checks.specs import NAMES, SPECS

for name in NAMES:
    fn = globals()[name]
    check_values(fn, name)
    check_edge_cases(fn, name)
    check_dtype_shape(fn, name)
    if SPECS[name].forward:
        check_derivative(fn, globals()[SPECS[name].forward], name)
check_prelu_grad_a(prelu_grad_a)
check_numerical_derivative(numerical_derivative)
check_mish_identity(mish_grad, mish_delta, swish, mish)
try:
    hidden_values(sigmoid, "sigmoid")
except ImportError:
    pass
else:
    raise SystemExit("the blocker let course_utils.reference through")
print("visible checks ok")
"""


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_importing_the_checks_does_not_import_the_reference():
    done = run_python("""
        import sys
        import course_utils.checks
        import course_utils.checks.elementwise
        import course_utils.fixtures
        loaded = sorted(m for m in sys.modules
                        if m.startswith(("course_utils.reference", "course_utils.fixtures.make")))
        print(loaded)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_visible_checks_work_without_the_reference():
    done = run_python(BLOCKER + SOLUTIONS + VISIBLE)
    assert done.returncode == 0, done.stdout + done.stderr
    *passed, last = done.stdout.strip().splitlines()
    assert last == "visible checks ok"
    assert passed and all(line.startswith("✓ ") for line in passed), passed
    assert done.stderr == ""
