from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.tariffs.exceptions import InvalidConsumption, InvalidTariff
from billing.tariffs.pricing import (
    Block,
    InvoiceKind,
    LineKind,
    Tariff,
    compute_invoice,
    late_penalty,
    scaled_bounds_l,
)
from core.money import Currency, Money, get_currency
from registry.models import DwellingType

EUR = get_currency("EUR")
XAF = get_currency("XAF")
PGK = get_currency("PGK")
D = Decimal


def money(value: str, currency: Currency = EUR) -> Money:
    return Money(D(value), currency)


def make_tariff(
    currency: Currency = EUR,
    prices: tuple[str, str, str] = ("1.50", "2.00", "2.50"),
    subscription: str = "0",
    service_fee: str = "0",
    vat_pct: str = "0",
    penalty_pct: str = "0",
    penalty_fixed: str = "0",
) -> Tariff:
    """The spec's example: 0–10 m³ at 1.50, >10–30 at 2.00, >30 at 2.50 (per 30 days)."""
    return Tariff(
        currency=currency,
        blocks=(
            Block(D(10), D(prices[0])),
            Block(D(30), D(prices[1])),
            Block(None, D(prices[2])),
        ),
        subscriptions={t: money(subscription, currency) for t in DwellingType},
        service_fee=money(service_fee, currency),
        vat_pct=D(vat_pct),
        penalty_pct=D(penalty_pct),
        penalty_fixed=money(penalty_fixed, currency),
    )


def consumption(tariff: Tariff, volume_l: int, days: int = 30):
    result = compute_invoice(
        tariff, volume_l=volume_l, period_days=days, dwelling_type=DwellingType.APARTMENT
    )
    return [
        (ln.block, ln.volume_l, str(ln.amount.amount))
        for ln in result.lines
        if ln.kind == LineKind.CONSUMPTION
    ]


class TestBlocks:
    @pytest.mark.parametrize(
        ("volume_l", "expected"),
        [
            (0, []),
            (1, [(1, 1, "0.00")]),
            (9_999, [(1, 9_999, "15.00")]),  # 14.9985 rounds half-up
            (10_000, [(1, 10_000, "15.00")]),  # exactly 10 m³: all in block 1
            (10_001, [(1, 10_000, "15.00"), (2, 1, "0.00")]),  # one litre above
            (10_500, [(1, 10_000, "15.00"), (2, 500, "1.00")]),
            (12_345, [(1, 10_000, "15.00"), (2, 2_345, "4.69")]),  # 4.690
            (30_000, [(1, 10_000, "15.00"), (2, 20_000, "40.00")]),  # exactly 30 m³
            (30_001, [(1, 10_000, "15.00"), (2, 20_000, "40.00"), (3, 1, "0.00")]),
            (30_002, [(1, 10_000, "15.00"), (2, 20_000, "40.00"), (3, 2, "0.01")]),  # 0.005 up
            (45_678, [(1, 10_000, "15.00"), (2, 20_000, "40.00"), (3, 15_678, "39.20")]),
        ],
    )
    def test_thirty_day_period(self, volume_l, expected):
        assert consumption(make_tariff(), volume_l) == expected

    @pytest.mark.parametrize(
        ("days", "volume_l", "expected"),
        [
            # 45 days: bounds 15 and 45 m³.
            (45, 15_000, [(1, 15_000, "22.50")]),
            (45, 15_001, [(1, 15_000, "22.50"), (2, 1, "0.00")]),
            (45, 45_000, [(1, 15_000, "22.50"), (2, 30_000, "60.00")]),
            (45, 45_001, [(1, 15_000, "22.50"), (2, 30_000, "60.00"), (3, 1, "0.00")]),
            # 25 days: bounds 8.333 and 25 m³ (10 × 25/30 rounded to the litre).
            (25, 8_333, [(1, 8_333, "12.50")]),  # 12.4995
            (25, 8_334, [(1, 8_333, "12.50"), (2, 1, "0.00")]),
            (25, 10_000, [(1, 8_333, "12.50"), (2, 1_667, "3.33")]),  # same volume, 30-day 15.00
            (25, 25_000, [(1, 8_333, "12.50"), (2, 16_667, "33.33")]),  # 33.334
            (25, 25_001, [(1, 8_333, "12.50"), (2, 16_667, "33.33"), (3, 1, "0.00")]),
        ],
    )
    def test_bounds_scale_with_the_period(self, days, volume_l, expected):
        assert consumption(make_tariff(), volume_l, days) == expected

    @pytest.mark.parametrize(
        ("days", "bounds"),
        [(30, [10_000, 30_000, None]), (45, [15_000, 45_000, None]), (25, [8_333, 25_000, None])],
    )
    def test_scaled_bounds(self, days, bounds):
        assert scaled_bounds_l(make_tariff().blocks, days) == bounds

    def test_xaf_block_amounts_are_whole_francs(self):
        tariff = make_tariff(XAF, prices=("365", "550", "775"))
        assert consumption(tariff, 10_001) == [(1, 10_000, "3650"), (2, 1, "1")]  # 0.55 up
        assert consumption(tariff, 12_345) == [(1, 10_000, "3650"), (2, 2_345, "1290")]  # .75
        assert consumption(tariff, 10_000, 25) == [(1, 8_333, "3042"), (2, 1_667, "917")]

    def test_block_lines_carry_bounds_and_unit_price(self):
        result = compute_invoice(
            make_tariff(), volume_l=40_678, period_days=45, dwelling_type=DwellingType.HOUSE
        )
        second = [ln for ln in result.lines if ln.block == 2][0]
        assert (second.lower_l, second.upper_l) == (15_000, 45_000)
        assert second.unit_price == D("2.00")
        assert second.volume_m3 == D("25.678")


