"""The billing sections of ``core.config.Settings``: payments, accounting export, invoices."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


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
    webhook_tolerance_s: int = Field(
        300, ge=1, description="Card webhooks signed longer ago than this are refused (replays)."
    )
    orange_money_url: str | None = Field(
        None, description="Orange Money API base URL for status polls; none: no polling."
    )
    orange_money_token: SecretStr = Field(SecretStr(""), description="Orange Money API token.")
    mtn_momo_url: str | None = Field(
        None, description="MTN MoMo collection API base URL for status polls; none: no polling."
    )
    mtn_momo_token: SecretStr = Field(SecretStr(""), description="MTN MoMo API token.")
    mtn_momo_subscription_key: SecretStr = Field(
        SecretStr(""), description="MTN MoMo Ocp-Apim-Subscription-Key."
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
    utility_name: str = Field("WaterBill Utility", description="Utility name printed on invoices.")
    utility_address: str = Field("", description="Utility address on invoices (lines split on |).")
    utility_tax_id: str = Field("", description="Utility tax registration (NIU, TIN) on invoices.")
    orange_money: str = Field("", description="Orange Money merchant number on invoices.")
    mtn_momo: str = Field("", description="MTN MoMo merchant number on invoices.")
    bank_transfer: str = Field("", description="Bank account (IBAN/RIB) on invoices.")
    cash_agents: str = Field("", description="Where to pay cash, printed on invoices.")
