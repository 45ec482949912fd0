"""The page's shared results (ui.Newest): one computation when sessions ask together, only the
newest data version kept per key, a bounded number of keys."""

import threading
import time

from enrollment.ui import Newest


def test_sessions_asking_together_share_one_computation():
    cache = Newest(entries=4)
    calls, barrier = [], threading.Barrier(8)
    results = []

    def compute():
        calls.append(1)
        time.sleep(0.2)          # long enough for every session to arrive while it runs
        return object()

    def session():
        barrier.wait()
        results.append(cache.get(("k",), 1, compute, ""))

    threads = [threading.Thread(target=session) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len({id(r) for r in results}) == 1


def test_a_new_data_version_replaces_the_old_result():
    cache = Newest(entries=4)
    assert cache.get(("k",), 1, lambda: "v1", "") == "v1"
    assert cache.get(("k",), 1, lambda: "again", "") == "v1"
    assert cache.get(("k",), 2, lambda: "v2", "") == "v2"
    assert list(cache._items) == [("k",)] and cache._items[("k",)] == (2, "v2")
    # A session still on the old version gets its own result and does not undo the new one.
    assert cache.get(("k",), 1, lambda: "late", "") == "late"
    assert cache._items[("k",)] == (2, "v2")


def test_the_least_recently_used_keys_go_first():
    cache = Newest(entries=2)
    for key in ("a", "b"):
        cache.get((key,), 1, lambda k=key: k, "")
    cache.get(("a",), 1, lambda: "recomputed", "")        # a hit: "a" is now the newest
    cache.get(("c",), 1, lambda: "c", "")
    assert list(cache._items) == [("a",), ("c",)]
