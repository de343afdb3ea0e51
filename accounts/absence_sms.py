"""Holiday mode by SMS: a customer texts ``AWAY 2026-12-20 2027-01-05`` (or ``BACK``) and
gets the answer in their language.

Lives with accounts because the sender is a person found by phone; the absence rules are the
registry's (``registry.absences.service``), the same as the portal's.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import scope
from accounts.models import Role
from accounts.service import find_user_by_phone
from core.config_analytics import OccupancySettings
from core.countries import Language
from registry.absences import keywords
from registry.absences import service as absences
from registry.absences.exceptions import InvalidAbsence
from registry.absences.models import AbsenceSource
from registry.models import Dwelling

# GSM-7 only: each reply is one SMS segment or close to it.
REPLIES: dict[str, dict[Language, str]] = {
    "away": {
        Language.EN: "WaterBill: noted, {ref} is empty from {start} to {end}. No alerts for zero"
        " use meanwhile. Text BACK if you return early.",
        Language.FR: "WaterBill: note, {ref} est vide du {start} au {end}. Pas d'alerte pour"
        " conso nulle. Envoyez RETOUR si vous rentrez plus tot.",
        Language.TPI: "WaterBill: orait, {ref} i stap nating kirap {start} i go {end}. Salim"
        " KAMBEK sapos yu kam bek kwik.",
    },
    "back": {
        Language.EN: "WaterBill: welcome home. Holiday mode is off for {ref}.",
        Language.FR: "WaterBill: bon retour. Le mode absence est arrete pour {ref}.",
        Language.TPI: "WaterBill: welkam bek. Holide mod i pinis long {ref}.",
    },
    "help": {
        Language.EN: "WaterBill: to declare an absence text AWAY 2026-12-20 2027-01-05 (leave,"
        " return), or AWAY 2027-01-05 from today. BACK ends it.",
        Language.FR: "WaterBill: pour declarer une absence envoyez ABSENT 20/12/2026 05/01/2027"
        " (depart, retour). RETOUR y met fin.",
        Language.TPI: "WaterBill: long tokaut yu go lusim haus, salim HOLIDE 20/12/2026"
        " 05/01/2027 (go, kam bek). KAMBEK i pinisim.",
    },
    "dwellings": {
        Language.EN: "WaterBill: you hold {n} homes with us; please declare the absence on the"
        " customer portal, home by home.",
        Language.FR: "WaterBill: vous avez {n} logements chez nous; declarez l'absence sur le"
        " portail client, logement par logement.",
        Language.TPI: "WaterBill: yu gat {n} haus wantaim mipela; plis raitim long portal,"
        " wanpela wanpela haus.",
    },
    "order": {
        Language.EN: "WaterBill: the return date is before the departure. Text AWAY <leave>"
        " <return>, e.g. AWAY 2026-12-20 2027-01-05.",
        Language.FR: "WaterBill: la date de retour precede le depart. Envoyez ABSENT <depart>"
        " <retour>, ex. ABSENT 20/12/2026 05/01/2027.",
        Language.TPI: "WaterBill: de bilong kam bek i stap paslain long de bilong go. Salim"
        " HOLIDE <go> <kam bek>.",
    },
    "past": {
        Language.EN: "WaterBill: that absence starts in the past; give today or a later date.",
        Language.FR: "WaterBill: cette absence commence dans le passe; donnez aujourd'hui ou"
        " une date future.",
        Language.TPI: "WaterBill: de yu givim i pinis pinis; givim de bilong tede o bihain.",
    },
    "too_long": {
        Language.EN: "WaterBill: an absence lasts at most {max_days} days. Please send shorter"
        " dates or call us.",
        Language.FR: "WaterBill: une absence dure au plus {max_days} jours. Envoyez des dates"
        " plus proches ou appelez-nous.",
        Language.TPI: "WaterBill: yu ken lusim haus inap {max_days} de tasol. Salim sotpela"
        " taim o singautim mipela.",
    },
    "too_far": {
        Language.EN: "WaterBill: an absence may start at most {max_ahead} days ahead.",
        Language.FR: "WaterBill: une absence commence au plus dans {max_ahead} jours.",
        Language.TPI: "WaterBill: yu ken tokaut long {max_ahead} de tasol paslain.",
    },
}


def reply(name: str, language: Language, **params: object) -> str:
    return REPLIES[name][language].format(**params)


async def handle_text(
    session: AsyncSession,
    *,
    phone: str,
    body: str,
    now: datetime,
    default_country: str,
    options: OccupancySettings,
) -> str | None:
    """The reply to an inbound SMS, or None when the sender is no active customer (unknown
    numbers get no answer: a reply costs money and tells a stranger the number is ours)."""
    user = await find_user_by_phone(session, phone=phone)
    if user is None or not user.is_active or user.role is not Role.CUSTOMER:
        return None
    command = keywords.parse(body)
    language = user.language
    if isinstance(command, keywords.Unreadable):
        return reply("help", language)
    held = scope.occupied_at(user.id, Dwelling.id, literal(now))
    homes = list(await session.scalars(select(Dwelling).where(held).order_by(Dwelling.id)))
    if len(homes) != 1:
        return reply("dwellings", language, n=len(homes)) if homes else None
    home = homes[0]
    if isinstance(command, keywords.Back):
        for absence in await absences.list_current(
            session, dwelling_id=home.id, now=now, default_country=default_country
        ):
            await absences.cancel(session, dwelling_id=home.id, absence_id=absence.id, now=now)
        return reply("back", language, ref=home.reference)
    today = await absences.local_today(
        session, dwelling_id=home.id, now=now, default_country=default_country
    )
    start = command.from_date or today
    try:
        await absences.declare(
            session,
            dwelling_id=home.id,
            from_date=start,
            to_date=command.to_date,
            source=AbsenceSource.SMS,
            declared_by=user.id,
            now=now,
            default_country=default_country,
            max_days=options.max_absence_days,
            max_ahead_days=options.max_ahead_days,
        )
    except InvalidAbsence as refused:
        return reply(
            refused.rule,
            language,
            max_days=options.max_absence_days,
            max_ahead=options.max_ahead_days,
        )
    return reply("away", language, ref=home.reference, start=_day(start), end=_day(command.to_date))


def _day(value: date) -> str:
    return value.strftime("%d/%m/%Y")
