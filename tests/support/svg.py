"""Reading the web pages' charts back: Vega's SVG parsed, its named layers' marks, and what
every chart must be to be embedded inline in a page."""

import re
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # also proves the markup is well-formed XML


def marks(root: ET.Element, name: str) -> list[ET.Element]:
    """The drawn items of one named layer (Vega gives its group the class `<name>_marks`)."""
    return [
        item
        for group in root.iter(f"{SVG}g")
        if f"{name}_marks" in (group.get("class") or "").split()
        for item in group
    ]


def translation(element: ET.Element) -> tuple[float, float]:
    x, y = re.fullmatch(r"translate\(([-\d.e]+),([-\d.e]+)\)", element.get("transform")).groups()
    return float(x), float(y)


def axis_labels(root: ET.Element) -> list[ET.Element]:
    return [
        text
        for group in root.iter(f"{SVG}g")
        if "role-axis-label" in (group.get("class") or "")
        for text in group.iter(f"{SVG}text")
    ]


def assert_embeddable(svg: str) -> None:
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    label = root.get("aria-label")
    assert label and len(label) > 10
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == label
    assert re.fullmatch(r"0 0 [\d.]+ [\d.]+", root.get("viewBox"))
    assert root.get("width") in ("100%", "2.5em")  # scales: never a width in pixels
    assert root.get("height") in (None, "2.5em")
    for element in root.iter():
        # One accessible object: ARIA roles on the marks inside an img are errors to axe.
        assert element is root or "role" not in element.attrib, element.attrib
        assert not element.tag.endswith("script")
        assert element.tag != f"{SVG}foreignObject"
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (element.tag, name)
            assert not name.endswith("href"), (element.tag, name)  # no links, in or out
            assert name != "id", "an id could clash with another chart's on the same page"
            assert "javascript:" not in value.lower()
