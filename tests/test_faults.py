"""Faults of the file, the disk and the settings end in a Chinese explanation with the way out:
a damaged write-ahead log (generated here by flipping bytes of a real one), a full disk (the
engine's real error through a wrapped connection, and a real full tmpfs where the machine lets
an unprivileged user mount one), a short cookie secret. Never a traceback, never a change.
The file's own faults are DuckDB's (marked duckdb_only); a database server that is away is
tests/test_postgres.py's and tests/test_cluster.py's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from enrollment import db
from enrollment.cli import cli
from enrollment.identity import accounts
from enrollment.uploads import ingest

from .fixtures import NOW, ROOT, TODAY, dump, report_csv

CAMPAIGN = "jincheng-2022-residents"


def damage_the_log(path: Path) -> None:
    """Leave a write-ahead log behind (as a crash would) and flip 64 bytes in its middle."""
    db.engine.release(path)             # the process that crashed held the file, not this one
    con = duckdb.connect(str(path))
    con.execute("PRAGMA disable_checkpoint_on_shutdown")
    con.execute("SET checkpoint_threshold = '1GB'")
    con.execute("INSERT INTO audit_log SELECT nextval('audit_ids'), now()::TIMESTAMP, 'x', NULL, "
                "'export', repeat('日志', 20), NULL, NULL FROM range(500)")
    con.close()
    wal = Path(f"{path}.wal")
    data = bytearray(wal.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])
    wal.write_bytes(bytes(data))


def run(store, *args, input=None):
    return CliRunner().invoke(cli, ["--db", store.target, *args], input=input)


@pytest.mark.duckdb_only
def test_a_damaged_log_stops_every_command_with_the_way_out(store, tmp_path):
    report = tmp_path / "周报.csv"
    report.write_bytes(report_csv({"140525": 270000}))
    damage_the_log(store.path)
    for args in (["init"], ["campaigns"], ["users", "list"], ["audit"],
                 ["progress", "--campaign", CAMPAIGN],
                 ["ingest", str(report), "--campaign", CAMPAIGN, "--report-date", "2021-11-19"],
                 ["backup", "--out", str(tmp_path / "b.duckdb")]):
        result = run(store, *args)
        assert result.exit_code == 1, (args, result.output)
        assert isinstance(result.exception, SystemExit), (args, result.exception)
        assert "预写日志" in result.output and "restore" in result.output, result.output
        assert "Traceback" not in result.output and "_duckdb" not in result.output


@pytest.mark.duckdb_only
def test_restore_works_when_the_current_file_cannot_be_opened(store, tmp_path):
    ingest.commit(store, CAMPAIGN, report_csv({"140525": 270000}), "周报.csv",
                  report_date=NOW.date(), uploader="测试", now=NOW, today=TODAY)
    saved = tmp_path / "backup.duckdb"
    assert run(store, "backup", "--out", str(saved)).exit_code == 0
    expected = dump(store, audit=True)
    damage_the_log(store.path)
    damaged_bytes = store.path.read_bytes(), Path(f"{store.path}.wal").read_bytes()
    result = run(store, "restore", str(saved))              # no --yes needed: nothing is lost
    assert result.exit_code == 0, result.output
    assert "无法打开的原数据库文件已移到" in result.output
    aside = sorted(p for p in store.path.parent.iterdir() if ".damaged-" in p.name)
    assert len(aside) == 2 and aside[1].name == aside[0].name + ".wal", aside
    kept = aside[0]
    assert (kept.read_bytes(), Path(f"{kept}.wal").read_bytes()) == damaged_bytes
    after = dump(store, audit=True)
    assert {t: v for t, v in after.items() if t not in ("meta", "audit_log")} == \
        {t: v for t, v in expected.items() if t not in ("meta", "audit_log")}
    assert run(store, "uploads", "--campaign", CAMPAIGN).exit_code == 0


@pytest.mark.duckdb_only
def test_the_app_shows_the_same_explanation(store):
    damage_the_log(store.path)
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "参保进度看板暂时无法使用"
    assert "预写日志" in at.error[0].value and "restore" in at.error[0].value


class FullDisk:
    """A connection whose commit fails as DuckDB's does on a full disk: the transaction is over
    and the engine's message is the real one."""

    def __init__(self, con):
        self._con = con

    def __getattr__(self, name):
        return getattr(self._con, name)

    def cursor(self):
        return FullDisk(self._con.cursor())

    def commit(self):
        self._con.rollback()
        raise duckdb.TransactionException(
            'TransactionContext Error: Failed to commit: Could not write file '
            '"/srv/enrollment.duckdb.wal": No space left on device')


