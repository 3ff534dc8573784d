"""Isolated grading kernels: bubblewrap namespaces, the ``nobody`` identity, rlimits.

Design (docs/GRADING.md has the full story). Grading uses a kernelspec of its own,
``activation-units-sandbox``, whose argv runs *this file* as a launcher:

1. The kernel manager (nbgrader's ``Execute``, in the grading process) starts the launcher
   with a normal TCP connection file, as it would start ``ipykernel``.
2. The launcher writes a second connection file for the real kernel with the IPC transport
   (unix sockets in a fresh private directory), and starts ``python -m ipykernel_launcher``
   inside ``bwrap``: new network, PID, IPC and UTS namespaces (no network at all), a mount
   namespace that shows only ``/usr``, the Python installation, the virtualenv, the course's
   ``course_utils`` package, a private ``/tmp``, the socket directory and the submission's own
   directory; ``setpriv`` then drops to uid/gid 65534 (``nobody``) with no capabilities, and
   rlimits cap address space, CPU seconds, processes and file size. The environment is
   cleared (so ``NBGRADER_EXECUTION`` is not visible to graded code).
3. The launcher dies with its parent (``PR_SET_PDEATHSIG``), and bwrap with the launcher
   (``--die-with-parent``), so a grading process that is killed leaves no kernel behind.
4. The launcher forwards the five TCP ports the kernel manager expects to the kernel's unix
   sockets (ZMTP is the same byte stream over both), and exits with the kernel's status
   (128 + signal for a kernel killed by a signal), so the grader can say why a kernel died.

Interrupts go over the control channel (``interrupt_mode: message``); a kernel that ignores
them is killed by the grader (autograder.outcomes.GuardedExecute).

Configuration (environment, read by ``nbgrader_config.py``):

ACTIVATION_UNITS_ISOLATION
    ``on`` (default): grade in the sandbox, refuse to grade where it cannot run.
    ``off``: the explicit opt-out; the stock ``python3`` kernel runs as the grader's user.
ACTIVATION_UNITS_SANDBOX_MEMORY_MB / _CPU_S / _NPROC / _FSIZE_MB
    The rlimits (defaults 6144 MB address space, 900 CPU seconds, 256 processes, 256 MB).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

KERNEL_NAME = "activation-units-sandbox"
NOBODY = 65534
ENV_SWITCH = "ACTIVATION_UNITS_ISOLATION"
PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
#: Environment variables passed into the sandbox (everything else is cleared): the locale,
#: and whatever chooses the numerical kernels (OPENBLAS_CORETYPE, MKL_CBWR,
#: NPY_DISABLE_CPU_FEATURES, ATEN_CPU_CAPABILITY, thread counts), so that the sandboxed
#: child computes the checks' inputs bit for bit as the process that re-checks it does (a
#: Haswell kernel forced outside and an auto-detected one inside round a QR differently,
#: and the replay then finds no such call).
PASS_ENV = ("LANG", "LC_ALL", "PYTHONHASHSEED", "TZ", "ATEN_CPU_CAPABILITY")
PASS_PREFIXES = ("OPENBLAS_", "GOTO_", "MKL_", "OMP_", "KMP_", "BLIS_", "NPY_")


def enabled() -> bool:
    """Whether isolation is asked for (the default); ``ACTIVATION_UNITS_ISOLATION=off`` opts out."""
    return os.environ.get(ENV_SWITCH, "on").strip().lower() not in ("off", "0", "no", "false")


def limits() -> dict[int, int]:
    """The rlimits of a graded kernel, {resource: value}."""
    def env(name, default):
        return int(os.environ.get(f"ACTIVATION_UNITS_SANDBOX_{name}", default))
    mb = 1024 * 1024
    return {resource.RLIMIT_AS: env("MEMORY_MB", 6144) * mb,
            resource.RLIMIT_CPU: env("CPU_S", 900),
            resource.RLIMIT_NPROC: env("NPROC", 256),
            resource.RLIMIT_FSIZE: env("FSIZE_MB", 256) * mb,
            resource.RLIMIT_CORE: 0}


# --- What the sandbox shows ------------------------------------------------------------
def _course_utils_dirs() -> list[str]:
    """Every directory ``course_utils`` is imported from."""
    import importlib.util

    spec = importlib.util.find_spec("course_utils")
    return list(spec.submodule_search_locations or []) if spec else []


def _package_dirs() -> list[str]:
    """Directories of ``course_utils`` outside the virtualenv (an editable install)."""
    return [d for d in _course_utils_dirs() if not d.startswith(sys.prefix)]


def _ancestors(path: str) -> list[str]:
    parts = Path(path).parts
    return [str(Path(*parts[:i])) for i in range(2, len(parts))]


def reference_paths() -> list[str]:
    """Where the reference solutions live (``course_utils.reference`` and
    ``reference_torch``), in whichever installation ``course_utils`` is imported from."""
    found = []
    for directory in _course_utils_dirs():
        for name in ("reference", "reference_torch.py"):
            path = os.path.join(directory, name)
            if os.path.exists(path):
                found.append(path)
    return list(dict.fromkeys(found))


def bwrap_argv(cwd: str, rw: list[str], command: list[str],
               ro_extra: list[str] = (), hide: list[str] = ()) -> list[str]:
    """The ``bwrap ... setpriv ... command`` line that runs ``command`` isolated in ``cwd``.

    ``rw`` are bound writable, ``ro_extra`` read-only, on top of the Python installation.
    ``hide`` are paths inside those made empty: a directory becomes an empty tmpfs, a file
    an empty one (``/dev/null``), so nothing in them can be read or imported.
    """
    ro = ["/usr", os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix,
          *_package_dirs(), *ro_extra]
    ro = list(dict.fromkeys(p for p in ro if os.path.isdir(p)))
    argv = ["bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--clearenv"]
    for top in ("bin", "lib", "lib64", "sbin", "lib32"):
        if os.path.islink(f"/{top}"):
            argv += ["--symlink", os.readlink(f"/{top}"), f"/{top}"]
        elif os.path.isdir(f"/{top}"):
            ro.insert(0, f"/{top}")
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/dev/shm",
             "--perms", "1777", "--tmpfs", "/tmp"]
    made = set()
    for path in [*ro, *rw]:
        for parent in _ancestors(path):
            if parent not in made and not any(parent == p for p in ("/usr", "/tmp")):
                argv += ["--perms", "0755", "--dir", parent]
                made.add(parent)
    for path in ro:
        argv += ["--ro-bind", path, path]
    argv += ["--perms", "0755", "--dir", "/etc"]
    for etc in ("/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf", "/etc/fonts",
                "/etc/passwd", "/etc/group"):
        argv += ["--ro-bind-try", etc, etc]
    for path in rw:
        argv += ["--bind", path, path]
    for path in hide:
        argv += ["--tmpfs", path] if os.path.isdir(path) else ["--ro-bind", "/dev/null", path]
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": "/tmp",
           "MPLCONFIGDIR": "/tmp", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
    env.update({k: v for k, v in os.environ.items()
                if k in PASS_ENV or k.startswith(PASS_PREFIXES)})
    for key, value in env.items():
        argv += ["--setenv", key, value]
    argv += ["--chdir", cwd]
    if os.geteuid() == 0:
        # Real root outside: keep only what setpriv needs to become nobody, then drop all.
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add",
                 "CAP_SETPCAP", "--", "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                 "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--"]
    else:
        # An unprivileged grader: bwrap's user namespace, mapped to nobody inside.
        argv[1:1] = ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
        argv += ["--"]
    return argv + command


def set_limits() -> None:
    for res, value in limits().items():
        resource.setrlimit(res, (value, value))


_PROBE: str | None = None


def unavailable() -> str:
    """Why isolated kernels cannot run here ('' when they can). Cached per process."""
    global _PROBE
    if _PROBE is not None:
        return _PROBE
    reason = ""
    if sys.platform != "linux":
        reason = "isolation needs Linux namespaces (bubblewrap); this is " + sys.platform
    elif shutil.which("bwrap") is None:
        reason = ("bubblewrap (bwrap) is not installed; install it (apt-get install "
                  "bubblewrap)")
    elif os.geteuid() == 0 and shutil.which("setpriv") is None:
        reason = "setpriv (util-linux) is not installed"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            os.chmod(tmp, 0o755)
            argv = bwrap_argv(tmp, [tmp], [sys.executable, "-c", "import os; print(os.getuid())"])
            try:
                run = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                                     preexec_fn=set_limits)
                if run.returncode != 0 or run.stdout.strip() != str(NOBODY):
                    reason = ("bubblewrap cannot create the sandbox here (namespaces not "
                              f"permitted?): {(run.stderr or run.stdout).strip()[-300:]}")
            except (OSError, subprocess.TimeoutExpired) as exc:
                reason = f"bubblewrap failed to start: {exc}"
    _PROBE = reason
    return reason


def require() -> None:
    """Raise ``RuntimeError`` saying why, when isolation is on and cannot run."""
    if enabled():
        reason = unavailable()
        if reason:
            raise RuntimeError(
                f"grading runs submissions in an isolated sandbox, and {reason}. "
                f"Install it, or opt out explicitly with {ENV_SWITCH}=off (graded code then "
                "runs as your user, with network and no resource limits).")


# --- The kernelspec -------------------------------------------------------------------------
def kernelspec() -> dict:
    """The grading kernelspec (kept in memory: ``autograder.outcomes.SandboxKernelManager``
    serves it to the grading kernel manager only, so it never shows up in a Jupyter server's
    kernel list and no file in a shared directory can be swapped for another)."""
    return {"argv": [sys.executable, str(Path(__file__).resolve()), "-f", "{connection_file}"],
            "display_name": "Python 3 (isolated grading)", "language": "python",
            "interrupt_mode": "message", "metadata": {"debugger": False}, "env": {}}


def configure(c) -> None:
    """Called by ``nbgrader_config.py``: the kernel ``autograde`` runs submissions in.

    Only autograding (``GuardedExecute``) is isolated; ``nbgrader validate`` (a learner
    checking their own work) keeps the plain ``python3`` kernel of ``c.Execute``.
    """
    c.GuardedExecute.kernel_name = KERNEL_NAME if enabled() else "python3"


# --- The launcher (runs as the kernel process of the kernelspec) ---------------------------
async def _pipe(reader, writer) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _forward(path: str, reader, writer) -> None:
    try:
        await _forward_unquiet(path, reader, writer)
    except (asyncio.CancelledError, ConnectionError, OSError):
        writer.close()


async def _forward_unquiet(path: str, reader, writer) -> None:
    for _ in range(600):  # the kernel binds its sockets within a few seconds
        try:
            inner_reader, inner_writer = await asyncio.open_unix_connection(path)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            await asyncio.sleep(0.05)
    else:
        writer.close()
        return
    await asyncio.gather(_pipe(reader, inner_writer), _pipe(inner_reader, writer))


async def _launch(connection_file: str, extra: list[str]) -> int:
    info = json.loads(Path(connection_file).read_text())
    private = tempfile.mkdtemp(prefix="au-kernel-")
    try:
        inner = dict(info, transport="ipc", ip=os.path.join(private, "k"))
        for n, name in enumerate(PORTS, start=1):
            inner[name] = n
        inner_file = os.path.join(private, "connection.json")
        Path(inner_file).write_text(json.dumps(inner))
        cwd = os.getcwd()
        # The notebook's directory: writable when it is a grading copy (autograded/...),
        # read-only otherwise (e.g. `nbgrader validate` run on a file in the course).
        writable = "autograded" in Path(cwd).parts
        if os.geteuid() == 0:
            for path in (private, inner_file):
                os.chown(path, NOBODY, NOBODY)
            if writable:
                os.chown(cwd, NOBODY, NOBODY)
        servers = []
        for n, name in enumerate(PORTS, start=1):
            path = f"{inner['ip']}-{n}"
            servers.append(await asyncio.start_server(
                lambda r, w, p=path: _forward(p, r, w), info["ip"], info[name],
                family=socket.AF_INET))
        argv = bwrap_argv(cwd, [private, cwd] if writable else [private],
                          [sys.executable, "-m", "ipykernel_launcher", "-f", inner_file, *extra],
                          ro_extra=[] if writable else [cwd])
        # The kernel's own stdout/stderr (not the cells', those go over zmq) stay out of the
        # grader's terminal; the end of stderr is shown when the sandbox fails.
        proc = await asyncio.create_subprocess_exec(
            *argv, preexec_fn=_bwrap_child, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda s=sig: proc.send_signal(s))
        tail = b""
        while chunk := await proc.stderr.read(65536):
            tail = (tail + chunk)[-4096:]
        code = await proc.wait()
        if code and b"bwrap" in tail:
            sys.stderr.write(tail.decode(errors="replace"))
        loop.set_exception_handler(lambda *_: None)  # the forwarders' ends are not news
        for server in servers:
            server.close()
        return 128 - code if code < 0 else code
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _kill_me_with_my_parent() -> None:
    """``PR_SET_PDEATHSIG``: Linux SIGKILLs this process when its parent dies."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not Linux: bwrap is not there either
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


