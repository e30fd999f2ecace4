"""Assertions and constants shared by the tests."""

PASSWORD = "correct horse battery"


def assert_problem(response, status, code):
    """Assert an RFC 9457 problem response with the given status and code."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == "about:blank"
    assert body["title"] and body["detail"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body
