from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import (
    CURRENCIES,
    NBSP,
    NNBSP,
    Money,
    UnknownCurrency,
    format_number,
    get_currency,
    money_sum,
)

EUR = get_currency("EUR")
PGK = get_currency("PGK")
XAF = get_currency("XAF")


class TestCurrency:
    @pytest.mark.parametrize(
        ("code", "minor_units"),
        [("EUR", 2), ("PGK", 2), ("XAF", 0), ("XOF", 0), ("USD", 2), ("AUD", 2)],
    )
    def test_iso_4217_minor_units(self, code, minor_units):
        assert get_currency(code).minor_units == minor_units

    def test_lookup_ignores_case(self):
        assert get_currency("xaf") is CURRENCIES["XAF"]

    def test_unknown_code_names_the_known_ones(self):
        with pytest.raises(UnknownCurrency, match="'ZZZ' is not one of AUD, EUR"):
            get_currency("ZZZ")


class TestMoneyConstruction:
    def test_refuses_floats(self):
        with pytest.raises(TypeError, match="not float"):
            Money(1.5, EUR)  # type: ignore[arg-type]

    def test_refuses_floats_when_rounding(self):
        with pytest.raises(TypeError, match="not float"):
            Money.round(0.1, EUR)  # type: ignore[arg-type]

    def test_refuses_more_decimals_than_the_currency_has(self):
        with pytest.raises(ValueError, match="use Money.round"):
            Money(Decimal("1.005"), EUR)
        with pytest.raises(ValueError, match="use Money.round"):
            Money(Decimal("12.5"), XAF)

    def test_refuses_infinity(self):
        with pytest.raises(ValueError, match="finite"):
            Money(Decimal("Infinity"), EUR)

    def test_normalises_the_exponent(self):
        assert str(Money(Decimal("1.5"), EUR).amount) == "1.50"
        assert str(Money(Decimal("1200.00"), XAF).amount) == "1200"


class TestRoundingRule:
    @pytest.mark.parametrize(
        ("value", "currency", "expected"),
        [
            # Ties go up (away from zero): 0.045 -> 0.05, where banker's rounding gives 0.04.
            ("0.045", EUR, "0.05"),
            ("0.0449999", EUR, "0.04"),
            ("-0.045", EUR, "-0.05"),
            ("2.5", XAF, "3"),
            ("1289.75", XAF, "1290"),
            ("1289.49", XAF, "1289"),
            ("12.4995", PGK, "12.50"),
        ],
    )
    def test_half_up_to_the_minor_unit(self, value, currency, expected):
        assert Money.round(Decimal(value), currency).amount == Decimal(expected)


class TestMinorUnits:
    @pytest.mark.parametrize(
        ("minor", "currency", "amount"),
        [(123456, EUR, "1234.56"), (-5, PGK, "-0.05"), (12345, XAF, "12345"), (0, EUR, "0")],
    )
    def test_from_minor(self, minor, currency, amount):
        assert Money.from_minor(minor, currency).amount == Decimal(amount)

    @given(
        minor=st.integers(min_value=-(10**15), max_value=10**15),
        code=st.sampled_from(["EUR", "XAF"]),
    )
    def test_round_trip(self, minor, code):
        assert Money.from_minor(minor, get_currency(code)).to_minor() == minor

    def test_refuses_non_integers(self):
        with pytest.raises(TypeError):
            Money.from_minor(Decimal("1.5"), EUR)  # type: ignore[arg-type]


class TestArithmetic:
    def test_adds_and_subtracts_in_one_currency(self):
        a, b = Money(Decimal("1.10"), EUR), Money(Decimal("2.25"), EUR)
        assert (a + b).amount == Decimal("3.35")
        assert (a - b).amount == Decimal("-1.15")
        assert -a == Money(Decimal("-1.10"), EUR)
        assert a < b

    def test_refuses_mixing_currencies(self):
        with pytest.raises(ValueError, match="EUR with XAF"):
            Money(Decimal(1), EUR) + Money(Decimal(1), XAF)

    def test_sum_of_nothing_is_zero(self):
        assert money_sum([], XAF) == Money.zero(XAF)


class TestFormatting:
    @pytest.mark.parametrize(
        ("minor", "code", "language", "expected"),
        [
            (123456, "EUR", "fr", f"1{NNBSP}234,56{NBSP}€"),
            (12345, "XAF", "fr", f"12{NNBSP}345{NBSP}FCFA"),
            (1234567, "XOF", "fr", f"1{NNBSP}234{NNBSP}567{NBSP}F{NBSP}CFA"),
            (123456, "PGK", "en", "K1,234.56"),
            (123456, "PGK", "tpi", "K1,234.56"),
            (5, "PGK", "tpi", "K0.05"),
            (123456, "EUR", "en", "€1,234.56"),
            (12345, "XAF", "en", f"FCFA{NBSP}12,345"),
            (-123456, "EUR", "fr", f"-1{NNBSP}234,56{NBSP}€"),
            (-123456, "PGK", "en", "-K1,234.56"),
            (100000000, "AUD", "en", "A$1,000,000.00"),
            (99, "USD", "fr", f"0,99{NBSP}$US"),
            (999, "XAF", "fr", f"999{NBSP}FCFA"),
        ],
    )
    def test_amount_in_each_language(self, minor, code, language, expected):
        assert Money.from_minor(minor, get_currency(code)).format(language) == expected

    def test_unknown_language_is_refused(self):
        with pytest.raises(ValueError, match="'de'"):
            Money.zero(EUR).format("de")

    def test_number_with_three_decimals(self):
        assert format_number(Decimal("8.333"), places=3, language="fr") == "8,333"
        assert format_number(Decimal("12345.5"), places=3, language="en") == "12,345.500"
