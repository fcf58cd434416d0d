"""What the stand-in backends (Tempo, Loki) share: answers a test tells them to give, the time of every
attempt, and an HTTP server (optionally TLS) that hands each other request to the backend's `accept`."""

from __future__ import annotations

import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.tls import TLSFiles


@dataclass
class FakeBackend:
    answers: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    """Answers to give, in order, before accepting again (HTTP status, headers)."""
    attempts: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_answer(self) -> tuple[int, dict[str, str]] | None:
        """Count an attempt; the told answer for it, if any is left."""
        with self.lock:
            self.attempts.append(time.monotonic())
            return self.answers.popleft() if self.answers else None

    def accept(self, path: str, headers: Any, body: bytes) -> tuple[int, bytes]:
        """Decode and keep a request the test did not tell us to refuse: (status, response body)."""
        raise NotImplementedError

    def serve_http(self, tls: TLSFiles | None = None) -> tuple[ThreadingHTTPServer, str]:
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                told = backend.next_answer()
                if told is not None:
                    (status, headers), payload = told, f"status {told[0]}".encode()
                else:
                    (status, payload), headers = backend.accept(self.path, self.headers, body), {}
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls.cert, tls.key)
            server.socket = context.wrap_socket(server.socket, server_side=True)
            scheme = "https"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"{scheme}://127.0.0.1:{server.server_address[1]}"
