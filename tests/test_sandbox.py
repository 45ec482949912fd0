"""The sandbox that reads uploads: a child process that may die, hang, eat memory or return too
much without harming the caller, and says so in Chinese (FileRefused)."""

import io
import os
import sys
import threading
import types

import pytest

from enrollment.files import formats, reader, sandbox
from enrollment.files.bounds import Limits

from . import hostile
from . import sandbox_helpers as helpers
from .fixtures import csv_bytes

SMALL = csv_bytes([["单位", "累计参保人数"], ["城区", 5]])


def refused(function, *args, **kwargs) -> str:
    with pytest.raises(formats.FileRefused) as caught:
        sandbox.read(function, SMALL, *args, **kwargs)
    message = str(caught.value)
    assert message.startswith("文件过大或结构异常：") and message.endswith("请另存为普通表格后再上传。")
    return caught.value.reason


def test_a_table_comes_back_as_read_in_process():
    content = hostile.workbook()
    assert sandbox.read(reader.read_table, content) == reader.read_table(content)


def test_the_limits_are_taken_from_the_callers_settings(monkeypatch):
    monkeypatch.setenv("ENROLLMENT_MAX_ROWS", "7")
    assert sandbox.read(helpers.echo, SMALL) == (len(SMALL), Limits(rows=7))


def test_calamine_aborting_the_child_is_a_refusal_not_a_crash():
    """The file of the issue with the structural checks lifted: calamine asks for 512 GB, the
    allocation fails under RLIMIT_AS and Rust aborts the child (SIGABRT)."""
    lifted = Limits(rows=10**7, columns=10**5, cells=10**13)
    with pytest.raises(formats.FileRefused, match="内存超过 768 MB 的上限"):
        sandbox.read(reader.read_table, hostile.far_cell(), limits=lifted)
    assert sandbox.read(reader.read_table, SMALL).rows     # and the next file is read as usual


def test_an_abort_is_a_memory_refusal():
    assert refused(helpers.abort) == "读取所需内存超过 768 MB 的上限"


def test_memory_beyond_the_address_space_limit_is_refused(monkeypatch):
    monkeypatch.setenv("ENROLLMENT_READ_MEMORY_MB", "256")
    assert refused(helpers.allocate, 512) == "读取所需内存超过 256 MB 的上限"


def test_a_child_that_does_not_finish_in_time_is_killed(monkeypatch):
    monkeypatch.setenv("ENROLLMENT_READ_TIMEOUT", "0.5")
    assert refused(helpers.sleep) == "读取超过 0.5 秒仍未完成"


def test_a_busy_child_is_killed_too():
    assert refused(helpers.spin, seconds=1) == "读取超过 1 秒仍未完成"


def test_a_result_over_the_output_limit_is_refused():
    assert refused(helpers.huge_result) == f"读出的表格内容超过 {sandbox.OUTPUT_LIMIT // 1048576} MB 的上限"


def test_a_child_that_exits_without_a_result_is_refused():
    assert refused(helpers.exit_quietly) == "读取程序异常退出（代码 3）"


def test_an_unexpected_exception_is_a_bug_with_the_childs_traceback():
    with pytest.raises(sandbox.SandboxError, match="KeyError: 'a bug in the reader'"):
        sandbox.read(helpers.bug, SMALL)


def test_read_errors_keep_their_message():
    with pytest.raises(reader.ReadError, match="没有找到表头") as caught:
        sandbox.read(reader.read_table, csv_bytes([["甲", "乙"], [1, 2]]))
    assert not isinstance(caught.value, formats.FileRefused)


def test_a_file_over_the_upload_limit_is_refused_before_a_child_starts(monkeypatch):
    monkeypatch.setenv("ENROLLMENT_MAX_UPLOAD_MB", "0.5")
    with pytest.raises(reader.ReadError, match=r"文件大小 1.0 MB，超过上限 512 KB"):
        sandbox.read(helpers.abort, b"x" * 1024 * 1024)


def test_several_threads_read_at_once():
    """The Streamlit server reads files from many session threads."""
    files = [csv_bytes([["单位", "累计参保人数"], ["城区", n]]) for n in range(8)]
    results: dict[int, object] = {}

    def read(n):
        results[n] = sandbox.read(reader.read_table, files[n]).rows[0].values["enrolled"]

    threads = [threading.Thread(target=read, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {n: str(n) for n in range(8)}


def test_the_child_does_not_run_the_parents_main_script(tmp_path, monkeypatch):
    """Under `streamlit run` the main module is Streamlit's script: re-running it in every child
    (multiprocessing's default) would import Streamlit there each time."""
    marker = tmp_path / "ran"
    script = tmp_path / "main_script.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    main.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", main)
    assert sandbox.read(reader.read_table, SMALL).rows
    assert not marker.exists()


def test_a_process_forked_after_reading_starts_a_fork_server_of_its_own():
    """The crash test's writers are forks of a process that has already read files."""
    assert sandbox.read(reader.read_table, SMALL).rows
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            rows = sandbox.read(reader.read_table, SMALL).rows
            os.write(write, str(len(rows)).encode())
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 100)
    os.close(read)
    os.waitpid(pid, 0)
    assert answer == b"1"
    assert sandbox.read(reader.read_table, SMALL).rows      # the parent's server still serves


def test_the_parent_rebuilds_only_what_a_read_returns():
    """A child taken over by a hostile file could send any pickle; only reader types load."""
    import pickle

    evil = pickle.dumps(("ok", os.system))          # would resolve posix.system
    with pytest.raises(pickle.UnpicklingError, match="is not a reader result"):
        sandbox._Unpickler(io.BytesIO(evil)).load()
    table = reader.read_table(SMALL)
    assert sandbox._Unpickler(io.BytesIO(pickle.dumps(("ok", table)))).load() == ("ok", table)
