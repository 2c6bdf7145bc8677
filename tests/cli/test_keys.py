"""`joinedup keys` over a key's life: made to expire (`--expires-in`), listed with when it was
made, last used and expires, and rotated (`keys rotate ID [--grace]`), each change audited; the
services then refuse what has expired. Times are moved by setting the stored ones by hand."""

import asyncio
import re
from datetime import UTC

from services.common.auth import hash_key
from tests.test_cli import KEY_PATTERN, areas_status, fails, stored_key_id, succeeds


def created(database_url: str, *args: str) -> tuple[str, str]:
    """`joinedup keys create ARGS`: its output and the key on its last line."""
    output = succeeds(database_url, "keys", "create", *args)
    key = output.splitlines()[-1]
    assert KEY_PATTERN.fullmatch(key)
    return output, key


def listed_line(database_url: str, key_id: int) -> str:
    output = succeeds(database_url, "keys", "list")
    [line] = [line for line in output.splitlines() if re.match(rf"^\s*{key_id}\s", line)]
    return line


def audit_of(query, key_id: int) -> list[tuple]:
    return query(
        "SELECT action, after FROM audit_log WHERE entity_type = 'api_key' AND entity_id = %s "
        "ORDER BY id",
        str(key_id),
    )


def test_a_key_made_to_expire_expires_that_long_after_it_was_made(database_url, query):
    output, key = created(
        database_url, "--role", "viewer", "--name", "auditor", "--expires-in", "90d"
    )

    key_id = stored_key_id(query, "auditor")
    assert (
        query("SELECT expires_at - created_at FROM api_key WHERE id = %s", key_id)[0][0].days == 90
    )
    assert "it expires" in output
    [(action, after)] = audit_of(query, key_id)
    [(expires_at,)] = query("SELECT expires_at FROM api_key WHERE id = %s", key_id)
    assert action == "api_key.create" and after["expires_at"] == expires_at.isoformat()
    assert asyncio.run(areas_status(database_url, key)) == 200


def test_a_key_made_without_expiry_never_expires(database_url, query):
    output, _ = created(database_url, "--role", "viewer", "--name", "dashboard")

    assert "it does not expire" in output
    assert query("SELECT expires_at FROM api_key") == [(None,)]


def test_a_duration_it_cannot_read_is_a_usage_error_naming_the_forms(database_url, query):
    message = fails(
        database_url, "keys", "create", "--role", "viewer", "--name", "x", "--expires-in", "3y"
    )

    assert "30m, 12h, 90d or 2w" in message
    assert query("SELECT count(*) FROM api_key") == [(0,)]


def test_list_shows_when_each_key_was_made_last_used_and_expires(database_url, query):
    _, used = created(database_url, "--role", "viewer", "--name", "used", "--expires-in", "2w")
    created(database_url, "--role", "viewer", "--name", "idle")
    assert asyncio.run(areas_status(database_url, used)) == 200
    used_id, idle_id = stored_key_id(query, "used"), stored_key_id(query, "idle")
    [(made, last_used, expires)] = query(
        "SELECT created_at, last_used_at, expires_at FROM api_key WHERE id = %s", used_id
    )

    header = succeeds(database_url, "keys", "list").splitlines()[0]
    assert header.split() == [
        "id", "role", "status", "scopes", "created", "last", "used", "expires", "name"
    ]  # fmt: skip
    line = listed_line(database_url, used_id)
    assert re.match(rf"^\s*{used_id}\s+viewer\s+active\b", line)
    made, last_used, expires = (moment.astimezone(UTC) for moment in (made, last_used, expires))
    minute = "%Y-%m-%d %H:%M"
    assert f"{made:{minute}}  {last_used:{minute}}  {expires:{minute}}  used" in line
    assert re.search(r"\s+never\s+never\s+idle$", listed_line(database_url, idle_id))


