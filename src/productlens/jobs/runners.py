"""Runners: hand `embed_partition` calls to worker processes here, a Dask cluster or a Ray cluster.

All three share one loop (`run_partitions`): submit every unfinished partition, collect them as
they finish, resubmit a failed one up to `retries` more times, and report the ones that still
fail. A worker killed mid-partition loses only that partition's work (its shard was not yet
renamed into place): Dask and Ray re-run it elsewhere by themselves, the local pool is rebuilt.
Dask and Ray are optional (`productlens[dask]`, `productlens[ray]`) and imported only here, only
when asked for.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..errors import IngestError, RetryableError
from .manifest import count_rows, is_url
from .partition import ModelRef, PartitionReport, embed_partition
from .shards import prepare_folder

log = logging.getLogger(__name__)

RUNNERS = ("local", "dask", "ray")
ROWS_PER_PARTITION = 1000  # default partition size: a worker holds one partition's vectors at a time
MIN_PARTITIONS = 16  # so that a small manifest still keeps a few workers busy


class PartitionFailedError(RetryableError):
    """Some partitions still failed after their retries; the finished ones are kept, and the same
    command run again runs only the others."""


@dataclass
class RunReport:
    """What a run did: every partition that finished (now or earlier) and those that failed."""

    runner: str
    partitions: int
    finished: list[PartitionReport] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)  # part, attempts, error
    retried: int = 0
    seconds: float = 0.0

    @property
    def embedded(self) -> int:
        return sum(r.embedded for r in self.finished if not r.already_done)

    @property
    def images_per_s(self) -> float:
        return self.embedded / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        done = [r for r in self.finished if not r.already_done]
        return {"runner": self.runner, "partitions": self.partitions, "ran": len(done),
                "already_done": len(self.finished) - len(done), "failed_partitions": self.failed,
                "retried": self.retried, "selected": sum(r.selected for r in done), "embedded": self.embedded,
                "duplicates": sum(r.duplicates for r in done), "skipped": sum(r.skipped for r in done),
                "seconds": round(self.seconds, 3), "images_per_s": round(self.images_per_s, 2),
                "workers": sorted({r.worker for r in done}), "reports": [asdict(r) for r in self.finished]}


OnPartition = Callable[[PartitionReport, RunReport], None]


class Backend(Protocol):
    """A place to run partitions: submit a call, wait for some to finish, read a finished one."""

    def submit(self, part: int) -> Any: ...

    def wait_any(self, pending: list[Any]) -> list[Any]: ...

    def outcome(self, handle: Any) -> PartitionReport: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Job:
    """The arguments every partition shares."""

    manifest: str
    n_parts: int
    model: ModelRef
    out: str

    def args(self, part: int) -> tuple[Any, ...]:
        return (self.manifest, part, self.n_parts, self.model, self.out)


class LocalBackend:
    """Worker processes on this machine (spawned, so each loads the model once for itself)."""

    def __init__(self, job: Job, workers: int) -> None:
        self.job, self.workers = job, workers
        self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))

    def submit(self, part: int) -> Any:
        try:
            return self.pool.submit(embed_partition, *self.job.args(part))
        except BrokenProcessPool:  # a worker died: the pool is unusable, start a fresh one
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._new_pool()
            return self.pool.submit(embed_partition, *self.job.args(part))

    def wait_any(self, pending: list[Any]) -> list[Any]:
        return list(wait(pending, return_when=FIRST_COMPLETED).done)

    def outcome(self, handle: Any) -> PartitionReport:
        return handle.result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


# A LocalCluster of our own runs one long task per worker at a time: the statistical profiler
# (every task thread's stack sampled every 10 ms, holding the GIL the decoding threads want) is
# off, and the event loop's housekeeping ticks less often (an idle worker's CPU went from 1.6% to
# 0.3% of a core: at 15 photos a second per worker under load, ~1 ms a photo)
LOCAL_CLUSTER_CONFIG = {"distributed.worker.profile.enabled": False, "distributed.admin.tick.interval": "1s",
                        "distributed.worker.memory.monitor-interval": "1s",
                        "distributed.admin.system-monitor.interval": "2s"}


class DaskBackend:
    """A dask.distributed cluster: the one at `address`, or a LocalCluster of `workers` processes."""

    def __init__(self, job: Job, workers: int, address: str | None) -> None:
        import dask
        from dask.distributed import Client, LocalCluster

        self.job = job
        self.cluster = None
        if not address:
            with dask.config.set(LOCAL_CLUSTER_CONFIG), _environ_kept():
                self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None)
        self.client = Client(address or self.cluster)
        self.attempt = 0

    def submit(self, part: int) -> Any:
        self.attempt += 1
        return self.client.submit(embed_partition, *self.job.args(part), pure=False,
                                  key=f"embed-partition-{part}-{self.attempt}")

    def wait_any(self, pending: list[Any]) -> list[Any]:
        from dask.distributed import wait as dask_wait

        return list(dask_wait(pending, return_when="FIRST_COMPLETED").done)

    def outcome(self, handle: Any) -> PartitionReport:
        return handle.result()

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


@contextmanager
def _environ_kept() -> Iterator[None]:
    """Undo what starting a LocalCluster does to this process's environment: its nannies set
    `distributed.nanny.pre-spawn-environ` (MALLOC_TRIM_THRESHOLD_, OMP_NUM_THREADS...) in
    os.environ and leave it there, for every process this one starts later to inherit."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        for key in set(os.environ) - set(saved):
            del os.environ[key]
        for key, value in saved.items():
            if os.environ.get(key) != value:
                os.environ[key] = value


