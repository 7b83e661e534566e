"""Scale-out: the block work of :func:`remine.core.blocks.map_blocks` on a ``dask.distributed`` cluster.

One switch sends the block work to a cluster: a scheduler address (``tcp://host:8786``) given as
``scheduler=`` to ``map_blocks`` and to the raster functions built on it (``predict_raster``,
``unmix_raster``, ``krige_raster``, ``continuum_removal_raster``, ``resample_raster``, ...), else the
address set for the current context by :func:`using` (QGIS: remine's setting in the Processing options),
else the environment variable ``REMINE_DASK_SCHEDULER``. Without one, nothing changes. The 3D volume's work,
which has no raster to read (blocks of voxels of ``krige_grid``; runs of the simulation path, and chains of
tasks that simulate groups of realisations on the workers, of ``simulate``), goes through :func:`tasks` with the
same switch, checks and failure handling.

On a cluster:

* every worker reads its own windows from the input paths, which it must see at the same path (a shared
  file system, or a GDAL virtual path such as ``/vsicurl/`` or ``/vsis3/``): the client sends each block
  its window (a small task through the scheduler) and receives the block's outputs straight from the
  worker that computed it; it never reads the inputs' pixels;
* the block function (with its model or kriging system) passes through the scheduler once per run, as the
  result of one task that the workers fetch from each other (and that is recomputed if they are all lost);
* the client writes the outputs into the same single GeoTIFFs as a local run, from the same windows (the
  window plan treats the cluster like the local pipeline: ``max_bytes`` is the budget of two blocks of one
  worker thread), atomically: values equal the local run's, and nothing is left on cancel or error;
* at most two blocks per worker thread are in flight; while waiting for a block the client checks for
  Cancel every :data:`POLL_S` seconds and on Cancel (or any error) cancels every queued block;
* a worker that dies mid-run has its blocks recomputed on the others (Dask's retries); a block that kills
  every worker it runs on ends the run with an error that says why (memory limit, block size, the fix); a
  cluster left without any worker for :data:`NO_WORKER_S` seconds while the client waits ends the run with an
  error (Dask itself would wait for a worker forever).

Before the first block the run checks that the scheduler answers within :data:`CONNECT_TIMEOUT_S`, that the
workers run the client's versions of remine and of the libraries that compute or read (:data:`CHECKED`, and
:data:`OPTIONAL` where a worker has them or the run needs them: PyTorch for the hybrid model),
that no worker runs several threads with numba's ``workqueue`` threading layer (:func:`check_threading`),
that every worker can open every input, and that a block fits every worker's memory limit. Entry points that
work locally before their cluster work (``hybrid_kriging_raster`` trains, ``tailings_volume`` builds its grid and
variograms; in QGIS every algorithm with block work) connect and check first, in a :func:`session` whose client
their runs share.
"""
import contextlib
import contextvars
import functools
import gc
import inspect
import os
import platform
import threading
import time
import uuid
from collections import deque

from . import __version__
from .dependencies import require
from .errors import InputError

ENV = "REMINE_DASK_SCHEDULER"
#: seconds to reach the scheduler (and to see a worker) before giving up
CONNECT_TIMEOUT_S = 5.0
#: seconds between Cancel checks while waiting for a block
POLL_S = 0.25
#: seconds the cluster may have no worker while the client waits for a block before the run fails
NO_WORKER_S = 5.0
#: share of a worker's memory limit that its blocks may use (the rest: the worker, libraries, the model)
MEMORY_SHARE = 0.6
#: the worker memory fraction at which Dask's nanny restarts a worker (distributed.worker.memory.terminate)
TERMINATE_FRACTION = 0.95
#: runs of chains of tasks (:meth:`DaskExecutor.chains`) started before workers that leave end it with an error
CHAIN_ATTEMPTS = 3
#: label -> distributions: versions that must agree between the client and the workers
CHECKED = {"python": (), "remine": (), "GDAL": (), "numpy": ("numpy",), "scipy": ("scipy",),
           "rasterio": ("rasterio",), "scikit-learn": ("scikit-learn",), "xgboost": ("xgboost-cpu", "xgboost"),
           "numba": ("numba",), "dask": ("dask",), "distributed": ("distributed",),
           "cloudpickle": ("cloudpickle",)}
