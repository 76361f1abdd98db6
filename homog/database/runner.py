"""Label samples on Dask workers (or in-process) and commit each result from the driver.

The driver submits one task per pending sample, :func:`homog.database.sample.execute` on a
worker runs the labeller and returns a record, and the driver writes it to the store as it
arrives (:meth:`SampleStore.write`: status last). Workers never touch the store, so any Dask
cluster works: a :class:`distributed.LocalCluster` on this machine, or a scheduler reached by
address (dask-jobqueue on SLURM/PBS, see docs/database.md).

Resume semantics (:func:`pending`): a complete sample is skipped; a failed one is run again
only while its attempts are below ``max_attempts`` (or once more with ``retry_failed``);
unfinished or damaged groups left by an interrupted run are deleted first. One driver writes a
store at a time (:mod:`homog.database.lock`): a second one is refused before any work.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from homog.database.config import DatabaseConfig
from homog.database.design import design_points
from homog.database.sample import Labeller, execute, simulate
from homog.database.store import SampleStore

#: progress(complete, failed, total) after each committed sample of the current run.
Progress = Callable[[int, int, int], None]


@dataclass
class RunReport:
    """What one call of :func:`run_database` or :func:`run_specs` did.

    ``complete``/``failed``: samples committed by this call with that status;
    ``skipped_complete``/``skipped_failed``: samples left alone (already complete, or failed
    ``max_attempts`` times); ``removed``: unfinished or damaged groups deleted before
    starting (they run again);
    ``elapsed_s``: wall time; ``sample_s``: summed labeller time inside the workers;
    ``first_error``: "id: message" of the first failure of this call; ``notes``: what opening
    the store repaired (:attr:`SampleStore.notes`).
    """

    complete: int = 0
    failed: int = 0
    skipped_complete: int = 0
    skipped_failed: int = 0
    removed: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    sample_s: float = 0.0
    first_error: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def ran(self) -> int:
        """Samples this call labelled."""
        return self.complete + self.failed

    @property
    def unfinished(self) -> int:
        """Samples of the design left failed: failed by this call or skipped as failed."""
        return self.failed + self.skipped_failed


def base_specs(config: DatabaseConfig) -> list[dict[str, Any]]:
    """Specifications of the base design's samples ``doe-000000 ..``."""
    return [config.sample_spec(point, "doe", k) for k, point in enumerate(design_points(config))]


def pending(store: SampleStore, specs: Iterable[dict[str, Any]], *, max_attempts: int = 1,
            retry_failed: bool = False, report: RunReport | None = None
            ) -> list[tuple[dict[str, Any], int]]:
    """The specs still to run, each with the attempt number it will be.

    Counts the skipped ones into ``report`` when given.
    """
    check_attempts(max_attempts)
    report = report if report is not None else RunReport()
    status = store.scan()
    todo = []
    for spec in specs:
        attrs = status.get(spec["id"], {"status": "absent"})
        attempts = int(attrs.get("attempts", 0))
        if attrs["status"] == "complete":
            report.skipped_complete += 1
        elif attrs["status"] == "failed" and attempts >= max_attempts and not retry_failed:
            report.skipped_failed += 1
        else:
            todo.append((spec, attempts + 1))
    return todo


def run_specs(store: SampleStore, todo: list[tuple[dict[str, Any], int]], *,
              labeller: Labeller = simulate, client: Any = None, threads: int = 1,
              progress: Progress | None = None, report: RunReport | None = None) -> RunReport:
    """Label ``todo`` = [(spec, attempt), ...] and commit every result as it arrives.

    ``client``: a :class:`distributed.Client` (one task per sample), or None to run in this
    process one after the other. ``threads``: threads per sample (FFT, BLAS, numba).
    On KeyboardInterrupt the outstanding tasks are cancelled; committed samples stay, the one
    being written (if any) is incomplete and removed on the next run.
    """
    check_threads(threads)
    report = report if report is not None else RunReport()
    start = time.perf_counter()
    total = len(todo)
    attempts = {spec["id"]: attempt for spec, attempt in todo}
    specs = {spec["id"]: {**spec, "threads": int(threads)} for spec, _ in todo}

    def commit(record: Mapping[str, Any]) -> None:
        spec = specs[record["id"]]
        store.write(spec, record, attempts[spec["id"]])
        report.sample_s += float(record["elapsed_s"])
        if record["status"] == "complete":
            report.complete += 1
        else:
            report.failed += 1
            report.first_error = report.first_error or f"{record['id']}: {record['error']}"
        if progress is not None:
            progress(report.complete, report.failed, total)

    try:
        if client is None:
            for spec in specs.values():
                commit(execute(labeller, spec))
        else:
            _run_on_dask(client, labeller, specs, commit)
    finally:
        report.elapsed_s += time.perf_counter() - start
    return report