class TestSubscriptionAndFees:
    @pytest.mark.parametrize(
        ("currency", "monthly", "days", "expected"),
        [
            (EUR, "5.00", 30, "5.00"),
            (EUR, "5.00", 25, "4.17"),
            (EUR, "5.00", 45, "7.50"),
            (EUR, "5.00", 60, "10.00"),
            (XAF, "1000", 25, "833"),
            (XAF, "1000", 45, "1500"),
            (XAF, "1000", 31, "1033"),
        ],
    )
    def test_subscription_is_pro_rated(self, currency, monthly, days, expected):
        result = compute_invoice(
            make_tariff(currency, subscription=monthly),
            volume_l=1,
            period_days=days,
            dwelling_type=DwellingType.HOUSE,
        )
        [line] = [ln for ln in result.lines if ln.kind == LineKind.SUBSCRIPTION]
        assert line.amount == Money(D(expected), currency)

    def test_subscription_follows_the_dwelling_type(self):
        tariff = replace(
            make_tariff(subscription="5.00"),
            subscriptions={
                **make_tariff(subscription="5.00").subscriptions,
                DwellingType.COMMERCIAL: money("20.00"),
            },
        )
        amounts = {
            t: compute_invoice(tariff, volume_l=0, period_days=30, dwelling_type=t).total
            for t in (DwellingType.HOUSE, DwellingType.COMMERCIAL)
        }
        assert amounts == {
            DwellingType.HOUSE: money("5.00"),
            DwellingType.COMMERCIAL: money("20.00"),
        }

    def test_service_fee_is_not_pro_rated(self):
        tariff = make_tariff(service_fee="1.20")
        for days in (25, 30, 45):
            result = compute_invoice(
                tariff, volume_l=0, period_days=days, dwelling_type=DwellingType.HOUSE
            )
            [fee] = [ln for ln in result.lines if ln.kind == LineKind.SERVICE_FEE]
            assert fee.amount == money("1.20")


class TestVat:
    @pytest.mark.parametrize(
        ("currency", "vat_pct", "volume_l", "vat"),
        [
            # net 15.00 + 5.00 + 1.20 = 21.20; 19.25 % = 4.081
            (EUR, "19.25", 10_000, "4.08"),
            # net 15.00 + 40.00 + 5.00 + 1.20 = 61.20; 10 % = 6.12
            (EUR, "10", 30_000, "6.12"),
            # XAF prices 365/550/775, subscription 1000, fee 500: net 3650+1290+1000+500 = 6440
            (XAF, "19.25", 12_345, "1240"),  # 1239.7
        ],
    )
    def test_vat_on_the_net_total(self, currency, vat_pct, volume_l, vat):
        prices = ("365", "550", "775") if currency is XAF else ("1.50", "2.00", "2.50")
        tariff = make_tariff(
            currency,
            prices=prices,
            subscription="1000" if currency is XAF else "5.00",
            service_fee="500" if currency is XAF else "1.20",
            vat_pct=vat_pct,
        )
        result = compute_invoice(
            tariff, volume_l=volume_l, period_days=30, dwelling_type=DwellingType.HOUSE
        )
        [line] = [ln for ln in result.lines if ln.kind == LineKind.VAT]
        assert line.amount == Money(D(vat), currency)
        assert line.vat_pct == D(vat_pct)
        assert result.total == result.net + result.vat

    def test_no_vat_line_at_zero_rate(self):
        result = compute_invoice(
            make_tariff(subscription="5.00"),
            volume_l=0,
            period_days=30,
            dwelling_type=DwellingType.HOUSE,
        )
        assert LineKind.VAT not in {ln.kind for ln in result.lines}


