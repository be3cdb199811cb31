"""Reading a bulk file one line at a time (JSONL or CSV), so memory stays flat whatever its size.

JSONL: one JSON object per line; blank lines are skipped. Line numbers are the file's own (1-based).
CSV: a header row, then one job per row. Columns ``operation``, ``key``, ``callback_url``, ``name`` are the
line's own fields; ``params`` (a JSON object) and ``pipeline`` (a JSON spec) are parsed as JSON; a column named
``<field>:json`` is a param parsed as JSON (``continue_at:json`` → 30, ``make_instrumental:json`` → true); any other
column is a param taken as text. Empty cells are left out.

Bounds: a file holds at most ``MAX_BULK_BYTES``, a line at most ``MAX_LINE_BYTES`` (a longer line is reported as a
bad line without being held in memory), and JSON nests at most ``MAX_DEPTH`` levels.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from shared.errors import ValidationError
from shared.nesting import loads_bounded

LINE_FIELDS = ("operation", "key", "callback_url", "name")
JSON_FIELDS = ("params", "pipeline")
FORMATS = ("auto", "jsonl", "csv")
MAX_BULK_BYTES = 100 * 1024 * 1024
MAX_LINE_BYTES = 1024 * 1024
_TOO_LONG = f"longer than {MAX_LINE_BYTES // 1024} KiB, the most a line may be"


@dataclass(frozen=True)
class RawLine:
    """One line as read: its JSON object, or why it could not be read."""

    line_no: int
    value: dict[str, Any] | None
    error: ValidationError | None = None


def _where(line_no: int) -> str:
    return f"line {line_no}"


def _bounded_lines(stream: IO[bytes]) -> Iterator[bytes | None]:
    """The stream's lines, each read with at most MAX_LINE_BYTES held; None for a line that was longer."""
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) <= MAX_LINE_BYTES:
            yield raw
            continue
        while raw and not raw.endswith(b"\n"):  # skip the rest of the line, a bounded piece at a time
            raw = stream.readline(MAX_LINE_BYTES)
        yield None


def _jsonl_lines(stream: IO[bytes]) -> Iterator[RawLine]:
    for line_no, raw in enumerate(_bounded_lines(stream), start=1):
        if raw is None:
            yield RawLine(line_no, None, ValidationError(_TOO_LONG, where=_where(line_no)))
            continue
        if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            continue
        try:
            value = loads_bounded(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            yield RawLine(line_no, None, ValidationError(f"not valid JSON ({exc})", where=_where(line_no)))
            continue
        if not isinstance(value, dict):
            yield RawLine(line_no, None, ValidationError("must be a JSON object", where=_where(line_no)))
            continue
        yield RawLine(line_no, value)


def _csv_record(row: dict[str, str], line_no: int) -> dict[str, Any]:
    record: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for name, cell in row.items():
        if cell == "":
            continue
        if name in LINE_FIELDS:
            record[name] = cell
        elif name in JSON_FIELDS or name.endswith(":json"):
            field = name.removesuffix(":json")
            try:
                value = loads_bounded(cell)
            except ValueError as exc:
                raise ValidationError(f"not valid JSON ({exc})", field=field, where=_where(line_no)) from None
            if name == "params":
                if not isinstance(value, dict):
                    raise ValidationError("must be a JSON object", field="params", where=_where(line_no))
                params.update(value)
            elif name == "pipeline":
                record["pipeline"] = value
            else:
                params[field] = value
        else:
            params[name] = cell
    if params or "pipeline" not in record:
        record["params"] = params
    return record


def _csv_lines(stream: IO[bytes]) -> Iterator[RawLine]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(_bounded_text_lines(text))
    previous_end, header = 0, None
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError, _LineTooLong) as exc:
            yield RawLine(previous_end + 1, None, ValidationError(f"unreadable CSV ({exc})",
                                                                  where=_where(previous_end + 1)))
            return
        line_no, previous_end = previous_end + 1, reader.line_num  # a quoted newline makes a row span lines
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = [cell.strip() for cell in cells]
            if not {"operation", "pipeline"} & set(header):
                yield RawLine(line_no, None, ValidationError("the header needs an 'operation' (or 'pipeline') "
                                                             "column", where=_where(line_no)))
                return
            continue
        if len(cells) > len(header):
            yield RawLine(line_no, None, ValidationError("more cells than header columns", where=_where(line_no)))
            continue
        try:
            yield RawLine(line_no, _csv_record(dict(zip(header, cells, strict=False)), line_no))
        except ValidationError as exc:
            yield RawLine(line_no, None, exc)


class BulkSource:
    """A bulk file that can be read more than once (validate first, then accept), from a path or from bytes."""

    def __init__(self, opener: Callable[[], IO[bytes]], fmt: str, label: str) -> None:
        if fmt not in ("jsonl", "csv"):
            raise ValidationError(f"unknown format {fmt!r}; expected jsonl or csv", field="format")
        self._open = opener
        self.format = fmt
        self.label = label

    @classmethod
    def from_path(cls, path: str | Path, fmt: str = "auto") -> BulkSource:
        path = Path(path)
        if not path.is_file():
            raise ValidationError(f"no such file: {path}", field="file")
        _check_size(path.stat().st_size, str(path))
        if fmt == "auto":
            fmt = guess_format(path.suffix, _first_byte(path.open("rb")))
        return cls(lambda: path.open("rb"), fmt, path.name)

    @classmethod
    def from_bytes(cls, data: bytes, fmt: str = "auto", label: str = "request body") -> BulkSource:
        _check_size(len(data), label)
        if fmt == "auto":
            fmt = guess_format("", _first_byte(io.BytesIO(data)))
        return cls(lambda: io.BytesIO(data), fmt, label)

    def lines(self) -> Iterator[RawLine]:
        with self._open() as stream:
            yield from (_jsonl_lines(stream) if self.format == "jsonl" else _csv_lines(stream))


def _check_size(size: int, label: str) -> None:
    if size > MAX_BULK_BYTES:
        raise ValidationError(f"{label} holds {size:,} bytes, more than the {MAX_BULK_BYTES:,} a bulk file may: "
                              "split it", field="file")


class _LineTooLong(Exception):
    """A CSV line longer than MAX_LINE_BYTES (characters, as read): the file is not read further."""

    def __str__(self) -> str:
        return _TOO_LONG


def _bounded_text_lines(text: IO[str]) -> Iterator[str]:
    while line := text.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES:
            raise _LineTooLong
        yield line


def _first_byte(stream: IO[bytes]) -> bytes:
    with stream:
        head = stream.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1]


def guess_format(suffix: str, first_byte: bytes) -> str:
    suffix = suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    return "jsonl" if first_byte in (b"{", b"[", b"") else "csv"
