"""Start and stop a JupyterLab server for the browser tests (used by conftest.py and the
instructor flow). No pytest here: the functions work from a plain script too."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
STUDENT_CONFIG = REPO / "student"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# JupyterLab's start-up news/update poll would try the network: off in every test server.
TEST_PAGE_CONFIG = {
    "disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True},
}
# Test-only user settings: every cell of a notebook stays in the DOM (no virtual scrolling),
# so that a test finds a cell by its text wherever it is.
TEST_USER_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


# --- JupyterLab --------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    """A running JupyterLab server: where it serves, its token and its root directory."""

    url: str
    token: str
    root: Path
    log: Path

    def lab_url(self, path: str = "lab") -> str:
        return f"{self.url}/{path}?token={self.token}"

    def get(self, path: str) -> int:
        """HTTP status of GET ``path`` with the token (404 when a handler is absent, 0 when
        nothing answers yet)."""
        request = urllib.request.Request(f"{self.url}/{path}",
                                         headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, ConnectionError):
            return 0


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def start_lab(root: Path, home: Path, student: bool, timeout: float = 60.0):
    """Start ``jupyter lab`` on 127.0.0.1 serving ``root``; return (Lab, process).

    The server runs in ``root`` (so nbgrader reads the course's ``nbgrader_config.py``
    there) with its own user config, data, runtime and settings directories under
    ``home``: nothing of the machine's ``~/.jupyter`` leaks in. ``student=True`` adds the
    course's student configuration (``student/``) to the config path, as ``course.sh lab``
    does; otherwise the server has the installed (instructor) extensions.
    """
    port, token = free_port(), secrets.token_hex(16)
    user_config = home / "config"
    _write_json(user_config / "labconfig" / "page_config.json", TEST_PAGE_CONFIG)
    for name, settings in TEST_USER_SETTINGS.items():
        _write_json(home / "settings" / name, settings)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER", "ACTIVATION_UNITS_"))}
    env.update(
        JUPYTER_CONFIG_DIR=str(user_config),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        IPYTHONDIR=str(home / "ipython"),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    if student:
        env["JUPYTER_CONFIG_PATH"] = str(STUDENT_CONFIG)
    log = home / f"lab-{port}.log"
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI run as root
        cmd.append("--allow-root")
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    lab = Lab(url=f"http://127.0.0.1:{port}", token=token, root=root, log=log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()}")
        if lab.get("api/status") == 200:
            return lab, proc
        time.sleep(0.25)
    stop_lab(proc)
    raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s:\n{log.read_text()}")


def stop_lab(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group (server and kernels), SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)
