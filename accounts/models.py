"""Accounts' tables: users, their SMS codes and send log, and refresh tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column

from core.countries import Language
from core.orm import Base, pg_enum


class Role(StrEnum):
    CUSTOMER = "customer"
    MANAGER = "manager"
    TECHNICIAN = "technician"
    ADMIN = "admin"


class CodePurpose(StrEnum):
    ACTIVATION = "activation"
    PASSWORD_RESET = "password_reset"


class User(Base):
    """A person who signs in by phone. Erasure blanks the personal fields and keeps the row, so
    invoices and payments still point at someone for their legal retention.

    States: awaiting activation (signed up, code not yet entered: inactive, never deactivated),
    active, deactivated by an admin (``deactivated_at``), erased (``erased_at``). Only the first
    may be activated by an SMS code; the others come back only through an admin.
    """

    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint("deactivated_at IS NULL OR NOT is_active", name="deactivated_is_inactive"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    # E.164; NULL once erased (UNIQUE allows many NULLs).
    phone: Mapped[str | None] = mapped_column(String(16), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    language: Mapped[Language] = mapped_column(pg_enum(Language, "language"))
    role: Mapped[Role] = mapped_column(
        pg_enum(Role, "user_role"), server_default=Role.CUSTOMER.value
    )
    is_active: Mapped[bool] = mapped_column(Boolean, server_default="false")
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Carried by every access token and compared on each request (the user row is read anyway):
    # a bump ends all the user's access tokens at once, at no extra query.
    token_version: Mapped[int] = mapped_column(Integer, server_default="0", default=0)

    @property
    def awaiting_activation(self) -> bool:
        """Signed up and not yet activated: the one state an SMS code may activate."""
        return not self.is_active and self.deactivated_at is None and self.erased_at is None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class SmsCode(Base):
    """A one-time code sent by SMS, kept only as an HMAC under the server key."""

    __tablename__ = "sms_code"
    __table_args__ = (
        # "The live code of this user for this purpose": newest first.
        Index("ix_sms_code_user_purpose_created", "user_id", "purpose", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    purpose: Mapped[CodePurpose] = mapped_column(pg_enum(CodePurpose, "code_purpose"))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SmsSendLog(Base):
    """Every code SMS asked for a number, sent or withheld, for the cooldown and daily quota.

    Withheld requests (unknown numbers) are logged too, so the answers look the same whether a
    number is registered or not.
    """

    __tablename__ = "sms_send_log"
    __table_args__ = (
        # Cooldown and quotas both read "this number's sends since t".
        Index("ix_sms_send_log_phone_sent", "phone", "sent_at"),
        # A requester's daily budget across numbers reads "this address's sends since t".
        Index("ix_sms_send_log_requester_sent", "requester", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    phone: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[CodePurpose] = mapped_column(pg_enum(CodePurpose, "code_purpose"))
    delivered: Mapped[bool] = mapped_column(Boolean)
    # The client address that asked: a stranger spends their own share of a number's codes.
    requester: Mapped[str | None] = mapped_column(INET)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RefreshToken(Base):
    """An issued refresh token; rotation revokes it, and reuse of a revoked one kills its family."""

    __tablename__ = "refresh_token"
    __table_args__ = (
        # Reuse detection revokes a whole family at once.
        Index("ix_refresh_token_family", "family"),
        # Logout everywhere / erasure revokes a user's tokens.
        Index("ix_refresh_token_user_id", "user_id"),
    )

    jti: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    family: Mapped[UUID] = mapped_column(Uuid)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
