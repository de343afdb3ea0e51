"""Pay now (``POST /invoices/{id}/pay``) against the local fake providers: the country's own
operators, one request to the provider per idempotency key, settled by the poll job, and the
receipt with what is still owed and the credit."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from pydantic import SecretStr

from billing.payments import service as payments
from billing.payments.clients import make_provider_clients
from core.config_billing import PaymentsSettings
from core.db import make_async_engine
from tests import clock
from tests.api.test_balance import as_user
from tests.billing.ledger_world import Ledger, arrange
from tests.payment_provider_fake import FakeProviders

pytestmark = pytest.mark.services


@pytest.fixture
def providers():
    fake = FakeProviders().start()
    yield fake
    fake.stop()


@pytest.fixture
def settings(settings, providers):
    return settings.model_copy(
        update={
            "payments": PaymentsSettings(
                mtn_momo_url=providers.base_url + "/momo",
                orange_money_url=providers.base_url + "/orange",
                cellmoni_url=providers.base_url + "/cellmoni",
                mtn_momo_webhook_secret=SecretStr("momo-secret"),
                poll_after_s=0,
            )
        }
    )


@pytest.fixture
def ledger(db) -> Ledger:
    return arrange(db)


async def pay(client, session, settings, ledger, dwelling, invoice, method, key, phone=None):
    return await client.post(
        f"/invoices/{invoice}/pay",
        json={"method": method, "phone": phone or ledger.phones[dwelling]},
        headers={
            "Idempotency-Key": f"test-key-{key}",
            **(await as_user(session, settings, ledger.users[dwelling]))["headers"],
        },
    )


async def poll(settings):
    engine = make_async_engine(settings)
    try:
        return await payments.poll_pending(
            engine,
            clients=make_provider_clients(settings.payments),
            settings=settings.payments,
            now=clock.now() + timedelta(minutes=1),
        )
    finally:
        await engine.dispose()


class TestPayNow:
    async def test_a_double_click_asks_once_and_the_poll_settles_it(
        self, admin_client, session, settings, ledger, providers
    ):
        invoice = ledger.invoice("A1", net=12_500)
        auth = await as_user(session, settings, ledger.users["A1"])
        options = await admin_client.get(f"/invoices/{invoice}/pay", **auth)
        assert options.json() == [
            {"method": "orange_money", "operator": "Orange Money"},
            {"method": "mtn_momo", "operator": "MTN MoMo"},
        ]
        answers = await asyncio.gather(
            *(
                pay(admin_client, session, settings, ledger, "A1", invoice, "mtn_momo", "click-1")
                for _ in range(3)
            )
        )
        assert [a.status_code for a in answers] == [202] * 3, [a.text for a in answers]
        payment = answers[0].json()["payment"]
        assert {a.json()["payment"]["id"] for a in answers} == {payment["id"]}
        assert (payment["status"], payment["amount_minor"]) == ("pending", 12_500)
        assert list(providers.asked) == [payment["reference"]]
        asked = providers.asked[payment["reference"]]
        assert asked.prefix == "/momo"
        assert asked.body["amount"] == "12500"
        assert asked.body["payer"] == {"partyIdType": "MSISDN", "partyId": "237670000000"}
        assert asked.callback_url is None  # no public URL configured: the poll job confirms

        providers.settle(payment["reference"], "SUCCESSFUL", "MTN-1")
        assert (await poll(settings)).succeeded == 1
        assert ledger.invoice_row(invoice) == ("paid", 12_500)
        receipt = await admin_client.get(f"/payments/{payment['id']}/receipt", **auth)
        assert receipt.status_code == 200, receipt.text
        body = receipt.json()
        assert body["payment"]["status"] == "succeeded"
        assert body["payment"]["provider_ref"] == "MTN-1"
        assert [(i["invoice_id"], i["amount_minor"], i["status"]) for i in body["invoices"]] == [
            (invoice, 12_500, "paid")
        ]
        assert (body["owed_minor"], body["credit_minor"]) == (0, 0)
        # A new click after it is paid: nothing to pay.
        again = await pay(
            admin_client, session, settings, ledger, "A1", invoice, "mtn_momo", "c-2x"
        )
        assert again.status_code == 409, again.text
        assert again.json()["error"] == "NothingToPay"

    async def test_papua_new_guinea_pays_with_its_own_operator_in_kina(
        self, admin_client, session, settings, ledger, providers
    ):
        ledger.add_png_home()
        invoice = ledger.invoice("P1", net=3_137)
        auth = await as_user(session, settings, ledger.users["P1"])
        options = await admin_client.get(f"/invoices/{invoice}/pay", **auth)
        assert options.json() == [{"method": "cellmoni", "operator": "CellMoni"}]
        refused = await pay(
            admin_client, session, settings, ledger, "P1", invoice, "mtn_momo", "k-1"
        )
        assert refused.status_code == 422, refused.text
        assert "mtn_momo is not a way to pay now in PG (offered there: CellMoni)" in refused.text
        # A national number is read as Papua New Guinea's.
        answer = await pay(
            admin_client, session, settings, ledger, "P1", invoice, "cellmoni", "k-2", "7012 3456"
        )
        assert answer.status_code == 202, answer.text
        assert answer.json()["operator"] == "CellMoni"
        reference = answer.json()["payment"]["reference"]
        asked = providers.asked[reference]
        assert asked.prefix == "/cellmoni"
        assert (asked.body["amount"], asked.body["currency"]) == ("31.37", "PGK")
        assert asked.body["payer"]["partyId"] == "67570123456"
        providers.settle(reference, "SUCCESSFUL")
        assert (await poll(settings)).succeeded == 1
        assert ledger.invoice_row(invoice) == ("paid", 3_137)

    async def test_orange_money_sends_the_payer_to_its_page(
        self, admin_client, session, settings, ledger, providers
    ):
        invoice = ledger.invoice("A2", net=900)
        answer = await pay(
            admin_client, session, settings, ledger, "A2", invoice, "orange_money", "om-key-1"
        )
        assert answer.status_code == 202, answer.text
        assert answer.json()["finish_url"].startswith(providers.base_url + "/orange/pay/")
        reference = answer.json()["payment"]["reference"]
        assert providers.asked[reference].body["amount"] == 900

    async def test_a_provider_that_does_not_answer_fails_the_payment(
        self, admin_client, session, settings, ledger, providers, db
    ):
        invoice = ledger.invoice("A1", net=500)
        providers.fail_with = 503
        answer = await pay(
            admin_client, session, settings, ledger, "A1", invoice, "mtn_momo", "k-503"
        )
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "ProviderUnavailable"
        assert db.execute("SELECT status::text FROM payment").fetchall() == [("failed",)]
        assert ledger.invoice_row(invoice) == ("issued", 0)

    async def test_keys_and_invoices_stay_their_owners(
        self, admin_client, session, settings, ledger
    ):
        mine = ledger.invoice("A1", net=500)
        other = ledger.invoice("A1", net=700, period="2026-09")
        theirs = ledger.invoice("A2", net=800)
        first = await pay(admin_client, session, settings, ledger, "A1", mine, "mtn_momo", "k-own")
        assert first.status_code == 202, first.text
        reused = await pay(
            admin_client, session, settings, ledger, "A1", other, "mtn_momo", "k-own"
        )
        assert reused.status_code == 409
        assert reused.json()["error"] == "IdempotencyKeyReused"
        stranger = await pay(
            admin_client, session, settings, ledger, "A1", theirs, "mtn_momo", "k-x1"
        )
        assert stranger.status_code == 404
        bad_phone = await pay(
            admin_client, session, settings, ledger, "A1", mine, "mtn_momo", "k-ph1", "12"
        )
        assert bad_phone.status_code == 422
        assert bad_phone.json()["detail"][0]["type"] == "phone.invalid"
        no_key = await admin_client.post(
            f"/invoices/{mine}/pay",
            json={"method": "mtn_momo", "phone": ledger.phones["A1"]},
            **(await as_user(session, settings, ledger.users["A1"])),
        )
        assert no_key.status_code == 422
