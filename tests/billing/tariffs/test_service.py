import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from billing.tariffs.exceptions import (
    InvalidTariff,
    TariffMissing,
    TariffVersionExists,
    UnknownZone,
)
from billing.tariffs.pricing import Block, LineKind, compute_invoice
from billing.tariffs.service import (
    TariffDraft,
    as_tariff,
    create_tariff_version,
    get_tariff_version,
    list_tariff_versions,
    tariff_in_force,
    tariffs_in_force_by_zone,
)
from core.db import make_async_engine
from core.money import Money, get_currency
from registry.models import DwellingType
from registry.service import create_zone

pytestmark = pytest.mark.services

D = Decimal
TODAY = date(2026, 11, 24)
AT = datetime(2026, 11, 24, 8, tzinfo=UTC)  # that day in Douala
XAF = get_currency("XAF")


def draft(**overrides) -> TariffDraft:
    """Cameroon (XAF), the spec's block shape."""
    fields = {
        "country_code": "CM",
        "effective_from": date(2027, 1, 1),
        "blocks": (Block(D(10), D(365)), Block(D(30), D(550)), Block(None, D(775))),
        "subscriptions": {t: D(1000) for t in DwellingType} | {DwellingType.COMMERCIAL: D(5000)},
        "service_fee": D(500),
        "vat_pct": D("19.25"),
        "penalty_pct": D(5),
        "penalty_fixed": D(1000),
        **overrides,
    }
    return TariffDraft(**fields)


async def add(session, **overrides):
    return await create_tariff_version(session, draft=draft(**overrides), created_by=None, at=AT)


