"""Pay now in a real browser: a Papua New Guinea customer pays an invoice by mobile money (their
country's CellMoni, against the local fake provider) and sees it paid with a receipt, in Tok
Pisin; the provider's signed callback settles it."""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
import pytest
from playwright.async_api import Page, expect
from pydantic import SecretStr

from core.config import Settings
from core.config_billing import PaymentsSettings
from tests.payment_provider_fake import FakeProviders
from tests.web.conftest import LiveServer, api_token, screenshots, sign_in
from tests.web.test_portal import fcfa

pytestmark = [pytest.mark.services, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


@pytest.fixture
def providers():
    fake = FakeProviders(secrets={"/cellmoni": "cellmoni-secret"}).start()
    yield fake
    fake.stop()


@pytest.fixture
def settings(settings: Settings, providers: FakeProviders) -> Settings:
    return settings.model_copy(
        update={
            "payments": PaymentsSettings(
                mtn_momo_url=providers.base_url + "/momo",
                orange_money_url=providers.base_url + "/orange",
                cellmoni_url=providers.base_url + "/cellmoni",
                cellmoni_webhook_secret=SecretStr("cellmoni-secret"),
            )
        }
    )


def with_callbacks(live_server: LiveServer) -> None:
    """Providers call the live server back: its URL is known once it listens."""
    settings: Settings = live_server.app.state.settings
    payments = settings.payments.model_copy(update={"callback_base_url": live_server.url})
    live_server.app.state.settings = settings.model_copy(update={"payments": payments})


class TestPayNow:
    async def test_a_png_customer_pays_by_cellmoni_and_sees_the_receipt_in_tok_pisin(
        self, page: Page, make_user, estate, live_server: LiveServer, providers, db
    ):
        with_callbacks(live_server)
        customer = make_user("customer", language="tpi")
        home = estate.home(
            customer, reference="POM-7", country="PG", timezone="Pacific/Port_Moresby"
        )
        invoice = estate.invoice(
            home,
            customer,
            number="PG-2026-000301",
            total_minor=3_137,
            issue_date=date(2026, 11, 2),
            due_date=date(2026, 11, 30),
            country="PG",
            currency="PGK",
        )
        await sign_in(page, customer, expect_path="/portal")
        await page.context.add_cookies(
            [{"name": "wb_lang", "value": "tpi", "url": live_server.url}]
        )
        await page.goto("/portal/invoices")
        await expect(page.locator("#summary")).to_contain_text("K31.37")
        await page.get_by_role("button", name="Peim bil PG-2026-000301 nau").click()
        panel = page.locator("#pay-panel")
        await expect(panel.locator("h2")).to_have_text("Peim bil PG-2026-000301: K31.37")
        # Papua New Guinea's own operator only: never Cameroon's.
        await expect(panel.locator("#pay-method option")).to_have_text(["CellMoni"])
        await panel.get_by_label("Namba bilong mobail mani").fill("12")
        await panel.get_by_role("button", name="Askim peimen").click()
        await expect(panel.locator("#pay-phone-error")).to_contain_text(
            "Dispela namba bilong fon i no stret"
        )
        await screenshots(page, "portal-pay-form-tpi")
        # A national number, read as Papua New Guinea's; a double click asks the provider once.
        await panel.get_by_label("Namba bilong mobail mani").fill("7012 3456")
        await panel.get_by_role("button", name="Askim peimen").dblclick()
        await expect(panel).to_contain_text(
            "Orait long peimen bilong K31.37 long fon bilong yu (CellMoni)."
        )
        await expect(panel).not_to_contain_text("null")
        assert len(providers.asked) == 1
        (reference, asked), *_ = providers.asked.items()
        assert asked.prefix == "/cellmoni"
        assert (asked.body["amount"], asked.body["currency"]) == ("31.37", "PGK")
        assert asked.body["payer"]["partyId"] == "67570123456"
        assert asked.callback_url == f"{live_server.url}/payments/webhooks/cellmoni"
        await screenshots(page, "portal-pay-waiting-tpi")

        # The payer approves on their phone; CellMoni calls back.
        assert await asyncio.to_thread(providers.settle, reference, "SUCCESSFUL", "CM-88") == 200
        await expect(panel.locator("h2")).to_have_text(f"Risit bilong peimen {reference}")
        await expect(panel).to_contain_text("Mipela kisim pe: K31.37")
        await expect(panel).to_contain_text("Bil PG-2026-000301: K31.37")
        await expect(panel).to_contain_text("Yu pe pinis olgeta bil.")
        row = page.locator("#invoices tbody tr")
        await expect(row).to_contain_text("Pe pinis")
        await expect(row.get_by_role("button", name="Peim bil PG-2026-000301 nau")).to_have_count(0)
        payment = page.locator("#payments tbody tr")
        await expect(payment).to_have_count(1)
        await expect(payment).to_contain_text("CellMoni")
        await expect(payment).to_contain_text("Kisim pinis")
        await screenshots(page, "portal-pay-receipt-tpi")
        stored = db.execute(
            "SELECT p.status::text, p.provider_ref, i.status::text FROM payment p"
            " JOIN payment_allocation a ON a.payment_id = p.id"
            " JOIN invoice i ON i.id = a.invoice_id WHERE i.id = %s",
            [invoice],
        ).fetchall()
        assert stored == [("succeeded", "CM-88", "paid")]

    async def test_an_overpayment_is_credit_on_the_receipt_in_french(
        self, page: Page, make_user, estate, live_server: LiveServer
    ):
        customer = make_user("customer", language="fr")
        home = estate.home(customer, reference="DLA-3")
        estate.invoice(
            home,
            customer,
            number="CM-2026-000401",
            total_minor=10_000,
            issue_date=date(2026, 11, 2),
            due_date=date(2026, 11, 30),
        )
        paid = httpx.post(
            f"{live_server.url}/payments",
            json={"dwelling_id": home.dwelling_id, "method": "cash", "amount": "12500"},
            headers=api_token(live_server, make_user("admin")),
        )
        assert paid.status_code == 201, paid.text
        reference = paid.json()["reference"]
        await sign_in(page, customer, expect_path="/portal")
        await page.context.add_cookies([{"name": "wb_lang", "value": "fr", "url": live_server.url}])
        await page.goto("/portal/invoices")
        await page.get_by_role("button", name=f"Reçu du paiement {reference}").click()
        panel = page.locator("#pay-panel")
        await expect(panel).to_contain_text(f"Paiement reçu : {fcfa(12_500, 'fr')}")
        await expect(panel).to_contain_text(f"Facture CM-2026-000401 : {fcfa(10_000, 'fr')}")
        await expect(panel).to_contain_text("Toutes vos factures sont réglées.")
        await expect(panel).to_contain_text(
            f"Avoir pour votre prochaine facture : {fcfa(2_500, 'fr')}"
        )
        await screenshots(page, "portal-receipt-credit-fr")
