"""Invoice PDF: every component of the bill, in the customer's language and currency format.

``render_invoice`` takes a plain ``InvoiceDocument`` (built by whoever issues the invoice from
stored rows) and returns PDF bytes; nothing here reads the database. The words it prints, per
language, are in ``pdf_text``.

Fonts: when every string of the document fits Windows-1252 (English, French and Tok Pisin
labels, "€", "m³" and most names do), the PDF uses the standard Helvetica, which readers have
built in: nothing is embedded and a page renders in milliseconds. Otherwise (a name in another
script) it embeds DejaVu Sans from the system (Debian's ``fonts-dejavu-core``, subset to the
glyphs used, ~0.15 s a page); without that font, characters Helvetica lacks print as "?".
French digit groups use a narrow no-break space, which Windows-1252 lacks: Helvetica gets a
no-break space instead, which keeps amounts on one line just the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from billing.invoices.pdf_text import (
    DWELLING_TYPES,
    LABELS,
    MONTHS,
    format_bound,
    format_date,
    format_m3,
)
from billing.tariffs.pricing import InvoiceComputation, InvoiceKind, InvoiceLine, LineKind
from core.config_billing import PaymentChannel
from core.countries import Language
from core.money import Money, format_amount, format_number
from registry.models import DwellingType

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FAMILY = "DejaVu"

# Column widths in mm on an A4 page with 15 mm margins (180 mm of text width).
DESCRIPTION_W, VOLUME_W, PRICE_W, AMOUNT_W = 84.0, 30.0, 32.0, 34.0
LINE_H = 6.0


@dataclass(frozen=True)
class Party:
    """The utility or the customer as printed in the heading."""

    name: str
    address_lines: tuple[str, ...] = ()
    phone: str | None = None
    reference: str | None = None
    # The utility's tax registration (NIU in Cameroon, TIN in Papua New Guinea).
    tax_id: str | None = None


@dataclass(frozen=True)
class MeterIndex:
    """A register index at a period boundary; ``estimated`` when no read existed then."""

    index_l: int
    read_on: date
    estimated: bool = False


@dataclass(frozen=True)
class PaymentInstructions:
    """Where and how to pay; a channel left empty is not printed."""

    reference: str
    channels: tuple[PaymentChannel, ...] = ()


@dataclass(frozen=True)
class InvoiceDocument:
    number: str
    language: Language
    issued_on: date
    due_on: date
    utility: Party
    customer: Party
    dwelling_reference: str
    dwelling_type: DwellingType
    meter_serial: str
    period_start: date
    period_end: date  # last day included
    opening: MeterIndex
    closing: MeterIndex
    computation: InvoiceComputation
    payment: PaymentInstructions
    # The tax's local name, e.g. "GST" in Papua New Guinea; the language's word for VAT if None.
    tax_name: str | None = None
    # The tariff's late penalty, printed so the customer knows it before the due date.
    late_penalty: LatePenaltyTerms | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class LatePenaltyTerms:
    pct: Decimal
    fixed: Money


CORE_FAMILY = "helvetica"
CORE_ENCODING = "windows-1252"


def render_invoice(document: InvoiceDocument, *, font_dir: Path = FONT_DIR) -> bytes:
    """The invoice as PDF bytes (A4, one page for ordinary invoices)."""
    return _InvoicePdf(document, font_dir).render()


def _core_text(value: str) -> str:
    return value.replace("\u202f", "\u00a0")


def _strings(value: object) -> Iterator[str]:
    """Every string of a document's text fields (the computation only holds numbers)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, PaymentChannel):
        yield from (value.operator, value.detail)
    elif is_dataclass(value) and not isinstance(value, type | InvoiceComputation):
        for f in fields(value):
            yield from _strings(getattr(value, f.name))


