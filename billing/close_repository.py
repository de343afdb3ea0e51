"""All SQL of a period close: boundary indexes from the hourly rollups, holds, invoice upserts.

Set-based throughout: one statement reads every meter of the run (opening and closing index,
flags, reasons to hold), and each write is one statement over arrays (``unnest``), whatever the
number of dwellings. Python only prices each dwelling with ``billing.tariffs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# A boundary is a local midnight, so it is a local hour boundary of ``meter_hourly``: the row
# starting exactly there holds the index at the boundary (``start_interpolated`` when no reading
# fell on it). A meter installed within the period opens at its initial index; one removed
# within it closes at the end of its last hour. Reasons to hold are read in the same pass.
_METERS = """
WITH dw AS (
    SELECT d.id AS dwelling_id, d.dwelling_type::text AS dwelling_type,
           d.occupancy = 'vacant' AS vacant, z.id AS zone_id, z.country_code, c.currency,
           coalesce(z.timezone, c.timezone) AS tz
    FROM dwelling d
    JOIN building b ON b.id = d.building_id
    JOIN zone z ON z.id = b.zone_id
    JOIN country c ON c.code = z.country_code
    WHERE CAST(:zones AS int[]) IS NULL OR z.id = ANY(CAST(:zones AS int[]))
),
bounds AS (
    SELECT dw.*, CAST(:start AS date)::timestamp AT TIME ZONE dw.tz AS p0,
           (CAST(:end AS date) + 1)::timestamp AT TIME ZONE dw.tz AS p1
    FROM dw
),
seg AS (
    SELECT b.*, m.id AS meter_id, m.serial, m.installed_at, m.removed_at, m.initial_index_l,
           power(10::numeric, m.register_digits)::bigint AS modulus,
           m.installed_at >= b.p0 AS installed_in,
           coalesce(m.removed_at <= b.p1, false) AS removed_in
    FROM bounds b
    JOIN meter m ON m.dwelling_id = b.dwelling_id
    WHERE m.installed_at < b.p1 AND (m.removed_at IS NULL OR m.removed_at > b.p0)
)
SELECT s.dwelling_id, s.dwelling_type, s.vacant, s.zone_id, s.country_code, s.currency,
       s.meter_id, s.modulus,
       CASE WHEN s.installed_in THEN s.installed_at ELSE s.p0 END AS opening_at,
       CASE WHEN s.installed_in THEN s.initial_index_l ELSE h0.start_index_l END AS opening_index,
       CASE WHEN s.installed_in THEN false ELSE h0.start_interpolated END AS opening_estimated,
       CASE WHEN s.removed_in THEN s.removed_at ELSE s.p1 END AS closing_at,
       CASE WHEN s.removed_in THEN hr.end_index_l ELSE h1.start_index_l END AS closing_index,
       CASE WHEN s.removed_in THEN hr.end_interpolated ELSE h1.start_interpolated END
           AS closing_estimated,
       EXISTS (
           SELECT 1 FROM meter_daily md
           WHERE md.meter_id = s.meter_id AND md.day BETWEEN CAST(:start AS date)
                 AND CAST(:end AS date) AND md.negative_step
       ) AS negative_step,
       EXISTS (
           -- A tamper alarm during the period makes the register untrustworthy for it, even
           -- once resolved; an operator's 'closed' (a false alarm) does not.
           SELECT 1 FROM incident i
           WHERE i.meter_id = s.meter_id AND i.kind = 'tamper' AND i.status <> 'closed'
                 AND i.started_at < s.p1 AND (i.ended_at IS NULL OR i.ended_at > s.p0)
       ) AS tamper,
       EXISTS (
           SELECT 1 FROM rollup_pending rp WHERE rp.meter_id = s.meter_id AND rp.since < s.p1
       ) AS rollup_pending
FROM seg s
LEFT JOIN meter_hourly h0
    ON NOT s.installed_in AND h0.meter_id = s.meter_id AND h0.hour_start = s.p0
LEFT JOIN meter_hourly h1
    ON NOT s.removed_in AND h1.meter_id = s.meter_id AND h1.hour_start = s.p1
