"""Sending SMS: one small provider interface, a Twilio provider and a console one (the demo).

Domains never call a provider: they queue messages in the outbox (``core.notifications``),
whose ``drain`` is the one caller of ``SmsProvider.send``::

    text = render_message(MessageKind.ACTIVATION_CODE, Language.FR, code="123456", minutes=10)
    provider = make_sms_provider(settings)

Templates are keyed by message kind and language and stay within the GSM-7 alphabet (no curly
quotes, no circumflex), so one message is one 160-character segment, not a 70-character UCS-2 one.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from core.config import Environment, Settings, SmsProviderName, SmsSettings
from core.countries import Language
from core.exceptions import NotAuthenticated, Unavailable
from core.phone import mask_phone

logger = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"
# The GSM 03.38 basic character set (plus space and newline): text in it costs 7 bits a char.
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


class MessageKind(StrEnum):
    ACTIVATION_CODE = "activation_code"
    PASSWORD_RESET_CODE = "password_reset_code"
    ALREADY_REGISTERED = "already_registered"


TEMPLATES: dict[MessageKind, dict[Language, str]] = {
    MessageKind.ACTIVATION_CODE: {
        Language.EN: "Your WaterBill code is {code}. It expires in {minutes} minutes.",
        Language.FR: "Votre code WaterBill est {code}. Il expire dans {minutes} minutes.",
        Language.TPI: "Namba kod bilong WaterBill em {code}. Em bai pinis long {minutes} minit.",
    },
    MessageKind.PASSWORD_RESET_CODE: {
        Language.EN: "WaterBill password reset code: {code}. Valid {minutes} minutes."
        " Ignore this if you did not ask for it.",
        Language.FR: "Code WaterBill pour changer le mot de passe: {code}. Valable {minutes}"
        " minutes. Ignorez ce message si vous ne l'avez pas demande.",
        Language.TPI: "WaterBill kod bilong senisim paswot: {code}. Em gutpela {minutes} minit."
        " Sapos yu no askim, lusim tasol.",
    },
    MessageKind.ALREADY_REGISTERED: {
        Language.EN: "Someone tried to sign up to WaterBill with your number, which already has"
        " an account. Forgot your password? Use password reset.",
        Language.FR: "Quelqu'un a voulu creer un compte WaterBill avec votre numero, qui en a"
        " deja un. Mot de passe oublie? Utilisez la reinitialisation.",
        Language.TPI: "Wanpela i traim long rejista long WaterBill wantaim namba bilong yu, na"
        " yu gat akaun pinis. Yu lusim paswot? Yusim paswot riset.",
    },
}


def render_message(kind: MessageKind, language: Language, **params: Any) -> str:
    """The text of a message in ``language``, English when that language has no template."""
    templates = TEMPLATES[kind]
    return templates.get(language, templates[Language.EN]).format(**params)


def is_gsm7(text: str) -> bool:
    return set(text) <= GSM7_BASIC


class SmsSignatureInvalid(NotAuthenticated):
    """An inbound SMS webhook not signed by our Twilio account."""


def verify_twilio_signature(
    settings: SmsSettings, *, url: str, params: dict[str, str], signature: str
) -> None:
    """Raise ``SmsSignatureInvalid`` unless ``signature`` is Twilio's HMAC of ``url`` and the
    form ``params`` under our auth token (Ref: https://www.twilio.com/docs/usage/security)."""
    from twilio.request_validator import RequestValidator

    token = settings.twilio_auth_token.get_secret_value()
    if not token:
        raise SmsSignatureInvalid("inbound SMS are refused: no Twilio auth token is configured")
    if not signature:
        raise SmsSignatureInvalid("missing X-Twilio-Signature header")
    if not RequestValidator(token).validate(url, params, signature):
        raise SmsSignatureInvalid("X-Twilio-Signature does not match the request")


class SmsDeliveryFailed(Unavailable):
    pass


class SmsProvider(Protocol):
    def send(self, to_e164: str, text: str) -> str:
        """Hand one message to the carrier; returns the provider's message id."""
        ...


@dataclass(frozen=True)
class SentSms:
    to: str
    text: str


class ConsoleSmsProvider:
    """Logs messages instead of sending them; keeps the latest ones for the demo's outbox.

    Their text (codes included) reaches the log only with ``log_text``: in development.
    """

    def __init__(self, keep: int = 1000, *, log_text: bool = False) -> None:
        self.outbox: deque[SentSms] = deque(maxlen=keep)
        self._log_text = log_text

    def send(self, to_e164: str, text: str) -> str:
        self.outbox.append(SentSms(to=to_e164, text=text))
        if self._log_text:
            logger.info("SMS to %s: %s", to_e164, text)
        else:
            logger.info("SMS to %s (%d characters)", mask_phone(to_e164), len(text))
        return f"console-{len(self.outbox)}"


class TwilioSmsProvider:
    """Sends through Twilio's Messages API with the official client."""

    def __init__(self, settings: SmsSettings) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        base_url = settings.twilio_base_url

        class _RedirectingHttpClient(TwilioHttpClient):  # type: ignore[misc]
            """Points the client at another base URL (a local fake in tests)."""

            def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
                if base_url and url.startswith(TWILIO_API):
                    url = base_url.rstrip("/") + url[len(TWILIO_API) :]
                return super().request(method, url, *args, **kwargs)

        self._from = settings.from_number
        self._client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            http_client=_RedirectingHttpClient(timeout=10),
        )

    def send(self, to_e164: str, text: str) -> str:
        from twilio.base.exceptions import TwilioException

        try:
            message = self._client.messages.create(to=to_e164, from_=self._from, body=text)
        except (TwilioException, OSError) as exc:
            # Twilio's messages may quote the number: mask it there too.
            reason = str(exc).replace(to_e164, mask_phone(to_e164))
            logger.warning("Twilio refused an SMS to %s: %s", mask_phone(to_e164), reason)
            raise SmsDeliveryFailed("the SMS could not be sent; try again later") from exc
        return str(message.sid)


def make_sms_provider(settings: Settings) -> SmsProvider:
    if settings.sms.provider is SmsProviderName.TWILIO:
        return TwilioSmsProvider(settings.sms)
    return ConsoleSmsProvider(log_text=settings.environment is Environment.DEVELOPMENT)
