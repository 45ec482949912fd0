"""The shipped division code files (data/divisions, CSV and gzipped CSV), read with DuckDB's CSV
reader in an in-memory engine: reference files, not the program's database, so whichever
engine holds the data, these are read the same way."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

_CSV = "read_csv(?, header = true, all_varchar = true)"


@contextmanager
def _engine() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as con:
        yield con


def with_prefix(paths: list[Path], prefix: str) -> list[list[tuple[str, str]]]:
    """(code, name) of every division whose code starts with `prefix`, per file, by code."""
    with _engine() as con:
        return [con.execute(f"SELECT code, name FROM {_CSV} WHERE starts_with(code, ?) "
                            "ORDER BY code", [str(path), prefix]).fetchall() for path in paths]


def named_like(paths: list[Path], text: str, limit: int) -> list[list[tuple[str, str]]]:
    """(code, name) of divisions whose name contains `text`, per file, at most `limit` each."""
    with _engine() as con:
        return [con.execute(f"SELECT code, name FROM {_CSV} WHERE contains(name, ?) "
                            "ORDER BY code LIMIT ?", [str(path), text, limit]).fetchall()
                for path in paths]


def count_with_prefix(path: Path, prefix: str) -> int:
    with _engine() as con:
        return con.execute(f"SELECT count(*) FROM {_CSV} WHERE starts_with(code, ?)",
                           [str(path), prefix]).fetchone()[0]


def names(path: Path, codes: list[str]) -> dict[str, str]:
    """Names of the given codes found in one file."""
    with _engine() as con:
        return dict(con.execute(f"SELECT code, name FROM {_CSV} WHERE list_contains(?, code)",
                                [str(path), codes]).fetchall())
