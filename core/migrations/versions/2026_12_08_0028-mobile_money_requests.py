"""Mobile money started from the portal: the customer's idempotency key on a payment, PNG's
CellMoni as a payment method, and a check the SMS sender runs before a message goes out
(``sms_outbox.send_check``: a reminder for an invoice paid meanwhile is dropped).

Revision ID: 0028
Revises: 0024
Create Date: 2026-12-08 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TYPE payment_method ADD VALUE IF NOT EXISTS 'cellmoni'")
    op.add_column("payment", sa.Column("idempotency_key", sa.String(64)))
    # A double click sends the same key twice: the second insert finds the first payment.
    op.create_index(
        "uq_payment_idempotency_key",
        "payment",
        ["idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.add_column("sms_outbox", sa.Column("send_check", sa.String(32)))
    op.add_column("sms_outbox", sa.Column("send_check_id", sa.BigInteger()))


def downgrade() -> None:
    op.drop_column("sms_outbox", "send_check_id")
    op.drop_column("sms_outbox", "send_check")
    op.drop_index("uq_payment_idempotency_key", table_name="payment")
    op.drop_column("payment", "idempotency_key")
    # PostgreSQL cannot drop an enum value; 'cellmoni' stays, unused.