#: label -> distributions: versions that must agree where a worker has them or the run needs them (a worker
#: without them serves the runs that do not)
OPTIONAL = {"torch": ("torch",)}

_scheduler = contextvars.ContextVar("remine_dask_scheduler", default=None)
_runs = contextvars.ContextVar("remine_block_runs", default=None)
_session = contextvars.ContextVar("remine_dask_session", default=None)  # (address, Client) of session()


class ClusterError(InputError):
    """The Dask cluster cannot run the work: unreachable, other versions, inputs it cannot see, memory."""


class _WorkerLeft(Exception):
    """Workers that held chains of tasks (:meth:`DaskExecutor.chains`) left the cluster: ``args[0]`` their
    addresses."""


def scheduler_address(scheduler=None):
    """The scheduler address in force: ``scheduler``, else the one set by :func:`using`, else the
    ``REMINE_DASK_SCHEDULER`` environment variable; None (or an empty string) means run locally."""
    for value in (scheduler, _scheduler.get(), os.environ.get(ENV)):
        if value is not None:
            return str(value).strip() or None
    return None


@contextlib.contextmanager
def using(scheduler):
    """Within the block, block work goes to ``scheduler`` (an address; None or "": the environment decides)."""
    token = _scheduler.set(str(scheduler).strip() or None if scheduler is not None else None)
    try:
        yield
    finally:
        _scheduler.reset(token)


@contextlib.contextmanager
def recording():
    """Within the block, every map_blocks run appends where it ran to the yielded list (see :func:`where`)."""
    runs = []
    token = _runs.set(runs)
    try:
        yield runs
    finally:
        _runs.reset(token)


def where(runs):
    """Where the runs recorded by :func:`recording` ran, for passports: ``{"where": "dask", "scheduler",
    "workers", "threads"}`` when one ran on a cluster, else ``{"where": "local", "host"}``."""
    remote = [r for r in runs if r["where"] == "dask"]
    if not remote:
        return {"where": "local", "host": platform.node()}
    last = remote[-1]
    return {"where": "dask", "scheduler": last["scheduler"], "workers": max(r["workers"] for r in remote),
            "threads": max(r["threads"] for r in remote)}


def is_client(executor):
    """True for a ``dask.distributed.Client``."""
    return type(executor).__module__.startswith("distributed") and hasattr(executor, "scheduler_info")


@contextlib.contextmanager
def executor_for(executor=None, scheduler=None):
    """The executor of one map_blocks run, recorded for :func:`recording`.

    ``executor`` given: a ``dask.distributed.Client`` becomes a :class:`DaskExecutor`, anything else is
    used as it is. Else a :class:`DaskExecutor` connected (for this run) to :func:`scheduler_address`, or
    None (the local pipeline) when there is no address.
    """
    runs = _runs.get()
    if executor is None:
        address = scheduler_address(scheduler)
        if address is not None:
            open_ = _session.get()
            with contextlib.nullcontext(open_[1]) if open_ and open_[0] == address else connect(address) as client:
                dask = DaskExecutor(client)
                if runs is not None:
                    runs.append(dask.where())
                yield dask
            return
    elif is_client(executor):
        executor = DaskExecutor(executor)
    if runs is not None:
        runs.append(executor.where() if isinstance(executor, DaskExecutor) else {"where": "local"})
    yield executor


@contextlib.contextmanager
def session(scheduler=None, needs=()):
    """Within the block, the runs sent to the cluster of :func:`scheduler_address` (``scheduler``, the address
    of :func:`using` or ``REMINE_DASK_SCHEDULER``) share one client, connected and checked now (:func:`connect`;
    ``needs``: the :data:`OPTIONAL` libraries the work needs): an entry point that works locally before its
    cluster work (training, variograms, the grid) fails on an unreachable or unusable cluster before that work.
    Without an address nothing happens; in a session of the same address, only ``needs`` are checked."""
    address = scheduler_address(scheduler)
    open_ = _session.get()
    if address is None or (open_ and open_[0] == address):
        if address is not None and needs:
            check_versions(open_[1], needs)
        yield
        return
    with connect(address, needs=needs) as client:
        token = _session.set((address, client))
        try:
            yield
        finally:
            _session.reset(token)


