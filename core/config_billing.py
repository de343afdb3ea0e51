"""The billing sections of ``core.config.Settings``: payments, accounting export, invoices."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class ChannelKind(StrEnum):
    MOBILE_MONEY = "mobile_money"
    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"
    CARD = "card"


class PaymentChannel(BaseModel):
    """One way to pay in a country, as its customers know it."""

    kind: ChannelKind
    operator: str = Field(
        "", max_length=40, description="A proper name (Orange Money, CellMoni); empty: the kind."
    )
    detail: str = Field(
        "", max_length=120, description="Merchant number, account, or where to pay."
    )
    provider: Literal["orange_money", "mtn_momo", "cellmoni"] | None = Field(
        None,
        description="The provider API that collects a mobile money payment with this operator"
        " (customers can 'pay now' from the portal); none: paid outside WaterBill.",
    )


class UtilityIdentity(BaseModel):
    """Who bills, and how to pay them, in one country: never another country's operators."""

    name: str = Field(min_length=1, max_length=80)
    address: str = Field("", description="Lines split on |.")
    tax_id: str = Field("", description="Tax registration (NIU in Cameroon, TIN in PNG).")
    support_phone: str = ""
    channels: list[PaymentChannel] = Field(default_factory=list, max_length=8)


# Examples a deployment replaces (WATERBILL_BILLING__UTILITIES): each country's own operators.
DEFAULT_UTILITIES = {
    "CM": UtilityIdentity(
        name="WaterBill Cameroun",
        channels=[
            PaymentChannel(
                kind=ChannelKind.MOBILE_MONEY, operator="Orange Money", provider="orange_money"
            ),
            PaymentChannel(kind=ChannelKind.MOBILE_MONEY, operator="MTN MoMo", provider="mtn_momo"),
            PaymentChannel(kind=ChannelKind.BANK_TRANSFER),
            PaymentChannel(kind=ChannelKind.CASH),
        ],
    ),
    "PG": UtilityIdentity(
        name="WaterBill PNG",
        channels=[
            PaymentChannel(kind=ChannelKind.MOBILE_MONEY, operator="CellMoni", provider="cellmoni"),
            PaymentChannel(kind=ChannelKind.BANK_TRANSFER),
            PaymentChannel(kind=ChannelKind.CASH),
        ],
    ),
    "FR": UtilityIdentity(
        name="WaterBill France",
        channels=[
            PaymentChannel(kind=ChannelKind.BANK_TRANSFER),
            PaymentChannel(kind=ChannelKind.CARD),
        ],
    ),
}


class PaymentsSettings(BaseModel):
    card_webhook_secret: SecretStr = Field(
        SecretStr(""), description="Card acquirer's webhook signing secret (HMAC-SHA256)."
    )
    orange_money_webhook_secret: SecretStr = Field(
        SecretStr(""), description="Orange Money callback shared secret (HMAC-SHA256)."
    )
    mtn_momo_webhook_secret: SecretStr = Field(
        SecretStr(""), description="MTN MoMo callback shared secret (HMAC-SHA256)."
    )
    cellmoni_webhook_secret: SecretStr = Field(
        SecretStr(""), description="CellMoni (Papua New Guinea) callback shared secret."
    )
    webhook_tolerance_s: int = Field(
        300, ge=1, description="Card webhooks signed longer ago than this are refused (replays)."
    )
    orange_money_url: str | None = Field(
        None,
        description="Orange Money API base URL (web payment, status polls); none: neither.",
    )
    orange_money_token: SecretStr = Field(SecretStr(""), description="Orange Money API token.")
    mtn_momo_url: str | None = Field(
        None,
        description="MTN MoMo collection API base URL (request to pay, status polls); none:"
        " neither.",
    )
    mtn_momo_token: SecretStr = Field(SecretStr(""), description="MTN MoMo API token.")
    mtn_momo_subscription_key: SecretStr = Field(
        SecretStr(""), description="MTN MoMo Ocp-Apim-Subscription-Key."
    )
    cellmoni_url: str | None = Field(
        None,
        description="CellMoni collection API base URL (the MoMo API shape): request to pay and"
        " status polls; none: no portal payment or polling with CellMoni.",
    )
    cellmoni_token: SecretStr = Field(SecretStr(""), description="CellMoni API token.")
    callback_base_url: str | None = Field(
        None,
        description="This API's public URL, given to providers for their callbacks"
        " (`<url>/payments/webhooks/<provider>`); none: no callback, the poll job confirms.",
    )
    poll_after_s: int = Field(
        120, ge=0, description="A pending mobile money payment is polled once it is this old."
    )
    poll_give_up_h: int = Field(
        48, ge=1, description="Pending payments older than this are marked failed (expired)."
    )
    reminder_days: int = Field(
        7, ge=1, description="The payment reminder SMS goes this many days before the due date."
    )


class AccountingSettings(BaseModel):
    receivable_account: str = Field("411000", description="Customer receivables account code.")
    revenue_account: str = Field("706000", description="Water sales revenue account code.")
    vat_account: str = Field("445710", description="VAT collected account code.")
    penalty_account: str = Field("763000", description="Late penalty income account code.")
    cash_account: str = Field("530000", description="Cash (agents) account code.")
    bank_account: str = Field("512000", description="Bank account code (transfers, card).")
    mobile_money_account: str = Field(
        "517000", description="Mobile money (Orange Money, MTN MoMo) clearing account code."
    )
    journal_sales: str = Field("VT", description="Sales journal code (invoices).")
    journal_receipts: str = Field("BQ", description="Receipts journal code (payments).")


class BillingSettings(BaseModel):
    grace_days: int = Field(
        5,
        ge=0,
        description="Days after a period ends when late readings still reach its drafts;"
        " `bill issue` waits for them.",
    )
    payment_days: int = Field(15, ge=0, description="Days from an invoice's issue to its due date.")
    utilities: dict[str, UtilityIdentity] = Field(
        default_factory=lambda: dict(DEFAULT_UTILITIES),
        description="Per country (ISO code, JSON): the utility's name, address, tax id, support"
        " phone and the ways customers pay there, printed on invoices and in billing SMS"
        " (see the billing page).",
    )

    def utility(self, country_code: str) -> UtilityIdentity:
        """The identity invoices and SMS of ``country_code`` carry (a bare name if unset)."""
        return self.utilities.get(country_code) or UtilityIdentity(name="WaterBill")
