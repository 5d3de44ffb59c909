"""Running things and timing them: child processes with their own wall time and peak memory,
in-process medians, percentiles."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class StepFailed(RuntimeError):
    """A benchmark step did not do what it should (a command failed, a page was not 200...)."""


@dataclass(frozen=True)
class ChildRun:
    """One child process: wall seconds, its own peak resident memory, exit status, output."""

    argv: tuple[str, ...]
    seconds: float
    peak_rss_bytes: int
    returncode: int
    stdout: str
    stderr: str

    @property
    def peak_rss_mb(self) -> float:
        return self.peak_rss_bytes / (1024 * 1024)

    def check(self, what: str) -> ChildRun:
        if self.returncode != 0:
            tail = (self.stderr or self.stdout).strip().splitlines()[-5:]
            raise StepFailed(f"{what} exited with {self.returncode}: " + " | ".join(tail))
        return self


def run_child(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float | None = None,
) -> ChildRun:
    """Run ``argv`` and wait for it with ``os.wait4``, which gives this one child's resource
    usage (``ru_maxrss``: its peak resident set, in KiB on Linux), unlike RUSAGE_CHILDREN, which
    is the maximum over every child so far."""
    out_path = _scratch("out")
    err_path = _scratch("err")
    with out_path.open("w+b") as out, err_path.open("w+b") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )
        if stdin is not None:
            assert process.stdin is not None
            process.stdin.write(stdin.encode())
            process.stdin.close()
        deadline = None if timeout is None else started + timeout
        try:
            while True:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG if deadline else 0)
                if pid:
                    break
                if deadline is not None and time.perf_counter() > deadline:
                    process.kill()
                    pid, status, usage = os.wait4(process.pid, 0)
                    break
                time.sleep(0.02)
        except BaseException:  # interrupted: leave no child behind
            process.kill()
            process.wait()
            raise
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    out_path.unlink(missing_ok=True)
    err_path.unlink(missing_ok=True)
    return ChildRun(
        argv=tuple(argv),
        seconds=seconds,
        peak_rss_bytes=usage.ru_maxrss * 1024,
        returncode=process.returncode,
        stdout=stdout,
        stderr=stderr,
    )


_SCRATCH: list[Path] = []


def set_scratch(folder: Path) -> None:
    _SCRATCH[:] = [folder]


def _scratch(suffix: str) -> Path:
    folder = _SCRATCH[0] if _SCRATCH else Path("/tmp")
    return folder / f"child-{os.getpid()}-{time.perf_counter_ns()}.{suffix}"


def median_seconds(work: Callable[[], object], repeat: int) -> tuple[float, list[float]]:
    """Run ``work`` ``repeat`` times; the median and every run's seconds."""
    runs = []
    for _ in range(max(repeat, 1)):
        started = time.perf_counter()
        work()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), runs


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` 0.95 for p95) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]
