"""PostgreSQL's binary COPY format to and from numpy columns, for moving whole arrays of rows
through one COPY without a Python object per row or field.

The format (PostgreSQL docs, "COPY", "Binary Format"): a 19-byte header; per row a 16-bit field
count, then per field a 32-bit length (-1 for NULL) and that many bytes; a 16-bit -1 at the end.
Integers and floats are big-endian; text is its UTF-8 bytes.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"


@dataclass(frozen=True)
class Column:
    """One field of every row: its bytes (rows x width) and each row's length (-1: NULL)."""

    payload: np.ndarray
    length: np.ndarray

    @classmethod
    def float8(cls, values: np.ndarray) -> "Column":
        """NaN is NULL."""
        v = np.asarray(values, dtype=np.float64)
        return cls(_bytes(v, ">f8"), np.where(np.isnan(v), -1, 8))

    @classmethod
    def int4(cls, values: np.ndarray, null: np.ndarray | None = None) -> "Column":
        v = np.asarray(values)
        length = np.full(len(v), 4) if null is None else np.where(null, -1, 4)
        return cls(_bytes(v, ">i4"), length)

    @classmethod
    def text(cls, codes: np.ndarray, vocabulary: Sequence[str]) -> "Column":
        """``vocabulary[codes[i]]`` in row i: a few distinct words, each encoded once."""
        words = [word.encode() for word in vocabulary]
        width = max((len(w) for w in words), default=0)
        table = np.zeros((len(words), width), dtype=np.uint8)
        for i, word in enumerate(words):  # once per word of the vocabulary
            table[i, : len(word)] = np.frombuffer(word, dtype=np.uint8)
        lengths = np.array([len(w) for w in words], dtype=np.int64)
        return cls(table[codes], lengths[codes])


def _bytes(values: np.ndarray, dtype: str) -> np.ndarray:
    return values.astype(dtype).view(np.uint8).reshape(len(values), -1)


def encode(columns: Sequence[Column]) -> bytes:
    """The rows whose fields are ``columns``, in binary COPY format."""
    rows = len(columns[0].length) if columns else 0
    field_sizes = [4 + np.maximum(c.length, 0) for c in columns]
    row_sizes = 2 + np.sum(field_sizes, axis=0) if columns else np.zeros(0, dtype=np.int64)
    starts = len(HEADER) + np.concatenate([[0], np.cumsum(row_sizes)[:-1]]).astype(np.int64)
    out = np.zeros(len(HEADER) + int(np.sum(row_sizes)) + len(TRAILER), dtype=np.uint8)
    out[: len(HEADER)] = np.frombuffer(HEADER, dtype=np.uint8)
    out[-len(TRAILER) :] = np.frombuffer(TRAILER, dtype=np.uint8)
    _scatter(out, starts, _bytes(np.full(rows, len(columns)), ">i2"), np.full(rows, 2))
    at = starts + 2
    for column, size in zip(columns, field_sizes, strict=True):  # once per column, over all rows
        _scatter(out, at, _bytes(column.length, ">i4"), np.full(rows, 4))
        _scatter(out, at + 4, column.payload, np.maximum(column.length, 0))
        at = at + size
    return out.tobytes()


def _scatter(out: np.ndarray, at: np.ndarray, payload: np.ndarray, length: np.ndarray) -> None:
    """Row i's first length[i] bytes of payload[i] go to out[at[i]:]."""
    if payload.shape[1] == 0:
        return
    offsets = np.arange(payload.shape[1])
    used = offsets[None, :] < length[:, None]
    out[(at[:, None] + offsets[None, :])[used]] = payload[used]


def decode(data: bytes, fields: Sequence[tuple[str, str]]) -> np.ndarray:
    """Rows of fixed-width, never-NULL fields (name, big-endian numpy type such as ">f8" or
    "?"), as one structured array: the query makes every field fixed-width (coalesce, IS NULL)."""
    layout = [("count", ">i2")]
    for name, dtype in fields:
        layout += [(f"{name}_length", ">i4"), (name, dtype)]
    body = memoryview(data)[len(HEADER) : len(data) - len(TRAILER)]
    if not data:
        return np.zeros(0, dtype=np.dtype(layout))
    if bytes(data[: len(HEADER)]) != HEADER or bytes(data[-len(TRAILER) :]) != TRAILER:
        raise ValueError("not PostgreSQL binary COPY data without header extensions")
    rows = np.frombuffer(body, dtype=np.dtype(layout))
    widths = {name: np.dtype(dtype).itemsize for name, dtype in fields}
    if not all((rows[f"{name}_length"] == width).all() for name, width in widths.items()):
        raise ValueError("a field is NULL or not of its declared width")
    return rows
