"""learn.pool.in_pool: chunks cover the rows once, workers persist across calls, nested calls do not deadlock."""
import threading

import numpy as np
import pytest

from remine.core.learn.pool import in_pool


def test_every_chunk_runs_once_and_errors_propagate():
    out = np.zeros(1000, dtype=int)
    sizes = []

    def chunk(start, stop):
        out[start:stop] += 1
        sizes.append(stop - start)

    in_pool(chunk, 1000, 64, workers=2)
    assert np.all(out == 1)
    # 16 chunks (a multiple of the 2 workers) of 62 or 63 rows, none above 64
    assert len(sizes) == 16 and set(sizes) == {62, 63}

    def failing(start, stop):
        if start == 0:
            raise ValueError("chunk 0 failed")

    with pytest.raises(ValueError, match="chunk 0"):
        in_pool(failing, 1000, 64, workers=2)


def test_workers_persist_across_calls():
    # libraries keep per-thread state (XGBoost's prediction buffers): fresh threads per call would pile it up
    names = set()
    for _ in range(5):
        in_pool(lambda start, stop: names.add(threading.current_thread().name), 400, 100, workers=2)
    assert 1 <= len(names) <= 2 and all(n.startswith("remine-pool") for n in names)


def test_nested_call_runs_inline():
    # a chunk that itself calls in_pool (e.g. a stacked model whose member uses the pool) must not wait for
    # workers that are all busy with the outer chunks
    out = np.zeros((4, 100))

    def outer(start, stop):
        def inner(a, b):
            out[start, a:b] = 1

        in_pool(inner, 100, 10, workers=2)

    done = threading.Event()
    threading.Thread(target=lambda: (in_pool(outer, 4, 1, workers=2), done.set()), daemon=True).start()
    assert done.wait(30), "nested in_pool deadlocked"
    assert np.all(out == 1)


def test_blas_is_single_threaded_inside_the_pool_only():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    before = blas_threads()
    assert before, "numpy's BLAS should be found"
    seen = []
    in_pool(lambda start, stop: seen.append(blas_threads()), 40, 10, workers=2)
    assert seen and all(set(s.values()) == {1} for s in seen)
    assert blas_threads() == before
