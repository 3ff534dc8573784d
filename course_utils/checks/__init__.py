"""The checks every notebook test cell calls, one module per assignment topic.

Visible checks (``check_*``) never import the reference: they compare against the
fixtures shipped in ``course_utils.fixtures`` and against properties of the learner's own
code. Hidden checks (``hidden_*``, used only inside nbgrader's hidden-test regions) import
``course_utils.reference`` when called and compare on randomized and extreme inputs.
"""

from course_utils.checks.backprop import *  # noqa: F403
from course_utils.checks.elementwise import *  # noqa: F403
from course_utils.checks.nonlinearity import *  # noqa: F403
from course_utils.checks.torch_units import *  # noqa: F403