def die_with_parent() -> bool:
    """Have this process die with its parent; False when the parent is already gone.

    The launcher's parent is the grading process. When that is killed (a Dask worker
    SIGKILLed mid-task, the OOM killer), the launcher dies, the outer bwrap with it (set
    in ``_bwrap_child``), and bwrap's ``--die-with-parent`` ends the sandbox: no orphaned
    kernel keeps a worker's CPU."""
    parent = os.getppid()
    _kill_me_with_my_parent()
    return os.getppid() == parent


def _bwrap_child() -> None:
    """Run in the forked child before bwrap starts: the rlimits, and death with the
    launcher (bwrap's own ``--die-with-parent`` covers only the processes inside)."""
    set_limits()
    _kill_me_with_my_parent()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not die_with_parent():
        print("activation-units-sandbox: the grading process is gone", file=sys.stderr)
        return 3
    if len(argv) < 2 or argv[0] != "-f":
        print("usage: sandbox.py -f CONNECTION_FILE [kernel arguments]", file=sys.stderr)
        return 2
    reason = "" if shutil.which("bwrap") else "bubblewrap (bwrap) is not installed"
    if reason:
        print(f"activation-units-sandbox: cannot start an isolated kernel: {reason}",
              file=sys.stderr)
        return 3
    return asyncio.run(_launch(argv[1], argv[2:]))


if __name__ == "__main__":
    sys.exit(main())
