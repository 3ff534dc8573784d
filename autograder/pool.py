"""The one process pool: grading and the re-check both fan their submissions out here.

Each job runs in a *spawned* worker (a fresh interpreter: no state of the parent, no
forked locks), results come back as they finish, and a worker that dies is one failed
job, never a failed run. One worker, or one job, runs in this process instead, so a
single submission pays no start-up.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any


def run(fn: Callable[..., Any], jobs: Sequence[tuple], workers: int, *,
        crashed: Callable[[tuple, BaseException], Any], desc: str = "",
        unit: str = "submission", progress: bool = False
        ) -> Iterator[tuple[tuple, Any, float]]:
    """Yield ``(job, fn(*job), seconds)`` for every job, in the order they finish.

    ``crashed(job, exc)`` stands in for the result of a job whose worker died (or whose
    ``fn`` raised); ``seconds`` is the job's wall time (from the pool's start in a pool,
    where jobs queue). With ``progress`` a tqdm bar on stderr counts the jobs.
    """
    from tqdm import tqdm

    with tqdm(total=len(jobs), desc=desc, unit=unit, file=sys.stderr,
              disable=not progress) as bar:
        if workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                t0 = time.perf_counter()
                yield job, fn(*job), time.perf_counter() - t0
                bar.update()
            return
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)),
                                 mp_context=context) as pool:
            t0 = time.perf_counter()
            futures = {pool.submit(fn, *job): job for job in jobs}
            for future in as_completed(futures):
                job = futures[future]
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 (a worker that died)
                    result = crashed(job, exc)
                yield job, result, time.perf_counter() - t0
                bar.update()
