"""Request and response bodies of the auth endpoints."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from api.auth import passwords
from core.config import Settings
from core.models import CodePurpose, Language
from core.phone import InvalidPhoneNumber, normalise_phone

PhoneIn = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        description="Mobile number, national (deployment country) or international.",
        examples=["+237658552294"],
    ),
]
Password = Annotated[str, Field(min_length=passwords.MIN_LENGTH, max_length=passwords.MAX_LENGTH)]
Code = Annotated[str, Field(pattern=r"^[0-9]{6}$", description="The 6-digit code sent by SMS.")]
Name = Annotated[str, Field(min_length=1, max_length=100)]


class RegisterIn(BaseModel):
    phone: PhoneIn
    first_name: Name
    last_name: Name
    password: Password
    language: Language = Language.EN


class ActivateIn(BaseModel):
    phone: PhoneIn
    code: Code


class ResendCodeIn(BaseModel):
    phone: PhoneIn
    purpose: CodePurpose = CodePurpose.ACTIVATION


class LoginIn(BaseModel):
    phone: PhoneIn
    password: Annotated[str, Field(min_length=1, max_length=passwords.MAX_LENGTH)]


class RefreshIn(BaseModel):
    refresh_token: Annotated[str, Field(min_length=1, max_length=4096)]


class PasswordResetRequestIn(BaseModel):
    phone: PhoneIn


class PasswordResetConfirmIn(BaseModel):
    phone: PhoneIn
    code: Code
    new_password: Password


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the access token lives.")


class AcceptedOut(BaseModel):
    detail: str


def parse_phone(raw: str, *, settings: Settings, field: str = "phone") -> str:
    """E.164 form of a phone in a request body; a bad one is a 422 on that field."""
    try:
        return normalise_phone(
            raw, default_country=settings.default_country, level=settings.auth.phone_validation
        )
    except InvalidPhoneNumber as exc:
        raise RequestValidationError(
            [{"loc": ("body", field), "msg": exc.message, "type": "value_error", "input": raw}]
        ) from None
