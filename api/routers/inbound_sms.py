"""Inbound SMS (Twilio's webhook): holiday mode by keyword, answered with TwiML.

Public like the payment webhooks: Twilio authenticates by ``X-Twilio-Signature`` over the URL
and the form fields, checked here before anything is read. The reply goes back in the webhook's
answer (``<Message>``), so Twilio sends it at once from the number that was texted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request
from fastapi.responses import Response

from accounts import absence_sms
from api.deps import SessionDep, SettingsDep
from api.errors import error_responses
from core.sms import verify_twilio_signature

router = APIRouter(prefix="/sms", tags=["sms"])


@router.post(
    "/inbound",
    response_class=Response,
    responses={
        200: {"content": {"application/xml": {}}, "description": "TwiML with the reply."},
        **error_responses(401),
    },
)
async def inbound_sms(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """A customer's SMS to our number (``AWAY <from> <to>``, ``BACK``): signature checked."""
    form = await request.form()
    params = {key: value for key, value in form.items() if isinstance(value, str)}
    verify_twilio_signature(
        settings.sms,
        url=settings.sms.inbound_url or str(request.url),
        params=params,
        signature=request.headers.get("X-Twilio-Signature", ""),
    )
    text = await absence_sms.handle_text(
        session,
        phone=params.get("From", ""),
        body=params.get("Body", ""),
        now=datetime.now(UTC),
        default_country=settings.default_country,
        options=settings.occupancy,
    )
    message = "" if text is None else f"<Message>{escape(text)}</Message>"
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{message}</Response>',
        media_type="application/xml",
    )
