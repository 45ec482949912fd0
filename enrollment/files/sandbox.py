"""Reading untrusted files in a child process that may die without taking the app along.

calamine aborts the whole process when an allocation fails (a SIGABRT Python cannot catch), and
a hostile file can make any reader loop for minutes. `read(function, content, …)` therefore
calls a reader function in a fresh child process with limits on

* wall time (ENROLLMENT_READ_TIMEOUT; the parent kills the child when it is up), and CPU time
  (RLIMIT_CPU, a backstop should the parent itself die);
* address space (ENROLLMENT_READ_MEMORY_MB, RLIMIT_AS): an allocation past it fails, in Python
  as MemoryError, in calamine as an abort;
* the size of its result (OUTPUT_LIMIT, pickled);
* the structure of the file (`enrollment/files/bounds.py`, passed down as `Limits`).

Any breach, including the child being killed, is a `FileRefused` with the concrete reason. The
result comes back as a compact pickle over a pipe, and the parent rebuilds only the types a read
returns (ALLOWED): the child handles hostile bytes with native code, and a child taken over
must not be able to hand the server a pickle that runs code.

The children come from multiprocessing's fork server: a single-threaded process started once
(with fork+exec, safe from the Streamlit server's threads) that has imported the reader
(`set_forkserver_preload`), so each file gets a fresh fork with everything loaded (a few
milliseconds) and never a copy of the multi-threaded server. Unlike multiprocessing's own
Process, the child does not re-import the parent's `__main__` (under `streamlit run` that would
import Streamlit in every child): the reader functions live in importable modules.

At most MAX_CHILDREN files are read at once, so hostile uploads cannot take more than
MAX_CHILDREN × ENROLLMENT_READ_MEMORY_MB; the wait for a slot does not count against the time
limit.
"""

from __future__ import annotations

import gc
import io
import math
import multiprocessing
import os
import pickle
import resource
import signal
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing import context as mp_context
from multiprocessing import forkserver, popen_forkserver, reduction, spawn, util
from typing import TypeVar

from .. import settings
from . import bounds
from .bounds import Limits
from .formats import FileRefused
from .reader import ReadError

T = TypeVar("T")

OUTPUT_LIMIT = 64 * 1024 * 1024      # a province's report table pickles to about 2 MB
MAX_CHILDREN = max(2, os.cpu_count() or 1)
PRELOAD = ["enrollment.files.sandbox"]     # imports the reader, calamine and charset_normalizer


# What a reader function may return, besides built-in containers, strings and numbers.
ALLOWED = {("enrollment.files.reader", "Table"), ("enrollment.files.reader", "Row"),
           ("enrollment.files.bounds", "Limits"),
           ("datetime", "date"), ("datetime", "datetime"), ("datetime", "time"),
           ("datetime", "timedelta"), ("datetime", "timezone")}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not a reader result")
        return super().find_class(module, name)


class SandboxError(RuntimeError):
    """The reader failed in the child with an unexpected exception (a bug, not the file's
    fault); the message carries the child's traceback."""


class _Popen(popen_forkserver.Popen):
    """multiprocessing's fork-server Popen (Python 3.11), minus the parent's main module and
    working directory: the child runs a function of this package on bytes and needs neither."""

    def _launch(self, process_obj):
        prep_data = spawn.get_preparation_data(process_obj._name)
        for key in ("init_main_from_path", "init_main_from_name", "dir"):
            prep_data.pop(key, None)
        buf = io.BytesIO()
        mp_context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            mp_context.set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)
        _parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _Reader(mp_context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj):
        return _Popen(process_obj)


_start_lock = threading.Lock()
_slots = threading.BoundedSemaphore(MAX_CHILDREN)
_preloaded = False


def _forget_the_parents_fork_server() -> None:
    """In a process forked from one that has read files (the crash test's writers are such
    forks): the fork server is the parent's, and multiprocessing would waitpid() on it here and
    fail. Forget it, so the next read starts one of this process's own; locks that another
    thread held at the fork are new ones."""
    global _start_lock, _slots
    server = forkserver._forkserver
    if server._forkserver_alive_fd is not None:
        try:
            os.close(server._forkserver_alive_fd)     # this process's copy only
        except OSError:
            pass
    server._forkserver_address = server._forkserver_alive_fd = server._forkserver_pid = None
    server._lock = threading.Lock()
    _start_lock = threading.Lock()
    _slots = threading.BoundedSemaphore(MAX_CHILDREN)


