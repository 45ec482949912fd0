"""How commands print tables: aligned text for people, JSON or CSV for other programs."""

from __future__ import annotations

import datetime as dt
import json
import math

import click
import pandas as pd

from .. import text as txt

FORMATS = ("table", "json", "csv")


def output_options(fn):
    """The shared `--format` option (table, json or csv; default table), passed on as `fmt`."""
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")(fn)


def text_table(frame: pd.DataFrame, width: int = 200) -> str:
    """A frame as aligned text; Chinese characters count as two columns so columns line up."""
    with pd.option_context("display.unicode.east_asian_width", True,
                           "display.max_rows", None, "display.width", width):
        return frame.to_string(index=False)


def json_value(value):
    """A cell as a JSON value: missing is null, dates are ISO days, numpy numbers plain."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (pd.Timestamp, dt.date)):
        return value.date().isoformat() if isinstance(value, pd.Timestamp) else value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def records(frame: pd.DataFrame, fields) -> list[dict]:
    """The rows of a frame as JSON-ready dicts of the given fields (a missing field is null)."""
    return [{f: json_value(r.get(f)) for f in fields} for r in frame.to_dict("records")]


def echo_frame(frame: pd.DataFrame, fmt: str) -> None:
    """Print a frame in the `--format` asked for: table, json or csv."""
    if fmt == "json":
        def value(v):
            if isinstance(v, (pd.Timestamp, dt.datetime)) and not pd.isna(v) and \
                    (v.hour, v.minute, v.second) != (0, 0, 0):
                return v.isoformat(sep=" ", timespec="seconds")
            return json_value(v)
        rows = [{k: value(v) for k, v in row.items()} for row in frame.to_dict("records")]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
    elif fmt == "csv":
        click.echo(txt.csv_text(frame), nl=False)
    else:
        # Text from files and forms may carry terminal escapes (ESC [31m …): printed as spaces.
        shown = frame.astype(object).where(frame.notna(), "").map(
            lambda v: txt.scrub(v, 10_000) if isinstance(v, str) else v)
        click.echo(text_table(shown, width=250))
