"""The one check of an error answer: an RFC 9457 problem, with the status, media type and
members the API promises, and (when asked) exactly the locations it names."""

import httpx

PROBLEM_JSON = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, *locs: tuple) -> dict:
    """An RFC 9457 problem with this status; with ``locs``, exactly those fields in errors[]
    (each with a message). Returns the problem's body for further checks."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON, response.headers
    body = response.json()
    assert body["status"] == status, body
    assert body["type"].startswith("urn:joinedup:problem:"), body
    assert body["title"] and body["detail"], body
    if locs:
        assert {tuple(error["loc"]) for error in body["errors"]} == set(locs), body["errors"]
        assert all(error["msg"] for error in body["errors"]), body["errors"]
    return body
