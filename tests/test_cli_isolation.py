"""Where the sandbox cannot run: `grade` refuses, `demo` and `selfgrade` fall back and say so."""

import argparse

import pytest

from autograder import cli, sandbox


@pytest.fixture
def no_sandbox(monkeypatch):
    # setenv first, so that monkeypatch records the variable's original state and removes
    # what choose_isolation writes (a bare delenv of an absent variable records nothing).
    monkeypatch.setenv(sandbox.ENV_SWITCH, "unset")
    monkeypatch.delenv(sandbox.ENV_SWITCH)
    monkeypatch.setattr(sandbox, "unavailable", lambda: "bubblewrap (bwrap) is not installed")


@pytest.mark.parametrize("command", ["demo", "selfgrade"])
def test_own_code_falls_back_with_a_notice(no_sandbox, capsys, command):
    cli.choose_isolation(argparse.Namespace(command=command, no_isolation=False))
    assert sandbox.enabled() is False
    err = capsys.readouterr().err
    assert "bwrap" in err and "unsandboxed" in err


def test_grade_keeps_isolation_on_and_refuses(no_sandbox, capsys):
    cli.choose_isolation(argparse.Namespace(command="grade", no_isolation=False))
    assert sandbox.enabled() is True
    with pytest.raises(RuntimeError, match="bubblewrap"):
        sandbox.require()


def test_no_isolation_is_the_explicit_opt_out(no_sandbox):
    cli.choose_isolation(argparse.Namespace(command="grade", no_isolation=True))
    assert sandbox.enabled() is False


def test_an_explicit_setting_wins_over_the_fallback(no_sandbox, monkeypatch):
    monkeypatch.setenv(sandbox.ENV_SWITCH, "on")
    cli.choose_isolation(argparse.Namespace(command="demo", no_isolation=False))
    assert sandbox.enabled() is True


def test_the_sandbox_keeps_the_numerical_kernels_and_drops_the_rest(monkeypatch, tmp_path):
    """The re-check's child runs in the sandbox and must compute the checks' inputs bit for
    bit as the deciding process does: the variables that pick BLAS and SIMD kernels go in
    (a forced OPENBLAS_CORETYPE outside and an auto-detected one inside rounded 01's QR
    differently, and every honest fit_output_layer cell failed the re-check); others do not."""
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("NPY_DISABLE_CPU_FEATURES", "AVX512F")
    monkeypatch.setenv("ACTIVATION_UNITS_SECRET", "s3cret")
    argv = sandbox.bwrap_argv(str(tmp_path), [str(tmp_path)], ["python", "-c", "pass"])
    given = {argv[i + 1]: argv[i + 2] for i, a in enumerate(argv) if a == "--setenv"}
    assert given["OPENBLAS_CORETYPE"] == "Haswell"
    assert given["NPY_DISABLE_CPU_FEATURES"] == "AVX512F"
    assert "ACTIVATION_UNITS_SECRET" not in given
