"""A loopback HTTP proxy that records every exchange between vdirsyncer and the server.

vdirsyncer talks to this proxy instead of the server. Each request is
forwarded unchanged (one upstream connection per request) and the request
and response are kept, so that checks can assert on what was sent ("no PUT
in a sync without changes", "the PUT carried If-Match", "the server answered
412") and failures can quote the exchange as evidence.

A `before_forward` hook lets a check act as a concurrent client at an exact
moment: it runs after a request has arrived and before it is forwarded.
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
              "trailer", "upgrade", "proxy-authorization", "proxy-authenticate"}
UPSTREAM_TIMEOUT = 60
WRITE_METHODS = {"PUT", "DELETE", "PROPPATCH", "MKCOL", "MKCALENDAR", "COPY", "MOVE", "POST",
                 "LOCK", "UNLOCK", "PATCH", "ACL"}


@dataclass
class Exchange:
    method: str
    path: str
    request_headers: dict[str, str]  # lower-case names
    request_body: bytes
    status: int
    response_headers: dict[str, str]
    response_body: bytes

    def describe(self, body_limit: int = 1200) -> str:
        def show(headers: dict[str, str], body: bytes) -> str:
            lines = [f"{k}: {v}" for k, v in headers.items() if k != "authorization"]
            text = body[:body_limit].decode("utf-8", "replace")
            if len(body) > body_limit:
                text += f"... ({len(body)} bytes)"
            return "\n".join(lines) + ("\n\n" + text if body else "")

        return (f">>> {self.method} {self.path}\n{show(self.request_headers, self.request_body)}\n"
                f"<<< {self.status}\n{show(self.response_headers, self.response_body)}\n")


class RecordingProxy:
    def __init__(self, upstream_base: str):
        up = urlsplit(upstream_base)
        self.upstream_host = up.hostname
        self.upstream_port = up.port or 80
        self.upstream_origin = f"{up.scheme}://{up.netloc}"
        self.exchanges: list[Exchange] = []
        self.before_forward: Callable[[str, str, dict[str, str], bytes], None] | None = None
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # keep stderr for the suite's own report
                pass

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _handle(self):
                body = self._read_body()
                req_headers = {k.lower(): v for k, v in self.headers.items()}
                if proxy.before_forward is not None:
                    proxy.before_forward(self.command, self.path, req_headers, body)
                status, resp_headers, resp_body = proxy._forward(self.command, self.path, req_headers, body)
                with proxy._lock:
                    proxy.exchanges.append(Exchange(self.command, self.path, req_headers, body,
                                                    status, resp_headers, resp_body))
                # send_response_only: no Server/Date of the proxy's own; the server's are forwarded.
                self.send_response_only(status)
                for k, v in resp_headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(resp_body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(resp_body)

            def __getattr__(self, name):
                # do_GET, do_PUT, do_PROPFIND, do_REPORT, ...: every method is forwarded.
                if name.startswith("do_"):
                    return self._handle
                raise AttributeError(name)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/"
        self.origin = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="recording-proxy", daemon=True)

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes):
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=UPSTREAM_TIMEOUT)
        try:
            fwd = {k: v for k, v in headers.items() if k not in HOP_BY_HOP and k != "content-length"}
            fwd["host"] = f"{self.upstream_host}:{self.upstream_port}"
            conn.request(method, path, body=body if body or method in WRITE_METHODS else None, headers=fwd)
            r = conn.getresponse()
            data = r.read()
            out: dict[str, str] = {}
            for k, v in r.getheaders():
                lk = k.lower()
                if lk in HOP_BY_HOP or lk == "content-length":
                    continue
                if lk == "location" and v.startswith(self.upstream_origin):
                    # What any reverse proxy does (e.g. ProxyPassReverse): keep the client on this origin.
                    v = self.origin + v[len(self.upstream_origin):]
                out[lk] = v if lk not in out else out[lk] + ", " + v
            return r.status, out, data
        finally:
            conn.close()

    def start(self) -> "RecordingProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def take(self) -> list[Exchange]:
        """The exchanges recorded since the last call, oldest first."""
        with self._lock:
            out, self.exchanges = self.exchanges, []
        return out
