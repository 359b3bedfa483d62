"""Reading product files while remembering where every value came from.

YAML is composed into nodes and built by hand so that (1) every value keeps its
line number for error messages and (2) numbers with a fraction become Decimal,
never float. Dates and times stay strings; the model parses them where it knows
what they mean.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from .errors import ProductFileError

Path_ = tuple[str | int, ...]


def format_path(path: Path_) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class Document:
    """A parsed YAML file: plain data plus the line of every path in it, and for a scalar
    written on one line its column and text as written (quotes included)."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    spans: dict[Path_, tuple[int, str]] = field(default_factory=dict)

    def line(self, path: Path_) -> int | None:
        # Fall back to the nearest parent that has a line.
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def error(self, path: Path_, message: str, column: int | None = None) -> ProductFileError:
        return ProductFileError(self.file, self.line(path), format_path(path), message, column)

    def column(self, path: Path_, text: str, at: int) -> int | None:
        """The file's column of character `at` (from 1) of `text`, when `text` stands as
        written in the one-line scalar at `path` (not when escapes or folding changed it)."""
        span = self.spans.get(path)
        if span is None:
            return None
        start, written = span
        i = written.find(text)
        if i < 0 or written[:i].strip("\"' "):
            return None
        return start + i + at - 1


_BOOL_TRUE = {"true", "True", "TRUE"}
_BOOL_FALSE = {"false", "False", "FALSE"}
_NULL = {"", "~", "null", "Null", "NULL"}


def _scalar(node: yaml.ScalarNode) -> Any:
    value = node.value
    if node.style:  # quoted: always a string
        return value
    if value in _NULL:
        return None
    # Only true/false are booleans: YAML 1.1 would turn "NO" (Norway) or "on" into bools.
    if value in _BOOL_TRUE:
        return True
    if value in _BOOL_FALSE:
        return False
    tag = node.tag
    if tag.endswith(":int"):
        try:
            return int(value.replace("_", ""), 10)
        except ValueError:
            return value
    if tag.endswith(":float"):
        try:
            return Decimal(value.replace("_", ""))
        except InvalidOperation:
            return value
    return value


def _build(node: yaml.Node, path: Path_, doc: Document, text: str) -> Any:
    lines, file = doc.lines, doc.file
    start, end = node.start_mark, node.end_mark
    lines[path] = start.line + 1
    if isinstance(node, yaml.ScalarNode):
        if start.line == end.line:
            doc.spans[path] = (start.column + 1, text[start.index : end.index])
        return _scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return [_build(child, (*path, i), doc, text) for i, child in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ProductFileError(
                    file, key_node.start_mark.line + 1, format_path(path), "keys must be plain text"
                )
            key = key_node.value
            if key in out:
                raise ProductFileError(
                    file, key_node.start_mark.line + 1, format_path((*path, key)), "duplicate key"
                )
            out[key] = _build(value_node, (*path, key), doc, text)
        return out
    raise ProductFileError(file, node.start_mark.line + 1, format_path(path), "unsupported YAML")


def parse_yaml(text: str, file: str) -> Document:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ProductFileError(
            file, mark.line + 1 if mark else None, "", f"invalid YAML: {exc.problem}"
        ) from None
    doc = Document(file, None)
    doc.data = None if node is None else _build(node, (), doc, text)
    return doc


@dataclass(frozen=True)
class CsvRow:
    line: int
    values: dict[str, str]


@dataclass(frozen=True)
class CsvTable:
    file: str
    header: list[str]
    header_line: int
    rows: list[CsvRow]

    def error(self, line: int | None, message: str, column: str = "") -> ProductFileError:
        return ProductFileError(self.file, line, column, message)


def parse_csv(text: str, file: str) -> CsvTable:
    """A CSV table with a header; lines starting with '#' and blank lines are comments."""
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    header_line = 0
    rows: list[CsvRow] = []
    for record in reader:
        line = reader.line_num
        if not record or not "".join(record).strip() or record[0].lstrip().startswith("#"):
            continue
        cells = [cell.strip() for cell in record]
        if header is None:
            header, header_line = cells, line
            if len(set(header)) != len(header):
                raise ProductFileError(file, line, "", "duplicate column name in header")
            continue
        if len(cells) != len(header):
            raise ProductFileError(
                file,
                line,
                "",
                f"expected {len(header)} columns ({', '.join(header)}), got {len(cells)}",
            )
        rows.append(CsvRow(line, dict(zip(header, cells, strict=True))))
    if header is None:
        raise ProductFileError(file, 1, "", "empty table: a header row is required")
    return CsvTable(file, header, header_line, rows)


def read_text(path: Path, display: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProductFileError(display, None, "", "file not found") from None
    except UnicodeDecodeError as exc:
        raise ProductFileError(display, None, "", f"not UTF-8 text ({exc.reason})") from None
