"""Billing SMS name the ways to pay of the invoice's country, in GSM-7, within one SMS."""

from datetime import date
from types import SimpleNamespace

import pytest

from billing.payments.models import NoticeKind
from billing.payments.notices import render_notice
from core.config_billing import BillingSettings, ChannelKind, PaymentChannel, UtilityIdentity
from core.countries import Language
from core.sms import is_gsm7

ROW = SimpleNamespace(
    number="PG-2027-000123",
    amount_minor=3137,
    currency="PGK",
    due_date=date(2027, 3, 3),
    # A MoMo payment's reference is a UUID: the longest a receipt carries.
    reference="0f8fad5b-d9cb-469f-a165-70867728950e",
    balance_minor=0,
    credit_minor=12_345_678,
)


@pytest.mark.parametrize("kind", [NoticeKind.INVOICE_ISSUED, NoticeKind.DUE_REMINDER])
def test_a_papua_new_guinea_invoice_names_png_operators_never_cameroons(kind):
    text = render_notice(kind, "tpi", ROW, BillingSettings().utility("PG"))
    assert text.endswith("Pe long CellMoni, beng, kes long ejen.")
    assert "Orange" not in text
    assert "MTN" not in text


def test_the_operators_come_from_the_countrys_configuration():
    utility = UtilityIdentity(
        name="Eda Ranu",
        channels=[
            PaymentChannel(kind=ChannelKind.MOBILE_MONEY, operator="MiCash"),
            PaymentChannel(kind=ChannelKind.CARD),
        ],
    )
    settings = BillingSettings(utilities={"PG": utility})
    text = render_notice(NoticeKind.INVOICE_ISSUED, "en", ROW, settings.utility("PG"))
    assert text.endswith("Pay by MiCash, card.")


@pytest.mark.parametrize("country", ["CM", "PG", "FR"])
@pytest.mark.parametrize("kind", list(NoticeKind))
@pytest.mark.parametrize("language", list(Language))
def test_every_notice_fits_one_gsm7_sms(country, kind, language):
    text = render_notice(kind, language.value, ROW, BillingSettings().utility(country))
    assert is_gsm7(text), text
    assert len(text) <= 160, text


def test_a_receipt_names_the_credit_an_overpayment_left():
    utility = BillingSettings().utility("PG")
    text = render_notice(NoticeKind.PAYMENT_RECEIVED, "tpi", ROW, utility)
    assert text.endswith("Moni i stap yet: K0.00. Moni bilong nekis bil: K123,456.78.")
    paid_exactly = SimpleNamespace(**{**ROW.__dict__, "credit_minor": 0})
    text = render_notice(NoticeKind.PAYMENT_RECEIVED, "en", paid_exactly, utility)
    assert text.endswith("Still due: K0.00.")