class RayBackend:
    """Ray: the cluster at `address`, or a local one of `workers` CPUs (temp files under `temp_dir`)."""

    def __init__(self, job: Job, workers: int, address: str | None, temp_dir: str | None) -> None:
        import ray

        self.job, self.ray = job, ray
        self.owned = not ray.is_initialized()
        if self.owned:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                # address="local": a cluster of our own even when `ray start` left one running here
                # worker_niceness: Ray runs its workers 15 nice levels below the driver by default;
                # on a shared machine they then get a fraction of the CPU local processes get
                ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False,
                         _temp_dir=temp_dir, _system_config={"worker_niceness": 0})
        # max_retries: a task whose worker died is re-run by Ray; exceptions come back to run_partitions
        self.remote = ray.remote(num_cpus=1, max_retries=3)(embed_partition)

    def submit(self, part: int) -> Any:
        return self.remote.remote(*self.job.args(part))

    def wait_any(self, pending: list[Any]) -> list[Any]:
        ready, _ = self.ray.wait(pending, num_returns=1)
        return ready

    def outcome(self, handle: Any) -> PartitionReport:
        return self.ray.get(handle)

    def close(self) -> None:
        if self.owned:
            self.ray.shutdown()


def default_partitions(manifest: str) -> int:
    """About ROWS_PER_PARTITION rows a partition (at least MIN_PARTITIONS): it depends on the
    manifest alone, so machines splitting one run with `--shard` agree on it."""
    rows = count_rows(manifest)
    return max(1, min(rows, max(MIN_PARTITIONS, math.ceil(rows / ROWS_PER_PARTITION))))


def make_backend(runner: str, job: Job, workers: int, address: str | None, temp_dir: str | None) -> Backend:
    if runner == "local":
        if address:
            raise IngestError("--address is for --runner dask or ray; the local runner uses this machine")
        return LocalBackend(job, workers)
    try:
        if runner == "dask":
            return DaskBackend(job, workers, address)
        if runner == "ray":
            return RayBackend(job, workers, address, temp_dir)
    except ImportError as exc:
        raise IngestError(f"--runner {runner} needs {exc.name}: pip install 'productlens[{runner}]'") from None
    except (OSError, TimeoutError) as exc:  # no scheduler / head node at that address
        raise IngestError(f"cannot reach the {runner} cluster at {address}: {exc}") from None
    raise IngestError(f"unknown runner {runner!r}; choose one of {', '.join(RUNNERS)}")


def run_partitions(manifest: str | Path, out: str | Path, model: ModelRef, *, runner: str = "local",
                   partitions: int | None = None, workers: int | None = None, address: str | None = None,
                   retries: int = 2, only: Callable[[int], bool] | None = None, temp_dir: str | None = None,
                   on_partition: OnPartition | None = None) -> RunReport:
    """Embed every unfinished partition of `manifest` into OUT on `runner`; `only(part)` picks a
    share of the partitions (`--shard i/n` on several machines without a scheduler)."""
    workers = workers or os.cpu_count() or 1
    manifest = str(manifest) if is_url(str(manifest)) else str(Path(manifest).resolve())  # workers' cwd may differ
    n_parts = partitions or default_partitions(str(manifest))
    prepare_folder(Path(out), model.key, n_parts)
    job = Job(str(manifest), n_parts, model, str(Path(out).resolve()))
    report = RunReport(runner, n_parts)
    started = time.perf_counter()
    backend = make_backend(runner, job, workers, address, temp_dir)
    try:
        attempts: dict[int, int] = {}
        pending: dict[Any, int] = {}
        for part in range(n_parts):
            if only is None or only(part):
                pending[backend.submit(part)] = part
                attempts[part] = 1
        while pending:
            for handle in backend.wait_any(list(pending)):
                part = pending.pop(handle)
                try:
                    result = backend.outcome(handle)
                except Exception as exc:  # the worker's error, whatever the engine wraps it in
                    if attempts[part] <= retries:
                        log.warning("partition %d failed (attempt %d), retrying: %s", part, attempts[part], exc)
                        attempts[part] += 1
                        report.retried += 1
                        pending[backend.submit(part)] = part
                    else:
                        report.failed.append({"part": part, "attempts": attempts[part],
                                              "error": f"{type(exc).__name__}: {exc}"})
                    continue
                report.finished.append(result)
                report.seconds = time.perf_counter() - started
                if on_partition is not None:
                    on_partition(result, report)
    finally:
        backend.close()
    report.seconds = time.perf_counter() - started
    report.finished.sort(key=lambda r: r.part)
    return report