class TestCreateTariffVersion:
    async def test_stores_blocks_subscriptions_and_minor_units(self, session):
        version = await create_tariff_version(
            session, draft=draft(note="2027 review"), created_by=42, at=AT
        )
        await session.commit()
        session.expunge_all()
        stored = await get_tariff_version(session, tariff_id=version.id)
        assert (stored.currency, stored.service_fee_minor, stored.created_by) == ("XAF", 500, 42)
        assert [(b.position, b.upper_m3, b.price_per_m3) for b in stored.blocks] == [
            (1, D(10), D(365)),
            (2, D(30), D(550)),
            (3, None, D(775)),
        ]
        tariff = as_tariff(stored)
        assert tariff.subscriptions[DwellingType.COMMERCIAL] == Money(D(5000), XAF)
        assert tariff.problems() == []

    async def test_the_stored_version_prices_an_invoice(self, session):
        version = await add(session)
        result = compute_invoice(
            as_tariff(version),
            volume_l=12_345,
            period_days=30,
            dwelling_type=DwellingType.HOUSE,
        )
        # 3650 + 1290 (2.345 m³ × 550 = 1289.75) + 1000 + 500 = 6440; VAT 19.25 % = 1239.7
        assert [ln.amount.to_minor() for ln in result.lines] == [3650, 1290, 1000, 500, 1240]
        assert result.total == Money(D(7680), XAF)
        assert result.lines[-1].kind == LineKind.VAT

    async def test_eur_amounts_are_stored_in_cents(self, session):
        version = await add(
            session,
            country_code="FR",
            blocks=(Block(D(10), D("1.50")), Block(None, D("2.50"))),
            subscriptions={t: D("5.40") for t in DwellingType},
            service_fee=D("1.20"),
            penalty_fixed=D("2.00"),
        )
        assert (version.currency, version.service_fee_minor, version.penalty_fixed_minor) == (
            "EUR",
            120,
            200,
        )
        assert {s.monthly_minor for s in version.subscriptions} == {540}

    async def test_same_scope_and_day_is_a_conflict(self, session):
        await add(session)
        with pytest.raises(TariffVersionExists, match="CM country-wide already has a tariff"):
            await add(session)

    async def test_the_database_refuses_a_second_country_wide_version(self, session, db):
        await add(session)
        await session.commit()
        with pytest.raises(psycopg.errors.UniqueViolation):
            db.execute(
                "INSERT INTO tariff (country_code, currency, effective_from, vat_pct,"
                " service_fee_minor, penalty_pct, penalty_fixed_minor)"
                " VALUES ('CM', 'XAF', '2027-01-01', 0, 0, 0, 0)"
            )

    async def test_a_zone_may_start_the_same_day_as_its_country(self, session):
        zone = await create_zone(session, country_code="CM", code="DLA-1", name="Douala 1")
        await add(session)
        version = await add(session, zone_id=zone.id)
        assert version.zone_id == zone.id

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"blocks": (Block(D(10), D(1)),)}, "last block (1) must be open-ended"),
            (
                {"blocks": (Block(D(30), D(1)), Block(D(10), D(2)), Block(None, D(3)))},
                "block 2 ends at 10 m³, not above the previous bound 30 m³",
            ),
            ({"blocks": (Block(None, D(-5)),)}, "price -5 is negative"),
            ({"service_fee": D("500.5")}, "service fee 500.5 is not a whole number of XAF"),
            ({"subscriptions": {DwellingType.HOUSE: D(1000)}}, "no subscription for dwelling"),
            ({"vat_pct": D(120)}, "VAT rate 120% is not between 0 and 100"),
            ({"effective_from": date(2026, 11, 1)}, "before today (2026-11-24)"),
            ({"zone_id": 999_999}, "zone 999999 does not exist"),
        ],
    )
    async def test_refuses_a_broken_version(self, session, overrides, message):
        with pytest.raises(InvalidTariff, match=message.replace("(", r"\(").replace(")", r"\)")):
            await add(session, **overrides)

    async def test_today_is_the_countrys_day(self, session):
        # 23:30 UTC on 24 November is already the 25th in Douala: the 24th is in the past.
        late = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
        with pytest.raises(InvalidTariff, match=r"before today \(2026-11-25\)"):
            await create_tariff_version(
                session, draft=draft(effective_from=TODAY), created_by=None, at=late
            )

    async def test_refuses_a_zone_of_another_country(self, session):
        zone = await create_zone(session, country_code="PG", code="POM-1", name="Port Moresby")
        with pytest.raises(InvalidTariff, match="is in PG, not CM"):
            await add(session, zone_id=zone.id)

    async def test_refuses_an_unknown_country(self, session):
        with pytest.raises(InvalidTariff, match="country 'ZZ' does not exist"):
            await add(session, country_code="ZZ")

    async def test_back_dating_needs_the_flag(self, session):
        version = await create_tariff_version(
            session,
            draft=draft(effective_from=date(2026, 1, 1)),
            created_by=1,
            at=AT,
            allow_backdated=True,
        )
        assert version.effective_from == date(2026, 1, 1)


