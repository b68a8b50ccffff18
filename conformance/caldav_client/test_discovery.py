"""Discovery: from nothing but the base URL to the user's principal and calendar home."""

import http.client
from base64 import b64encode
from urllib.parse import urljoin, urlsplit

import caldav
import pytest
from caldav.elements import dav

from support import new_client


def test_principal_is_discovered_from_bare_base_url(server, client):
    # Ask the base URL itself. The library falls back silently to "the base
    # URL is the principal" when the property is missing, so it has to be
    # checked here directly.
    root = caldav.DAVObject(client=client, url=client.url)
    cup = root.get_property(dav.CurrentUserPrincipal())
    assert cup, "the base URL does not report DAV:current-user-principal"

    principal = client.principal()
    assert principal.url.canonical() == client.url.join(cup).canonical()

    home = principal.calendar_home_set
    assert home is not None and home.url is not None, "no calendar-home-set on the principal"

    if server.layout == "kalends":
        assert principal.url.path == f"/principals/{server.user}/"
        assert home.url.path == f"/calendars/{server.user}/"


@pytest.mark.parametrize("method", ["GET", "PROPFIND"])
def test_well_known_caldav_redirects_to_the_context_path(server, method):
    """RFC 6764 section 5: /.well-known/caldav redirects to the CalDAV context path."""
    parts = urlsplit(server.url)
    assert parts.scheme == "http", "this check speaks plain HTTP only"
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=30)
    token = b64encode(f"{server.user}:{server.password}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    body = None
    if method == "PROPFIND":
        headers.update({"Depth": "0", "Content-Type": "application/xml; charset=utf-8"})
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>'
        )
    try:
        conn.request(method, "/.well-known/caldav", body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        status, location = resp.status, resp.getheader("Location")
    finally:
        conn.close()

    assert status in (301, 302, 303, 307, 308), f"{method} /.well-known/caldav answered {status}"
    assert location, "redirect without a Location header"
    target = urljoin(f"{parts.scheme}://{parts.netloc}/.well-known/caldav", location)
    if server.layout == "kalends":
        assert urlsplit(target).path == "/"

    # Whatever the target is, discovery from there has to find the same principal.
    via_target = new_client(server, url=target).principal()
    via_base = new_client(server).principal()
    assert via_target.url.canonical() == via_base.url.canonical()
