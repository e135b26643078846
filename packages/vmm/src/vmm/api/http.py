"""Just enough HTTP/1.1 for CH's API: read one request off a stream, write one response.

Requests are read with hard limits, so a hostile or broken client costs a
bounded amount of memory and never an exception outside `HttpError`: a
request line and headers of at most 16 KiB (100 headers), a body of at most
4 MiB (CH's limit) announced by Content-Length (chunked bodies are refused).
Anything malformed is an `HttpError` carrying the status to answer with;
after it the connection is closed, since the stream position is unknown.
"""

from __future__ import annotations

# Not `typing.TYPE_CHECKING`: importing typing costs tens of ms before the socket listens.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

__all__ = [
    "MAX_BODY",
    "MAX_HEADER_BYTES",
    "HttpError",
    "HttpRequest",
    "HttpResponse",
    "read_request",
]

MAX_HEADER_BYTES = 16 << 10
MAX_HEADERS = 100
MAX_BODY = 4 << 20
SERVER = "Cloud Hypervisor API"

REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Payload Too Large",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}


class HttpError(Exception):
    """The request cannot be read; answer `status` with `message` and close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class HttpRequest:
    """One request: the path has no query string, header names are lower case."""

    __slots__ = ("body", "headers", "method", "path", "version")

    def __init__(
        self,
        method: str,
        path: str,
        version: str = "HTTP/1.1",
        headers: dict[str, str] | None = None,
        body: bytes | None = None,  # None: no body (no Content-Length, or 0)
    ) -> None:
        self.method = method
        self.path = path
        self.version = version
        self.headers = headers if headers is not None else {}
        self.body = body

    def __repr__(self) -> str:
        return f"HttpRequest({self.method} {self.path}, {len(self.body or b'')} body bytes)"

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"


class HttpResponse:
    """A status and an optional JSON body (204 has none)."""

    __slots__ = ("body", "status")

    def __init__(self, status: int, body: bytes | None = None) -> None:
        self.status = status
        self.body = body

    def __repr__(self) -> str:
        return f"HttpResponse({self.status}, {self.body!r})"

    def encode(self, *, keep_alive: bool) -> bytes:
        """The response bytes; header spelling as CH's clients look for it (`Content-Length: `)."""
        lines = [
            f"HTTP/1.1 {self.status} {REASONS.get(self.status, 'Unknown')}",
            f"Server: {SERVER}",
            f"Connection: {'keep-alive' if keep_alive else 'close'}",
        ]
        if self.body is not None:
            lines.append("Content-Type: application/json")
            lines.append(f"Content-Length: {len(self.body)}")
        elif self.status != 204:
            lines.append("Content-Length: 0")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
        return head + self.body if self.body is not None else head


def read_request(stream: BinaryIO) -> HttpRequest | None:
    """The next request on `stream`; None when the client closed before sending one."""
    budget = MAX_HEADER_BYTES
    line = stream.readline(budget + 1)
    while line in (b"\r\n", b"\n"):  # RFC 9112: ignore empty lines before a request
        line = stream.readline(budget + 1)
    if not line:
        return None
    budget -= len(line)
    method, path, version = _request_line(line, budget)
    headers: dict[str, str] = {}
    while True:
        raw = stream.readline(budget + 1)
        budget -= len(raw)
        if budget < 0:
            raise HttpError(431, "the request headers are larger than 16 KiB")
        if not raw.endswith(b"\n"):
            raise HttpError(400, "the request ended inside its headers")
        if raw in (b"\r\n", b"\n"):
            break
        if len(headers) >= MAX_HEADERS:
            raise HttpError(431, f"more than {MAX_HEADERS} request headers")
        name, value = _header(raw)
        if name in headers and name == "content-length" and headers[name] != value:
            raise HttpError(400, "conflicting Content-Length headers")
        headers[name] = value
    if "transfer-encoding" in headers:
        raise HttpError(400, "Transfer-Encoding is not supported: send a Content-Length")
    length = _content_length(headers.get("content-length"))
    body = None
    if length:
        body = stream.read(length)
        if len(body) != length:
            raise HttpError(400, f"the body ended after {len(body)} of {length} bytes")
    return HttpRequest(method, path, version, headers, body)


def _request_line(line: bytes, budget: int) -> tuple[str, str, str]:
    if budget < 0:
        raise HttpError(431, "the request line is longer than 16 KiB")
    if not line.endswith(b"\n"):
        raise HttpError(400, "the request ended inside its request line")
    try:
        text = line.decode("ascii").rstrip("\r\n")
    except UnicodeDecodeError:
        raise HttpError(400, "the request line is not ASCII") from None
    parts = text.split(" ")
    if len(parts) != 3 or not all(parts):
        raise HttpError(400, f"malformed request line {text[:80]!r}")
    method, target, version = parts
    if not method.isalpha() or not method.isupper():
        raise HttpError(400, f"malformed method {method[:20]!r}")
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        if version.startswith("HTTP/"):
            raise HttpError(505, f"{version[:20]} is not supported: use HTTP/1.1")
        raise HttpError(400, f"malformed HTTP version {version[:20]!r}")
    if not target.startswith("/"):
        raise HttpError(400, "the request target must be an absolute path")
    return method, target.split("?", 1)[0], version


def _header(raw: bytes) -> tuple[str, str]:
    try:
        text = raw.decode("latin-1").rstrip("\r\n")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
        raise HttpError(400, "undecodable header") from None
    name, colon, value = text.partition(":")
    if not colon or not name or name != name.strip() or not name.isascii() or " " in name:
        raise HttpError(400, f"malformed header line {text[:80]!r}")
    return name.lower(), value.strip()


def _content_length(value: str | None) -> int:
    if value is None:
        return 0
    if not value.isdigit() or not value.isascii() or len(value) > 19:
        raise HttpError(400, f"invalid Content-Length {value[:30]!r}")
    length = int(value)
    if length > MAX_BODY:
        raise HttpError(413, f"the body of {length} bytes is larger than {MAX_BODY} bytes")
    return length
