"""Sign-in with an API key (or, under `joinedup up --demo`, as a demo role), sign-out, home."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.common.errors import NotFound
from services.web.api import KeyRejected
from services.web.dependencies import AnySession, CheckedForm, SignedIn, apis, session_store
from services.web.pages.account_service import identify, start_page
from services.web.rendering import render
from services.web.sessions import COOKIE, WebSession

router = APIRouter(include_in_schema=False)


def _with_cookie(request: Request, response: Response, session: WebSession) -> Response:
    settings = request.app.state.settings
    response.set_cookie(
        COOKIE,
        session.id,
        max_age=int(settings.web_session_max_s),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


def _sign_in_page(
    request: Request, session: WebSession, *, error: str | None = None, status_code: int = 200
) -> Response:
    response = render(
        request,
        "sign_in.html",
        session=None,
        title="Sign in",
        form_token=session.csrf_token,
        demo_roles=sorted(request.app.state.demo_keys),
        error=error,
        status_code=status_code,
    )
    return _with_cookie(request, response, session)


@router.get("/")
async def home(session: SignedIn) -> RedirectResponse:
    assert session.identity is not None  # a signed-in session knows who it is
    return RedirectResponse(start_page(session.identity), status_code=303)


@router.get("/sign-in")
async def sign_in_form(request: Request, session: AnySession) -> Response:
    if session is not None and session.key is not None:
        return RedirectResponse("/", status_code=303)
    return _sign_in_page(request, session or session_store(request).start())


async def _signed_in_as(request: Request, key: str) -> Response:
    store = session_store(request)
    anonymous = store.get(request.cookies.get(COOKIE))
    assert anonymous is not None  # the CSRF check found it a moment ago
    try:
        identity = await identify(apis(request), key)
    except KeyRejected:
        return _sign_in_page(
            request,
            anonymous,
            error="That API key is not valid or has been revoked.",
            status_code=401,
        )
    session = store.sign_in(anonymous, key=key, identity=identity)
    return _with_cookie(request, RedirectResponse(start_page(identity), status_code=303), session)


@router.post("/sign-in")
async def sign_in(request: Request, form: CheckedForm) -> Response:
    key = form.get("api_key", "").strip()
    if not key:
        anonymous = session_store(request).get(request.cookies.get(COOKIE))
        assert anonymous is not None  # the CSRF check found it a moment ago
        return _sign_in_page(request, anonymous, error="Give an API key.", status_code=422)
    return await _signed_in_as(request, key)


@router.post("/sign-in/demo")
async def sign_in_as_demo(request: Request, form: CheckedForm) -> Response:
    """Only under `joinedup up --demo`: the demo's keys stay in this process, never in a page."""
    key = request.app.state.demo_keys.get(form.get("role", ""))
    if key is None:
        raise NotFound("There is no such demo role here.")
    return await _signed_in_as(request, key)


@router.post("/sign-out")
async def sign_out(request: Request, session: SignedIn, _: CheckedForm) -> Response:
    session_store(request).end(session.id)
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
