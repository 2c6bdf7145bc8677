"""PostgreSQL's binary COPY format from numpy columns, for writing whole arrays of rows through
one COPY without a Python object per row or field.

The format (PostgreSQL docs, "COPY", "Binary Format"): a 19-byte header; per row a 16-bit field
count, then per field a 32-bit length (-1 for NULL) and that many bytes; a 16-bit -1 at the end.
Integers and floats are big-endian; text is its UTF-8 bytes.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
    return values.astype(dtype).view(np.uint8).reshape(len(values), np.dtype(dtype).itemsize)


def encode(columns: Sequence[Column]) -> bytes:
    """The rows whose fields are ``columns``, in binary COPY format (rows in any order: COPY
    keeps none).

    Rows whose fields have the same lengths (which NULLs, which words) have the same layout, so
    they are written together as one structured array: a loop over those few shapes, not over
    the rows.
    """
    if not columns or not len(columns[0].length):
        return HEADER + TRAILER
    # Each row's shape as one integer (mixed radix over the columns' distinct lengths): sorting
    # integers is far cheaper than sorting rows of lengths.
    shape_key = np.zeros(len(columns[0].length), dtype=np.int64)
    for column in columns:
        distinct, code = np.unique(column.length, return_inverse=True)
        shape_key = shape_key * len(distinct) + code
    _, first, shape_of = np.unique(shape_key, return_index=True, return_inverse=True)
    lengths = np.stack([c.length for c in columns], axis=1)
    parts = [HEADER]
    for shape_index, shape in enumerate(lengths[first]):
        rows = np.flatnonzero(shape_of == shape_index)
        layout: list[tuple[str, Any]] = [("count", ">i2")]
        for i, length in enumerate(shape):
            layout.append((f"length{i}", ">i4"))
            if length > 0:
                layout.append((f"field{i}", f"V{length}"))
        records = np.zeros(len(rows), dtype=np.dtype(layout))
        records["count"] = len(columns)
        for i, (column, length) in enumerate(zip(columns, shape, strict=True)):
            records[f"length{i}"] = length
            if length > 0:
                field = np.ascontiguousarray(column.payload[rows, :length])
                records[f"field{i}"] = field.view(f"V{length}").reshape(-1)
        parts.append(records.tobytes())
    parts.append(TRAILER)
    return b"".join(parts)
