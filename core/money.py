"""Money: an amount in whole minor units of one ISO 4217 currency, over ``Decimal``.

Rounding rule (the only one in the code base): **ROUND_HALF_UP to the currency's minor unit,
once per invoice line**; a document's total is the exact sum of its rounded lines, never a
separately rounded figure. Half-up is the rule customers apply with a calculator and the one
commercial codes of our markets (France, OHADA for Cameroon, PNG practice) expect on invoices;
banker's rounding removes a bias only over many roundings of the same quantity, which an
invoice never does (each line is rounded exactly once). Rounding per line rather than on the
total is what lets a customer add the printed lines and find the printed total.

``Money`` holds only amounts already rounded to the minor unit: build one with ``Money.round``
from an exact computation, or ``Money.from_minor`` from storage (``BigInteger`` minor units
plus ``String(3)`` currency). Floats are refused everywhere.

Formatting follows CLDR conventions for the languages we serve, written out here rather than
pulled from Babel: ``fr`` groups with a narrow no-break space and puts the symbol after a
no-break space (``1 234,56 €``, ``12 345 FCFA``); ``en`` and ``tpi`` put the symbol first
(``K1,234.56``, ``€1,234.56``, ``FCFA 12,345``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from core.exceptions import InvalidInput

ROUNDING = ROUND_HALF_UP

# Narrow no-break space (French digit grouping) and no-break space (before a trailing symbol),
# as CLDR has them: a line break never splits an amount.
NNBSP = "\u202f"
NBSP = "\u00a0"


class UnknownCurrency(InvalidInput):
    pass


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    minor_units: int
    name: str

    @property
    def quantum(self) -> Decimal:
        """The smallest amount: ``0.01`` for EUR, ``1`` for XAF."""
        return Decimal(1).scaleb(-self.minor_units)


# ISO 4217 minor units. The CFA francs have none: amounts are whole francs.
CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("EUR", 2, "euro"),
        Currency("PGK", 2, "Papua New Guinean kina"),
        Currency("XAF", 0, "Central African CFA franc"),
        Currency("XOF", 0, "West African CFA franc"),
        Currency("USD", 2, "US dollar"),
        Currency("AUD", 2, "Australian dollar"),
    )
}

# (symbol, symbol goes first) per language; CLDR's narrow/local symbols for our markets.
_SYMBOLS: dict[str, dict[str, tuple[str, bool]]] = {
    "en": {
        "EUR": ("€", True),
        "PGK": ("K", True),
        "XAF": ("FCFA" + NBSP, True),
        "XOF": ("F" + NBSP + "CFA" + NBSP, True),
        "USD": ("US$", True),
        "AUD": ("A$", True),
    },
    "fr": {
        "EUR": ("€", False),
        "PGK": ("K", False),
        "XAF": ("FCFA", False),
        "XOF": ("F" + NBSP + "CFA", False),
        "USD": ("$US", False),
        "AUD": ("$AU", False),
    },
}
_SYMBOLS["tpi"] = _SYMBOLS["en"]
# Group and decimal separators per language.
_SEPARATORS: dict[str, tuple[str, str]] = {"en": (",", "."), "tpi": (",", "."), "fr": (NNBSP, ",")}


def get_currency(code: str) -> Currency:
    """The currency for an ISO 4217 code (case-insensitive)."""
    try:
        return CURRENCIES[code.upper()]
    except KeyError:
        known = ", ".join(sorted(CURRENCIES))
        raise UnknownCurrency(f"currency {code!r} is not one of {known}") from None


def _exact(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"money needs Decimal or int, not {type(value).__name__}")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"money must be finite, not {result}")
    return result


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in whole minor units of ``currency``; immutable, comparable within a currency."""

    amount: Decimal
    currency: Currency

    def __post_init__(self) -> None:
        amount = _exact(self.amount)
        if amount != amount.quantize(self.currency.quantum, rounding=ROUNDING):
            raise ValueError(
                f"{amount} has more decimals than {self.currency.code} allows;"
                " use Money.round to apply the rounding rule"
            )
        object.__setattr__(self, "amount", amount.quantize(self.currency.quantum))

    @classmethod
    def round(cls, value: Decimal | int, currency: Currency) -> Money:
        """The rounding rule: ROUND_HALF_UP to the currency's minor unit."""
        return cls(_exact(value).quantize(currency.quantum, rounding=ROUNDING), currency)

    @classmethod
    def zero(cls, currency: Currency) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def from_minor(cls, minor: int, currency: Currency) -> Money:
        """From storage: an integer count of minor units (cents, toea, francs)."""
        if isinstance(minor, bool) or not isinstance(minor, int):
            raise TypeError(f"minor units must be an int, not {type(minor).__name__}")
        return cls(Decimal(minor).scaleb(-currency.minor_units), currency)

    def to_minor(self) -> int:
        """For storage: the integer count of minor units."""
        return int(self.amount.scaleb(self.currency.minor_units))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency.code} with {other.currency.code}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def format(self, language: str) -> str:
        """The amount as a customer reads it in ``language`` (en, fr or tpi)."""
        return format_amount(self.amount, self.currency, language)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency.code}"


def money_sum(items: Iterable[Money], currency: Currency) -> Money:
    """Exact sum of amounts in one currency (zero for none)."""
    total = Money.zero(currency)
    for item in items:
        total = total + item
    return total


def format_number(value: Decimal, *, places: int, language: str) -> str:
    """``value`` with ``places`` decimals and the language's separators (rounding half-up)."""
    if language not in _SEPARATORS:
        raise ValueError(f"no number format for language {language!r}")
    group, point = _SEPARATORS[language]
    quantised = value.quantize(Decimal(1).scaleb(-places), rounding=ROUNDING)
    sign = "-" if quantised < 0 else ""
    digits = f"{abs(quantised):f}"
    whole, _, fraction = digits.partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    text = group.join(groups)
    if fraction:
        text += point + fraction
    return sign + text


def format_amount(
    amount: Decimal, currency: Currency, language: str, *, places: int | None = None
) -> str:
    """An amount with its currency symbol placed as ``language`` writes it.

    ``places`` overrides the currency's minor units, for unit prices finer than an invoice line.
    """
    if language not in _SYMBOLS:
        raise ValueError(f"no currency format for language {language!r}")
    places = currency.minor_units if places is None else places
    number = format_number(amount, places=places, language=language)
    symbol, first = _SYMBOLS[language].get(currency.code, (currency.code + NBSP, True))
    sign = ""
    if number.startswith("-"):
        sign, number = "-", number[1:]
    if first:
        return f"{sign}{symbol}{number}"
    return f"{sign}{number}{NBSP}{symbol}"


def format_conventions(language: str) -> dict[str, object]:
    """What a browser needs to format amounts exactly as ``format_amount`` does in ``language``."""
    if language not in _SYMBOLS:
        raise ValueError(f"no currency format for language {language!r}")
    group, point = _SEPARATORS[language]
    return {
        "group": group,
        "point": point,
        "currencies": {
            code: {
                "minor_units": currency.minor_units,
                "symbol": _SYMBOLS[language].get(code, (code + NBSP, True))[0],
                "symbol_first": _SYMBOLS[language].get(code, (code + NBSP, True))[1],
            }
            for code, currency in CURRENCIES.items()
        },
    }
