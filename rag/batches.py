"""Concurrent ingest batches on one machine, and shares of the papers across machines (--workers, --shard)."""
from __future__ import annotations

import hashlib
import re
from collections import deque
from typing import Callable

from rag.errors import InputError


def parse_shard(text: str) -> tuple[int, int]:
    """'2/4' -> (2, 4): this machine takes the second of four shares of the papers."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise InputError(f"--shard must look like I/N with 1 <= I <= N (e.g. 1/4), not {text!r}")
    return int(m.group(1)), int(m.group(2))


def in_shard(paper_id: str, shard: tuple[int, int] | None) -> bool:
    """Whether this machine's shard holds the paper. Decided by a hash of the id, not the line number, so
    every copy of a paper (and every version of a changed one) lands on the same machine."""
    if shard is None:
        return True
    i, n = shard
    return int(hashlib.sha1(paper_id.encode()).hexdigest()[:8], 16) % n == i - 1


class BatchRunner:
    """Runs batch jobs on `workers` threads, at most `workers` in flight; results are handed to `done` in the
    order the batches were read, so progress and the report move as batches land. One worker runs inline."""

    def __init__(self, workers: int, done: Callable[[tuple, int], None]):
        from concurrent.futures import ThreadPoolExecutor

        self.workers, self._done, self._jobs = workers, done, deque()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="ingest") if workers > 1 else None

    def submit(self, job: Callable[[], tuple], records: int) -> None:
        if self._pool is None:
            self._done(job(), records)
            return
        while len(self._jobs) >= self.workers:
            self._take()
        self._jobs.append((self._pool.submit(job), records))

    def _take(self) -> None:
        future, records = self._jobs.popleft()
        self._done(future.result(), records)

    def drain(self) -> None:
        while self._jobs:
            self._take()

    def close(self) -> None:
        """Let the batches being written finish (each is whole papers) and drop those not started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