class TestVacancy:
    def test_vacant_without_consumption_is_subscription_only(self):
        tariff = make_tariff(subscription="5.00", service_fee="1.20", vat_pct="10")
        result = compute_invoice(
            tariff, volume_l=0, period_days=30, dwelling_type=DwellingType.APARTMENT, vacant=True
        )
        assert result.kind == InvoiceKind.SUBSCRIPTION_ONLY
        assert [(ln.kind, ln.amount) for ln in result.lines] == [
            (LineKind.SUBSCRIPTION, money("5.00")),
            (LineKind.VAT, money("0.50")),
        ]
        assert result.total == money("5.50")

    def test_vacant_with_consumption_is_billed_normally(self):
        tariff = make_tariff(subscription="5.00", service_fee="1.20")
        result = compute_invoice(
            tariff, volume_l=2_000, period_days=30, dwelling_type=DwellingType.HOUSE, vacant=True
        )
        assert result.kind == InvoiceKind.PERIODIC
        assert {ln.kind for ln in result.lines} == {
            LineKind.CONSUMPTION,
            LineKind.SUBSCRIPTION,
            LineKind.SERVICE_FEE,
        }

    def test_occupied_without_consumption_pays_the_service_fee(self):
        tariff = make_tariff(subscription="5.00", service_fee="1.20")
        result = compute_invoice(
            tariff, volume_l=0, period_days=30, dwelling_type=DwellingType.HOUSE
        )
        assert result.kind == InvoiceKind.PERIODIC
        assert result.total == money("6.20")


class TestInputs:
    @pytest.mark.parametrize(
        ("volume_l", "days", "message"),
        [
            (-1, 30, "negative"),
            (0, 0, "0 days"),
            (0, 367, "367 days"),
            (D("1.5"), 30, "whole litres"),
        ],
    )
    def test_refuses_what_cannot_be_billed(self, volume_l, days, message):
        with pytest.raises(InvalidConsumption, match=message):
            compute_invoice(
                make_tariff(), volume_l=volume_l, period_days=days, dwelling_type=DwellingType.HOUSE
            )

    def test_refuses_a_broken_tariff(self):
        broken = replace(make_tariff(), blocks=(Block(D(10), D("1.50")),))
        with pytest.raises(InvalidTariff, match="last block"):
            compute_invoice(broken, volume_l=0, period_days=30, dwelling_type=DwellingType.HOUSE)


class TestTariffProblems:
    @pytest.mark.parametrize(
        ("blocks", "message"),
        [
            ((), "at least one block"),
            ((Block(D(10), D(1)),), "last block (1) must be open-ended"),
            ((Block(None, D(1)), Block(None, D(2))), "block 1 is open-ended"),
            ((Block(D(10), D(1)), Block(D(10), D(2)), Block(None, D(3))), "block 2 ends at 10"),
            ((Block(D(0), D(1)), Block(None, D(2))), "block 1 ends at 0"),
            ((Block(D("10.0005"), D(1)), Block(None, D(2))), "finer than a litre"),
            ((Block(None, D(-1)),), "price -1 is negative"),
            ((Block(None, D("1.0000001")),), "more than 6 decimals"),
            ((Block(None, D("1E+7")),), "price 1E+7 is too large"),
            ((Block(D("1E+8"), D(1)), Block(None, D(1))), "bound 1E+8 m³ is too large"),
        ],
    )
    def test_block_rules(self, blocks, message):
        problems = replace(make_tariff(), blocks=blocks).problems()
        assert any(message in p for p in problems), problems

    def test_every_dwelling_type_needs_a_subscription(self):
        tariff = replace(make_tariff(), subscriptions={DwellingType.HOUSE: money("1.00")})
        assert "no subscription for dwelling types: apartment, commercial, communal" in (
            tariff.problems()
        )

    def test_amounts_have_a_ceiling(self):
        tariff = replace(make_tariff(), service_fee=Money(D(10) ** 12, EUR))
        assert any("service fee" in p and "too large" in p for p in tariff.problems())

    def test_amounts_must_be_in_the_tariff_currency(self):
        tariff = replace(make_tariff(), service_fee=Money(D(500), XAF))
        assert "service fee is in XAF, not EUR" in tariff.problems()

    @pytest.mark.parametrize("vat_pct", ["-1", "100.5"])
    def test_rates_are_percentages(self, vat_pct):
        assert any("VAT rate" in p for p in replace(make_tariff(), vat_pct=D(vat_pct)).problems())

    def test_the_spec_example_is_valid(self):
        assert make_tariff(subscription="5", service_fee="1", vat_pct="19.25").problems() == []


