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


def in_pool(chunk, n, rows, workers=None):
    """Run ``chunk(start)`` for ``start`` in ``range(0, n, rows)`` in a pool of ``workers`` threads.

    Parameters
    ----------
    chunk : callable(start) computing rows ``start:start + rows`` (it writes its own results).
    n : int, number of rows.
    rows : int, rows per chunk.
    workers : int or None (numba's thread count: the cores remine may use).

    BLAS is limited to one thread while the pool runs. Exceptions of a chunk are raised here. Called from
    a worker of the pool itself (nested models), the chunks run in that worker, one after the other.
    """
    import numba
    from threadpoolctl import threadpool_limits

    starts = range(0, n, rows)
    if threading.current_thread().name.startswith(_PREFIX):
        for start in starts:
            chunk(start)
        return
    with threadpool_limits(1, user_api="blas"):
        list(_executor(int(workers or numba.get_num_threads())).map(chunk, starts))
