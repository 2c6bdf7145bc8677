"""Rows written in PostgreSQL's binary COPY format from numpy columns arrive as they were: NULLs,
words of different lengths, floats to the bit (PostgreSQL itself reads them)."""

import math

import numpy as np
import psycopg

from services.common.binary_copy import Column, encode
from services.common.db import libpq_url

WORDS = ["", "a", "similar", "not_compared", "Ünïcode"]


def test_rows_of_every_shape_arrive_as_they_were(database_url: str) -> None:
    rng = np.random.default_rng(7)
    n = 2000
    words = rng.integers(0, len(WORDS), n)
    floats = rng.normal(0, 1e6, n)
    floats[rng.random(n) < 0.2] = np.nan  # NULL
    floats[:3] = [-0.0, 5e-324, 1.7976931348623157e308]
    ints = rng.integers(-(2**31), 2**31, n)
    null_ints = rng.random(n) < 0.3
    data = encode(
        [
            Column.int4(np.arange(n)),
            Column.text(words, WORDS),
            Column.float8(floats),
            Column.int4(ints, null=null_ints),
        ]
    )
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute("CREATE TEMP TABLE copied (i int, word text, x float8, k int)")
        with conn.cursor().copy("COPY copied FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(data)
        rows = conn.execute("SELECT i, word, x, k FROM copied ORDER BY i").fetchall()

    assert [r[0] for r in rows] == list(range(n))
    assert [r[1] for r in rows] == [WORDS[w] for w in words]
    assert [None if r[2] is None else r[2].hex() for r in rows] == [
        None if math.isnan(x) else x.hex() for x in floats.tolist()
    ]
    expected = [None if null else int(k) for k, null in zip(ints, null_ints, strict=True)]
    assert [r[3] for r in rows] == expected


def test_no_rows_is_an_empty_copy(database_url: str) -> None:
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute("CREATE TEMP TABLE copied (x float8)")
        with conn.cursor().copy("COPY copied FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(encode([Column.float8(np.zeros(0))]))
        assert conn.execute("SELECT count(*) FROM copied").fetchone() == (0,)