def connects_first(func=None, *, needs=()):
    """Decorator of an entry point with a ``scheduler=`` parameter: it runs in a :func:`session` of that
    scheduler (with ``needs``), so that it connects (or fails) before its local work."""
    if func is None:
        return functools.partial(connects_first, needs=needs)
    signature = inspect.signature(func)

    @functools.wraps(func)
    def entry(*args, **kwargs):
        with session(signature.bind_partial(*args, **kwargs).arguments.get("scheduler"), needs):
            return func(*args, **kwargs)

    return entry


@contextlib.contextmanager
def connect(address, timeout=CONNECT_TIMEOUT_S, needs=()):
    """A ``dask.distributed.Client`` of the scheduler at ``address`` with at least one worker running the
    client's versions (:func:`check_versions` with ``needs``) and a usable numba (:func:`check_threading`),
    closed at the end; ClusterError within ``timeout`` s (plus the checks) when the scheduler cannot be reached
    or has no worker."""
    distributed = require("distributed", extra="dask")
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False, direct_to_workers=True)
    except MemoryError:  # a service that is not a Dask scheduler answered: its bytes read as a frame length
        failure = "a service answered there that is not a Dask scheduler"
    except Exception as exc:  # OSError (refused, timed out, unknown host), ValueError (bad address), ...
        failure = f"{type(exc).__name__}: {exc}"
    else:
        failure = None
    if failure is not None:
        # the half-built Client lies in a reference cycle (its exception's traceback) with its IO-loop thread
        # running; left to the garbage collector, its __del__ stops that loop under distributed's class-wide
        # LoopRunner._lock in whichever thread the collection runs, and when that is the thread a later Client
        # is starting (it holds the lock while it waits for that thread), both wait forever: closed here, now
        gc.collect()
        raise ClusterError(f"cannot reach the Dask scheduler at {address!r} within {timeout:g} s ({failure}); "
                           f"check the address (scheduler=, {ENV} or remine's Processing setting), that "
                           "'dask scheduler' runs there and that its port is open; leave the address empty to "
                           "run on this computer")
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except Exception:
            raise ClusterError(f"the Dask scheduler at {address} has no worker (none joined within {timeout:g} s); "
                               f"start workers with 'dask worker {address}'") from None
        check_versions(client, needs)
        check_threading(client)
        yield client
    finally:
        client.close(timeout=timeout)


def software_versions():
    """Versions of :data:`CHECKED` and :data:`OPTIONAL` in this process: ``{label: version}`` (absent: not
    installed)."""
    from importlib import metadata

    found = {"python": ".".join(platform.python_version_tuple()[:2]), "remine": __version__}
    try:
        import rasterio

        found["GDAL"] = rasterio.__gdal_version__
    except ImportError:
        pass
    for label, dists in {**CHECKED, **OPTIONAL}.items():
        for dist in dists:
            try:
                found[label] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return found


def check_versions(client, needs=()):
    """ClusterError naming every worker whose remine, Python, GDAL or library versions differ from this
    client's (results would differ, or models would not load) or that cannot import remine; an :data:`OPTIONAL`
    library counts where the worker has it or where it is in ``needs`` (labels the run needs)."""
    try:
        workers = client.run(software_versions)
    except Exception as exc:  # a worker without remine cannot even unpickle the function
        raise ClusterError(f"a Dask worker cannot run remine ({type(exc).__name__}: {exc}); install remine "
                           f"{software_versions()['remine']} and its dependencies on every worker") from None
    ours = software_versions()
    problems = []
    for address, theirs in sorted(workers.items()):
        diff = [f"{k} {theirs.get(k, 'missing')} (client {v})" for k, v in ours.items()
                if theirs.get(k) != v and (k not in OPTIONAL or k in theirs or k in needs)]
        if diff:
            problems.append(f"worker {address}: {', '.join(diff)}")
    if problems:
        raise ClusterError("the Dask workers run other versions than this client: " + "; ".join(problems)
                           + ". Install the client's versions on the workers (or run the client in the workers' "
                           "environment)")


