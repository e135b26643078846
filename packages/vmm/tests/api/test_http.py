"""Reading requests: what is accepted, and how each kind of malformed request is refused."""

from __future__ import annotations

import io

import pytest
from vmm.api.http import MAX_BODY, HttpError, HttpRequest, HttpResponse, read_request


def _read(data: bytes) -> HttpRequest | None:
    return read_request(io.BufferedReader(io.BytesIO(data)))


def _status(data: bytes) -> int:
    with pytest.raises(HttpError) as caught:
        _read(data)
    return caught.value.status


def test_a_get_has_method_path_and_no_body() -> None:
    request = _read(b"GET /api/v1/vm.info?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert request is not None
    assert (request.method, request.path, request.body) == ("GET", "/api/v1/vm.info", None)
    assert request.headers == {"host": "localhost"}


def test_a_body_is_read_to_its_content_length() -> None:
    request = _read(b"PUT /a HTTP/1.1\r\nContent-Length: 4\r\n\r\n{}{}extra")
    assert request is not None
    assert request.body == b"{}{}"


def test_a_closed_connection_is_no_request() -> None:
    assert _read(b"") is None


def test_keep_alive_is_the_default_of_http_1_1_only() -> None:
    assert HttpRequest("GET", "/", "HTTP/1.1").keep_alive
    assert not HttpRequest("GET", "/", "HTTP/1.1", {"connection": "close"}).keep_alive
    assert not HttpRequest("GET", "/", "HTTP/1.0").keep_alive


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\xff\xfe garbage\r\n\r\n",
        b"GET /a\r\n\r\n",
        b"get /a HTTP/1.1\r\n\r\n",
        b"GET a HTTP/1.1\r\n\r\n",
        b"GET /a HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET /a HTTP/1.1\r\nHost: x\r\n",
        b"GET /a HTTP/1.1",
        b"PUT /a HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"PUT /a HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
        b"PUT /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort",
        b"PUT /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"PUT /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    ],
)
def test_malformed_requests_are_bad_requests(data: bytes) -> None:
    assert _status(data) == 400


def test_a_huge_content_length_is_refused_before_reading_the_body() -> None:
    assert _status(b"PUT /a HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n") == 413
    assert _status(f"PUT /a HTTP/1.1\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n".encode()) == 413


def test_endless_headers_are_refused() -> None:
    assert _status(b"GET /a HTTP/1.1\r\n" + b"X: " + b"y" * 20000 + b"\r\n\r\n") == 431
    many = b"".join(b"X-%d: 1\r\n" % i for i in range(200))
    assert _status(b"GET /a HTTP/1.1\r\n" + many + b"\r\n") == 431


def test_other_http_versions_are_not_supported() -> None:
    assert _status(b"GET /a HTTP/2.0\r\n\r\n") == 505


def test_a_response_without_body_is_a_bare_204() -> None:
    encoded = HttpResponse(204).encode(keep_alive=True)
    assert encoded.startswith(b"HTTP/1.1 204 No Content\r\n")
    assert b"Content-Length" not in encoded
    assert encoded.endswith(b"\r\n\r\n")


def test_a_json_response_names_its_length_as_chs_clients_look_for_it() -> None:
    encoded = HttpResponse(200, b'{"a":1}').encode(keep_alive=False)
    assert b"\r\nContent-Length: 7\r\n" in encoded
    assert b"\r\nContent-Type: application/json\r\n" in encoded
    assert b"\r\nConnection: close\r\n" in encoded
    assert encoded.endswith(b'\r\n\r\n{"a":1}')