@pytest.fixture
def full_disk(store, monkeypatch):
    db.engine.release(store.path)       # the file is opened again, on the full disk
    real = duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: FullDisk(real(*a, **k)))


@pytest.mark.duckdb_only
def test_a_full_disk_ends_in_chinese_and_changes_nothing(store, tmp_path, full_disk):
    before = dump(store, audit=True)
    with pytest.raises(db.DiskFull, match="服务器磁盘已满") as caught:
        ingest.commit(store, CAMPAIGN, report_csv({"140525": 270000}), "周报.csv",
                      report_date=NOW.date(), uploader="测试", now=NOW, today=TODAY)
    assert "cannot rollback" not in str(caught.value)
    assert "No space left on device" in str(caught.value.__cause__)
    report = tmp_path / "周报.csv"
    report.write_bytes(report_csv({"140525": 270000}))
    for args in (["ingest", str(report), "--campaign", CAMPAIGN, "--report-date", "2021-11-19"],
                 ["users", "add", "admin", "--role", "admin"]):
        result = run(store, *args, input="admin-pass-12\n")
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
        assert "服务器磁盘已满" in result.output and "cannot rollback" not in result.output
    assert dump(store, audit=True) == before


def _unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-r", "-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.duckdb_only
@pytest.mark.skipif(not _unshare_works(), reason="no unprivileged mount namespace for a small tmpfs")
def test_a_really_full_disk_ends_in_chinese(store, tmp_path):
    """The CLI in a mount namespace whose tmpfs holds the database and nothing more."""
    report = tmp_path / "周报.csv"
    report.write_bytes(report_csv({"140525": 270000}))
    disk = tmp_path / "disk"
    disk.mkdir()
    size_kb = store.path.stat().st_size // 1024 + 1024
    script = textwrap.dedent(f"""
        set -e
        mount -t tmpfs -o size={size_kb}k tmpfs {disk}
        cp {store.path} {disk}/db.duckdb
        dd if=/dev/zero of={disk}/filler bs=4k 2>/dev/null || true
        set +e
        {sys.executable} -m enrollment --db {disk}/db.duckdb ingest {report} \\
            --campaign {CAMPAIGN} --report-date 2021-11-19
        echo "exit=$?"
        rm {disk}/filler
        {sys.executable} -m enrollment --db {disk}/db.duckdb uploads --campaign {CAMPAIGN}
    """)
    done = subprocess.run(["unshare", "-r", "-m", "sh", "-c", script], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ}, timeout=300)
    out = done.stdout + done.stderr
    assert "exit=1" in out, out
    assert "服务器磁盘已满" in out and "Traceback" not in out, out
    assert "还没有任何上报记录" in out, out            # nothing of the failed upload was kept


def test_a_short_secret_stops_the_app_and_the_login_commands(store, monkeypatch, tmp_path):
    monkeypatch.setenv("ENROLLMENT_SECRET", "short")
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    assert "密钥太短" in at.error[0].value
    for args in (["users", "add", "admin", "--role", "admin"], ["init"]):
        result = run(store, *args, input="admin-pass-12\n")
        assert result.exit_code == 1 and "密钥太短" in result.output, result.output
    with store.read() as con:
        assert not accounts.any_account(con)
    monkeypatch.delenv("ENROLLMENT_SECRET")
    secret_file = tmp_path / "secret.key"
    secret_file.write_text("0123456789\n")
    monkeypatch.setenv("ENROLLMENT_SECRET_FILE", str(secret_file))
    result = run(store, "users", "add", "admin", "--role", "admin", input="admin-pass-12\n")
    assert result.exit_code == 1 and f"密钥文件 {secret_file}" in result.output


@pytest.mark.duckdb_only
def test_a_damaged_file_is_set_aside_by_restore(store, tmp_path):
    saved = tmp_path / "backup.duckdb"
    assert run(store, "backup", "--out", str(saved)).exit_code == 0
    garbage = os.urandom(64 * 1024)
    db.engine.release(store.path)       # damaged while no process held it
    store.path.write_bytes(garbage)
    result = run(store, "campaigns")
    assert result.exit_code == 1 and "已损坏" in result.output and "restore" in result.output
    result = run(store, "restore", str(saved))
    assert result.exit_code == 0, result.output
    kept = next(p for p in store.path.parent.iterdir() if ".damaged-" in p.name)
    assert kept.read_bytes() == garbage
    assert "jincheng-2022-residents" in run(store, "campaigns").output
