"""nbgrader settings of every server of the hub (students' and the formgrader's): which
course, and where its exchange is. The course directory's own nbgrader_config.py adds the
rest for the formgrader (the gradebook, the course root)."""

import os

c = get_config()  # noqa: F821 (nbgrader's config loader provides it)
c.CourseDirectory.course_id = "activation-units"
c.Exchange.root = os.environ.get("ACTIVATION_UNITS_EXCHANGE", "/srv/nbgrader/exchange")
