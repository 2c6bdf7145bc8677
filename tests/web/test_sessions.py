"""The web app's session store: ids replaced at sign-in, idle and absolute expiry, a bound."""

from services.web.sessions import Identity, SessionStore

WHO = Identity(key_id=1, name="a viewer", role="viewer", scopes=())


class Clock:
    """Time that moves only when the test says (the store reads it; nothing is timed)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def store(clock: Clock, capacity: int = 10) -> SessionStore:
    return SessionStore(idle_s=60, max_age_s=600, capacity=capacity, clock=clock)


def test_sign_in_replaces_the_session_id_and_its_csrf_token():
    sessions = store(Clock())
    anonymous = sessions.start()
    signed_in = sessions.sign_in(anonymous, key="jdu_x_y", identity=WHO)
    assert signed_in.id != anonymous.id and signed_in.csrf_token != anonymous.csrf_token
    assert sessions.get(anonymous.id) is None  # an id planted before sign-in is worth nothing
    assert sessions.get(signed_in.id) is signed_in and signed_in.identity == WHO
    assert "jdu_x_y" not in repr(signed_in)  # nor in a log line that prints a session


def test_a_session_ends_when_idle_and_at_its_absolute_age_however_it_is_used():
    clock = Clock()
    sessions = store(clock)
    idle = sessions.sign_in(sessions.start(), key="k", identity=WHO)
    busy = sessions.sign_in(sessions.start(), key="k", identity=WHO)
    clock.now += 59
    assert sessions.get(idle.id) is idle  # used: its idle clock starts again
    for _ in range(10):  # used every 59 s, up to 590 s old
        assert sessions.get(busy.id) is busy
        clock.now += 59
    assert sessions.get(idle.id) is None  # unused for more than 60 s
    assert sessions.get(busy.id) is None  # 649 s old: past the 600 s however busy


def test_the_csrf_token_must_match_exactly():
    session = store(Clock()).start()
    assert session.csrf_matches(session.csrf_token)
    assert not session.csrf_matches(None)
    assert not session.csrf_matches("")
    assert not session.csrf_matches(session.csrf_token[:-1])


def test_the_oldest_sessions_make_room_when_the_store_is_full():
    sessions = store(Clock(), capacity=3)
    first, *rest = [sessions.start() for _ in range(4)]
    assert len(sessions) == 3
    assert sessions.get(first.id) is None
    assert all(sessions.get(s.id) is s for s in rest)
    sessions.end(rest[0].id)
    assert sessions.get(rest[0].id) is None
