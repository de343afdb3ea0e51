"""Account state: a deactivated account is told apart from one awaiting activation, and a
token version ends a user's access tokens at once.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-24 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("app_user", sa.Column("deactivated_at", sa.DateTime(timezone=True)))
    op.add_column(
        "app_user",
        sa.Column("token_version", sa.Integer(), server_default="0", nullable=False),
    )
    # Inactive accounts that were once in use (signed in, activated or made by staff) were
    # deactivated by an admin; the others are sign-ups still waiting for their code.
    op.execute(
        """
        UPDATE app_user SET deactivated_at = updated_at
        WHERE NOT is_active AND erased_at IS NULL AND (
            last_login_at IS NOT NULL
            OR id::text IN (
                SELECT target_id FROM audit_log
                WHERE target_type = 'user' AND action IN ('user.activated', 'user.created')
            )
        )
        """
    )
    op.create_check_constraint(
        op.f("ck_app_user_deactivated_is_inactive"),
        "app_user",
        "deactivated_at IS NULL OR NOT is_active",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_app_user_deactivated_is_inactive"), "app_user", type_="check")
    op.drop_column("app_user", "token_version")
    op.drop_column("app_user", "deactivated_at")
