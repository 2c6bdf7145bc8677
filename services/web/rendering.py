"""Jinja2 templates (autoescaped) and the one way a page is rendered."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from services.web.sessions import CSRF_FIELD, WebSession
from services.web.tables import MISSING, number, percent, words

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(number=number, percent=percent, words=words, MISSING=MISSING)


def render(
    request: Request,
    template: str,
    *,
    session: WebSession | None,
    title: str,
    crumbs: Sequence[tuple[str, str | None]] = (),
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page: ``crumbs`` are (label, href) from England down, the last one the page itself."""
    return templates.TemplateResponse(
        request,
        template,
        {
            "session": session,
            "identity": session.identity if session else None,
            "csrf_field": CSRF_FIELD,
            "csrf_token": session.csrf_token if session else "",
            "title": title,
            "crumbs": list(crumbs),
            **context,
        },
        status_code=status_code,
    )
