"""Alternative-data uploads as rows: JSON, CSV or Parquet bytes -> a list of field mappings.

A file that cannot be read at all is a `FormatProblem` (the upload is refused as a whole); a file
that reads is handed row by row to schemas.validate_rows, which keeps the good rows.
"""

from __future__ import annotations

import csv
import io
import json
from enum import StrEnum
from pathlib import Path
from typing import Any

MAX_ROWS = 50_000  # one upload; more goes in several


class InputFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    PARQUET = "parquet"

    @classmethod
    def of_content_type(cls, content_type: str | None) -> InputFormat | None:
        kind = (content_type or "").split(";")[0].strip().lower()
        return _CONTENT_TYPES.get(kind)

    @classmethod
    def of_path(cls, path: Path) -> InputFormat | None:
        return _SUFFIXES.get(path.suffix.lower())


_CONTENT_TYPES = {
    "application/json": InputFormat.JSON,
    "text/csv": InputFormat.CSV,
    "application/vnd.apache.parquet": InputFormat.PARQUET,
    "application/x-parquet": InputFormat.PARQUET,
}
_SUFFIXES = {".json": InputFormat.JSON, ".csv": InputFormat.CSV, ".parquet": InputFormat.PARQUET}


class FormatProblem(ValueError):
    """The upload as a whole cannot be read."""


def parse_rows(content: bytes, fmt: InputFormat) -> list[Any]:
    rows = _PARSERS[fmt](content)
    if len(rows) > MAX_ROWS:
        raise FormatProblem(f"{len(rows)} rows in one upload; at most {MAX_ROWS} (send several)")
    return rows


def _json(content: bytes) -> list[Any]:
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatProblem(f"not valid JSON: {exc}") from None
    if isinstance(body, dict) and isinstance(body.get("rows"), list):
        body = body["rows"]
    if not isinstance(body, list):
        raise FormatProblem('JSON must be an array of rows or {"rows": [...]}')
    return body


def _csv(content: bytes) -> list[Any]:
    try:
        text = content.decode("utf-8-sig")  # Excel writes a byte-order mark
    except UnicodeDecodeError:
        raise FormatProblem("CSV must be UTF-8") from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise FormatProblem("CSV has no header row")
    rows: list[Any] = []
    for line in reader:
        if None in line:  # more cells than the header names
            line = {k: v for k, v in line.items() if k is not None} | {"_extra_cells": line[None]}
        rows.append(line)
    return rows


def _parquet(content: bytes) -> list[Any]:
    import pyarrow.parquet as pq  # only when a Parquet file arrives

    try:
        table = pq.read_table(io.BytesIO(content))
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise FormatProblem(f"not a readable Parquet file: {exc}") from None
    rows: list[Any] = table.to_pylist()
    return rows


_PARSERS = {InputFormat.JSON: _json, InputFormat.CSV: _csv, InputFormat.PARQUET: _parquet}
