"""Tariff versions: administrators add them (audited); every signed-in user may read them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from accounts.models import User
from accounts.permissions import Permission
from api.auth.deps import ClientIp
from api.auth.guards import require
from api.deps import SessionDep
from api.errors import error_responses
from billing.tariffs import service as tariff_service
from billing.tariffs.exceptions import (
    InvalidTariff,
    TariffMissing,
    TariffNotFound,
    TariffVersionExists,
    UnknownZone,
)
from billing.tariffs.pricing import compute_invoice
from billing.tariffs.schemas import QuoteIn, QuoteOut, TariffIn, TariffOut
from core import audit
from core.orm import MAX_ID

router = APIRouter(
    prefix="/tariffs",
    tags=["tariffs"],
    dependencies=[require(Permission.TARIFFS_READ)],
    responses=error_responses(401, 403),
)

TariffId = Annotated[int, Path(ge=1, le=MAX_ID)]
ZoneId = Annotated[int, Query(ge=1, le=MAX_ID)]


def _error(exc: type[Exception]) -> dict[str, str]:
    """OpenAPI text for an error response: ``{"error": "<class>", "detail": "<message>"}``."""
    return {"description": f'{{"error": "{exc.__name__}", "detail": "..."}}'}


@router.post(
    "",
    response_model=TariffOut,
    status_code=status.HTTP_201_CREATED,
    responses={409: _error(TariffVersionExists), 422: _error(InvalidTariff)},
)
async def create_tariff(
    body: TariffIn,
    session: SessionDep,
    user: Annotated[User, require(Permission.TARIFFS_WRITE)],
    ip: ClientIp,
) -> TariffOut:
    """Add a tariff version (administrators): every broken rule is listed in the 422."""
    version = await tariff_service.create_tariff_version(
        session,
        draft=body.draft(),
        created_by=user.id,
        at=datetime.now(UTC),
        allow_backdated=body.allow_backdated,
    )
    out = TariffOut.from_version(version)
    await audit.record(
        session,
        action=audit.AuditAction.TARIFF_CHANGED,
        actor_id=user.id,
        ip=ip,
        target_type="tariff",
        target_id=out.id,
        detail={
            "country_code": out.country_code,
            "zone_id": out.zone_id,
            "effective_from": out.effective_from.isoformat(),
        },
    )
    return out


@router.get("", response_model=list[TariffOut])
async def list_tariffs(
    session: SessionDep,
    country_code: Annotated[str, Query(min_length=2, max_length=2)],
    zone_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[TariffOut]:
    """A country's (or one zone's) versions, newest first."""
    versions = await tariff_service.list_tariff_versions(
        session, country_code=country_code.upper(), zone_id=zone_id
    )
    return [TariffOut.from_version(v) for v in versions]


@router.get(
    "/in-force",
    response_model=TariffOut,
    responses={404: _error(UnknownZone), 409: _error(TariffMissing)},
)
async def tariff_in_force(
    session: SessionDep, zone_id: ZoneId, on: date | None = None
) -> TariffOut:
    """The version pricing a zone's consumption on a date (by default today, in the zone's
    country)."""
    version = await tariff_service.tariff_in_force(
        session, zone_id=zone_id, on=on or datetime.now(UTC)
    )
    return TariffOut.from_version(version)


@router.get("/{tariff_id}", response_model=TariffOut, responses={404: _error(TariffNotFound)})
async def get_tariff(tariff_id: TariffId, session: SessionDep) -> TariffOut:
    """One tariff version."""
    return TariffOut.from_version(
        await tariff_service.get_tariff_version(session, tariff_id=tariff_id)
    )


@router.post("/{tariff_id}/quote", response_model=QuoteOut, responses={404: _error(TariffNotFound)})
async def quote(tariff_id: TariffId, body: QuoteIn, session: SessionDep) -> QuoteOut:
    """What a volume over a period would cost under this version, line by line."""
    version = await tariff_service.get_tariff_version(session, tariff_id=tariff_id)
    computation = compute_invoice(
        tariff_service.as_tariff(version),
        volume_l=body.volume_l,
        period_days=body.period_days,
        dwelling_type=body.dwelling_type,
        vacant=body.vacant,
    )
    return QuoteOut.from_computation(computation)
