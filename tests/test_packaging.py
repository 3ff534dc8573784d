"""The two installs: the full package (instructors, CI) and the student one without solutions."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def build_wheel(tmp_path: Path, student: bool) -> set[str]:
    # Build from a clean copy: setuptools reuses a build/ directory left by an earlier build.
    src = tmp_path / "src"
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, src / name if src.exists() else _mkdir(src) / name)
    for package in ("course_utils", "autograder"):
        shutil.copytree(ROOT / package, src / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, COURSE_UTILS_STUDENT="1" if student else "0")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(src)],
        env=env, check=True, capture_output=True, cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("student", [False, True], ids=["full", "student"])
def test_wheel_contents(tmp_path, student):
    names = build_wheel(tmp_path, student)
    reference = {n for n in names if n.startswith("course_utils/reference")}
    assert "course_utils/checks/engine.py" in names
    assert "autograder/cli.py" in names
    if student:
        assert reference == set(), f"the student wheel ships solutions: {sorted(reference)}"
    else:
        assert "course_utils/reference/activations.py" in names
        assert "course_utils/reference_torch.py" in names
