"""Run independent chunks of work on a Dask cluster (``dask.distributed``), local by default.

``precompute``, ``evaluate`` and the corpus rendering behind ``train-*`` split their work into
chunks of points and hand them to :func:`run_chunks`, which yields each chunk's result as it
finishes (a tqdm bar counts points). Where the work runs:

- ``scheduler`` (or the ``DAFX_EXPLORER_SCHEDULER`` variable): any running Dask scheduler, e.g.
  one started with ``dask scheduler`` and joined by ``dask worker`` processes on other machines;
- otherwise a :class:`distributed.LocalCluster` of single-threaded worker processes, one per CPU
  core (or ``workers``);
- in this process for tiny jobs or ``workers=0``: no processes to start.

A chunk that raises is retried (:data:`RETRIES` times); Dask reruns the chunks of a worker that
dies. :class:`ChunkStore` writes each finished chunk to its own file atomically, so a run that
stops keeps what it finished and ``--resume`` computes only the rest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from dafx_explorer.errors import DafxError, DataError

SCHEDULER_ENV = "DAFX_EXPLORER_SCHEDULER"
"""Environment variable naming the scheduler (``tcp://host:8786``) when ``--scheduler`` is not given."""
RETRIES = 2
"""Times a failed chunk is run again before the run fails."""
CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a scheduler before giving up with a one-line error."""


class ClusterError(DafxError):
    """The scheduler cannot be reached or the cluster cannot be started."""


def scheduler_address(scheduler: str | None = None) -> str | None:
    """The scheduler to use: ``scheduler``, else ``$DAFX_EXPLORER_SCHEDULER``, else None (local)."""
    return scheduler or os.environ.get(SCHEDULER_ENV) or None


def local_workers() -> int:
    """Worker processes of the default local cluster: one per CPU core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextlib.contextmanager
def connect(scheduler: str | None = None, *, workers: int | None = None, tiny: bool = False) -> Iterator:
    """A Dask client for a run, or None to run it in this process.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (default ``$DAFX_EXPLORER_SCHEDULER``); ``workers`` is then ignored.
    workers : int, optional
        Worker processes of the local cluster (default :func:`local_workers`); 0 runs in this process.
    tiny : bool
        The run is too small to repay starting worker processes: it runs here unless ``scheduler``
        or ``workers`` asks for a cluster.

    Raises
    ------
    ClusterError
        The scheduler does not answer within :data:`CONNECT_TIMEOUT` seconds, or its address is malformed.
    """
    address = scheduler_address(scheduler)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
        raise DataError(f"workers must be a whole number >= 0, got {workers!r}")
    if address is None and (workers == 0 or (workers is None and tiny)):
        yield None
        return
    from distributed import Client, LocalCluster

    if address is not None:
        try:
            client = Client(address, timeout=CONNECT_TIMEOUT)
        except (OSError, ValueError, TypeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ClusterError(f"cannot reach the Dask scheduler at {address!r} ({reason}); start one with "
                               f"`dask scheduler` and `dask worker ADDRESS`, or leave out --scheduler and "
                               f"${SCHEDULER_ENV} to run on this machine") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers or local_workers(), threads_per_worker=1, processes=True,
                      dashboard_address=":0", host="127.0.0.1") as local, \
            Client(local) as client:
        yield client


def _attempts(function: Callable, job, shared, retries: int):
    """``function(job, shared)``, run again up to ``retries`` times when it raises."""
    for attempt in range(retries + 1):
        try:
            return function(job, shared)
        except Exception:
            if attempt == retries:
                raise
    raise AssertionError("unreachable")


def share(client, value):
    """``value`` sent to every worker of ``client`` once, as a future that :func:`run_chunks` passes on
    (``value`` itself without a client)."""
    return value if client is None else client.scatter([value], broadcast=True, hash=False)[0]  # a list: one future


def run_chunks(function: Callable, jobs: Sequence, *, client=None, shared=None, sizes: Sequence[int] | None = None,
               desc: str = "chunks", unit: str = "point", progress: bool = True,
               retries: int = RETRIES) -> Iterator[tuple[int, object]]:
    """Run ``function(job, shared)`` for every job and yield ``(index, result)`` as each finishes.

    Parameters
    ----------
    function : callable
        A module-level function (workers import it by name); it must depend only on its arguments,
        so that results are the same whatever ran them.
    jobs : sequence
        One picklable argument per chunk.
    client : distributed.Client, optional
        From :func:`connect`; None runs the jobs here, in order.
    shared : object, optional
        Passed to every call; sent to each worker once (models, the clean clip), unless it is
        already a future from :func:`share`.
    sizes : sequence of int, optional
        Points in each job, for the progress bar (default: 1 each).
    retries : int
        Times a job that raised runs again before its error ends the run.
    """
    sizes = list(sizes) if sizes is not None else [1] * len(jobs)
    with tqdm(total=sum(sizes), desc=desc, unit=unit, disable=not progress) as bar:
        if client is None:
            for index, job in enumerate(jobs):
                result = _attempts(function, job, shared, retries)
                bar.update(sizes[index])
                yield index, result
            return
        from distributed import Future, as_completed

        shared_future = shared if isinstance(shared, Future) or shared is None else share(client, shared)
        job_futures = client.scatter(list(jobs), hash=False)  # data goes to workers, not into the task graph
        futures = [client.submit(function, job, shared_future, retries=retries, pure=False) for job in job_futures]
        position = {future.key: index for index, future in enumerate(futures)}
        try:
            for future, result in as_completed(futures, with_results=True):
                index = position[future.key]
                bar.update(sizes[index])
                yield index, result
        finally:
            client.cancel(futures)


def chunk_bounds(total: int, size: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of consecutive chunks of ``size`` items covering ``range(total)``."""
    if size < 1:
        raise DataError(f"chunk size must be at least 1, got {size!r}")
    return [(start, min(start + size, total)) for start in range(0, total, size)]


class ChunkStore:
    """A folder of finished chunks, one ``.npz`` file each, written atomically.

    ``job.json`` holds the description of the run the chunks belong to; :meth:`open` keeps the
    chunks of the same run when resuming and starts the folder afresh otherwise.
    """

    JOB = "job.json"

    def __init__(self, folder: Path | str, job: dict):
        self.folder = Path(folder)
        self.job = json.loads(json.dumps(job))  # as it reads back from job.json

    def open(self, resume: bool) -> ChunkStore:
        """Make the folder ready: keep its chunks when ``resume`` and the run matches, else empty it.

        Raises
        ------
        DataError
            ``resume`` is asked for but the folder holds chunks of a run with other settings.
        """
        path = self.folder / self.JOB
        if resume and path.is_file():
            stored = json.loads(path.read_text(encoding="utf-8"))
            if stored != self.job:
                changed = sorted(key for key in {*stored, *self.job} if stored.get(key) != self.job.get(key))
                raise DataError(f"--resume: the unfinished run in {self.folder} had other settings "
                                f"({', '.join(changed)}); run without --resume to start over")
            return self
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        path.write_text(json.dumps(self.job, indent=2) + "\n", encoding="utf-8")
        return self

    def _path(self, index: int) -> Path:
        return self.folder / f"chunk-{index:06d}.npz"

    def done(self) -> set[int]:
        """Indices of the chunks already written."""
        return {int(path.stem.split("-")[1]) for path in self.folder.glob("chunk-*.npz")}

    def save(self, index: int, arrays: dict[str, np.ndarray]) -> None:
        """Write one chunk's arrays (to a temporary file, then renamed into place)."""
        handle, tmp = tempfile.mkstemp(prefix=".chunk-", suffix=".npz", dir=self.folder)
        try:
            with os.fdopen(handle, "wb") as file:
                np.savez(file, **arrays)
            os.replace(tmp, self._path(index))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self, index: int) -> dict[str, np.ndarray]:
        """The arrays of one finished chunk."""
        with np.load(self._path(index), allow_pickle=False) as data:
            return {key: data[key] for key in data.files}

    def remove(self) -> None:
        """Delete the folder (once its chunks are assembled)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def job_digest(job: dict) -> str:
    """A short digest of a run's description (names its chunk folder)."""
    return hashlib.sha256(json.dumps(job, sort_keys=True).encode()).hexdigest()[:16]


def stream_into(store: ChunkStore, function: Callable, jobs: Sequence, *, client=None, shared=None,
                sizes: Iterable[int] | None = None, desc: str = "chunks", progress: bool = True) -> None:
    """Run the jobs that ``store`` lacks (:func:`run_chunks`) and save each result as it arrives."""
    sizes = list(sizes) if sizes is not None else [1] * len(jobs)
    missing = sorted(set(range(len(jobs))) - store.done())
    for position, arrays in run_chunks(function, [jobs[i] for i in missing], client=client, shared=shared,
                                       sizes=[sizes[i] for i in missing], desc=desc, progress=progress):
        store.save(missing[position], arrays)
