"""The Making Data Count icons of a progress item (services/web/charts.py draws them, each with
its meaning in words as its label), and the matrix cell that shows them beside a value."""

from typing import cast

from markupsafe import Markup, escape

from services.common.vocabulary import Direction
from services.targets_api.spc.service import Assurance, Variation
from services.web import charts
from services.web.tables import MISSING, words


# The codes come from the APIs' JSON, whose schemas hold them to these words.
def variation(code: str | None, direction: str) -> Markup:
    return Markup(charts.variation_icon(cast(Variation | None, code), cast(Direction, direction)))


def assurance(code: str | None) -> Markup:
    return Markup(charts.assurance_icon(cast(Assurance | None, code)))


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
