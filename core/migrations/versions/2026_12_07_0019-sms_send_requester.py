"""SMS code requests remember the client address that asked, so that a stranger spends only their
own share of a number's daily codes (issue 14, hole 5).

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-07 18:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sms_send_log", sa.Column("requester", postgresql.INET()))
    # A requester's daily budget across numbers reads "this address's sends since t".
    op.create_index("ix_sms_send_log_requester_sent", "sms_send_log", ["requester", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_sms_send_log_requester_sent", table_name="sms_send_log")
    op.drop_column("sms_send_log", "requester")
