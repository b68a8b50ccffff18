"""Plain HTTP against the server, as "another client": PUT, DELETE, GET, PROPFIND.

Standard library only. Used to make server-side changes between syncs and to
read back exactly what the server holds.
"""

from __future__ import annotations

import base64
import http.client
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit

DAV = "{DAV:}"
CALDAV = "{urn:ietf:params:xml:ns:caldav}"
REQUEST_TIMEOUT = 30


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Member:
    href: str  # path, percent-encoded as the server sent it
    etag: str
    content_type: str


@dataclass
class ServerObject:
    href: str
    etag: str
    body: bytes
    uid: str | None = field(default=None)


class Client:
    def __init__(self, base_url: str, user: str, password: str):
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"need an http:// base URL, got {base_url!r}")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.host = parts.hostname
        self.port = parts.port or 80
        token = base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")
        self.auth = f"Basic {token}"

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Response:
        target = urlsplit(self.url(path))
        conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT)
        try:
            hdrs = {"Authorization": self.auth}
            hdrs.update(headers or {})
            conn.request(method, target.path + (f"?{target.query}" if target.query else ""),
                         body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()

    # ------------------------------------------------------------ reads

    def propfind(self, path: str, props: list[str], depth: str) -> ET.Element:
        prop_xml = "".join(props)
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            f"<D:prop>{prop_xml}</D:prop></D:propfind>"
        ).encode("utf-8")
        r = self.request("PROPFIND", path, body,
                         {"Depth": depth, "Content-Type": "application/xml; charset=utf-8"})
        if r.status != 207:
            raise AssertionError(f"PROPFIND {path} (Depth {depth}) answered {r.status}: {r.body[:300]!r}")
        try:
            return ET.fromstring(r.body)
        except ET.ParseError as e:
            raise AssertionError(f"PROPFIND {path} answered 207 with XML that does not parse ({e}): "
                                 f"{r.body[:300]!r}") from None

    def members(self, collection: str) -> list[Member]:
        """Non-collection members of a collection with their ETags (PROPFIND Depth 1)."""
        root = self.propfind(collection, ["<D:resourcetype/>", "<D:getetag/>", "<D:getcontenttype/>"], "1")
        out = []
        own = urlsplit(self.url(collection)).path.rstrip("/")
        for resp in root.findall(f"{DAV}response"):
            href = resp.findtext(f"{DAV}href") or ""
            path = urlsplit(urljoin(self.url(collection), href)).path
            if path.rstrip("/") == own:
                continue
            props = [p for ps in resp.findall(f"{DAV}propstat")
                     if "200" in (ps.findtext(f"{DAV}status") or "")
                     for p in ps.findall(f"{DAV}prop")]
            if any(p.find(f"{DAV}resourcetype/{DAV}collection") is not None for p in props):
                continue
            etag = next((p.findtext(f"{DAV}getetag") for p in props if p.find(f"{DAV}getetag") is not None), "")
            ctype = next((p.findtext(f"{DAV}getcontenttype") for p in props
                          if p.find(f"{DAV}getcontenttype") is not None), "")
            out.append(Member(path, etag or "", ctype or ""))
        return out

    def subcollections(self, home: str) -> dict[str, set[str]]:
        """Child collections of `home`: last path segment -> resource type names."""
        root = self.propfind(home, ["<D:resourcetype/>"], "1")
        own = urlsplit(self.url(home)).path.rstrip("/")
        out: dict[str, set[str]] = {}
        for resp in root.findall(f"{DAV}response"):
            path = urlsplit(urljoin(self.url(home), resp.findtext(f"{DAV}href") or "")).path
            if path.rstrip("/") == own:
                continue
            types: set[str] = set()
            for rt in resp.iter(f"{DAV}resourcetype"):
                types.update(child.tag for child in rt)
            if f"{DAV}collection" in types:
                out[unquote(path.rstrip("/").rsplit("/", 1)[-1])] = types
        return out

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def objects(self, collection: str) -> dict[str, ServerObject]:
        """Every object in the collection, read with GET, keyed by href."""
        out = {}
        for m in self.members(collection):
            r = self.get(m.href)
            if r.status != 200:
                raise AssertionError(f"GET {m.href} (listed by PROPFIND) answered {r.status}")
            out[m.href] = ServerObject(m.href, r.header("etag") or m.etag, r.body)
        return out

    # ------------------------------------------------------------ writes

    def put(self, path: str, body: bytes, *, if_match: str | None = None, create: bool = False) -> Response:
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        if if_match is not None:
            headers["If-Match"] = if_match
        if create:
            headers["If-None-Match"] = "*"
        return self.request("PUT", path, body, headers)

    def delete(self, path: str, *, if_match: str | None = None) -> Response:
        headers = {} if if_match is None else {"If-Match": if_match}
        return self.request("DELETE", path, None, headers)
