"""A meter's outlook: expected daily consumption for the coming days (analytics' forecast) and
what its next invoice will probably cost.

The next invoice is taken to cover the current local calendar month (monthly billing): its
volume is what the meter used from the 1st to yesterday (daily rollups) plus the forecast from
today to the month's end, priced by ``billing.tariffs.pricing.compute_invoice`` under the tariff
in force for the dwelling's zone today. The forecast's interval gives a low and a high estimate
the same way. It prices this meter's consumption alone (a dwelling with two meters gets two
estimates). Billing reads analytics here, never the other way round.
"""

from __future__ import annotations

import asyncio
import calendar
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from psycopg_pool import ConnectionPool
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.anomalies.repository import ScanRepository
from analytics.forecast import service
from analytics.forecast.service import DailyForecast
from analytics.telemetry.repository import TelemetryRepository
from billing.invoices.repository import InvoiceRepository
from billing.tariffs import service as tariff_service
from billing.tariffs.exceptions import TariffMissing
from billing.tariffs.models import TariffVersion
from billing.tariffs.pricing import InvoiceComputation, compute_invoice
from registry.exceptions import MeterNotFound
from registry.models import Dwelling, Meter, Occupancy

HORIZON_DAYS = 30


@dataclass(frozen=True)
class InvoiceEstimate:
    period_start: date
    period_end: date
    consumed_l: int  # from the 1st to yesterday, measured
    tariff_id: int
    expected: InvoiceComputation
    low: InvoiceComputation
    high: InvoiceComputation


@dataclass(frozen=True)
class MeterOutlook:
    meter_id: int
    timezone: str
    forecast: DailyForecast
    invoice: InvoiceEstimate | None
    # Why there is no invoice estimate, in words (no dwelling, no tariff in force).
    invoice_unavailable: str | None


@dataclass(frozen=True)
class _Consumption:
    forecast: DailyForecast
    consumed_l: int


def _month(today: date) -> tuple[date, date]:
    last = calendar.monthrange(today.year, today.month)[1]
    return today.replace(day=1), today.replace(day=last)


def _consumption(pool: ConnectionPool, *, meter_id: int, today: date) -> _Consumption:
    """Forecast (long enough to reach the month's end) and the month's measured days."""
    start, end = _month(today)
    with pool.connection() as conn:
        forecast = service.forecast(
            conn,
            meter_id=meter_id,
            today=today,
            horizon_days=max(HORIZON_DAYS, (end - today).days + 1),
        )
        days = ScanRepository(conn).daily_volumes([meter_id], since=start, until=today)
    return _Consumption(forecast=forecast, consumed_l=sum(d.volume_l for d in days))


def _trim(forecast: DailyForecast, days: int) -> DailyForecast:
    return DailyForecast(
        meter_id=forecast.meter_id,
        first_day=forecast.first_day,
        expected_l=forecast.expected_l[:days],
        lower_l=forecast.lower_l[:days],
        upper_l=forecast.upper_l[:days],
        coverage=forecast.coverage,
    )


async def meter_outlook(
    session: AsyncSession,
    *,
    meter: Meter,
    pool: ConnectionPool,
    default_country: str,
    now: datetime,
) -> MeterOutlook:
    """Forecast and invoice estimate of one meter, days cut in its local time zone; the
    analytics reads borrow a connection from ``pool``.

    Raises:
        MeterNotFound: the meter was deleted meanwhile.
        NotEnoughHistory: too few days of consumption to forecast from.
    """
    zone = await TelemetryRepository(session).meter_timezone(
        meter_id=meter.id, default_country=default_country
    )
    if zone is None:
        raise MeterNotFound(f"meter {meter.id} does not exist")
    today = now.astimezone(ZoneInfo(zone)).date()
    # The model is numpy work and the analytics reads are synchronous psycopg: off the loop.
    measured = await asyncio.to_thread(_consumption, pool, meter_id=meter.id, today=today)
    forecast = _trim(measured.forecast, HORIZON_DAYS)
    invoice: InvoiceEstimate | None = None
    unavailable: str | None = None
    place = None
    if meter.dwelling_id is not None:
        place = await InvoiceRepository(session).dwelling_and_zone(meter.dwelling_id)
    if place is None:
        unavailable = f"meter {meter.id} is not on a dwelling: no tariff applies"
    else:
        dwelling, zone_id = place
        try:
            version = await tariff_service.tariff_in_force(session, zone_id=zone_id, on=today)
        except TariffMissing as exc:
            unavailable = exc.message
        else:
            invoice = _estimate(
                version,
                measured,
                today=today,
                dwelling=dwelling,
            )
    return MeterOutlook(
        meter_id=meter.id,
        timezone=zone,
        forecast=forecast,
        invoice=invoice,
        invoice_unavailable=unavailable,
    )


def _estimate(
    version: TariffVersion, measured: _Consumption, *, today: date, dwelling: Dwelling
) -> InvoiceEstimate:
    start, end = _month(today)
    remaining = (end - today).days + 1
    forecast = measured.forecast
    tariff = tariff_service.as_tariff(version)

    def priced(days: list[int]) -> InvoiceComputation:
        return compute_invoice(
            tariff,
            volume_l=measured.consumed_l + sum(max(0, v) for v in days[:remaining]),
            period_days=(end - start).days + 1,
            dwelling_type=dwelling.dwelling_type,
            vacant=dwelling.occupancy is Occupancy.VACANT,
        )

    return InvoiceEstimate(
        period_start=start,
        period_end=end,
        consumed_l=measured.consumed_l,
        tariff_id=version.id,
        expected=priced(forecast.expected_l),
        low=priced(forecast.lower_l),
        high=priced(forecast.upper_l),
    )