os.register_at_fork(after_in_child=_forget_the_parents_fork_server)


def _context() -> mp_context.ForkServerContext:
    global _preloaded
    ctx = multiprocessing.get_context("forkserver")
    if not _preloaded:
        ctx.set_forkserver_preload(PRELOAD)
        _preloaded = True
    return ctx


def read(function: Callable[..., T], content: bytes, *args, limits: Limits | None = None,
         seconds: float | None = None, memory: int | None = None) -> T:
    """`function(content, *args, limits=limits)` run in a child process with limits.

    `function` is a module-level reader function (it is pickled by name). Raises ReadError
    (a file over ENROLLMENT_MAX_UPLOAD_MB is refused before anything is read), FileRefused
    for every breach of the limits, SandboxError for an unexpected exception in the child.
    """
    if problem := bounds.size_problem(len(content)):
        raise ReadError(problem)
    # Settings are read here, in the caller's environment: the fork server's is older.
    limits = limits or Limits.from_settings()
    seconds = settings.read_timeout() if seconds is None else seconds
    memory = settings.read_memory_bytes() if memory is None else memory
    with _slots:
        outcome = _run(function, content, args, limits, seconds, memory)
    kind, value = outcome
    if kind == "ok":
        return value
    if kind == "read_error":
        raise ReadError(value)
    if kind == "refused":
        raise FileRefused(value)
    raise SandboxError(value)


def _run(function, content: bytes, args: tuple, limits: Limits, seconds: float,
         memory: int) -> tuple[str, object]:
    ctx = _context()
    receiver, sender = ctx.Pipe(duplex=False)
    child = _Reader(target=_child, args=(sender, function, content, args, limits, seconds, memory),
                    daemon=True)
    with _start_lock:
        child.start()
    sender.close()
    started = time.monotonic()
    try:
        data = None
        if receiver.poll(seconds):
            try:
                data = receiver.recv_bytes(OUTPUT_LIMIT + 65536)
            except (EOFError, OSError):
                data = None
        elapsed = time.monotonic() - started
        child.join(max(0.0, min(5.0, seconds - elapsed)) if data is None else 5.0)
        if child.is_alive():
            child.kill()
            child.join()
        if data is not None:
            return _Unpickler(io.BytesIO(data)).load()
        return "refused", _death_reason(child.exitcode, elapsed, seconds, memory)
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
            child.join()
        child.close()


def _death_reason(exitcode: int | None, elapsed: float, seconds: float, memory: int) -> str:
    if exitcode is None or exitcode == -signal.SIGKILL and elapsed >= seconds:
        return f"读取超过 {seconds:g} 秒仍未完成"
    if exitcode == -signal.SIGXCPU or exitcode == -signal.SIGKILL:
        return f"读取占用处理器超过 {seconds:g} 秒"
    if exitcode == -signal.SIGABRT:
        return f"读取所需内存超过 {memory // 1048576:,} MB 的上限"
    return f"读取程序异常退出（代码 {exitcode}）"


def _child(sender, function, content: bytes, args: tuple, limits: Limits, seconds: float,
           memory: int) -> None:
    """In the child: limit itself, read, send one pickled (kind, value) back, exit."""
    # Made before the limits: with the memory used up, there may be none left to make them.
    out_of_memory = pickle.dumps(("refused", f"读取所需内存超过 {memory // 1048576:,} MB 的上限"))
    too_large = pickle.dumps(("refused", f"读出的表格内容超过 {OUTPUT_LIMIT // 1048576} MB 的上限"))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = max(1, math.ceil(seconds))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    gc.disable()                 # a short life: reference counting frees what it must
    try:
        try:
            outcome = ("ok", function(content, *args, limits=limits))
        except FileRefused as exc:
            outcome = ("refused", exc.reason)
        except ReadError as exc:
            outcome = ("read_error", str(exc))
        except RecursionError:
            outcome = ("refused", "表格结构嵌套过深")
        except MemoryError:
            raise
        except BaseException:    # noqa: BLE001 — a bug: report it with its traceback
            outcome = ("error", traceback.format_exc(limit=20))
        content = None
        data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
        outcome = None
        if len(data) > OUTPUT_LIMIT:
            data = too_large
    except MemoryError:
        outcome = content = data = None
        data = out_of_memory
    sender.send_bytes(data)
    sender.close()
    os._exit(0)                  # nothing to clean up; exiting normally could need memory
