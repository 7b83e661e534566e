"""A pool of single-threaded workers for prediction over rows.

On a few cores, BLAS, numba and OpenMP thread teams spin against each other and scale poorly
(measured on 2 vCPUs: FastSVC 2x, XGBoost prediction 1.1-1.3x). Running chunks of rows in a pool of
threads, each computing single-threaded code that releases the GIL (BLAS limited to one thread, numba
``nogil`` kernels, XGBoost's C API through ctypes), keeps every core busy without that contention.
"""
from concurrent.futures import ThreadPoolExecutor


def in_pool(chunk, n, rows, workers=None):
    """Run ``chunk(start)`` for ``start`` in ``range(0, n, rows)`` in a pool of ``workers`` threads.

    Parameters
    ----------
    chunk : callable(start) computing rows ``start:start + rows`` (it writes its own results).
    n : int, number of rows.
    rows : int, rows per chunk.
    workers : int or None (numba's thread count: the cores remine may use).

    BLAS is limited to one thread while the pool runs. Exceptions of a chunk are raised here.
    """
    import numba
    from threadpoolctl import threadpool_limits

    workers = workers or numba.get_num_threads()
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
        list(pool.map(chunk, range(0, n, rows)))
