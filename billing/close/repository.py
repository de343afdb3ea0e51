"""All SQL of a period close: boundary indexes from the hourly rollups, holds, invoice upserts,
the period lock, zone lookups (statements in ``billing.close.queries``).

Python only prices each dwelling with ``billing.tariffs.pricing``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from billing.close import queries
from billing.close.models import BillingHold
from registry.models import Zone


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

    async def lock_period(
        self, *, label: str, start: date, end: date, zone_ids: Sequence[int] | None = None
    ) -> int:
        """The period's id, locked until the transaction ends, so that running twice at once
        gives one set of invoices.

        Without zones (a whole-period close, an issue) the row is locked exclusively. A close
        of some zones only shares the row (``FOR KEY SHARE``: an issue still waits for it) and
        takes one advisory lock per zone, so closes of different zones run side by side on
        several workers and two closes of one zone run one after the other.
        """
        await self.session.execute(
            text(
                "INSERT INTO billing_period (label, start_date, end_date)"
                " VALUES (:label, :start, :end) ON CONFLICT (start_date, end_date) DO NOTHING"
            ),
            {"label": label, "start": start, "end": end},
        )
        mode = "FOR UPDATE" if zone_ids is None else "FOR KEY SHARE"
        period_id = await self.session.scalar(
            text(
                "SELECT id FROM billing_period WHERE start_date = :start AND end_date = :end "
                + mode
            ),
            {"start": start, "end": end},
        )
        assert period_id is not None
        if zone_ids is not None:
            # In zone order: two closes of overlapping zone sets cannot deadlock.
            for zone_id in sorted(set(zone_ids)):
                await self.session.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                    {"key": f"billing_close:{period_id}:{zone_id}"},
                )
        return int(period_id)

    async def mark_closed(self, period_id: int) -> None:
        await self.session.execute(
            text("UPDATE billing_period SET last_closed_at = now() WHERE id = :id"),
            {"id": period_id},
        )

    async def meters(
        self, *, start: date, end: date, zone_ids: Sequence[int] | None
    ) -> list[MeterBoundary]:
        # JIT compiles a few hundred ms of code for plans this size and wins nothing back.
        await self.session.execute(text("SET LOCAL jit = off"))
        await self.session.execute(text("DROP TABLE IF EXISTS close_seg"))
        await self.session.execute(
            text(queries.SEGMENTS),
            {"start": start, "end": end, "zones": None if zone_ids is None else list(zone_ids)},
        )
        await self.session.execute(text("ANALYZE close_seg"))
        rows = await self.session.execute(text(queries.METERS), {"start": start, "end": end})
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
        self, *, period_id: int, end: date, days: int, rows: Sequence[tuple[Any, ...]]
    ) -> dict[int, int]:
        """Insert drafts, rewrite existing drafts; issued ones are left alone. ``rows`` in
        ``queries.INVOICE_COLUMNS`` order, copied into a staging table first.

        Returns:
            dwelling id -> invoice id of every draft written.
        """
        await self.session.execute(text("DROP TABLE IF EXISTS close_invoice"))
        await self.session.execute(text(queries.STAGE_INVOICES))
        await self._copy(f"COPY close_invoice ({queries.INVOICE_COLUMNS}) FROM STDIN", rows)
        result = await self.session.execute(
            text(queries.UPSERT_INVOICES), {"period_id": period_id, "end": end, "days": days}
        )
        return {row[1]: row[0] for row in result}

    async def replace_content(
        self,
        invoice_ids: Sequence[int],
        *,
        lines: Sequence[tuple[Any, ...]],
        meters: Sequence[tuple[Any, ...]],
    ) -> None:
        """Replace the lines (``queries.LINE_COLUMNS``) and meter indexes
        (``queries.METER_COLUMNS``) of drafts ``invoice_ids``."""
        ids = list(invoice_ids)
        for table in ("invoice_line", "invoice_meter"):
            await self.session.execute(
                text(f"DELETE FROM {table} WHERE invoice_id = ANY(CAST(:ids AS bigint[]))"),
                {"ids": ids},
            )
        await self._copy(f"COPY invoice_line ({queries.LINE_COLUMNS}) FROM STDIN", lines)
        await self._copy(f"COPY invoice_meter ({queries.METER_COLUMNS}) FROM STDIN", meters)

    async def _copy(self, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """COPY ``rows`` on the session's own connection (same transaction): the fastest way
        in, and one statement for the triggers."""
        if not rows:
            return
        connection = await self.session.connection()
        raw = await connection.get_raw_connection()
        driver: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
        async with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                await copy.write_row(row)

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
            text(queries.BILLED), {"period_id": period_id, "dwelling_ids": list(dwelling_ids)}
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
                text(queries.UPSERT_HOLDS),
                {"period_id": period_id, **holds, "meter_ids": meter_ids, "details": details},
            )
        await self.session.execute(
            text(queries.LIFT_HOLDS),
            {"period_id": period_id, "evaluated": list(evaluated), **holds},
        )

    async def zone_ids_by_code(self, codes: Sequence[str]) -> dict[str, int]:
        rows = await self.session.execute(
            select(Zone.code, Zone.id).where(Zone.code.in_(list(codes)))
        )
        return {row.code: row.id for row in rows}

    async def late_zones(self, *, until: datetime, oldest: date, margin_days: int) -> list[Any]:
        """(period label, zone id) of issued months with readings received after their figures
        (``queries.LATE_ZONES``)."""
        rows = await self.session.execute(
            text(queries.LATE_ZONES), {"until": until, "oldest": oldest, "margin": margin_days}
        )
        return [(row[0], row[1]) for row in rows]

    async def mark_late_checked(self, *, until: datetime, oldest: date) -> None:
        await self.session.execute(
            text(queries.MARK_LATE_CHECKED), {"until": until, "oldest": oldest}
        )

    async def all_zone_ids(self) -> list[int]:
        return list(await self.session.scalars(select(Zone.id).order_by(Zone.id)))

    async def known_zone_ids(self, zone_ids: Sequence[int]) -> set[int]:
        return set(await self.session.scalars(select(Zone.id).where(Zone.id.in_(list(zone_ids)))))

    async def lock_hold(self, hold_id: int) -> BillingHold | None:
        return await self.session.get(BillingHold, hold_id, with_for_update=True)

    async def release_hold(self, hold: BillingHold, *, admin_id: int) -> BillingHold:
        hold.released_by = admin_id
        hold.released_at = func.now()
        await self.session.flush()
        await self.session.refresh(hold)
        return hold

    async def open_holds(self, *, period_id: int | None) -> Sequence[BillingHold]:
        statement = select(BillingHold).where(BillingHold.released_at.is_(None))
        if period_id is not None:
            statement = statement.where(BillingHold.period_id == period_id)
        rows = await self.session.scalars(statement.order_by(BillingHold.id))
        return rows.all()
