"""A real HTTP server on 127.0.0.1 for the fetch tests: in-memory files, HTTP Range, faults.

Faults: drop the connection after N bytes (once), ignore Range (answer 200), answer with an
HTML page, delay the answer. Every request is recorded (method, path, Range header).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Request:
    method: str
    path: str
    range: str | None


@dataclass
class FileServer:
    files: dict[str, bytes] = field(default_factory=dict)
    html: dict[str, bytes] = field(default_factory=dict)
    content_types: dict[str, str] = field(default_factory=dict)
    drop_after: dict[str, int] = field(default_factory=dict)  # path -> bytes sent, once
    ignore_range: set[str] = field(default_factory=set)
    delay: dict[str, float] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def gets(self, path: str | None = None) -> list[Request]:
        return [r for r in self.requests if r.method == "GET" and (path is None or r.path == path)]


def _handler(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _answer(self, send_body: bool) -> None:
            path = self.path.lstrip("/")
            key = path.split("?", 1)[0]
            server.requests.append(Request(self.command, path, self.headers.get("Range")))
            if key in server.delay:
                time.sleep(server.delay[key])
            if key in server.html:
                body = server.html[key]
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if send_body:
                    self.wfile.write(body)
                return
            if key not in server.files:
                self.send_error(404, "not found")
                return
            data = server.files[key]
            ctype = server.content_types.get(key, "application/octet-stream")
            start = 0
            m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            if m and key not in server.ignore_range:
                start = int(m[1])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if not send_body:
                return
            cut = server.drop_after.pop(key, None)
            if cut is not None:  # a transfer killed part-way: send some bytes, then hang up
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def do_HEAD(self) -> None:
            self._answer(send_body=False)

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a connection cut on purpose (drop_after) or by the client is not an error here


@contextmanager
def serve(server: FileServer | None = None) -> Iterator[FileServer]:
    """Run ``server`` on a free port of 127.0.0.1 for the duration of the block."""
    server = server or FileServer()
    httpd = _QuietServer(("127.0.0.1", 0), _handler(server))
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
