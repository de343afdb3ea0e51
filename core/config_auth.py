"""The ``auth`` section of ``core.config.Settings``: tokens, phone numbers, passwords, SMS codes
and the rate limits of the auth endpoints (docs/security.md)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class PhoneValidation(StrEnum):
    """How strictly phone numbers are checked (see core.phone)."""

    STRICT = "strict"
    LENIENT = "lenient"


class AuthSettings(BaseModel):
    access_token_minutes: int = Field(15, ge=1, description="Lifetime of an access token.")
    refresh_token_days: int = Field(7, ge=1, description="Lifetime of a refresh token.")
    cookie_secure: bool = Field(
        True,
        description="Mark the web app's refresh-token cookie `Secure` (sent over HTTPS only);"
        " false only for plain-http development and tests (refused in production).",
    )
    refresh_reuse_grace_s: int = Field(
        10,
        ge=0,
        description="A refresh cookie rotated less than this long ago is honoured once more"
        " (two tabs, or a page left mid-refresh, race for it); 0: any reuse revokes the family.",
    )
    phone_validation: PhoneValidation = Field(
        PhoneValidation.STRICT,
        description="`strict`: a valid mobile number for its country; `lenient`: 9-15 digits.",
    )
    password_min_score: int = Field(
        2,
        ge=0,
        le=4,
        description="Weakest password accepted, as a zxcvbn score (0-4): 2 refuses the common"
        " passwords and those guessed in under about 10^6 tries.",
    )
    code_ttl_s: int = Field(600, ge=30, description="How long an SMS code stays valid.")
    code_max_attempts: int = Field(5, ge=1, description="Wrong tries before an SMS code dies.")
    code_cooldown_s: int = Field(60, ge=0, description="Shortest time between two SMS to a number.")
    code_daily_quota: int = Field(
        5, ge=1, description="SMS codes one client address may have sent to one number per day."
    )
    code_number_daily_cap: int = Field(
        10,
        ge=1,
        description="SMS codes one number gets per day from all addresses together, counted"
        " since its owner last signed in; addresses the owner signed in from are exempt.",
    )
    code_requester_daily_cap: int = Field(
        50,
        ge=1,
        description="SMS codes one client address may have sent per day to all numbers (SMS"
        " pumping); carrier NAT puts many phones behind one address, so not too low.",
    )
    throttle_window_s: int = Field(
        60, ge=1, description="Sliding window of the auth rate limits (the last N seconds)."
    )
    throttle_login: int = Field(15, ge=1, description="Logins per window, per IP and per phone.")
    throttle_register: int = Field(10, ge=1, description="Sign-ups per window, per IP and phone.")
    throttle_activate: int = Field(20, ge=1, description="Activations per window, per IP/phone.")
    throttle_resend: int = Field(5, ge=1, description="Code resends per window, per IP and phone.")
    throttle_other: int = Field(
        30, ge=1, description="Other auth calls (refresh, logout, reset) per window."
    )
    redis_url: str | None = Field(
        None, description="Redis for rate limits shared by several API processes; none: memory."
    )