LEFT JOIN LATERAL (
    SELECT h.end_index_l, h.end_interpolated FROM meter_hourly h
    WHERE s.removed_in AND h.meter_id = s.meter_id AND h.hour_start < s.removed_at
          AND h.hour_start >= greatest(s.p0, s.installed_at) - interval '1 hour'
    ORDER BY h.hour_start DESC LIMIT 1
) hr ON true
ORDER BY s.dwelling_id, opening_at
"""

# The occupant billed: a tenant on the period's last day, else an owner; latest start first.
_CUSTOMER = """
LEFT JOIN LATERAL (
    SELECT o.user_id FROM dwelling_occupant o
    WHERE o.dwelling_id = u.dwelling_id AND o.start_date <= CAST(:end AS date)
          AND (o.end_date IS NULL OR o.end_date >= CAST(:end AS date))
    ORDER BY o.relation = 'tenant' DESC, o.start_date DESC, o.id DESC LIMIT 1
) occ ON true
"""

_UPSERT_INVOICES = f"""
INSERT INTO invoice (kind, period_id, dwelling_id, customer_id, country_code, currency,
                     tariff_id, dwelling_type, period_days, volume_l, estimated,
                     net_minor, vat_minor, total_minor)
SELECT CAST(u.kind AS invoice_kind), :period_id, u.dwelling_id, occ.user_id, u.country_code,
       u.currency, u.tariff_id, CAST(u.dwelling_type AS dwelling_type), :days, u.volume_l,
       u.estimated, u.net, u.vat, u.net + u.vat
FROM unnest(CAST(:dwelling_ids AS int[]), CAST(:kinds AS text[]),
            CAST(:countries AS text[]), CAST(:currencies AS text[]), CAST(:tariffs AS int[]),
            CAST(:types AS text[]), CAST(:volumes AS bigint[]), CAST(:estimated AS bool[]),
            CAST(:nets AS bigint[]), CAST(:vats AS bigint[]))
     AS u(dwelling_id, kind, country_code, currency, tariff_id, dwelling_type, volume_l,
          estimated, net, vat)
{_CUSTOMER}
ON CONFLICT (dwelling_id, period_id) WHERE kind <> 'regularisation' AND status <> 'void'
DO UPDATE SET kind = EXCLUDED.kind, customer_id = EXCLUDED.customer_id,
              tariff_id = EXCLUDED.tariff_id, dwelling_type = EXCLUDED.dwelling_type,
              period_days = EXCLUDED.period_days, volume_l = EXCLUDED.volume_l,
              estimated = EXCLUDED.estimated, net_minor = EXCLUDED.net_minor,
              vat_minor = EXCLUDED.vat_minor, total_minor = EXCLUDED.total_minor,
              computed_at = now()
    WHERE invoice.status = 'draft'
RETURNING id, dwelling_id
"""

_INSERT_LINES = """
INSERT INTO invoice_line (invoice_id, position, kind, amount_minor, block, lower_l, upper_l,
                          volume_l, unit_price, vat_pct)
SELECT * FROM unnest(CAST(:invoice_ids AS bigint[]), CAST(:positions AS smallint[]),
                     CAST(:kinds AS text[]), CAST(:amounts AS bigint[]),
                     CAST(:blocks AS smallint[]), CAST(:lowers AS bigint[]),
                     CAST(:uppers AS bigint[]), CAST(:volumes AS bigint[]),
                     CAST(:prices AS numeric[]), CAST(:vat_pcts AS numeric[]))
"""

_INSERT_METERS = """
INSERT INTO invoice_meter (invoice_id, meter_id, opening_at, opening_index_l, opening_estimated,
                           closing_at, closing_index_l, closing_estimated, volume_l)
SELECT * FROM unnest(CAST(:invoice_ids AS bigint[]), CAST(:meter_ids AS int[]),
                     CAST(:opening_at AS timestamptz[]), CAST(:opening_index AS bigint[]),
                     CAST(:opening_estimated AS bool[]), CAST(:closing_at AS timestamptz[]),
                     CAST(:closing_index AS bigint[]), CAST(:closing_estimated AS bool[]),
                     CAST(:volumes AS bigint[]))
"""

_UPSERT_HOLDS = """
INSERT INTO billing_hold (period_id, dwelling_id, meter_id, reason, detail)
SELECT :period_id, u.dwelling_id, u.meter_id, CAST(u.reason AS hold_reason), u.detail
FROM unnest(CAST(:dwelling_ids AS int[]), CAST(:meter_ids AS int[]), CAST(:reasons AS text[]),
            CAST(:details AS text[])) AS u(dwelling_id, meter_id, reason, detail)
ON CONFLICT (period_id, dwelling_id, reason) DO UPDATE
    SET meter_id = EXCLUDED.meter_id, detail = EXCLUDED.detail,
        -- A hold the close lifted itself comes back with its cause; an admin's release stays.
        released_at = CASE WHEN billing_hold.released_by IS NULL THEN NULL
                           ELSE billing_hold.released_at END
