"""The checks every notebook test cell calls, one module per assignment topic.

Visible checks (``check_*``) never import the reference: they compare against the
fixtures shipped in ``course_utils.fixtures`` and against properties of the learner's own
code. Hidden checks (``hidden_*``, used only inside nbgrader's hidden-test regions) import
``course_utils.reference`` when called and compare on randomized and extreme inputs.

The torch checks load on first use (PEP 562), so the NumPy notebooks never pay for
``import torch`` (seconds per kernel, and grading starts a kernel per submission).
"""

import importlib

from course_utils.checks.approximation import *  # noqa: F403
from course_utils.checks.backprop import *  # noqa: F403
from course_utils.checks.derivatives import *  # noqa: F403
from course_utils.checks.elementwise import *  # noqa: F403
from course_utils.checks.initialisation import *  # noqa: F403
from course_utils.checks.nonlinearity import *  # noqa: F403
from course_utils.checks.normalisation import *  # noqa: F403

_LAZY_MODULES = ("course_utils.checks.torch_functions", "course_utils.checks.torch_modules")


def __getattr__(name):
    for module_name in _LAZY_MODULES:
        module = importlib.import_module(module_name)
        if name in module.__all__:
            return getattr(module, name)
    raise AttributeError(f"module 'course_utils.checks' has no attribute '{name}'")
