"""A local stand-in for the mobile money providers' APIs: MoMo collection (MTN MoMo at
``/momo``, CellMoni at ``/cellmoni``: request to pay and status) and Orange Money web payment
(``/orange``: web payment and transaction status).

It answers what the test set for each reference, records every request, and settles a request
to pay when the test says so (``settle``): the status polls answer the outcome from then on,
and the callback URL the request gave, if any, receives the provider's signed callback.

The only fake in the payment tests: the real provider clients talk HTTP to it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

MOMO_PREFIXES = ("/momo", "/cellmoni")
_RTP = "/collection/v1_0/requesttopay"


@dataclass
class Asked:
    """A request to pay the fake received."""

    prefix: str
    body: dict[str, Any]
    callback_url: str | None


@dataclass
class FakeProviders:
    # reference -> (provider status word, provider transaction id)
    statuses: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    # reference -> amount the provider says it received (default: the amount asked)
    amounts: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    # reference -> the request to pay it
    asked: dict[str, Asked] = field(default_factory=dict)
    # prefix ("/momo", "/cellmoni", "/orange") -> callback signing secret
    secrets: dict[str, str] = field(default_factory=dict)
    fail_with: int | None = None
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def asked_with(self, prefix: str) -> list[Asked]:
        return [a for a in self.asked.values() if a.prefix == prefix]

    def settle(self, reference: str, status: str, transaction: str | None = None) -> int | None:
        """The payer approved (``SUCCESSFUL``) or refused (``FAILED``): polls answer it from now
        on, and the callback goes out; its HTTP status (None: the request had no callback)."""
        transaction = transaction or f"TX-{uuid.uuid4().hex[:10]}"
        self.statuses[reference] = (status, transaction)
        asked = self.asked[reference]
        if not asked.callback_url:
            return None
        if asked.prefix == "/orange":
            payload: dict[str, Any] = {
                "order_id": reference,
                "status": status,
                "txnid": transaction,
                "amount": asked.body["amount"],
                "currency": asked.body["currency"],
            }
        else:
            payload = {**self._momo_status(reference), "status": status}
        body = json.dumps(payload).encode()
        secret = self.secrets.get(asked.prefix, "")
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        answer = httpx.post(
            asked.callback_url,
            content=body,
            headers={"Content-Type": "application/json", "X-Signature": signature},
        )
        return answer.status_code

    def _momo_status(self, reference: str) -> dict[str, Any]:
        status, transaction = self.statuses.get(reference, ("PENDING", None))
        asked = self.asked.get(reference)
        amount = asked.body["amount"] if asked else "0"
        return {
            "amount": str(self.amounts.get(reference, amount)),
            "currency": asked.body["currency"] if asked else "XAF",
            "financialTransactionId": transaction,
            "externalId": reference,
            "payer": {"partyIdType": "MSISDN", "partyId": "237650000000"},
            "status": status,
        }

    def start(self) -> FakeProviders:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append(("GET", self.path, dict(self.headers), None))
                prefix = next((p for p in MOMO_PREFIXES if self.path.startswith(p + _RTP)), None)
                if fake.fail_with or prefix is None:
                    self._answer(fake.fail_with or 404, {"code": "RESOURCE_NOT_FOUND"})
                    return
                reference = self.path[len(prefix + _RTP) + 1 :]
                if reference not in fake.statuses and reference not in fake.asked:
                    self._answer(404, {"code": "RESOURCE_NOT_FOUND"})
                    return
                self._answer(200, fake._momo_status(reference))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(("POST", self.path, dict(self.headers), body))
                if fake.fail_with:
                    self._answer(fake.fail_with, {"message": "unavailable"})
                elif self.path in {p + _RTP for p in MOMO_PREFIXES}:
                    self._request_to_pay(self.path[: -len(_RTP)], body)
                elif self.path == "/orange/webpayment":
                    self._web_payment(body)
                elif self.path == "/orange/transactionstatus":
                    reference = body.get("order_id")
                    status, transaction = fake.statuses.get(reference, ("INITIATED", None))
                    answer: dict[str, Any] = {"status": status, "order_id": reference}
                    if transaction:
                        answer["txnid"] = transaction
                    if reference in fake.amounts:
                        answer["amount"] = fake.amounts[reference]
                    self._answer(200, answer)
                else:
                    self._answer(404, {"message": "not found"})

            def _request_to_pay(self, prefix: str, body: dict[str, Any]) -> None:
                reference = self.headers.get("X-Reference-Id", "")
                if reference in fake.asked:
                    self._answer(409, {"code": "RESOURCE_ALREADY_EXIST"})
                    return
                fake.asked[reference] = Asked(prefix, body, self.headers.get("X-Callback-Url"))
                self._answer(202, {})

            def _web_payment(self, body: dict[str, Any]) -> None:
                token = uuid.uuid4().hex
                fake.asked[body["order_id"]] = Asked("/orange", body, body.get("notif_url"))
                self._answer(
                    201,
                    {
                        "status": 201,
                        "message": "OK",
                        "pay_token": token,
                        "payment_url": f"{fake.base_url}/orange/pay/{token}",
                        "notif_token": uuid.uuid4().hex,
                    },
                )

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
