"""The Making Data Count icons of a progress item, with their meaning in words beside them for
screen readers (and the CSV), from services/web/charts.py."""

from markupsafe import Markup, escape

from services.web import charts
from services.web.tables import MISSING, words


def variation(code: str | None, direction: str) -> Markup:
    if code is None:
        return Markup(escape(words(None)))
    return _labelled(charts.variation_icon(code, direction), f"variation: {words(code)}")


def assurance(code: str | None) -> Markup:
    if code is None:
        return Markup(escape(words(None)))
    return _labelled(charts.assurance_icon(code), f"assurance: {words(code)}")


def _labelled(svg: str, label: str) -> Markup:
    return Markup('<span class="icon">{}<span class="visually-hidden">{}</span></span>').format(
        Markup(svg), label
    )


def cell(
    value: str,
    status: str | None,
    variation_code: str | None,
    assurance_code: str | None,
    direction: str,
) -> Markup:
    """A matrix cell: the value, the status in words, then the icons the place has."""
    if status is None and value == MISSING:
        return Markup(escape(MISSING))
    shown = [variation(variation_code, direction)] if variation_code else []
    shown += [assurance(assurance_code)] if assurance_code else []
    return Markup(
        '<span class="value">{}</span> <span class="status">{}</span> <span class="icons">{}</span>'
    ).format(value, words(status), Markup("").join(shown))
