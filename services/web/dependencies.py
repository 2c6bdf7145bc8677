"""What a page needs from a request: the signed-in session, a checked CSRF token, the APIs as
the session's key."""

from typing import Annotated

from fastapi import Depends, Request

from services.common.errors import Forbidden
from services.web.api import Apis, Caller
from services.web.sessions import COOKIE, CSRF_FIELD, SessionStore, WebSession


class SignInRequired(Exception):
    """No signed-in session: the browser is sent to the sign-in page."""


def session_store(request: Request) -> SessionStore:
    return request.app.state.sessions


def apis(request: Request) -> Apis:
    return request.app.state.apis


def current_session(request: Request) -> WebSession | None:
    """The request's live session, signed in or not."""
    return session_store(request).get(request.cookies.get(COOKIE))


def signed_in(request: Request) -> WebSession:
    session = current_session(request)
    if session is None or session.key is None:
        raise SignInRequired()
    request.state.session = session  # for the error pages, which show who is signed in
    return session


async def checked_form(request: Request) -> dict[str, str]:
    """A POSTed form whose CSRF token is the session's; 403 otherwise (a forged request from
    another site has the browser's cookie, but cannot read the token in the page)."""
    session = current_session(request)
    form = await request.form()
    token = form.get(CSRF_FIELD)
    if session is None or not session.csrf_matches(token if isinstance(token, str) else None):
        raise Forbidden(
            "The form's security token is missing or does not match this session; reload the "
            "page and send the form again.",
            slug="csrf-token-invalid",
        )
    return {name: value for name, value in form.items() if isinstance(value, str)}


def caller(request: Request, session: Annotated[WebSession, Depends(signed_in)]) -> Caller:
    assert session.key is not None  # signed_in admits only sessions with a key
    return apis(request).as_key(session.key)


SignedIn = Annotated[WebSession, Depends(signed_in)]
AnySession = Annotated[WebSession | None, Depends(current_session)]
CheckedForm = Annotated[dict[str, str], Depends(checked_form)]
Api = Annotated[Caller, Depends(caller)]


def anyone(request: Request) -> Caller:
    """The APIs with no key, for the public pages, on behalf of the visitor's address."""
    return apis(request).anonymous(request.client.host if request.client else None)


Anyone = Annotated[Caller, Depends(anyone)]
