"""The per-generation response cache and ETag matching (services/common/etag.py)."""

import asyncio
from datetime import UTC, datetime

from services.common.etag import Generation, Representation, ResponseCache, etag_for, matches

FIRST = Generation(1, datetime(2026, 12, 2, 9, tzinfo=UTC))
SECOND = Generation(2, datetime(2026, 12, 2, 10, tzinfo=UTC))


def answer(text: str) -> Representation:
    return Representation(text.encode(), "application/json")


def test_a_newer_generation_drops_the_older_one_s_entries():
    cache = ResponseCache()
    cache.put("progress", FIRST, answer("first"))
    cache.put("series", None, answer("series"))
    assert cache.get("progress", FIRST) == answer("first")

    assert cache.get("progress", SECOND) is None
    # The first generation's entry is gone, not just hidden: a reader still on it misses too.
    assert cache.get("progress", FIRST) is None
    # Entries of no generation (their keys change with their data) stay.
    assert cache.get("series", None) == answer("series")


def test_an_answer_built_from_an_older_generation_is_not_kept():
    cache = ResponseCache()
    cache.put("england", SECOND, answer("second"))

    # A reader that started before the second refresh committed.
    assert cache.put("england", FIRST, answer("first")) is False
    assert cache.get("england", FIRST) is None
    assert cache.get("england", SECOND) == answer("second")


def test_the_least_recently_used_go_first_within_entries_and_bytes():
    cache = ResponseCache(max_entries=2, max_bytes=10)
    cache.put("a", FIRST, answer("aaa"))
    cache.put("b", FIRST, answer("bbb"))
    cache.get("a", FIRST)
    cache.put("c", FIRST, answer("ccc"))  # three entries: b, least recently used, goes
    assert [k for k in "abc" if cache.get(k, FIRST)] == ["a", "c"]

    cache.put("d", FIRST, answer("dddddddd"))  # 3 + 3 + 8 bytes > 10: a and c go
    assert [k for k in "acd" if cache.get(k, FIRST)] == ["d"]
    assert cache.put("e", FIRST, answer("e" * 11)) is False  # larger than the cache
    assert cache.get("d", FIRST) == answer("dddddddd")


def test_if_none_match_compares_weakly_takes_a_list_and_any():
    etag = etag_for(("progress", "E08000035", FIRST))
    assert etag == etag_for(("progress", "E08000035", FIRST))
    assert etag != etag_for(("progress", "E08000035", SECOND))
    assert all(matches(header, etag) for header in (etag, f"W/{etag}", f'"x", {etag}', " * "))
    assert not any(matches(header, etag) for header in (None, "", '"x"', f"{etag}x"))


async def started(coroutine) -> asyncio.Task:
    """The coroutine as a task that has run up to its first wait."""
    task = asyncio.create_task(coroutine)
    await asyncio.sleep(0)
    return task


async def test_concurrent_misses_share_one_build_and_a_cancelled_one_is_built_again():
    cache = ResponseCache()
    release = asyncio.Event()
    builds: list[str] = []

    async def build() -> Representation:
        builds.append("built")
        await release.wait()
        return answer("england")

    first = await started(cache.get_or_build("england", FIRST, build))
    second = await started(cache.get_or_build("england", FIRST, build))
    release.set()
    assert (await first, await second) == (
        (answer("england"), "miss"),
        (answer("england"), "shared"),
    )
    assert builds == ["built"]

    release.clear()
    abandoned = await started(cache.get_or_build("league", FIRST, build))
    waiting = await started(cache.get_or_build("league", FIRST, build))
    abandoned.cancel()  # its client went away: the one waiting builds its own
    await asyncio.sleep(0)
    release.set()
    assert await waiting == (answer("england"), "miss")
    assert builds == ["built"] * 3
