"""A helpdesk's API as its public docs describe it, served on loopback for contract tests.

``ContractServer`` accepts only the requests a vendor documents: a route's method and path,
the vendor's auth header, and a JSON body valid against the route's JSON Schema (a fixture file
under tests/fixtures/connectors/<vendor>/ whose ``$comment`` names the doc page). Anything else
is answered 4xx and recorded in ``violations``, which the ``contract`` fixtures assert empty
at teardown: a connector that drifts from the docs fails its tests. Responses are the
documented examples, shaped by the test's ``state`` where the helpdesk keeps some (articles).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jsonschema import Draft202012Validator

# serve_forever's poll interval: shutdown() waits up to one (0.5 s by default) at every stop.
POLL_S = 0.02
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "connectors"
Responder = Callable[["Call"], tuple[int, Any]]


def fixture(vendor: str, name: str) -> Any:
    return json.loads((FIXTURES / vendor / name).read_text(encoding="utf-8"))


def fixture_bytes(vendor: str, name: str) -> bytes:
    return (FIXTURES / vendor / name).read_bytes()


@dataclass
class Call:
    """One request the server accepted."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    match: re.Match[str]
    route: str
    state: dict[str, Any]


@dataclass
class Route:
    name: str
    method: str
    path: str  # a regex for the whole path, e.g. r"/api/v1/tickets/(?P<id>\d+)"
    respond: Responder
    schema: str | None = None  # request body schema fixture; None: the request has no body


@dataclass
class ContractServer:
    vendor: str
    routes: list[Route]
    authorized: Callable[[dict[str, str]], bool]
    calls: list[Call] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    down: bool = False  # answer 503 to everything (the helpdesk is down)

    def __post_init__(self) -> None:
        self._validators = {
            r.name: Draft202012Validator(fixture(self.vendor, r.schema))
            for r in self.routes
            if r.schema
        }
        for v in self._validators.values():
            Draft202012Validator.check_schema(v.schema)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": POLL_S}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> ContractServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def named(self, route: str) -> list[Call]:
        return [c for c in self.calls if c.route == route]

    def _answer(
        self, method: str, raw_path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any]:
        if self.down:
            return 503, {"error": "maintenance"}
        parts = urlsplit(raw_path)
        for route in self.routes:
            m = re.fullmatch(route.path, parts.path)
            if m is None or route.method != method:
                continue
            if not self.authorized(headers):
                return self._violation(401, f"{method} {parts.path}: auth header not as documented")
            body: Any = None
            if route.schema:
                if not headers.get("content-type", "").startswith("application/json"):
                    return self._violation(415, f"{method} {parts.path}: body is not JSON")
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self._violation(400, f"{method} {parts.path}: body is not JSON")
                errors = sorted(self._validators[route.name].iter_errors(body), key=str)
                if errors:
                    where = "/".join(str(p) for p in errors[0].absolute_path)
                    return self._violation(
                        422, f"{method} {parts.path}: {where or 'body'}: {errors[0].message}"
                    )
            elif raw:
                what = f"{method} {parts.path}: a body where none is documented"
                return self._violation(400, what)
            with self._lock:
                query = parse_qs(parts.query)
                call = Call(method, parts.path, query, headers, body, m, route.name, self.state)
                self.calls.append(call)
                return route.respond(call)
        return self._violation(404, f"{method} {parts.path}: no such documented endpoint")

    def _violation(self, code: int, what: str) -> tuple[int, Any]:
        self.violations.append(what)
        return code, {"error": what}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                code, body = server._answer(self.command, self.path, headers, raw)
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

            def log_message(self, *_: Any) -> None:
                pass

        return Handler
