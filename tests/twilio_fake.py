"""A local stand-in for Twilio's REST API: records each request and answers like Twilio does.

The only fake in the SMS tests: the real ``twilio`` client talks HTTP to it.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class ReceivedRequest:
    method: str
    path: str
    form: dict[str, str]
    user: str
    password: str


@dataclass
class FakeTwilio:
    requests: list[ReceivedRequest] = field(default_factory=list)
    fail_with: int | None = None
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeTwilio:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
                user, _, password = base64.b64decode(encoded).decode().partition(":")
                assert scheme == "Basic"
                fake.requests.append(ReceivedRequest("POST", self.path, form, user, password))
                if fake.fail_with:
                    body = {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}
                    self._answer(fake.fail_with, body)
                    return
                sid = "SM" + uuid.uuid4().hex
                self._answer(
                    201,
                    {
                        "sid": sid,
                        "account_sid": user,
                        "to": form.get("To"),
                        "from": form.get("From"),
                        "body": form.get("Body"),
                        "status": "queued",
                        "num_segments": "1",
                    },
                )

            def _answer(self, status: int, body: dict[str, object]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