_touch = None  # numba's smallest parallel function, compiled on first use (see numba_threading_layer)


def numba_threading_layer():
    """The threading layer that numba's parallel functions use in this process (``"omp"``, ``"tbb"`` or
    ``"workqueue"``), chosen by running a tiny parallel function (numba picks it at the first parallel call);
    None without numba."""
    global _touch
    try:
        import numba
    except ImportError:
        return None
    if _touch is None:
        @numba.njit(parallel=True)
        def touch(n):
            total = 0
            for i in numba.prange(n):
                total += i
            return total

        _touch = touch
    _touch(4)
    return numba.threading_layer()


def check_threading(client):
    """ClusterError naming the workers that would run several numba parallel kernels at once (one per worker
    thread) with numba's ``workqueue`` threading layer, which cannot (the worker process aborts)."""
    layers = client.run(numba_threading_layer)
    workers = client.scheduler_info()["workers"]
    bad = [f"{a} ({workers[a]['nthreads']} threads)" for a, layer in sorted(layers.items())
           if layer == "workqueue" and workers.get(a, {}).get("nthreads", 1) > 1]
    if bad:
        raise ClusterError(f"Dask worker(s) {', '.join(bad)} run numba's 'workqueue' threading layer with several "
                           "threads: its parallel kernels cannot run in two threads at once (the worker would abort). "
                           "Start the workers with one thread each ('dask worker --nthreads 1', as many workers as "
                           "cores), or give numba a thread-safe layer on the workers: install TBB (pip install tbb) "
                           "or an OpenMP runtime (libgomp), and unset NUMBA_THREADING_LAYER or set it to 'tbb' or "
                           "'omp'")


def unreadable(paths):
    """``[(path, reason)]`` of the rasters in ``paths`` this process cannot open (run on each worker)."""
    import rasterio

    bad = []
    for path in paths:
        try:
            with rasterio.open(path):
                pass
        except Exception as exc:  # RasterioIOError and whatever the driver raises
            bad.append((path, str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__))
    return bad


def _shared(args):
    """The run's shared arguments, as the result of a task: a worker that needs them fetches them from a peer,
    and when every worker holding them is lost the scheduler recomputes them (scattered data would be lost)."""
    return args


def _run_group(shared, read, windows):
    """One block on a worker: the run's block runner (:func:`remine.core.blocks.run_block`, passed in ``shared``
    so that this module does not import the block engine that imports it) with the run's shared arguments."""
    run_block, func, infos, bands, transform, crs, mask, table = shared
    return run_block(func, infos, bands, read, windows, transform, crs, None, mask, table)


def _release(client, futures, shared):
    """Cancel ``futures`` (tasks of a run still wanted) and release the future of the run's ``shared`` arguments.
    The latter is not cancelled: a cancel reaches every task depending on it, among them tasks the client already
    released, and Dask's scheduler then fails an assertion (distributed 2026.8, ``Scheduler.stimulus_cancel``:
    ``assert ts.who_wants``) and drops the client's connection, which a client shared by several runs
    (:func:`session`) notices as a reconnection."""
    client.cancel(futures, force=True)
    shared.release()


def _workers(info):
    """``{address: (threads, memory limit in bytes, 0 = none)}`` of a scheduler_info() answer."""
    return {a: (int(w.get("nthreads", 1)), int(w.get("memory_limit") or 0)) for a, w in info.get("workers", {}).items()}


def _mb(n):
    return f"{n / 2**20:.0f} MB"


