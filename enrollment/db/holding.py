"""How this process holds the database file: one write lock per file for its threads, the open
instance they share (a cursor per unit of work), the watcher that closes it once it has been
idle for ENROLLMENT_DB_HOLD seconds, and the marker beside the file by which another process
says it waits (the holder then lets go as soon as the work under way is done).

A forked child never touches what its parent held: after a fork the child starts with none of
it (closing the parent's instance there could checkpoint into the parent's file).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import duckdb


def close_quietly(con: duckdb.DuckDBPyConnection) -> None:
    """Close after a write: what was committed is in the log even if the closing checkpoint
    cannot be written (a full disk), so that error is not the caller's."""
    try:
        con.close()
    except duckdb.Error:
        pass


# One write lock per database path, shared by every thread of this process.
_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


def write_lock(path: str) -> threading.Lock:
    with _write_locks_guard:
        return _write_locks.setdefault(path, threading.Lock())


class _Held:
    """The database file as this process holds it open: the instance, and how many units of
    work use it. While it is idle the watcher (one thread per process) closes it after
    ENROLLMENT_DB_HOLD seconds, or as soon as another process waits for the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.con: duckdb.DuckDBPyConnection | None = None
        self.users = 0
        self.cond = threading.Condition()
        self.idle_until: float | None = None     # when the watcher closes it, if still idle

    def close(self) -> None:
        """Close now (the caller holds `cond` and no unit of work uses the file)."""
        self.idle_until = None
        if self.con is not None:
            close_quietly(self.con)
            self.con = None
        self.cond.notify_all()

    def fall_idle(self, hold: float) -> None:
        """The last unit of work ended (the caller holds `cond`): close, or leave it to the
        watcher."""
        if hold <= 0 or someone_waits(self.path):
            self.close()
            return
        self.idle_until = time.monotonic() + hold
        _watcher.watch(self)

    def close_if_due(self, now: float) -> bool:
        """Close when idle past its hold or wanted by another process; whether it is settled
        (closed, or in use again) and needs no more watching."""
        with self.cond:
            if self.users or self.con is None or self.idle_until is None:
                return True
            if now >= self.idle_until or someone_waits(self.path):
                self.close()
                return True
            return False


class _Watcher:
    """One thread per process that closes idle files when their hold is over (and at once
    when another process waits for one), looking every POLL seconds while any is idle."""

    POLL = 0.05

    def __init__(self) -> None:
        self.idle: set[_Held] = set()
        self.cond = threading.Condition()
        self.thread: threading.Thread | None = None

    def watch(self, held: _Held) -> None:
        with self.cond:
            self.idle.add(held)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="enrollment-db-idle",
                                               daemon=True)
                self.thread.start()
            self.cond.notify()

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.idle:
                    self.cond.wait()
                watched = list(self.idle)
            now = time.monotonic()
            settled = [held for held in watched if held.close_if_due(now)]
            with self.cond:
                self.idle.difference_update(settled)
            time.sleep(self.POLL)


_watcher = _Watcher()


_held: dict[str, _Held] = {}
_held_guard = threading.Lock()
# Instances a forked child inherited: never used or closed there (closing could checkpoint into
# the parent's file), only kept from the garbage collector.
_inherited: list = []

WAIT_FRESH = 2.0        # seconds a waiter's marker counts as someone waiting

# Units of work this thread has open (a read inside a write, say): a thread that already holds
# the file must never wait for it to be let go.
_depth = threading.local()


def depth() -> int:
    return getattr(_depth, "n", 0)


def enter() -> None:
    _depth.n = depth() + 1


def leave() -> None:
    _depth.n = depth() - 1


def held_for(path: str) -> _Held:
    with _held_guard:
        if path not in _held:
            _held[path] = _Held(Path(path))
        return _held[path]


def _after_fork_in_child() -> None:
    global _held, _held_guard, _write_locks, _write_locks_guard, _watcher
    _inherited.extend(h.con for h in _held.values() if h.con is not None)
    _held, _held_guard = {}, threading.Lock()
    _watcher = _Watcher()
    _depth.n = 0
    _write_locks, _write_locks_guard = {}, threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def marker(path: Path) -> Path:
    return path.with_name(path.name + ".wait")


def someone_waits(path: Path) -> bool:
    """Whether another process said lately that it waits for the file."""
    try:
        return time.time() - marker(path).stat().st_mtime < WAIT_FRESH
    except OSError:
        return False


def release(path: str | Path) -> None:
    """Close this process's open instance of the file once its units of work are done (before
    the file is replaced, e.g. by `restore`)."""
    held = held_for(str(Path(path).expanduser().resolve()))
    with held.cond:
        while held.users:
            held.cond.wait()
        held.close()
