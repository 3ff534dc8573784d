"""JupyterHub for one class of Activation Units on one machine (docs/JUPYTERHUB.md).

Run as root, from this directory, with the course's environment:

    deploy/jupyterhub/install.sh                       # configurable-http-proxy, from npm
    cd deploy/jupyterhub && /path/to/venv/bin/jupyterhub -f jupyterhub_config.py

What it sets up (the browser test tests/e2e/test_hub_flow.py runs exactly this file):

* **Users** are the machine's own accounts, logged in with their own passwords (PAM,
  JupyterHub's default authenticator), and only those listed below.
* **Servers** run as each user, in their home directory (LocalProcessSpawner, the default
  spawner): students can read neither the course directory nor each other's files. They get
  the student configuration (``student/``: no Formgrader, no Create Assignment) and the
  course's nbgrader settings (``jupyter/nbgrader_config.py``: the course id, the exchange).
* **The formgrader** is a hub-managed service named after the course id, running as the
  grader account in the course directory, so instructors share one gradebook and students
  never reach it. It opens on its own page (``/services/activation-units/formgrader``):
  JupyterHub >= 4.1 forbids framing a server's pages (nbgrader#1870), which is what the
  JupyterLab formgrader tab does.
* **The gradebook** URL (PostgreSQL for a class) goes to the formgrader service only.

Everything a deployment changes comes from the environment, with these defaults:

=================================  ======================================================
ACTIVATION_UNITS_COURSE_DIR        /srv/courses/activation-units (owned by the grader, 700)
ACTIVATION_UNITS_EXCHANGE          /srv/nbgrader/exchange (1777)
ACTIVATION_UNITS_DB_URL            the gradebook; the course's nbgrader_config.py default if unset
ACTIVATION_UNITS_GRADER            grader-au (the Unix account the formgrader runs as)
ACTIVATION_UNITS_INSTRUCTORS       instructor1 (space-separated Unix user names)
ACTIVATION_UNITS_STUDENTS          student1 student2
ACTIVATION_UNITS_HUB_DATA          /srv/jupyterhub (the hub's own database and cookie secret)
ACTIVATION_UNITS_HUB_PORT          8000 (on 127.0.0.1: put a TLS proxy in front)
ACTIVATION_UNITS_PYTHON            the Python of the formgrader: the course's full install
                                   (default: the Python running the hub)
ACTIVATION_UNITS_STUDENT_PYTHON    the Python of the students' servers (default: the same);
                                   for a class, a second environment installed with
                                   ``COURSE_UTILS_STUDENT=1 pip install .`` (no solutions)
=================================  ======================================================
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def setting(name: str, default: str) -> str:
    return os.environ.get(f"ACTIVATION_UNITS_{name}", default)


COURSE_ID = "activation-units"   # nbgrader finds the course's formgrader by this name
COURSE_DIR = setting("COURSE_DIR", "/srv/courses/activation-units")
EXCHANGE = setting("EXCHANGE", "/srv/nbgrader/exchange")
GRADER = setting("GRADER", "grader-au")
INSTRUCTORS = setting("INSTRUCTORS", "instructor1").split()
STUDENTS = setting("STUDENTS", "student1 student2").split()
DATA = Path(setting("HUB_DATA", "/srv/jupyterhub"))
PORT = int(setting("HUB_PORT", "8000"))
PYTHON = setting("PYTHON", sys.executable)
STUDENT_PYTHON = setting("STUDENT_PYTHON", PYTHON)

c = get_config()  # noqa: F821 (JupyterHub's config loader provides it)

# --- The hub and its proxy ---------------------------------------------------------------
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = PORT
c.JupyterHub.hub_port = PORT + 1
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 2}"
c.ConfigurableHTTPProxy.command = [str(HERE / "node_modules" / ".bin" /
                                       "configurable-http-proxy")]
c.JupyterHub.db_url = f"sqlite:///{DATA / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(DATA / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(DATA / "jupyterhub.pid")

# --- Who may log in, and how -------------------------------------------------------------
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(INSTRUCTORS + STUDENTS)

# --- Each user's own server --------------------------------------------------------------
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [STUDENT_PYTHON, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.environment = {
    # the student configuration first (it turns the formgrader off), then the course's
    "JUPYTER_CONFIG_PATH": os.pathsep.join([str(REPO / "student"), str(HERE / "jupyter")]),
    "ACTIVATION_UNITS_EXCHANGE": EXCHANGE,
}

# --- The formgrader: one shared server, as the grader, in the course directory -----------
service_env = {
    "JUPYTERHUB_DEFAULT_URL": "/formgrader",
    "JUPYTER_CONFIG_PATH": str(HERE / "jupyter"),
    "ACTIVATION_UNITS_EXCHANGE": EXCHANGE,
    "HOME": COURSE_DIR,
}
if "ACTIVATION_UNITS_DB_URL" in os.environ:  # a secret: the grader's service only
    service_env["ACTIVATION_UNITS_DB_URL"] = os.environ["ACTIVATION_UNITS_DB_URL"]
c.JupyterHub.services = [{
    "name": COURSE_ID,
    "url": f"http://127.0.0.1:{PORT + 3}",
    "command": [PYTHON, "-m", "jupyterhub.singleuser"],
    "user": GRADER,
    "cwd": COURSE_DIR,
    "environment": service_env,
    "oauth_no_confirm": True,
}]
c.JupyterHub.load_groups = {f"formgrade-{COURSE_ID}": INSTRUCTORS}
c.JupyterHub.load_roles = [
    # instructors reach the formgrader; students have no role that does
    {"name": f"formgrade-{COURSE_ID}", "groups": [f"formgrade-{COURSE_ID}"],
     "scopes": [f"access:services!service={COURSE_ID}", "list:services",
                f"read:services!service={COURSE_ID}"]},
    # servers act for their owner (nbgrader's course list asks the hub what they may see)
    {"name": "server", "scopes": ["inherit"]},
]
