"""Request and response bodies of sign-up, sign-in and user management."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from accounts import passwords
from accounts.models import CodePurpose, Role
from core.countries import Language

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
    refresh_token: str | None = Field(
        description="The refresh token for API clients; null in the web app's flow"
        " (`X-WaterBill-Session: cookie`), where it travels only in the HttpOnly cookie."
    )
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the access token lives.")


class AcceptedOut(BaseModel):
    detail: str


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    phone: str | None
    first_name: str
    last_name: str
    full_name: str
    language: Language
    role: Role
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None
    erased_at: datetime | None
    deactivated_at: datetime | None = Field(
        description="Set when an admin deactivated the account; only an admin reactivates it."
    )


class UserIn(BaseModel):
    phone: PhoneIn
    first_name: Name
    last_name: Name
    password: Password
    language: Language = Language.EN
    role: Role = Role.CUSTOMER


class ProfilePatch(BaseModel):
    first_name: Name | None = None
    last_name: Name | None = None
    language: Language | None = None


class UserPatch(ProfilePatch):
    role: Role | None = None
    is_active: bool | None = None


class ErasureIn(BaseModel):
    password: Annotated[str, Field(min_length=1, max_length=128)]
