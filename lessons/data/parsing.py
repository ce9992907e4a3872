"""Checked parsing of the MovieLens files (step 1 of `lessons.data.movielens`).

Each file is parsed with pandas' C parser and explicit dtypes (ML-100K loads in well under a
second). When that fails, the file is re-scanned line by line so that the `DataFormatError`
names the first bad line.
"""

import csv
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from lessons.data.registry import DataFormatError


def parse_table(
    path: Path,
    columns: dict,
    sep: str,
    data: bytes | None = None,
    encoding: str = "latin-1",
    header: str | None = None,
) -> pd.DataFrame:
    """Read a delimited file with one dtype per column (`str` for text).

    Args:
        path: The file, named in errors (and read unless `data` is given).
        columns: Column name -> dtype, in file order.
        sep: The one-character delimiter.
        data: The file's bytes, if already read (and e.g. '::' replaced by one character).
        encoding: The file's text encoding (MovieLens 100K's is Latin-1).
        header: Expected first line of a CSV with a header (and quoting); None for headerless,
            unquoted files such as u.data, where a '"' is an ordinary character.
    """
    raw = path.read_bytes() if data is None else data
    if not raw.strip():
        raise DataFormatError(path, None, "is empty")
    if header is not None:
        first = raw.split(b"\n", 1)[0].decode(encoding, "replace").strip().lstrip("\ufeff")
        if first != header:
            raise DataFormatError(path, 1, f"starts with {first!r}, expected {header!r}")
    quoting = csv.QUOTE_MINIMAL if header is not None else csv.QUOTE_NONE
    try:
        frame = pd.read_csv(
            io.BytesIO(raw),
            sep=sep,
            names=list(columns),
            dtype=columns,
            engine="c",
            header=0 if header is not None else None,
            encoding=encoding,
            quoting=quoting,
            skip_blank_lines=False,
            na_filter=False,
        )
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        bad = _first_bad_line(raw, columns, sep, encoding, quoting, skip=header is not None)
        if bad:  # located: pandas' own traceback would only bury the line that says where
            raise DataFormatError(path, *bad) from None
        raise DataFormatError(path, None, f"cannot be parsed ({exc})") from exc
    if frame.empty:  # a CSV cut right after its header: no table of MovieLens is empty
        raise DataFormatError(path, None, "has a header but no rows")
    return frame


def _first_bad_line(
    raw: bytes, columns: dict, sep: str, encoding: str, quoting: int, skip: bool
) -> tuple[int, str] | None:
    """Line number (1-based) and description of the first line the fast parser choked on."""
    lines = raw.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the final newline does not start a line
    for number, line in enumerate(lines, 1):
        try:
            line.decode(encoding)
        except UnicodeDecodeError:
            return number, f"is not valid {encoding} text"
    rows = csv.reader(io.StringIO(raw.decode(encoding)), delimiter=sep, quoting=quoting)
    numeric = [(i, name, kind) for i, (name, kind) in enumerate(columns.items()) if kind is not str]
    for fields in rows:
        if skip and rows.line_num == 1:
            continue
        if len(fields) != len(columns):
            return rows.line_num, (
                f"has {len(fields)} fields, expected {len(columns)} ({', '.join(columns)})"
            )
        for i, name, kind in numeric:
            if not _is_number(fields[i], integer=np.issubdtype(kind, np.integer)):
                return rows.line_num, f"has {name} = {fields[i]!r}, which is not a number"
    return None


def _is_number(text: str, integer: bool) -> bool:
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        return False
    return integer or math.isfinite(value)
