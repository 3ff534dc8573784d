"""A real JupyterHub for the browser test of a class (test_hub_flow.py), from the repository's
own configuration (deploy/jupyterhub/jupyterhub_config.py), run as root on loopback.

It needs what a small-class deployment needs: root (PAM logins, servers spawned as their
users), the machine's own Unix accounts (made here, with random passwords, and removed at
the end), configurable-http-proxy (deploy/jupyterhub/install.sh), and a PostgreSQL server
for the gradebook (.ci/run starts one). ``skip_reason`` says what is missing.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from labserver import REPO, free_port

DEPLOY = REPO / "deploy" / "jupyterhub"
PROXY = DEPLOY / "node_modules" / ".bin" / "configurable-http-proxy"
PREFIX = "au"  # test accounts are named au<role><n>: never a real user's name
STUDENTS = (f"{PREFIX}student1", f"{PREFIX}student2")
INSTRUCTOR = f"{PREFIX}instructor"
GRADER = f"{PREFIX}grader"


def skip_reason() -> str | None:
    """Why the hub test cannot run here, or None. Under .ci/run (ACTIVATION_UNITS_CI set), a
    missing piece that .ci/run installs is an error, not a skip: a skipped hub test once
    hid that CI never installed the proxy."""
    reason = _missing()
    if reason and os.environ.get("ACTIVATION_UNITS_CI") and os.geteuid() == 0:
        raise RuntimeError(f"the hub test cannot run under .ci/run: {reason}")
    return reason


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "the hub test runs JupyterHub as root (PAM, servers spawned as their users)"
    if not PROXY.is_file():
        return f"{PROXY} is missing: run deploy/jupyterhub/install.sh (.ci/run does)"
    if not shutil.which("useradd") or not shutil.which("runuser"):
        return "useradd and runuser are needed to make the class's Unix accounts"
    if not os.environ.get("ACTIVATION_UNITS_TEST_PG_URL"):
        return "ACTIVATION_UNITS_TEST_PG_URL is not set (.ci/run starts PostgreSQL for it)"
    return None


# --- Unix accounts ---------------------------------------------------------------------

def make_user(name: str, home: Path) -> str:
    """Create (or reset) the account ``name`` with its home ``home``; its new password."""
    password = secrets.token_urlsafe(12)
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--home-dir", str(home), "--shell",
                        "/bin/bash", name], check=True)
    subprocess.run(["chpasswd"], input=f"{name}:{password}", text=True, check=True)
    return password


def uid(name: str) -> int:
    return pwd.getpwnam(name).pw_uid


def remove_user(name: str) -> None:
    subprocess.run(["userdel", "--remove", name], capture_output=True)


def as_user(name: str, *command: str, cwd: Path | None = None, env: dict | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``command`` as the Unix user ``name`` (a login-like environment: HOME, USER)."""
    home = pwd.getpwnam(name).pw_dir
    base = {"HOME": home, "USER": name, "LOGNAME": name, "LANG": "C.UTF-8",
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    base.update(env or {})
    return subprocess.run(["runuser", "-u", name, "--", "env", "-i",
                           *[f"{k}={v}" for k, v in base.items()], *command],
                          cwd=cwd or home, capture_output=True, text=True, timeout=timeout)


# --- Making the test machine's Python usable by other users --------------------------

def open_path_to(path: Path) -> list[tuple[Path, int]]:
    """Let every user traverse the directories above ``path`` (o+x, never o+r); returns
    what to restore. A deployment installs Python where everyone can run it; this
    machine's pyenv lives under /root."""
    changed = []
    for parent in reversed(Path(os.path.realpath(path)).parents):
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            changed.append((parent, mode))
            parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
    return changed


def restore_modes(changed: list[tuple[Path, int]]) -> None:
    for path, mode in changed:
        path.chmod(stat.S_IMODE(mode))


# --- The hub -----------------------------------------------------------------------------

@dataclass
class Hub:
    """A running hub: its URL, its base directory and the passwords of its users."""

    url: str
    base: Path
    course: Path
    exchange: Path
    db_url: str
    passwords: dict[str, str]
    proc: subprocess.Popen | None = None
    log: Path | None = None
    restore: list = field(default_factory=list)

    def get(self, path: str, cookies: str = "") -> int:
        """HTTP status of GET ``path`` (redirects not followed)."""
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        request = urllib.request.Request(f"{self.url}/{path.lstrip('/')}",
                                         headers={"Cookie": cookies} if cookies else {})
        try:
            with opener.open(request, timeout=20) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, ConnectionError):
            return 0

    def grader(self, *command: str, timeout: float = 900) -> subprocess.CompletedProcess:
        """``command`` as the grader, in the course directory, with the gradebook URL."""
        return as_user(GRADER, *command, cwd=self.course, timeout=timeout,
                       env={"ACTIVATION_UNITS_DB_URL": self.db_url,
                            "ACTIVATION_UNITS_EXCHANGE": str(self.exchange)})


