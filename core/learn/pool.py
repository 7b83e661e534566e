"""A pool of single-threaded workers for prediction over rows.

On a few cores, BLAS, numba and OpenMP thread teams spin against each other and scale poorly
(measured on 2 vCPUs: FastSVC 2x, XGBoost prediction 1.1-1.3x). Running chunks of rows in a pool of
threads, each computing single-threaded code that releases the GIL (BLAS limited to one thread, numba
``nogil`` kernels, XGBoost's C API through ctypes), keeps every core busy without that contention.
The worker threads live as long as the process: libraries keep per-thread state (XGBoost's prediction
buffers), which fresh threads for every call would pile up (measured: +115 MB per predict_raster run).
"""
import functools
import threading
from concurrent.futures import ThreadPoolExecutor

_PREFIX = "remine-pool"


@functools.lru_cache(maxsize=None)
def _executor(workers):
    return ThreadPoolExecutor(workers, thread_name_prefix=_PREFIX)


@functools.lru_cache(maxsize=None)
def _blas():
    """The BLAS libraries loaded at the first call (numpy's among them), found once: threadpoolctl's
    ``threadpool_limits`` looks for them at every call (3 ms, against 0.01 ms to limit found ones)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


def in_pool(chunk, n, rows, workers=None):
    """Run ``chunk(start, stop)`` over ``range(n)`` cut into chunks of at most ``rows`` rows, in a pool of
    ``workers`` threads.

    Parameters
    ----------
    chunk : callable(start, stop) computing rows ``start:stop`` (it writes its own results).
    n : int, number of rows.
    rows : int, most rows per chunk (cache or call-overhead size of the caller).
    workers : int or None (numba's thread count: the cores remine may use).

    The number of chunks is a multiple of ``workers`` and the chunks are of equal size (within one row),
    so that every worker gets the same work (25k rows in chunks of 8192 would leave one of two workers
    idle a third of the time). BLAS is limited to one thread while the pool runs. Exceptions of a chunk
    are raised here. Called from a worker of the pool itself (nested models), the chunks run in that
    worker, one after the other.
    """
    import numba

    workers = int(workers or numba.get_num_threads())
    n_chunks = -(-max(n, 1) // rows)
    n_chunks = -(-n_chunks // workers) * workers
    bounds = [(n * k // n_chunks, n * (k + 1) // n_chunks) for k in range(n_chunks)]
    bounds = [(a, b) for a, b in bounds if b > a]
    if threading.current_thread().name.startswith(_PREFIX):
        for a, b in bounds:
            chunk(a, b)
        return
    with _blas().limit(limits=1):
        list(_executor(workers).map(lambda ab: chunk(*ab), bounds))