def test_list_says_which_keys_have_expired(database_url, query):
    created(database_url, "--role", "viewer", "--name", "gone")
    key_id = stored_key_id(query, "gone")
    query("UPDATE api_key SET expires_at = now() - interval '1 minute'")

    assert re.match(rf"^\s*{key_id}\s+viewer\s+expired\b", listed_line(database_url, key_id))


def test_rotating_makes_a_like_key_and_stops_the_old_one_now(database_url, query):
    _, old_key = created(
        database_url, "--role", "steward", "--scope", "E54000054", "--name", "east team"
    )
    old_id = stored_key_id(query, "east team")

    output = succeeds(database_url, "keys", "rotate", str(old_id))

    new_key = output.splitlines()[-1]
    assert KEY_PATTERN.fullmatch(new_key) and output.count(new_key) == 1
    assert f"rotated key {old_id} (east team): it stops working at" in output
    [(new_id, role, scopes, new_expiry)] = query(
        "SELECT id, role, scopes, expires_at FROM api_key WHERE key_hash = %s", hash_key(new_key)
    )
    assert (role, scopes, new_expiry) == ("steward", ["E54000054"], None)
    assert query("SELECT name FROM api_key WHERE id = %s", new_id) == [("east team",)]
    assert asyncio.run(areas_status(database_url, new_key)) == 200
    assert asyncio.run(areas_status(database_url, old_key)) == 401
    [(action, after)] = audit_of(query, old_id)[1:]
    assert action == "api_key.rotate" and after["replaced_by"] == new_id
    assert [action for action, _ in audit_of(query, new_id)] == ["api_key.create"]


def test_a_grace_keeps_the_old_key_working_that_long(database_url, query):
    _, old_key = created(database_url, "--role", "viewer", "--name", "dashboard")
    old_id = stored_key_id(query, "dashboard")

    succeeds(database_url, "keys", "rotate", str(old_id), "--grace", "1h")

    assert asyncio.run(areas_status(database_url, old_key)) == 200
    [(remaining,)] = query(
        "SELECT expires_at - now() BETWEEN interval '59 minutes' AND interval '1 hour' "
        "FROM api_key WHERE id = %s",
        old_id,
    )
    assert remaining
    query("UPDATE api_key SET expires_at = now() - interval '1 second' WHERE id = %s", old_id)
    assert asyncio.run(areas_status(database_url, old_key)) == 401


def test_the_new_key_lives_as_long_as_the_old_one_was_made_to(database_url, query):
    created(database_url, "--role", "viewer", "--name", "auditor", "--expires-in", "30m")
    old_id = stored_key_id(query, "auditor")

    new_key = succeeds(database_url, "keys", "rotate", str(old_id)).splitlines()[-1]

    [(lifetime,)] = query(
        "SELECT expires_at - created_at FROM api_key WHERE key_hash = %s", hash_key(new_key)
    )
    assert lifetime.total_seconds() == 30 * 60


def test_a_grace_never_lengthens_an_expiry_that_comes_sooner(database_url, query):
    created(database_url, "--role", "viewer", "--name", "auditor")
    old_id = stored_key_id(query, "auditor")
    query("UPDATE api_key SET expires_at = now() + interval '10 minutes'")
    [(expiry,)] = query("SELECT expires_at FROM api_key")

    succeeds(database_url, "keys", "rotate", str(old_id), "--grace", "2w")

    assert query("SELECT expires_at FROM api_key WHERE id = %s", old_id) == [(expiry,)]


def test_a_revoked_or_unknown_key_is_not_rotated(database_url, query):
    created(database_url, "--role", "viewer", "--name", "leaver")
    key_id = stored_key_id(query, "leaver")
    succeeds(database_url, "keys", "revoke", str(key_id))

    assert "a revoked key is not rotated" in fails(database_url, "keys", "rotate", str(key_id))
    assert "No API key with id 4242" in fails(database_url, "keys", "rotate", "4242")
    assert query("SELECT count(*) FROM api_key") == [(1,)]
    assert query("SELECT count(*) FROM audit_log WHERE action = 'api_key.rotate'") == [(0,)]