def make_class(pg_url: str) -> Hub:
    """The class: accounts, the course directory (the grader's, 700), the exchange (1777),
    a fresh PostgreSQL gradebook, assignment 02 generated and released."""
    base = Path(tempfile.mkdtemp(prefix="au-hub-", dir="/tmp"))
    base.chmod(0o755)
    restore = open_path_to(Path(sys.executable).resolve())
    passwords = {name: make_user(name, base / "home" / name)
                 for name in (*STUDENTS, INSTRUCTOR, GRADER)}
    course = base / "course"
    course.mkdir()
    for name in ("source", "release"):
        shutil.copytree(REPO / name, course / name)
    shutil.copy2(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    uid = pwd.getpwnam(GRADER)
    for path in [course, *course.rglob("*")]:
        os.chown(path, uid.pw_uid, uid.pw_gid)
    course.chmod(0o700)
    exchange = base / "exchange"
    exchange.mkdir()
    exchange.chmod(0o1777)
    db_url = _fresh_database(pg_url, base.name.replace("-", "_"))
    hub = Hub("", base, course, exchange, db_url, passwords, restore=restore)
    for step in (["nbgrader", "generate_assignment", "02_activation_units", "--force"],
                 ["nbgrader", "release_assignment", "02_activation_units"]):
        done = hub.grader(sys.executable, "-m", *step)
        if done.returncode:
            raise RuntimeError(f"{' '.join(step)} failed:\n{done.stdout}\n{done.stderr}")
    return hub


def _fresh_database(pg_url: str, name: str) -> str:
    """A new database for this class on the test server; its URL."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_url.rsplit("/", 1)[0] + f"/{name}"


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports (the hub, its API, the proxy's
    API, the formgrader service: jupyterhub_config.py numbers them from one)."""
    for _ in range(50):
        first = free_port()
        if first + count > 65536:
            continue
        try:
            for port in range(first, first + count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise RuntimeError(f"no {count} consecutive free ports on 127.0.0.1")


def start_hub(hub: Hub, timeout: float = 120.0) -> Hub:
    """Start JupyterHub with deploy/jupyterhub/jupyterhub_config.py for ``hub``'s class."""
    port = free_ports(4)
    data = hub.base / "hub"
    data.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER",
                                                                   "ACTIVATION_UNITS_"))}
    env.update({
        "ACTIVATION_UNITS_COURSE_DIR": str(hub.course),
        "ACTIVATION_UNITS_EXCHANGE": str(hub.exchange),
        "ACTIVATION_UNITS_DB_URL": hub.db_url,
        "ACTIVATION_UNITS_GRADER": GRADER,
        "ACTIVATION_UNITS_INSTRUCTORS": INSTRUCTOR,
        "ACTIVATION_UNITS_STUDENTS": " ".join(STUDENTS),
        "ACTIVATION_UNITS_HUB_DATA": str(data),
        "ACTIVATION_UNITS_HUB_PORT": str(port),
        "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}",
    })
    hub.log = data / "hub.log"
    with open(hub.log, "wb") as out:
        hub.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(DEPLOY / "jupyterhub_config.py")],
            cwd=data, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    hub.url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hub.proc.poll() is not None:
            raise RuntimeError(f"jupyterhub exited with {hub.proc.returncode}:\n"
                               f"{hub.log.read_text()[-5000:]}")
        if hub.get("hub/health") == 200 and hub.get("services/activation-units/") in (
                302, 200, 403):
            return hub
        time.sleep(0.5)
    stop(hub)
    raise RuntimeError(f"jupyterhub did not answer within {timeout:.0f} s:\n"
                       f"{hub.log.read_text()[-5000:]}")


def stop(hub: Hub) -> None:
    """Stop the hub, its proxy, the service and every user's server; remove the class."""
    if hub.proc is not None and hub.proc.poll() is None:
        try:
            os.killpg(hub.proc.pid, signal.SIGTERM)
            hub.proc.wait(timeout=20)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            os.killpg(hub.proc.pid, signal.SIGKILL)
    for name in (*STUDENTS, INSTRUCTOR, GRADER):
        subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
        remove_user(name)
    restore_modes(hub.restore)
    shutil.rmtree(hub.base, ignore_errors=True)
