"""Phone numbers: whatever people type, stored as E.164 (``+237658552294``).

National-format input is read with the deployment's default country, international input with or
without ``+``/``00``. Two levels (``Settings.auth.phone_validation``): ``strict`` wants a number
libphonenumber knows as a valid mobile of its country; ``lenient`` is the original spec's rule
(9-15 digits, ``+`` added; 10 bare digits are a North American number).
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from core.config_auth import PhoneValidation
from core.exceptions import InvalidInput

# Separators people type between digit groups; anything else left over is an error.
_SEPARATORS = re.compile(r"[\s\-().\u00a0/]")
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


class InvalidPhoneNumber(InvalidInput):
    """``code`` names the reason (``phone.empty``, ``phone.characters``, ``phone.length``,
    ``phone.invalid``, ``phone.not_mobile``): pages show their own translation of it."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def normalise_phone(raw: str, *, default_country: str, level: PhoneValidation) -> str:
    """The E.164 form of ``raw``.

    Raises:
        InvalidPhoneNumber: saying what is wrong with the number.
    """
    compact = _SEPARATORS.sub("", raw.strip())
    if not compact:
        raise InvalidPhoneNumber("phone number is empty", "phone.empty")
    international = compact.startswith(("+", "00"))
    digits = compact[1:] if compact.startswith("+") else compact
    if international and compact.startswith("00"):
        digits = compact[2:]
    if not digits.isdigit():
        raise InvalidPhoneNumber(
            f"phone number {raw!r} may hold only digits, spaces, dashes, brackets and a leading +",
            "phone.characters",
        )
    if level is PhoneValidation.LENIENT:
        return _lenient(digits, international=international)
    return _strict(digits, international=international, default_country=default_country)


def _lenient(digits: str, *, international: bool) -> str:
    if not 9 <= len(digits) <= 15:
        raise InvalidPhoneNumber(
            f"phone number must have 9 to 15 digits, not {len(digits)}", "phone.length"
        )
    if len(digits) == 10 and not international:
        # The original spec reads ten bare digits as a North American number (+1).
        return "+1" + digits
    return "+" + digits


def _strict(digits: str, *, international: bool, default_country: str) -> str:
    candidates = ["+" + digits] if international else [digits, "+" + digits]
    found: phonenumbers.PhoneNumber | None = None
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, default_country.upper())
        except NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            found = number
            break
    if found is None:
        where = "" if international else f" (read as a {default_country.upper()} number too)"
        raise InvalidPhoneNumber(
            f"{'+' + digits} is not a valid phone number{where}", "phone.invalid"
        )
    if phonenumbers.number_type(found) not in _MOBILE_TYPES:
        raise InvalidPhoneNumber(
            f"{phonenumbers.format_number(found, PhoneNumberFormat.E164)} is not a mobile number:"
            " SMS codes need one",
            "phone.not_mobile",
        )
    return phonenumbers.format_number(found, PhoneNumberFormat.E164)


def mask_phone(phone: str) -> str:
    """``+675****1234``: enough to tell numbers apart in a log, not to call or identify them."""
    if len(phone) < 10:
        return phone[:2] + "****"
    return f"{phone[:4]}****{phone[-4:]}"
