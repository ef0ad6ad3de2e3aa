"""Face engines in worker processes.

dlib's descriptor holds the GIL for its ~60 ms per face, so threads cannot
analyse two faces at once; processes can.  Each worker builds its own engine at
start (spawned, not forked: OpenCV's and dlib's thread state do not survive a
fork) and runs OpenCV single-threaded, so N workers use N cores without
oversubscription.  A failure inside a worker comes back as the same exception.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from ...config import Settings
from ...domain.errors import InfraError, SimregError
from ...domain.media import ImageLimits
from ...domain.policy import Policy
from ...domain.reasons import ReasonCode
from ...domain.types import FaceAnalysis
from ..media import decode_image

log = logging.getLogger(__name__)

_ENGINE = None  # the worker process's own engine, built by _start_worker


def _start_worker(settings_json: str) -> None:
    global _ENGINE
    import cv2

    from .factory import build_local_engine

    cv2.setNumThreads(1)
    _ENGINE = build_local_engine(Settings.model_validate_json(settings_json))
    _ENGINE.warm_up()


def _release_freed_memory() -> None:
    """Give the heap pages freed by a decoded video back to the system (glibc
    keeps them otherwise: a worker grew by ~90 MB after its first clip)."""
    global _LIBC
    if _LIBC is None:
        import ctypes
        import ctypes.util

        try:
            _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _LIBC.malloc_trim  # noqa: B018 - glibc only
        except (OSError, AttributeError):
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


_LIBC: Any = None  # a ctypes.CDLL once loaded; False where there is no malloc_trim


def _worker_engine():
    assert _ENGINE is not None, "runs in a worker, after _start_worker built the engine"
    return _ENGINE


def _analyse_in_worker(image: np.ndarray, policy: Policy) -> FaceAnalysis:
    return _worker_engine().analyse_one(image, policy)


def _track_in_worker(data: bytes, limits, rules, policy=None, mirrored=False, tracking=None):
    try:
        return _worker_engine().track_video(data, limits, rules, policy, mirrored, tracking)
    finally:
        del data
        _release_freed_memory()


def _describe_in_worker() -> dict:
    return _worker_engine().describe()


class EnginePool:
    def __init__(self, settings: Settings, workers: int):
        self._settings_json = settings.model_dump_json()
        self.workers = workers
        self._lock = threading.Lock()
        self._pool = self._start()
        # Start every worker now (model loading happens in parallel) and fail
        # early if a model file is missing or corrupt.
        try:
            infos = [f.result() for f in [self._pool.submit(_describe_in_worker) for _ in range(workers)]]
        except BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            raise InfraError(ReasonCode.ENGINE_UNAVAILABLE,
                             "the face engine's worker processes could not start") from None
        self._info = infos[0]
        self.model_ids = tuple(self._info["embedders"])

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(self._settings_json,))

    def _restart(self, broken: ProcessPoolExecutor) -> None:
        """A worker died (killed, out of memory): replace the pool once, for every caller."""
        with self._lock:
            if self._pool is broken:
                broken.shutdown(wait=False, cancel_futures=True)
                self._pool = self._start()

    def _run(self, calls: Sequence[tuple]) -> list[Any]:
        """Run ``(function, *args)`` calls on the workers in parallel; each result is
        the value or the ``SimregError`` it raised.  Every call is waited for, so no
        work is left running for nobody.  A worker that dies is replaced and the
        whole call fails with ``ENGINE.UNAVAILABLE`` (503, retryable); any other
        exception in a worker is logged and is ``ENGINE.UNAVAILABLE`` too, never a
        traceback to a client."""
        pool = self._pool
        try:
            futures = [pool.submit(fn, *args) for fn, *args in calls]
        except BrokenProcessPool:
            self._restart(pool)
            raise InfraError(ReasonCode.ENGINE_UNAVAILABLE, "a face engine worker stopped; retry") from None
        wait(futures)
        out: list[object] = []
        for f in futures:
            exc = f.exception()
            if exc is None:
                out.append(f.result())
            elif isinstance(exc, SimregError):
                out.append(exc)
            elif isinstance(exc, BrokenProcessPool):
                self._restart(pool)
                raise InfraError(ReasonCode.ENGINE_UNAVAILABLE, "a face engine worker stopped; retry") from None
            else:
                log.error("face engine worker failed: %s", type(exc).__name__, exc_info=exc)
                raise InfraError(ReasonCode.ENGINE_UNAVAILABLE, "the face engine failed on this input") from None
        return out

    def analyse_each(self, images: Sequence[np.ndarray], policy: Policy) -> list[FaceAnalysis | SimregError]:
        """One analysis or error per image, in parallel."""
        return self._run([(_analyse_in_worker, img, policy) for img in images])

    def track_video(self, data: bytes, limits, rules, policy: Policy | None = None, mirrored: bool = False,
                    tracking=None):
        (result,) = self._run([(_track_in_worker, data, limits, rules, policy, mirrored, tracking)])
        if isinstance(result, SimregError):
            raise result
        return result

    def analyse_with_video(self, image: np.ndarray, video: bytes, limits, policy: Policy, mirrored: bool = False):
        """The portrait on one worker while another tracks the video."""
        portrait, track = self._run([(_analyse_in_worker, image, policy),
                                     (_track_in_worker, video, limits, policy.detection, policy, mirrored)])
        if isinstance(track, SimregError):
            raise track
        return portrait, track

    def analyse(self, images: Sequence[np.ndarray], policy: Policy) -> list[FaceAnalysis]:
        results: list[FaceAnalysis] = []
        for r in self.analyse_each(images, policy):
            if isinstance(r, SimregError):
                raise r
            results.append(r)
        return results

    def decode_image(self, data: bytes, limits: ImageLimits) -> np.ndarray:
        """An uploaded image as RGB uint8 (adapters/media.py), in this process."""
        return decode_image(data, limits)

    def describe(self) -> dict:
        return {**self._info, "worker_processes": self.workers}

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def worker_pids(self) -> list[int]:
        return list(getattr(self._pool, "_processes", {}) or {})

    def workers_cpu_seconds(self) -> float:
        """CPU time used so far by the worker processes (Linux /proc; 0 elsewhere)."""
        return sum(_proc_cpu_seconds(pid) or 0.0 for pid in self.worker_pids())

    def workers_peak_rss_kb(self) -> int:
        """Sum of the workers' peak resident set sizes (shared pages counted in each)."""
        return sum(_proc_status_kb(pid, "VmHWM") or 0 for pid in self.worker_pids())


def _proc_status_kb(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _proc_cpu_seconds(pid: int) -> float | None:
    import os

    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