"""

# Holds of dwellings this run evaluated whose cause is gone are lifted (not deleted: the
# review trail stays).
_LIFT_HOLDS = """
UPDATE billing_hold h SET released_at = now()
WHERE h.period_id = :period_id AND h.released_at IS NULL
  AND h.dwelling_id = ANY(CAST(:evaluated AS int[]))
  AND NOT EXISTS (
      SELECT 1 FROM unnest(CAST(:dwelling_ids AS int[]), CAST(:reasons AS text[])) c(d, r)
      WHERE c.d = h.dwelling_id AND c.r = h.reason::text
  )
"""

_BILLED = """
SELECT i.dwelling_id, l.kind, l.block, sum(l.amount_minor)::bigint AS amount_minor,
       sum(l.volume_l)::bigint AS volume_l, max(l.lower_l) AS lower_l, max(l.upper_l) AS upper_l,
       max(l.unit_price) AS unit_price, max(l.vat_pct) AS vat_pct
FROM invoice i JOIN invoice_line l ON l.invoice_id = i.id
WHERE i.period_id = :period_id AND i.dwelling_id = ANY(CAST(:dwelling_ids AS int[]))
  AND i.status NOT IN ('draft', 'void')
GROUP BY i.dwelling_id, l.kind, l.block
"""


@dataclass(frozen=True)
class MeterBoundary:
    """One meter of one dwelling over the period, as the close reads it."""

    dwelling_id: int
    dwelling_type: str
    vacant: bool
    zone_id: int
    country_code: str
    currency: str
    meter_id: int
    modulus: int
    opening_at: datetime
    opening_index: int | None
    opening_estimated: bool | None
    closing_at: datetime
    closing_index: int | None
    closing_estimated: bool | None
    negative_step: bool
    tamper: bool
    rollup_pending: bool


@dataclass(frozen=True)
class BilledLine:
    """What issued documents already charge for one line key (kind, block) of a dwelling."""

    dwelling_id: int
    kind: str
    block: int | None
    amount_minor: int
    volume_l: int | None
    lower_l: int | None
    upper_l: int | None
    unit_price: Decimal | None
    vat_pct: Decimal | None


class CloseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_period(self, *, label: str, start: date, end: date) -> int:
        """The period's id, its row locked until the transaction ends: closes and issues of
        one period run one at a time, so running twice at once gives one set of invoices."""
        await self.session.execute(
            text(
                "INSERT INTO billing_period (label, start_date, end_date)"
                " VALUES (:label, :start, :end) ON CONFLICT (start_date, end_date) DO NOTHING"
            ),
            {"label": label, "start": start, "end": end},
        )
        period_id = await self.session.scalar(
            text(
                "SELECT id FROM billing_period WHERE start_date = :start AND end_date = :end"
                " FOR UPDATE"
            ),
            {"start": start, "end": end},
        )
        assert period_id is not None
        return int(period_id)

    async def mark_closed(self, period_id: int) -> None:
        await self.session.execute(
            text("UPDATE billing_period SET last_closed_at = now() WHERE id = :id"),
            {"id": period_id},
        )

    async def meters(
        self, *, start: date, end: date, zone_ids: Sequence[int] | None
    ) -> list[MeterBoundary]:
        rows = await self.session.execute(
            text(_METERS),
            {"start": start, "end": end, "zones": None if zone_ids is None else list(zone_ids)},
        )
        return [MeterBoundary(**row._mapping) for row in rows]

    async def released_tamper(self, period_id: int) -> set[int]:
        """Dwellings whose tamper hold an administrator released (bill them anyway)."""
        rows = await self.session.scalars(
            text(
                "SELECT dwelling_id FROM billing_hold WHERE period_id = :p"
                " AND reason = 'tamper' AND released_by IS NOT NULL"
            ),
            {"p": period_id},
        )
        return set(rows)

    async def upsert_invoices(
        self, *, period_id: int, end: date, days: int, **arrays: Any
    ) -> dict[int, int]:
        """Insert drafts, rewrite existing drafts; issued ones are left alone.

        Returns:
            dwelling id -> invoice id of every draft written.
        """
        rows = await self.session.execute(
            text(_UPSERT_INVOICES), {"period_id": period_id, "end": end, "days": days, **arrays}
        )
        return {row[1]: row[0] for row in rows}

    async def replace_content(
        self,
        invoice_ids: Sequence[int],
        *,
        lines: dict[str, list[Any]],
        meters: dict[str, list[Any]],
    ) -> None:
        """Replace the lines and meter indexes of drafts ``invoice_ids``."""
        ids = list(invoice_ids)
        for table in ("invoice_line", "invoice_meter"):
            await self.session.execute(
                text(f"DELETE FROM {table} WHERE invoice_id = ANY(CAST(:ids AS bigint[]))"),
                {"ids": ids},
            )
        if lines["invoice_ids"]:
            await self.session.execute(text(_INSERT_LINES), lines)
        if meters["invoice_ids"]:
            await self.session.execute(text(_INSERT_METERS), meters)

    async def delete_drafts(self, *, period_id: int, dwelling_ids: Sequence[int]) -> int:
        """Drop the periodic drafts of dwellings now held back."""
        result = await self.session.execute(
            text(
                "DELETE FROM invoice WHERE period_id = :p AND status = 'draft'"
                " AND kind <> 'regularisation' AND dwelling_id = ANY(CAST(:ids AS int[]))"
            ),
            {"p": period_id, "ids": list(dwelling_ids)},
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def billed(self, *, period_id: int, dwelling_ids: Sequence[int]) -> list[BilledLine]:
        """Lines already charged by issued documents (invoice and issued regularisations)."""
        rows = await self.session.execute(
            text(_BILLED), {"period_id": period_id, "dwelling_ids": list(dwelling_ids)}
        )
        return [BilledLine(**row._mapping) for row in rows]

    async def original_invoices(
        self, *, period_id: int, dwelling_ids: Sequence[int]
    ) -> dict[int, tuple[int, int, int]]:
        """dwelling id -> (invoice id, tariff id, customer id) of its issued periodic invoice."""
        rows = await self.session.execute(
            text(
                "SELECT dwelling_id, id, tariff_id, customer_id FROM invoice"
                " WHERE period_id = :p AND kind <> 'regularisation'"
                " AND status NOT IN ('draft', 'void') AND dwelling_id = ANY(CAST(:ids AS int[]))"
            ),
            {"p": period_id, "ids": list(dwelling_ids)},
        )
        return {row[0]: (row[1], row[2], row[3]) for row in rows}

    async def upsert_regularisation(
        self,
        *,
        original_id: int,
        volume_l: int,
        estimated: bool,
        net_minor: int,
        vat_minor: int,
    ) -> int:
        """The pending regularisation of ``original_id``, created or rewritten; its approvals
        are dropped when its figures change (they approved other figures)."""
        existing = await self.session.execute(
            text(
                "SELECT id, volume_l, net_minor, vat_minor FROM invoice"
                " WHERE corrects_invoice_id = :o AND kind = 'regularisation'"
                " AND status = 'draft' FOR UPDATE"
            ),
            {"o": original_id},
        )
        row = existing.first()
        if row is not None:
            if (row[1], row[2], row[3]) != (volume_l, net_minor, vat_minor):
                await self.session.execute(
                    text("DELETE FROM invoice_approval WHERE invoice_id = :id"), {"id": row[0]}
                )
            await self.session.execute(
                text(
                    "UPDATE invoice SET volume_l = :v, estimated = :e, net_minor = :n,"
                    " vat_minor = :t, total_minor = :n + :t, computed_at = now() WHERE id = :id"
                ),
                {"id": row[0], "v": volume_l, "e": estimated, "n": net_minor, "t": vat_minor},
            )
            return int(row[0])
        new_id = await self.session.scalar(
            text(
                "INSERT INTO invoice (kind, period_id, dwelling_id, customer_id, country_code,"
                " currency, tariff_id, corrects_invoice_id, dwelling_type, period_days, volume_l,"
                " estimated, net_minor, vat_minor, total_minor)"
                " SELECT 'regularisation', period_id, dwelling_id, customer_id, country_code,"
                " currency, tariff_id, id, dwelling_type, period_days, :v, :e, :n, :t, :n + :t"
                " FROM invoice WHERE id = :o RETURNING id"
            ),
            {"o": original_id, "v": volume_l, "e": estimated, "n": net_minor, "t": vat_minor},
        )
        assert new_id is not None
        return int(new_id)

    async def drop_regularisations(self, original_ids: Sequence[int]) -> None:
        """Pending regularisations no longer needed (the figures came back to what was billed)."""
        await self.session.execute(
            text(
                "DELETE FROM invoice WHERE kind = 'regularisation' AND status = 'draft'"
                " AND corrects_invoice_id = ANY(CAST(:ids AS bigint[]))"
            ),
            {"ids": list(original_ids)},
        )

    async def write_holds(
        self,
        *,
        period_id: int,
        evaluated: Sequence[int],
        dwelling_ids: list[int],
        meter_ids: list[int | None],
        reasons: list[str],
        details: list[str],
    ) -> None:
        holds = {"dwelling_ids": dwelling_ids, "reasons": reasons}
        if dwelling_ids:
            await self.session.execute(
                text(_UPSERT_HOLDS),
                {"period_id": period_id, **holds, "meter_ids": meter_ids, "details": details},
            )
        await self.session.execute(
            text(_LIFT_HOLDS), {"period_id": period_id, "evaluated": list(evaluated), **holds}
        )