class TestTariffInForce:
    async def test_latest_version_on_or_before_the_date(self, session):
        zone = await create_zone(session, country_code="CM", code="DLA-1", name="Douala 1")
        first = await add(session, effective_from=date(2027, 1, 1))
        second = await add(session, effective_from=date(2027, 7, 1), service_fee=D(600))
        found = {
            on: (await tariff_in_force(session, zone_id=zone.id, on=on)).id
            for on in (date(2027, 1, 1), date(2027, 6, 30), date(2027, 7, 1), date(2030, 1, 1))
        }
        assert found == {
            date(2027, 1, 1): first.id,
            date(2027, 6, 30): first.id,
            date(2027, 7, 1): second.id,
            date(2030, 1, 1): second.id,
        }

    async def test_nothing_before_the_first_version(self, session):
        zone = await create_zone(session, country_code="CM", code="DLA-1", name="Douala 1")
        await add(session, effective_from=date(2027, 1, 1))
        with pytest.raises(TariffMissing, match="no tariff in force on 2026-12-31 for zone DLA-1"):
            await tariff_in_force(session, zone_id=zone.id, on=date(2026, 12, 31))

    async def test_a_zone_version_beats_the_country_wide_ones(self, session):
        douala = await create_zone(session, country_code="CM", code="DLA-1", name="Douala 1")
        yaounde = await create_zone(session, country_code="CM", code="YDE-1", name="Yaoundé 1")
        own = await add(session, zone_id=douala.id, effective_from=date(2027, 1, 1))
        national = await add(session, effective_from=date(2027, 6, 1))
        on = date(2027, 7, 1)
        assert (await tariff_in_force(session, zone_id=douala.id, on=on)).id == own.id
        assert (await tariff_in_force(session, zone_id=yaounde.id, on=on)).id == national.id

    async def test_the_country_applies_before_the_zone_version_starts(self, session):
        zone = await create_zone(session, country_code="CM", code="DLA-1", name="Douala 1")
        national = await add(session, effective_from=date(2027, 1, 1))
        await add(session, zone_id=zone.id, effective_from=date(2027, 6, 1))
        found = await tariff_in_force(session, zone_id=zone.id, on=date(2027, 5, 31))
        assert found.id == national.id

    async def test_another_country_is_never_used(self, session):
        zone = await create_zone(session, country_code="PG", code="POM-1", name="Port Moresby")
        await add(session)
        with pytest.raises(TariffMissing):
            await tariff_in_force(session, zone_id=zone.id, on=date(2027, 2, 1))

    async def test_an_instant_means_the_zones_day(self, session):
        zone = await create_zone(session, country_code="CM", code="DLA-1", name="Douala 1")
        await add(session, effective_from=date(2027, 1, 1))
        with pytest.raises(TariffMissing, match="on 2026-12-31"):
            await tariff_in_force(
                session, zone_id=zone.id, on=datetime(2026, 12, 31, 22, 59, tzinfo=UTC)
            )
        found = await tariff_in_force(
            session, zone_id=zone.id, on=datetime(2026, 12, 31, 23, tzinfo=UTC)
        )
        assert found.effective_from == date(2027, 1, 1)

    async def test_unknown_zone(self, session):
        with pytest.raises(UnknownZone):
            await tariff_in_force(session, zone_id=999_999, on=TODAY)


class TestTariffsInForceByZone:
    async def test_one_query_answers_every_zone(self, session):
        douala = await create_zone(session, country_code="CM", code="DLA-1", name="Douala 1")
        yaounde = await create_zone(session, country_code="CM", code="YDE-1", name="Yaoundé 1")
        port_moresby = await create_zone(
            session, country_code="PG", code="POM-1", name="Port Moresby"
        )
        national = await add(session, effective_from=date(2027, 1, 1))
        own = await add(session, zone_id=douala.id, effective_from=date(2027, 3, 1))
        await add(session, zone_id=yaounde.id, effective_from=date(2028, 1, 1))
        found = await tariffs_in_force_by_zone(session, on=date(2027, 6, 1))
        assert {zone: version.id for zone, version in found.items()} == {
            douala.id: own.id,
            yaounde.id: national.id,
        }
        assert port_moresby.id not in found


class TestListTariffVersions:
    async def test_newest_first_per_scope(self, session):
        zone = await create_zone(session, country_code="CM", code="DLA-1", name="Douala 1")
        old = await add(session, effective_from=date(2027, 1, 1))
        new = await add(session, effective_from=date(2028, 1, 1))
        await add(session, zone_id=zone.id)
        versions = await list_tariff_versions(session, country_code="CM")
        assert [v.id for v in versions] == [new.id, old.id]
        assert len(await list_tariff_versions(session, country_code="CM", zone_id=zone.id)) == 1


class TestConcurrentCreation:
    async def test_the_loser_of_a_race_gets_a_conflict(self, session, settings):
        await add(session)  # flushed, not committed: invisible to the other transaction
        engine = make_async_engine(settings)
        try:
            async with AsyncSession(engine) as other:
                racer = asyncio.create_task(add(other))
                await asyncio.sleep(0.5)  # the racer passed its check and waits on the index
                assert not racer.done()
                await session.commit()
                with pytest.raises(TariffVersionExists):
                    await racer
        finally:
            await engine.dispose()
