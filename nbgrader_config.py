"""nbgrader configuration of the course; the repository root is the course root.

The stock commands (nbgrader generate_assignment, autograde, generate_feedback, export,
the formgrader) read this file when run from here.
"""

import os

c = get_config()  # noqa: F821  (nbgrader injects get_config)

c.CourseDirectory.course_id = "activation-units"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
