"""A local stand-in for the mobile money providers' status APIs (MTN MoMo collection, Orange
Money web payment): answers what the test set for each reference and records every request.

The only fake in the polling tests: the real provider clients talk HTTP to it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeProviders:
    # reference -> (provider status word, provider transaction id)
    statuses: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    # reference -> amount the provider says it received (default: the amount asked)
    amounts: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    fail_with: int | None = None
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeProviders:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append(("GET", self.path, dict(self.headers), None))
                prefix = "/momo/collection/v1_0/requesttopay/"
                if fake.fail_with or not self.path.startswith(prefix):
                    self._answer(fake.fail_with or 404, {"code": "RESOURCE_NOT_FOUND"})
                    return
                reference = self.path[len(prefix) :]
                if reference not in fake.statuses:
                    self._answer(404, {"code": "RESOURCE_NOT_FOUND"})
                    return
                status, transaction = fake.statuses[reference]
                self._answer(
                    200,
                    {
                        "amount": str(fake.amounts.get(reference, 0)),
                        "currency": "XAF",
                        "financialTransactionId": transaction,
                        "externalId": reference,
                        "payer": {"partyIdType": "MSISDN", "partyId": "237650000000"},
                        "status": status,
                    },
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(("POST", self.path, dict(self.headers), body))
                if fake.fail_with or self.path != "/orange/transactionstatus":
                    self._answer(fake.fail_with or 404, {"message": "not found"})
                    return
                reference = body.get("order_id")
                status, transaction = fake.statuses.get(reference, ("INITIATED", None))
                answer: dict[str, Any] = {"status": status, "order_id": reference}
                if transaction:
                    answer["txnid"] = transaction
                if reference in fake.amounts:
                    answer["amount"] = fake.amounts[reference]
                self._answer(200, answer)

            def _answer(self, status: int, body: dict[str, Any]) -> None:
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