class TestLatePenalty:
    @pytest.mark.parametrize(
        ("currency", "pct", "fixed", "overdue", "expected"),
        [
            (EUR, "10", "2.00", "33.33", "5.33"),  # 3.333 + 2.00
            (EUR, "1.5", "0", "10.30", "0.15"),  # 0.1545
            (XAF, "5", "500", "12345", "1117"),  # 617.25 + 500
            (XAF, "5", "500", "0", "0"),
            (XAF, "5", "500", "-100", "0"),
        ],
    )
    def test_percentage_plus_fixed(self, currency, pct, fixed, overdue, expected):
        tariff = make_tariff(currency, penalty_pct=pct, penalty_fixed=fixed)
        penalty = late_penalty(tariff, overdue=Money(D(overdue), currency))
        assert penalty == Money(D(expected), currency)

    def test_refuses_another_currency(self):
        with pytest.raises(InvalidConsumption, match="XAF"):
            late_penalty(make_tariff(), overdue=Money(D(5), XAF))


@st.composite
def tariffs(draw: st.DrawFn) -> Tariff:
    currency = draw(st.sampled_from([EUR, XAF, PGK]))
    decimals = currency.minor_units

    def amount(max_minor: int) -> Money:
        return Money.from_minor(draw(st.integers(0, max_minor)), currency)

    def price() -> Decimal:
        return D(draw(st.integers(0, 10**9 - 1))).scaleb(-draw(st.integers(2, 6)))

    bounds_l = sorted(draw(st.sets(st.integers(1, 200_000), min_size=0, max_size=4)))
    blocks = tuple(Block(D(b).scaleb(-3), price()) for b in bounds_l) + (Block(None, price()),)
    return Tariff(
        currency=currency,
        blocks=blocks,
        subscriptions={t: amount(10 ** (4 + decimals)) for t in DwellingType},
        service_fee=amount(10 ** (3 + decimals)),
        vat_pct=D(draw(st.integers(0, 300_000))).scaleb(-4),
        penalty_pct=D(draw(st.integers(0, 1000))).scaleb(-2),
        penalty_fixed=amount(10 ** (3 + decimals)),
    )


invoice_inputs = {
    "tariff": tariffs(),
    "volume_l": st.integers(0, 10**8),
    "period_days": st.integers(1, 366),
    "dwelling_type": st.sampled_from(list(DwellingType)),
    "vacant": st.booleans(),
}


class TestInvoiceProperties:
    @settings(max_examples=300, deadline=None)
    @given(**invoice_inputs)
    def test_total_is_the_sum_of_whole_minor_unit_lines(
        self, tariff, volume_l, period_days, dwelling_type, vacant
    ):
        result = compute_invoice(
            tariff,
            volume_l=volume_l,
            period_days=period_days,
            dwelling_type=dwelling_type,
            vacant=vacant,
        )
        minor = [ln.amount.to_minor() for ln in result.lines]
        for line, units in zip(result.lines, minor, strict=True):
            assert line.amount.currency == tariff.currency
            assert line.amount == Money.from_minor(units, tariff.currency)
        assert result.total.to_minor() == sum(minor)
        assert result.net.to_minor() + result.vat.to_minor() == result.total.to_minor()

    @settings(max_examples=300, deadline=None)
    @given(**invoice_inputs)
    def test_block_volumes_add_up_to_the_metered_volume(
        self, tariff, volume_l, period_days, dwelling_type, vacant
    ):
        result = compute_invoice(
            tariff,
            volume_l=volume_l,
            period_days=period_days,
            dwelling_type=dwelling_type,
            vacant=vacant,
        )
        blocks = [ln for ln in result.lines if ln.kind == LineKind.CONSUMPTION]
        assert sum(ln.volume_l or 0 for ln in blocks) == volume_l
        assert all(ln.volume_l and ln.volume_l > 0 for ln in blocks)
        assert [ln.block for ln in blocks] == sorted({ln.block or 0 for ln in blocks})

    @settings(max_examples=300, deadline=None)
    @given(**invoice_inputs, extra_l=st.integers(1, 10**6))
    def test_total_never_falls_when_volume_rises(
        self, tariff, volume_l, period_days, dwelling_type, vacant, extra_l
    ):
        def total(volume: int) -> Money:
            return compute_invoice(
                tariff,
                volume_l=volume,
                period_days=period_days,
                dwelling_type=dwelling_type,
                vacant=vacant,
            ).total

        more = volume_l + extra_l
        # Vacancy with no consumption drops the service fee, so compare consuming volumes.
        assert total(max(volume_l, 1)) <= total(more)

    @settings(max_examples=200, deadline=None)
    @given(**invoice_inputs)
    def test_vat_is_the_rate_on_the_net_rounded_once(
        self, tariff, volume_l, period_days, dwelling_type, vacant
    ):
        result = compute_invoice(
            tariff,
            volume_l=volume_l,
            period_days=period_days,
            dwelling_type=dwelling_type,
            vacant=vacant,
        )
        assert result.vat == Money.round(result.net.amount * tariff.vat_pct / 100, tariff.currency)
