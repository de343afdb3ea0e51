"""One SMS outbox: alerts and billing notices hand their messages to ``sms_outbox``.

Past alert and billing SMS move into the outbox with their outcome (a failed one still being
retried is queued again), and the domain rows point at their outbox row.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-24 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("queued", "sent", "failed", "cancelled")


def upgrade() -> None:
    op.create_table(
        "sms_outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("dedup_key", sa.String(length=120), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*STATUSES, name="outbox_status"),
            server_default="queued",
            nullable=False,
        ),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_sms_outbox_user_id_app_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_outbox")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_sms_outbox_dedup_key")),
    )
    op.create_index(
        "ix_sms_outbox_due",
        "sms_outbox",
        ["next_attempt_at"],
        postgresql_where=sa.text("next_attempt_at IS NOT NULL"),
    )
    op.create_index("ix_sms_outbox_user_id", "sms_outbox", ["user_id"])
    for table in ("alert_delivery", "billing_notice"):
        op.add_column(table, sa.Column("outbox_id", sa.BigInteger(), nullable=True))
        op.create_foreign_key(
            op.f(f"fk_{table}_outbox_id_sms_outbox"), table, "sms_outbox", ["outbox_id"], ["id"]
        )
    _move_alerts()
    _move_billing_notices()


def _move_alerts() -> None:
    # Sent and failed alerts carry their outcome into the outbox; queued and deferred ones are
    # still the alert job's decision and reach the outbox when it takes them.
    op.execute(
        """
        INSERT INTO sms_outbox (user_id, phone, language, kind, text, dedup_key, status,
                                attempts, next_attempt_at, provider_id, last_error,
                                created_at, sent_at)
        SELECT d.user_id, u.phone, u.language::text, 'alert', d.text,
               'alert:' || d.incident_id || ':' || d.user_id,
               (CASE WHEN d.status = 'sent' THEN 'sent'
                     WHEN d.next_attempt_at IS NOT NULL THEN 'queued'
                     ELSE 'failed' END)::outbox_status,
               d.attempts, d.next_attempt_at, d.provider_id, d.error, d.created_at, d.sent_at
        FROM alert_delivery d JOIN app_user u ON u.id = d.user_id
        WHERE d.status IN ('sent', 'failed') AND u.phone IS NOT NULL
        """
    )
    op.execute(
        """
        UPDATE alert_delivery d
        SET outbox_id = o.id, status = 'sent', next_attempt_at = NULL, error = NULL,
            sent_at = coalesce(d.sent_at, d.updated_at)
        FROM sms_outbox o
        WHERE o.dedup_key = 'alert:' || d.incident_id || ':' || d.user_id
        """
    )
    op.execute(
        "UPDATE alert_delivery SET status = 'cancelled', next_attempt_at = NULL,"
        " error = 'the account is inactive, erased or has no phone' WHERE status = 'failed'"
    )
    op.drop_column("alert_delivery", "attempts")
    op.drop_column("alert_delivery", "provider_id")


def _move_billing_notices() -> None:
    # A claim whose send never reported was never resent before: it stays unsent (cancelled).
    op.execute(
        """
        INSERT INTO sms_outbox (user_id, phone, language, kind, text, dedup_key, status,
                                attempts, next_attempt_at, provider_id, last_error,
                                created_at, sent_at)
        SELECT u.id, n.phone, coalesce(u.language::text, 'en'), n.kind::text, n.text,
               'billing_notice:' || n.kind || ':' || n.subject_id,
               (CASE n.status WHEN 'sent' THEN 'sent' WHEN 'failed' THEN 'queued'
                     ELSE 'cancelled' END)::outbox_status,
               n.attempts, CASE WHEN n.status = 'failed' THEN now() END, n.provider_id,
               CASE WHEN n.status = 'claimed' THEN 'claimed before the outbox, outcome unknown'
               END,
               n.claimed_at, n.sent_at
        FROM billing_notice n LEFT JOIN app_user u ON u.phone = n.phone
        WHERE n.phone IS NOT NULL AND n.status <> 'no_recipient'
        """
    )
    op.execute(
        """
        UPDATE billing_notice n SET outbox_id = o.id, status = 'claimed'
        FROM sms_outbox o WHERE o.dedup_key = 'billing_notice:' || n.kind || ':' || n.subject_id
        """
    )
    for column in ("phone", "text", "provider_id", "attempts", "sent_at"):
        op.drop_column("billing_notice", column)


def downgrade() -> None:
    op.add_column("billing_notice", sa.Column("phone", sa.String(length=16), nullable=True))
    op.add_column("billing_notice", sa.Column("text", sa.Text(), server_default="", nullable=False))
    op.add_column("billing_notice", sa.Column("provider_id", sa.String(length=64), nullable=True))
    op.add_column(
        "billing_notice",
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
    )
    op.add_column("billing_notice", sa.Column("sent_at", sa.DateTime(timezone=True)))
    op.execute(
        """
        UPDATE billing_notice n
        SET phone = o.phone, text = o.text, provider_id = o.provider_id, attempts = o.attempts,
            sent_at = o.sent_at,
            status = (CASE o.status WHEN 'sent' THEN 'sent' WHEN 'queued' THEN 'failed'
                      WHEN 'failed' THEN 'failed' ELSE 'claimed' END)::notice_status
        FROM sms_outbox o WHERE o.id = n.outbox_id
        """
    )
    op.add_column(
        "alert_delivery",
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
    )
    op.add_column("alert_delivery", sa.Column("provider_id", sa.String(length=64), nullable=True))
    op.execute(
        """
        UPDATE alert_delivery d
        SET attempts = o.attempts, provider_id = o.provider_id, error = o.last_error,
            next_attempt_at = o.next_attempt_at,
            status = (CASE o.status WHEN 'sent' THEN 'sent' WHEN 'cancelled' THEN 'cancelled'
                      ELSE 'failed' END)::alert_status
        FROM sms_outbox o WHERE o.id = d.outbox_id
        """
    )
    for table in ("alert_delivery", "billing_notice"):
        op.drop_constraint(op.f(f"fk_{table}_outbox_id_sms_outbox"), table, type_="foreignkey")
        op.drop_column(table, "outbox_id")
    op.drop_index("ix_sms_outbox_user_id", table_name="sms_outbox")
    op.drop_index("ix_sms_outbox_due", table_name="sms_outbox")
    op.drop_table("sms_outbox")
    sa.Enum(name="outbox_status").drop(op.get_bind())
