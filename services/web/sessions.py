"""Server-side sessions of the web app, in this process's memory.

The browser holds only a random session id in an HttpOnly, SameSite=Strict cookie; the API key,
its role and scopes and the session's CSRF token stay here. A session ends when it has been idle
for ``idle_s``, when it is ``max_age_s`` old whatever its use, or at sign-out. Signing in
replaces the session id (so an id planted before sign-in is worth nothing after it).

The store is one process's: a restart signs everyone out, and more than one web process needs
sticky sessions or a shared store (docs/web.md).
"""

import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

COOKIE = "joinedup_session"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Identity:
    """Who the signed-in key is, as the APIs' ``GET /v1/me`` said."""

    key_id: int
    name: str
    role: str
    scopes: tuple[str, ...]


@dataclass
class HeldUpload:
    """A data team's CSV, kept here between its dry run and its submission so that the file is
    never sent back to the browser (docs/web.md); the Idempotency-Key is made once per upload,
    so a double click or a retry of the submission never stores it twice."""

    place_code: str
    filename: str
    body: bytes = field(repr=False)
    idempotency_key: str
    dry_run: dict[str, Any]  # ingest's answer to the dry run (a 201 body, or its 422's errors)
    submitted: dict[str, Any] | None = None  # ingest's answer to the submission, once sent


@dataclass
class WebSession:
    id: str
    csrf_token: str
    started_at: float
    last_seen_at: float
    # The key and who it is: None before sign-in (a session then only carries the sign-in
    # form's CSRF token).
    key: str | None = field(default=None, repr=False)
    identity: Identity | None = None
    upload: HeldUpload | None = None

    def csrf_matches(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token, self.csrf_token)


def _new_id() -> str:
    return secrets.token_urlsafe(32)


class SessionStore:
    """Sessions by id, oldest first; at most ``capacity`` (the oldest is dropped to make room,
    so that anonymous visits cannot grow the store without bound)."""

    def __init__(
        self,
        *,
        idle_s: float,
        max_age_s: float,
        capacity: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_s = idle_s
        self.max_age_s = max_age_s
        self.capacity = capacity
        self._clock = clock
        self._sessions: OrderedDict[str, WebSession] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str | None) -> WebSession | None:
        """The live session of this id (its idle clock restarted), or None."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if now - session.last_seen_at > self.idle_s or now - session.started_at > self.max_age_s:
            del self._sessions[session_id]
            return None
        session.last_seen_at = now
        return session

    def start(self) -> WebSession:
        """A new anonymous session, for the sign-in form."""
        now = self._clock()
        session = WebSession(_new_id(), secrets.token_urlsafe(32), now, now)
        self._add(session)
        return session

    def sign_in(self, anonymous: WebSession, *, key: str, identity: Identity) -> WebSession:
        """The signed-in session that replaces ``anonymous``: a new id and CSRF token."""
        self.end(anonymous.id)
        now = self._clock()
        session = WebSession(_new_id(), secrets.token_urlsafe(32), now, now, key, identity)
        self._add(session)
        return session

    def end(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def _add(self, session: WebSession) -> None:
        while len(self._sessions) >= self.capacity:
            self._sessions.popitem(last=False)
        self._sessions[session.id] = session