class DaskExecutor:
    """A ``dask.distributed.Client`` as map_blocks' executor (see the module docstring).

    ``workers``: ``{address: (threads, memory limit in bytes, 0 = none)}`` when the run started.
    """

    def __init__(self, client):
        self.client = client
        info = client.scheduler_info()
        self.address = info.get("address") or client.scheduler.address
        self.workers = _workers(info)
        self._look_at, self._no_worker_since = 0.0, None  # see _check_workers
        self.pinned = set()  # workers that hold chains (DaskExecutor.chains)

    @property
    def nthreads(self):
        """Worker threads of the cluster (all workers together, at least 1)."""
        return max(1, sum(n for n, _ in self.workers.values()))

    def where(self):
        return {"where": "dask", "scheduler": self.address, "workers": len(self.workers), "threads": self.nthreads}

    def prepare(self, paths, block, block_bytes, progress):
        """Check the inputs (:meth:`check_inputs`) and the memory (:meth:`check_memory`) of a run whose largest
        block is the rasterio Window ``block`` of ``block_bytes`` working memory, reporting to ``progress``."""
        self.check_inputs(paths)
        self.check_memory(f"a block of this run ({int(block.height)} x {int(block.width)} px)", block_bytes,
                          "the memory budget (max_bytes, 'Memory budget (MB)')", per_budget=2)
        self.progress = progress

    def check_inputs(self, paths):
        """ClusterError naming each worker and input path it cannot open."""
        paths = [str(p) for p in paths]
        if not paths:
            return
        bad = {w: b for w, b in self.client.run(unreadable, paths).items() if b}
        if bad:
            lines = "; ".join(f"worker {w} cannot open {p} ({why})" for w, b in sorted(bad.items()) for p, why in b)
            raise ClusterError(f"{lines}. Every Dask worker reads the inputs itself: put them where all workers see "
                               "them at the same path (a shared file system) or give a GDAL virtual path they can "
                               "reach (/vsicurl/https://..., /vsis3/bucket/key)")

    def memory_advice(self, threads, limit):
        """The part of a memory error that says the limit, the task's size and the fixes: the size a task may take
        on this worker (and the setting that makes it so), or the memory limit that fits the task (see
        :meth:`check_memory`)."""
        task, task_bytes, budget, per_budget = self.task
        room = MEMORY_SHARE * limit / max(threads, 1)  # what one task may take on this worker
        if per_budget:
            fix = f"Lower {budget} to at most {max(16 * 2**20, per_budget * room) / 2**20:.0f} MB"
        else:
            fix = f"Make a task take at most {_mb(room)} with {budget}"
        return (f"its memory limit is {_mb(limit)} for {threads} thread(s), and {task} takes about "
                f"{_mb(task_bytes)} to compute. {fix}, or start the workers with a memory limit of at least "
                f"{_mb(max(threads, 1) * task_bytes / MEMORY_SHARE)} (dask worker --memory-limit) or fewer threads "
                "(--nthreads)")

    def check_memory(self, task, task_bytes, budget, per_budget=None):
        """ClusterError when the threads of a worker, one task of ``task_bytes`` each (the largest task of the
        run, described by the text ``task``), would pass its memory limit. ``budget`` (a text) names the setting
        that sizes the tasks: a byte budget that covers ``per_budget`` tasks, or (``per_budget`` None) a setting
        whose fix the text says (e.g. "larger voxels")."""
        self.task = (task, task_bytes, budget, per_budget)
        for address, (threads, limit) in sorted(self.workers.items()):
            if limit and threads * task_bytes > TERMINATE_FRACTION * limit:
                raise ClusterError(f"the tasks of this run do not fit Dask worker {address}: "
                                   + self.memory_advice(threads, limit))

    def group_results(self, shared, groups):
        """Yield ``(group, results)`` of ``groups`` (``(read window, [windows])``, see
        :func:`remine.core.blocks.plan_groups`) in order, computed on the workers from ``shared`` =
        ``(run_block, func, infos, bands, transform, crs, mask, table)``. Call :meth:`prepare` first."""
        def describe(group):
            read = group[0]
            r0, c0 = int(read.row_off), int(read.col_off)
            return (f"the block of rows {r0}-{r0 + int(read.height) - 1}, "
                    f"columns {c0}-{c0 + int(read.width) - 1}")

        yield from self.results(_run_group, shared, groups, describe)

    def results(self, func, shared, items, describe):
        """Yield ``(item, func(shared, *item))`` for each tuple of ``items``, in order, computed on the workers;
        ``shared`` passes through the scheduler once (see :func:`_shared`); at most two tasks per worker thread
        in flight. ``describe(item)`` names an item in the error of a task that killed its workers. Call
        :meth:`check_memory` (or :meth:`prepare`) first and set ``progress``."""
        client = self.client
        run = uuid.uuid4().hex[:8]
        shared_future = client.submit(_shared, shared, key=f"remine-shared-{run}", pure=False)
        pending = deque()
        try:
            for k, item in enumerate(items):
                pending.append((item, client.submit(func, shared_future, *item, key=f"remine-block-{run}-{k}",
                                                    pure=False)))
                if len(pending) >= 2 * self.nthreads:
                    yield self._next(pending, describe)
            while pending:
                yield self._next(pending, describe)
        finally:  # cancel, error or the end: nothing of this run stays queued on the cluster (see _release)
            _release(client, [f for _, f in pending], shared_future)

    def _next(self, pending, describe):
        item, future = pending.popleft()
        return item, self._wait(future, lambda: describe(item), fetch=True)

    def _wait(self, future, what, fetch=False):
        """Wait for ``future`` in steps of :data:`POLL_S` seconds that check Cancel and that the cluster still has a
        worker (:meth:`_check_workers`; while chains run, every worker holding one: :class:`_WorkerLeft`); its
        result when ``fetch`` (else None: it stays on its worker). ClusterError when its task killed its workers
        (``what()``: the text naming the task); the task's own exception when it failed."""
        from distributed import KilledWorker

        done = None
        while True:
            self.progress.check()
            try:  # a finished result whose worker is lost before the client gathers it is computed again
                if fetch:
                    return future.result(timeout=POLL_S)
                status = future.status
                if status == "finished":
                    return None
                if status in ("error", "cancelled"):
                    return future.result()
                if status == "pending":
                    if done is None:  # set once the future is no longer pending (finished, failed or lost)
                        done = threading.Event()
                        future.add_done_callback(lambda _, done=done: done.set())
                    if done.wait(POLL_S):
                        done = None
                        continue
                else:  # "lost" after it finished (a callback would fire at once): Dask computes it again
                    time.sleep(POLL_S)
            # UnboundLocalError: distributed.utils.sync returns a result never set when its timed wait's task is
            # cancelled (seen once in about 8 runs of the tests): asked again, as after a timeout
            except (TimeoutError, UnboundLocalError):
                pass
            except KilledWorker as exc:
                raise ClusterError(self._lost(what(), exc)) from None
            self._check_workers(what())

    def chains(self, func, shared, items, inits, step, finish, fold, describe, after):
        """:meth:`TaskRunner.chains` on the workers: ``func(shared, *item)`` once per item (as :meth:`results`);
        chain ``g`` starts with ``init(*args)`` of ``inits[g]`` on worker thread ``g`` (round robin), steps through
        the items' results in order on that worker (the results travel between workers, the states stay) and
        finishes there; at most two items per worker thread are ahead of the slowest chain. The finished values
        are folded in chain order on the workers (``fold``: ``(func, start)``; the last fold's result is fetched)
        or, without, fetched one by one.

        A chain's tasks are bound to its worker: with other workers allowed, Dask's work stealing moved states
        back and forth (1.1 GB for 50 realisations of 10⁶ voxels, docs/scaling.md). When one of those workers
        leaves (killed, out of memory, scaled down) the run starts again on the workers left (the same values);
        after :data:`CHAIN_ATTEMPTS` runs, a ClusterError."""
        for _ in range(CHAIN_ATTEMPTS):
            try:
                return self._chains(func, shared, items, inits, step, finish, fold, describe, after)
            except _WorkerLeft as exc:
                try:
                    self.client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
                except Exception:
                    raise ClusterError(f"every Dask worker left while {self.task[0]} ran. No output was "
                                       "written") from None
                self.workers = _workers(self.client.scheduler_info())
                self.progress.info(f"Dask worker(s) {', '.join(exc.args[0])} left while {self.task[0]} ran; "
                                   f"starting it again on {len(self.workers)} worker(s)")
            finally:
                self.pinned = set()
        raise ClusterError(f"Dask workers left {CHAIN_ATTEMPTS} times while {self.task[0]} ran (killed, crashed or "
                           "out of memory; see their logs): check the workers' memory limits against "
                           f"{_mb(self.task[1])} per worker thread. No output was written")

    def _chains(self, func, shared, items, inits, step, finish, fold, describe, after):
        client = self.client
        run = uuid.uuid4().hex[:8]
        slots = [a for a, (n, _) in sorted(self.workers.items()) for _ in range(n)]
        if not slots:
            raise _WorkerLeft([])
        self.pinned = set(slots)

        def submit(func, *args, key, chain=None):
            where = None if chain is None else [slots[chain % len(slots)]]
            return client.submit(func, *args, key=f"remine-{key}-{run}", workers=where, pure=False)

        shared_future = submit(_shared, shared, key="shared")
        states = [submit(init, *args, key=f"chain{g}-init", chain=g) for g, (init, args) in enumerate(inits)]
        window, folds = deque(), []
        try:
            for k, item in enumerate(items):
                result = submit(func, shared_future, *item, key=f"block-{k}")
                states = [submit(step, state, result, key=f"chain{g}-{k}", chain=g) for g, state in enumerate(states)]
                window.append((k, item, result, states))
                if len(window) >= 2 * self.nthreads:
                    self._settle(window.popleft(), describe, after)
            while window:
                self._settle(window.popleft(), describe, after)
            states = [submit(finish, shared_future, state, key=f"chain{g}-finish", chain=g)
                      for g, state in enumerate(states)]
            if fold is None:
                return [self._wait(f, lambda: "the end of a chain", fetch=True) for f in states]
            acc = fold[1]
            for g, state in enumerate(states):
                acc = submit(fold[0], acc, state, key=f"fold{g}", chain=g)
                folds.append(acc)
            return self._wait(acc, lambda: "the fold of the chains' results", fetch=True)
        finally:  # cancel, error or the end: nothing of this run stays queued on the cluster (see _release)
            queued = [f for _, _, result, row in window for f in [result, *row]]
            _release(client, queued + states + folds, shared_future)

    def _settle(self, entry, describe, after):
        """Wait until every chain has stepped through item ``k`` of ``entry`` = ``(k, item, result, states)``;
        after(k)."""
        k, item, _, states = entry
        for g, state in enumerate(states):
            self._wait(state, lambda g=g: f"chain {g} at {describe(item)}")
        after(k)
    def _check_workers(self, what):
        """ClusterError once the scheduler has counted no worker for :data:`NO_WORKER_S` s while the client
        waited for ``what`` (a text); :class:`_WorkerLeft` when a worker holding chains (:attr:`pinned`) left; asks
        the scheduler at most once a second."""
        now = time.monotonic()
        if now < self._look_at:
            return
        self._look_at = now + 1.0
        if self.pinned:
            left = self.pinned - set(self.client.scheduler_info()["workers"])
            if left:
                raise _WorkerLeft(sorted(left))
        if self.client.scheduler_info(n_workers=0).get("n_workers", 0):
            self._no_worker_since = None
            return
        if self._no_worker_since is None:
            self._no_worker_since = now
        if now - self._no_worker_since >= NO_WORKER_S:
            raise ClusterError(f"all workers of the Dask cluster at {self.address} were lost: it had none for "
                               f"{NO_WORKER_S:g} s while waiting for {what}; no output was written. Start workers "
                               f"('dask worker {self.address}') and run again")

    def _lost(self, what, exc):
        """Message for the task computing ``what`` (a text) whose workers died while computing it."""
        address = exc.last_worker.address
        threads, limit = self.workers.get(address, (1, 0))
        oom, deadline = [], time.monotonic() + 2 * POLL_S * 4  # the nanny's event may come after the loss
        while not oom and time.monotonic() < deadline:
            oom = [e for _, e in self.client.get_events("worker-restart-memory") if e.get("worker") == address]
            time.sleep(0 if oom else POLL_S)
        head = f"{what} killed {exc.allowed_failures + 1} Dask worker(s); the last, {address}, "
        if oom:
            head += f"ran out of memory (resident {_mb(oom[-1]['rss'])} when its nanny restarted it): "
        else:
            head += "died while computing it (killed, crashed or out of memory; see its log): "
        advice = self.memory_advice(threads, limit) if limit else \
            "it has no memory limit; check the worker's log and its machine's memory"
        return head + advice + ". No output was written"


