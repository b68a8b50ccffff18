"""HTTP Basic authentication: wrong or missing credentials are refused."""

import socket
from base64 import b64encode
from urllib.parse import urlsplit

import caldav
import pytest
from caldav.lib import error

from support import new_client, unique


def test_wrong_password_is_refused(server):
    c = new_client(server, password=server.password + "-wrong")
    with pytest.raises(error.AuthorizationError):
        c.principal()


def test_unknown_user_is_refused(server):
    c = new_client(server, username=unique("nosuchuser"), password=server.password)
    with pytest.raises(error.AuthorizationError):
        c.principal()


def test_missing_credentials_are_refused(server):
    c = caldav.DAVClient(url=server.url, features={}, timeout=30)
    with pytest.raises(error.AuthorizationError):
        c.principal()


def test_wrong_password_cannot_read_the_calendar_home(server, principal, scratch_calendar):
    # The URLs are real (found with the right password); only the password is wrong.
    home = principal.calendar_home_set.url
    cal_url = scratch_calendar.url
    bad = new_client(server, password=server.password + "-wrong")
    with pytest.raises(error.AuthorizationError):
        caldav.CalendarSet(client=bad, url=home).get_calendars()
    with pytest.raises(error.AuthorizationError):
        caldav.Calendar(client=bad, url=cal_url).get_events()


def _read_response(sock) -> tuple[bytes, bytes]:
    """Status line and headers (lower-cased) and the body of one response; b"" head if closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return b"", data
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, val = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(val.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head.lower(), body


def test_401_before_the_body_keeps_the_connection_or_says_close(server):
    """The Basic-auth round trip every client makes, with the body still on its way.

    A client sends a REPORT/PROPFIND without credentials, gets 401, and repeats
    it with credentials on the same keep-alive connection. When the 401 leaves
    before the request body has arrived, RFC 9110 section 10.1.1 says the server
    SHOULD indicate whether it will close the connection ("Connection: close",
    RFC 9112 section 9.6) or go on reading the body. Either is fine; closing
    silently is not: the client's retry then fails ("Remote end closed
    connection without response"), which made caldav searches fail at random.
    """
    parts = urlsplit(server.url)
    assert parts.scheme == "http", "this check speaks plain HTTP only"
    host = f"{parts.hostname}:{parts.port or 80}"
    path = parts.path or "/"
    body = (
        b'<?xml version="1.0" encoding="utf-8"?>'
        b'<propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>'
    )

    def head(auth: bool) -> bytes:
        lines = [
            f"PROPFIND {path} HTTP/1.1", f"Host: {host}", "Depth: 0",
            "Content-Type: application/xml; charset=utf-8", f"Content-Length: {len(body)}",
        ]
        if auth:
            token = b64encode(f"{server.user}:{server.password}".encode()).decode()
            lines.append(f"Authorization: Basic {token}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    with socket.create_connection((parts.hostname, parts.port or 80), timeout=10) as sock:
        sock.sendall(head(auth=False))  # the head only; the body follows once the 401 is in
        status, _ = _read_response(sock)
        assert status.startswith(b"http/1.1 401"), status
        if b"\r\nconnection: close" in status:
            return  # announced: the client opens a new connection for the retry
        try:
            sock.sendall(body + head(auth=True) + body)
            retry, _ = _read_response(sock)
        except OSError as e:
            retry = repr(e).encode()
        assert retry.startswith(b"http/1.1 207"), (
            "the server closed the connection after a 401 sent before the request body, "
            f"without Connection: close; the authenticated retry got {retry[:80]!r}"
        )
