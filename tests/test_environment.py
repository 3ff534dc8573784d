"""The environment is pinned in one place (pyproject.toml); environment.yml must agree."""

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([0-9][A-Za-z0-9.+]*)$")


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + [
        s for extra in project["optional-dependencies"].values() for s in extra
    ]
    pins = {}
    for spec in specs:
        match = PIN.match(spec)
        assert match, f"pyproject.toml: '{spec}' is not pinned with '=='."
        pins[match[1].lower()] = match[2]
    return pins


def environment_pins() -> tuple[str, dict[str, str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python, pip_specs = None, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_specs += dep["pip"]
        elif dep.startswith("python="):
            python = dep.split("=", 1)[1]
    pins = {}
    for spec in pip_specs:
        if spec.startswith("-e"):
            continue
        match = PIN.match(spec)
        assert match, f"environment.yml: '{spec}' is not pinned with '=='."
        pins[match[1].lower()] = match[2]
    return python, pins


def test_environment_yml_matches_pyproject():
    python, env = environment_pins()
    assert python == "3.11"
    assert env == pyproject_pins()


def test_python_version_matches():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11,<3.12"


@pytest.mark.parametrize("name,pinned", sorted(pyproject_pins().items()))
def test_installed_versions_are_the_pinned_ones(name, pinned):
    installed = version(name).split("+")[0]  # torch reports 2.13.0+cpu
    assert installed == pinned, f"{name}: installed {installed}, pinned {pinned}"