@contextlib.contextmanager
def tasks(scheduler=None):
    """A :class:`TaskRunner` on the Dask cluster of :func:`scheduler_address` (``scheduler``, the Processing
    setting or ``REMINE_DASK_SCHEDULER``), else here; the run is recorded for :func:`recording`."""
    with executor_for(None, scheduler) as executor:
        yield TaskRunner(executor)


class TaskRunner:
    """Runs independent tasks without raster inputs (the 3D volume's blocks of voxels and groups of
    realisations) here or on a cluster (``executor``: a :class:`DaskExecutor`, or None for here).

    ``threads``: worker threads of the cluster, 1 here (tasks here run one after the other; each may use
    every core itself)."""

    def __init__(self, executor):
        self.executor = executor
        self.threads = executor.nthreads if executor is not None else 1

    def map(self, func, shared, items, progress, task="a task of this run", task_bytes=0,
            budget="the settings that size the tasks", describe=str):
        """Yield ``func(shared, *item)`` for each tuple of ``items``, in order.

        Here ``func`` also gets ``progress=`` the item's share of ``progress`` (it may report and check Cancel).
        On a cluster ``shared`` passes through the scheduler once, Cancel is checked while waiting, the memory
        check says ``task`` (a text) takes ``task_bytes`` bytes, a size that ``budget`` (a text: "larger voxels
        (...)") makes smaller (see :meth:`DaskExecutor.check_memory`), and
        ``describe(item)`` names an item whose task killed its workers. Close the generator (or exhaust it) to
        cancel what is queued."""
        items = list(items)
        if self.executor is None:
            for n, item in enumerate(items):
                progress.check()
                yield func(shared, *item, progress=progress.sub(n / len(items), (n + 1) / len(items)))
            return
        self.executor.check_memory(task, task_bytes, budget)
        self.executor.progress = progress
        for _, result in self.executor.results(func, shared, items, describe):
            yield result

    def chains(self, func, shared, items, inits, step, finish, progress, fold=None, after=None,
               task="a task of this run", task_bytes=0, budget="the settings that size the tasks", describe=str):
        """Computes ``func(shared, *item)`` once per item and applies the results, in item order, to the states
        of several chains: ``state = init(*args)`` for each ``(init, args)`` of ``inits``, then
        ``state = step(state, result)`` for each item's result, then ``finish(shared, state)``. With ``fold`` =
        ``(fold_func, start)`` returns ``fold_func(... fold_func(start, finished_0) ..., finished_last)``, else the
        list of finished values. ``after(k)`` runs once every chain has stepped through item ``k``.

        Here the chains step one after the other, each item computed once (with ``progress=`` its share, as
        :meth:`map`). On a cluster each chain lives on one worker thread: its state never comes to the caller,
        only what ``fold`` (or ``finish``) makes of it; ``task_bytes`` is the memory of one item's task and one
        chain's state together (see :meth:`map` for ``task``, ``budget`` and ``describe``). When a chain's worker
        leaves, the run starts again on the workers left (:meth:`DaskExecutor.chains`)."""
        after = after or (lambda k: None)
        items = list(items)
        if self.executor is None:
            states = [init(*args) for init, args in inits]
            for n, item in enumerate(items):
                progress.check()
                result = func(shared, *item, progress=progress.sub(n / len(items), (n + 1) / len(items)))
                states = [step(state, result) for state in states]
                after(n)
            done = [finish(shared, state) for state in states]
            if fold is None:
                return done
            acc = fold[1]
            for value in done:
                acc = fold[0](acc, value)
            return acc
        self.executor.check_memory(task, task_bytes, budget)
        self.executor.progress = progress
        return self.executor.chains(func, shared, items, inits, step, finish, fold, describe, after)