def _run_on_dask(client: Any, labeller: Labeller, specs: dict[str, dict[str, Any]],
                 commit: Callable[[Mapping[str, Any]], None]) -> None:
    from distributed import as_completed

    token = f"{os.getpid()}-{time.time_ns()}"
    futures = {client.submit(execute, labeller, spec, key=f"homog-sample-{name}-{token}",
                             pure=False): name for name, spec in specs.items()}
    try:
        for future in as_completed(list(futures)):
            name = futures.pop(future)
            if future.status == "finished":
                record = future.result()
            else:  # the task itself failed: a killed worker, a cancelled task, ...
                exc = future.exception()
                record = {"id": name, "status": "failed", "elapsed_s": 0.0,
                          "error": f"{type(exc).__name__}: {exc}", "worker": ""}
            future.release()
            commit(record)
    except BaseException:
        client.cancel(list(futures))
        raise


def check_attempts(max_attempts: Any) -> None:
    """Reject a ``max_attempts`` that is not an integer >= 1."""
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise ValueError(f"max_attempts = {max_attempts!r} must be an integer >= 1 (how often "
                         "a failing sample is tried in all)")


def check_threads(threads: Any) -> None:
    """Reject a thread count per sample that is not an integer >= 1."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads per sample = {threads!r} must be an integer >= 1 (the FFT, "
                         "BLAS and numba threads of each sample)")


def run_database(config: DatabaseConfig, store: str | os.PathLike | SampleStore, *,
                 labeller: Labeller = simulate, client: Any = None, max_attempts: int = 1,
                 retry_failed: bool = False, threads: int = 1,
                 progress: Progress | None = None) -> RunReport:
    """Build (or resume, or grow) the base design of ``config`` in ``store``.

    ``store``: a path (created for ``config`` if missing, else checked to match it, locked
    for the run and released at the end) or an open writable :class:`SampleStore`. See
    :func:`run_specs` for ``labeller``, ``client``, ``threads`` and ``progress``,
    :func:`pending` for ``max_attempts`` and ``retry_failed``. Raises
    :class:`~homog.database.lock.StoreLockedError` if another driver writes the store.
    """
    check_threads(threads)
    check_attempts(max_attempts)
    owned = not isinstance(store, SampleStore)
    store = SampleStore.of(store, config)
    try:
        report = RunReport(notes=list(store.notes), removed=store.remove_incomplete())
        todo = pending(store, base_specs(config), max_attempts=max_attempts,
                       retry_failed=retry_failed, report=report)
        return run_specs(store, todo, labeller=labeller, client=client, threads=threads,
                         progress=progress, report=report)
    finally:
        if owned:
            store.close()


@contextmanager
def dask_client(workers: int = 2, *, scheduler: str | None = None,
                threads_per_worker: int = 1, timeout: float = 30.0) -> Iterator[Any]:
    """A :class:`distributed.Client`, closed (with its cluster) on exit.

    ``scheduler``: address of a running Dask scheduler (e.g. ``tcp://host:8786``, or a
    dask-jobqueue cluster's ``scheduler_address``), reached within ``timeout`` seconds
    (ValueError naming the address otherwise); without it a new LocalCluster of ``workers``
    processes with ``threads_per_worker`` threads each.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ValueError(f"timeout = {timeout!r} must be a positive number of seconds")
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(f"cannot reach the Dask scheduler at {scheduler!r} within "
                             f"{timeout:g} s ({reason}); check the address (e.g. "
                             "tcp://host:8786) and that `dask scheduler` runs there, or leave "
                             "out --scheduler to use local workers") from None
        try:
            yield client
        finally:
            client.close()
        return
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers = {workers!r} must be an integer >= 1")
    # distributed starts its HTTP server whatever dashboard_address says (None falls back to
    # :8787, dask/distributed#8136): a free local port keeps side-by-side runs from colliding
    cluster = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker,
                           processes=True, dashboard_address="127.0.0.1:0")
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
