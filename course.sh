#!/usr/bin/env bash
# The course's one entry point. On a fresh clone with only Python 3.11 and pip:
#
#   ./course.sh demo    set up, then run the instructor demo (build, grade, feedback, report)
#   ./course.sh test    set up, then run the whole test suite
#   ./course.sh lab     set up, then open JupyterLab on the student notebooks (release/)
#   ./course.sh grade NOTEBOOK   self-grade one notebook you worked on (hidden tests included)
#   ./course.sh progress         every visible test of release/'s notebooks, per exercise
#
# Setup is idempotent: a virtual environment in .venv with the pinned packages of
# pyproject.toml, reinstalled only when pyproject.toml or setup.py change.
set -euo pipefail
start_dir=$PWD
cd "$(dirname "$0")"

find_python() {
    for candidate in "${PYTHON:-}" python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "course.sh: Python 3.11 is required; install it or point PYTHON at it (PYTHON=/path/to/python3.11 ./course.sh ...)." >&2
    return 1
}

setup() {
    local python stamp
    python=$(find_python)
    [ -x .venv/bin/python ] || "$python" -m venv .venv
    stamp=".venv/.installed-$(cat pyproject.toml setup.py | cksum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ]; then
        echo "course.sh: installing the pinned environment into .venv (first run only) ..." >&2
        # pip's and the build backend's chatter goes to a log, shown only if the install fails.
        if ! { .venv/bin/python -m pip install --quiet --upgrade pip &&
               .venv/bin/python -m pip install --quiet -e ".[test]"; } > .venv/install.log 2>&1
        then
            cat .venv/install.log >&2
            echo "course.sh: the install failed (log above, also in .venv/install.log)." >&2
            exit 1
        fi
        rm -f .venv/.installed-*
        touch "$stamp"
    fi
}

cmd=${1:-help}
[ $# -gt 0 ] && shift
case "$cmd" in
    setup) setup ;;
    demo) setup; exec .venv/bin/python -m autograder demo "$@" ;;
    # Two pytest workers, one test file each at a time (module fixtures are built once):
    # most tests wait on a kernel or a grading pool, so two share 2 cores well.
    test) setup; exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@" ;;
    lab) setup; JUPYTER_CONFIG_PATH="$PWD/student${JUPYTER_CONFIG_PATH:+:$JUPYTER_CONFIG_PATH}" exec .venv/bin/jupyter lab --notebook-dir=release "$@" ;;
    grade)
        setup
        # A notebook path is meant relative to where the command was typed.
        if [ $# -gt 0 ] && [[ $1 != /* ]] && [ -e "$start_dir/$1" ]; then
            set -- "$start_dir/$1" "${@:2}"
        fi
        exec .venv/bin/python -m autograder selfgrade "$@" ;;
    progress)
        setup
        args=()
        for notebook in "$@"; do  # paths are meant relative to where the command was typed
            if [[ $notebook != /* ]] && [ -e "$start_dir/$notebook" ]; then
                notebook="$start_dir/$notebook"
            fi
            args+=("$notebook")
        done
        exec .venv/bin/python -m autograder progress "${args[@]}" ;;
    help | -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) echo "course.sh: unknown command '$cmd'; try ./course.sh help" >&2; exit 2 ;;
esac
