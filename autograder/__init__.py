"""The course's instructor commands, over nbgrader's Python API (``python -m autograder``)."""