def fits_core_font(document: InvoiceDocument) -> bool:
    """True when Helvetica (Windows-1252) can print every character of the document."""
    texts = [
        *_strings(document),
        *LABELS[document.language].values(),
        *DWELLING_TYPES[document.language].values(),
        *MONTHS[document.language],
        format_amount(Decimal(0), document.computation.currency, document.language.value),
    ]
    try:
        _core_text("".join(texts)).encode(CORE_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


class _InvoicePdf:
    def __init__(self, document: InvoiceDocument, font_dir: Path) -> None:
        self.doc = document
        self.lang = document.language
        self.labels = LABELS[document.language]
        self.pdf = FPDF(format="A4")
        self.pdf.set_margins(15, 15, 15)
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.set_title(f"{self.labels['title']} {document.number}")
        self.pdf.set_author(document.utility.name)
        regular, bold = font_dir / "DejaVuSans.ttf", font_dir / "DejaVuSans-Bold.ttf"
        self.unicode = not fits_core_font(document) and regular.exists() and bold.exists()
        if self.unicode:
            self.pdf.add_font(FONT_FAMILY, "", str(regular))
            self.pdf.add_font(FONT_FAMILY, "B", str(bold))
            self.family = FONT_FAMILY
        else:
            self.pdf.core_fonts_encoding = CORE_ENCODING
            self.family = CORE_FAMILY

    def text(self, value: str) -> str:
        if self.unicode:
            return value
        return _core_text(value).encode(CORE_ENCODING, "replace").decode(CORE_ENCODING)

    def money(self, amount: Decimal, *, places: int | None = None) -> str:
        currency = self.doc.computation.currency
        return format_amount(amount, currency, self.lang.value, places=places)

    def font(self, size: float, bold: bool = False) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", size)

    def cell(
        self, width: float, value: str, *, align: str = "L", border: Literal[0, 1] | str = 0
    ) -> None:
        self.pdf.cell(width, LINE_H, self.text(value), border=border, align=align)

    def line(self, value: str = "", *, size: float = 9, bold: bool = False) -> None:
        self.font(size, bold)
        self.pdf.multi_cell(0, LINE_H, self.text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def render(self) -> bytes:
        self.pdf.add_page()
        self.heading()
        self.parties()
        self.metering()
        self.charges()
        self.payment()
        return bytes(self.pdf.output())

    def heading(self) -> None:
        doc, lb = self.doc, self.labels
        self.line(doc.utility.name, size=15, bold=True)
        for address in doc.utility.address_lines:
            self.line(address)
        if doc.utility.phone:
            self.line(f"{lb['phone']} {doc.utility.phone}")
        if doc.utility.tax_id:
            self.line(f"{lb['tax_id']} {doc.utility.tax_id}")
        self.pdf.ln(2)
        self.line(f"{lb['title']} — {lb['number']} {doc.number}", size=13, bold=True)
        self.line(
            f"{lb['issued']} {format_date(doc.issued_on, self.lang)}    "
            f"{lb['due']} {format_date(doc.due_on, self.lang)}"
        )

    def parties(self) -> None:
        doc, lb = self.doc, self.labels
        self.pdf.ln(2)
        self.line(lb["customer"], size=10, bold=True)
        self.line(doc.customer.name)
        if doc.customer.reference:
            self.line(f"{lb['account']} {doc.customer.reference}")
        for address in doc.customer.address_lines:
            self.line(address)
        if doc.customer.phone:
            self.line(f"{lb['phone']} {doc.customer.phone}")
        dwelling_type = DWELLING_TYPES[self.lang][doc.dwelling_type]
        self.line(f"{lb['dwelling']} {doc.dwelling_reference} ({dwelling_type})")

    def metering(self) -> None:
        doc, lb = self.doc, self.labels
        days = doc.computation.period_days
        self.pdf.ln(2)
        self.line(
            f"{lb['period']} {format_date(doc.period_start, self.lang)} – "
            f"{format_date(doc.period_end, self.lang)} ({days} {lb['days']})",
            size=10,
            bold=True,
        )
        self.line(f"{lb['meter']} {doc.meter_serial}")
        for key, index in (("opening", doc.opening), ("closing", doc.closing)):
            mark = f" (E) {lb['estimated']}" if index.estimated else ""
            self.line(
                f"{lb[key]} {format_date(index.read_on, self.lang)}{lb['colon']} "
                f"{format_m3(index.index_l, self.lang)} m³{mark}"
            )
        self.line(
            f"{lb['consumed']}{lb['colon']} {format_m3(doc.computation.volume_l, self.lang)} m³",
            bold=True,
        )

    def charges(self) -> None:
        lb, comp = self.labels, self.doc.computation
        self.pdf.ln(3)
        self.font(9, bold=True)
        self.cell(DESCRIPTION_W, lb["description"], border="B")
        self.cell(VOLUME_W, lb["volume"], align="R", border="B")
        self.cell(PRICE_W, lb["unit_price"], align="R", border="B")
        self.cell(AMOUNT_W, lb["amount"], align="R", border="B")
        self.pdf.ln(LINE_H)
        self.font(9)
        for ln in comp.lines:
            if ln.kind == LineKind.VAT:
                continue
            volume = "" if ln.volume_l is None else format_m3(ln.volume_l, self.lang)
            price = "" if ln.unit_price is None else self.unit_price(ln.unit_price)
            self.cell(DESCRIPTION_W, self.describe(ln))
            self.cell(VOLUME_W, volume, align="R")
            self.cell(PRICE_W, price, align="R")
            self.cell(AMOUNT_W, self.money(ln.amount.amount), align="R")
            self.pdf.ln(LINE_H)
        self.total_row(lb["net"], comp.net.amount, border="T")
        for ln in comp.lines:
            if ln.kind == LineKind.VAT:
                self.total_row(self.describe(ln), ln.amount.amount)
        self.total_row(lb["total"], comp.total.amount, bold=True, border="T")
        self.line(f"{lb['due']} {format_date(self.doc.due_on, self.lang)}", size=10, bold=True)
        if comp.kind == InvoiceKind.SUBSCRIPTION_ONLY:
            self.line(lb["subscription_only"])
        terms = self.doc.late_penalty
        if terms is not None and (terms.pct or terms.fixed.amount):
            self.line(
                lb["penalty"].format(
                    pct=self.percent(terms.pct), fixed=self.money(terms.fixed.amount)
                )
            )
        for note in self.doc.notes:
            self.line(note)

    def total_row(
        self, label: str, amount: Decimal, *, bold: bool = False, border: Literal[0, 1] | str = 0
    ) -> None:
        self.font(9 if not bold else 10, bold)
        self.cell(DESCRIPTION_W + VOLUME_W + PRICE_W, label, align="R", border=border)
        self.cell(AMOUNT_W, self.money(amount), align="R", border=border)
        self.pdf.ln(LINE_H)

    def unit_price(self, price: Decimal) -> str:
        """Prices keep their own decimals when finer than the currency's (0.365 per m³)."""
        decimals = max(-int(price.normalize().as_tuple().exponent), 0)
        places = max(self.doc.computation.currency.minor_units, decimals)
        return self.money(price, places=places)

    def percent(self, pct: Decimal) -> str:
        """A rate with the decimals it has: 10, 5.5, 19.25."""
        places = max(-int(pct.normalize().as_tuple().exponent), 0)
        return format_number(pct, places=places, language=self.lang.value)

    def describe(self, ln: InvoiceLine) -> str:
        lb = self.labels
        if ln.kind == LineKind.CONSUMPTION:
            lower = format_bound(ln.lower_l or 0, self.lang)
            if ln.upper_l is None:
                bounds = f"> {lower} m³"
            else:
                bounds = f"{lower} – {format_bound(ln.upper_l, self.lang)} m³"
            return f"{lb['block'].format(n=ln.block)} ({bounds})"
        if ln.kind == LineKind.SUBSCRIPTION:
            return f"{lb['subscription']} ({self.doc.computation.period_days} {lb['days']})"
        if ln.kind == LineKind.SERVICE_FEE:
            return lb["service_fee"]
        rate = self.percent(ln.vat_pct or Decimal(0))
        space = "\u00a0" if self.lang == Language.FR else ""
        return f"{self.doc.tax_name or lb['tax']} {rate}{space}%"

    def payment(self) -> None:
        pay, lb = self.doc.payment, self.labels
        self.pdf.ln(3)
        self.line(lb["how_to_pay"], size=10, bold=True)
        self.line(f"{lb['reference']}{lb['colon']} {pay.reference}", bold=True)
        for channel in pay.channels:
            name = channel.operator or lb[channel.kind.value]
            detail = f"{lb['colon']} {channel.detail}" if channel.detail else ""
            self.line(f"• {name}{detail}")
