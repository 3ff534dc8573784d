"""Run the heaviest test files first.

``./course.sh test`` runs two pytest workers, each taking whole files (``--dist loadfile``)
in collection order. Alphabetical order would leave the longest files (the re-check's
graded corpus, the hostile corpus) for last, and one worker alone at the end for minutes;
longest first, the two finish together. Within a file the order is unchanged.
"""

from __future__ import annotations

#: Test files, longest first (``pytest --durations``); the others follow, alphabetically.
HEAVIEST = ("test_verify.py", "test_hub_flow.py", "test_hostile.py", "test_dask_grading.py",
            "test_postgres.py", "test_pipeline.py", "test_benchmarks.py",
            "test_instructor_flow.py", "test_claims.py",
            "test_student_flow.py", "test_assignment_03.py", "test_verify_torch.py",
            "test_verify_random.py", "test_build_checks.py")


def pytest_collection_modifyitems(session, config, items):
    def rank(item):
        name = item.path.name
        return HEAVIEST.index(name) if name in HEAVIEST else len(HEAVIEST)

    items.sort(key=rank)  # stable: each file keeps its own order
