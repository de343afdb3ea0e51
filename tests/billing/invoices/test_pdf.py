import re
import shutil
import subprocess
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from billing.invoices.pdf import (
    FONT_DIR,
    InvoiceDocument,
    LatePenaltyTerms,
    MeterIndex,
    Party,
    PaymentInstructions,
    fits_core_font,
    render_invoice,
)
from billing.invoices.pdf_text import format_m3
from billing.tariffs.pricing import Block, LineKind, Tariff, compute_invoice
from core.config_billing import ChannelKind, PaymentChannel
from core.countries import Language
from core.money import Currency, Money, get_currency
from registry.models import DwellingType

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")

D = Decimal


def make_tariff(currency: Currency, prices: tuple[str, str, str], monthly: str, fee: str, vat: str):
    return Tariff(
        currency=currency,
        blocks=(Block(D(10), D(prices[0])), Block(D(30), D(prices[1])), Block(None, D(prices[2]))),
        subscriptions={t: Money(D(monthly), currency) for t in DwellingType},
        service_fee=Money(D(fee), currency),
        vat_pct=D(vat),
        penalty_pct=D(0),
        penalty_fixed=Money.zero(currency),
    )


XAF_TARIFF = make_tariff(get_currency("XAF"), ("365", "550", "775"), "1500", "500", "19.25")
EUR_TARIFF = make_tariff(get_currency("EUR"), ("1.50", "2.00", "2.50"), "812.40", "1.20", "5.5")
PGK_TARIFF = make_tariff(get_currency("PGK"), ("1.50", "2.00", "2.50"), "12.40", "1.20", "10")


def document(
    language: Language,
    tariff: Tariff,
    *,
    volume_l: int = 41_234,
    days: int = 45,
    vacant: bool = False,
    tax_name: str | None = None,
) -> InvoiceDocument:
    computation = compute_invoice(
        tariff,
        volume_l=volume_l,
        period_days=days,
        dwelling_type=DwellingType.APARTMENT,
        vacant=vacant,
    )
    return InvoiceDocument(
        number="CM-2027-000123",
        language=language,
        issued_on=date(2027, 2, 16),
        due_on=date(2027, 3, 3),
        utility=Party(
            "Camwater Douala",
            ("Rue Joffre", "Douala"),
            "+237 233 42 11 11",
            tax_id="M012345678901A",
        ),
        customer=Party(
            "Amélie Nguema", ("Immeuble Akwa, appt 4B",), "+237 699 12 34 56", "CUST-00042"
        ),
        dwelling_reference="AKW-4B",
        dwelling_type=DwellingType.APARTMENT,
        meter_serial="WB-000042",
        period_start=date(2027, 1, 1),
        period_end=date(2027, 2, 14),
        opening=MeterIndex(1_234_567, date(2027, 1, 1)),
        closing=MeterIndex(1_234_567 + volume_l, date(2027, 2, 14), estimated=True),
        computation=computation,
        payment=PaymentInstructions(
            "CM-2027-000123",
            (
                PaymentChannel(
                    kind=ChannelKind.MOBILE_MONEY,
                    operator="Orange Money",
                    detail="#150*47# merchant 123456",
                ),
                PaymentChannel(
                    kind=ChannelKind.MOBILE_MONEY, operator="MTN MoMo", detail="*126# code 654321"
                ),
                PaymentChannel(kind=ChannelKind.BANK_TRANSFER, detail="IBAN CM21 1000 2000 3000"),
                PaymentChannel(kind=ChannelKind.CASH, detail="Camwater counters"),
            ),
        ),
        tax_name=tax_name,
        late_penalty=LatePenaltyTerms(D(5), Money(D(1000), tariff.currency)),
    )


def flat(text: str) -> str:
    """One space for every run of spaces, no-break spaces included."""
    return re.sub(r"[ \u00a0\u202f]+", " ", text)


def pdf_text(doc: InvoiceDocument, tmp_path, **kwargs) -> str:
    data = render_invoice(doc, **kwargs)
    assert data.startswith(b"%PDF-")
    path = tmp_path / "invoice.pdf"
    path.write_bytes(data)
    result = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    )
    return flat(result.stdout)


def line_pattern(*cells: str) -> re.Pattern[str]:
    return re.compile(r"\s+".join(re.escape(flat(c)) for c in cells))


class TestRenderInvoice:
    def test_french_xaf_invoice_shows_every_component(self, tmp_path):
        doc = document(Language.FR, XAF_TARIFF)
        text = pdf_text(doc, tmp_path)
        for expected in (
            "Camwater Douala",
            "N° contribuable M012345678901A",
            "Facture n° CM-2027-000123",
            "Amélie Nguema",
            "Compte CUST-00042",
            "Logement AKW-4B (appartement)",
            "Compteur WB-000042",
            "Période 1 janvier 2027 – 14 février 2027 (45 jours)",
            "Ancien index 1 janvier 2027 : 1 234,567 m³\n",
            "Nouvel index 14 février 2027 : 1 275,801 m³ (E) estimé",
            "Consommation : 41,234 m³",
            "À payer avant le 3 mars 2027",
            "Référence à indiquer : CM-2027-000123",
            "Orange Money : #150*47# merchant 123456",
            "MTN MoMo : *126# code 654321",
            "Virement bancaire : IBAN CM21 1000 2000 3000",
            "Espèces auprès de nos agents : Camwater counters",
        ):
            assert expected in text
        blocks = [ln for ln in doc.computation.lines if ln.kind == LineKind.CONSUMPTION]
        assert len(blocks) == 2
        for ln, bounds in zip(blocks, ["0 – 15 m³", "15 – 45 m³"], strict=True):
            assert ln.volume_l is not None
            assert line_pattern(
                f"Tranche {ln.block} ({bounds})",
                format_m3(ln.volume_l, Language.FR),
                Money(ln.unit_price or D(0), ln.amount.currency).format("fr"),
                ln.amount.format("fr"),
            ).search(text)
        comp = doc.computation
        subscription, fee, vat = (
            [ln for ln in comp.lines if ln.kind == kind][0].amount
            for kind in (LineKind.SUBSCRIPTION, LineKind.SERVICE_FEE, LineKind.VAT)
        )
        assert line_pattern("Abonnement (45 jours)", subscription.format("fr")).search(text)
        assert line_pattern("Frais de service", fee.format("fr")).search(text)
        assert line_pattern("Total HT", comp.net.format("fr")).search(text)
        assert line_pattern("TVA 19,25 %", vat.format("fr")).search(text)
        assert line_pattern("Total TTC à payer", comp.total.format("fr")).search(text)
        assert "FCFA" in comp.total.format("fr")
        assert (
            "Après l'échéance, une pénalité de retard de 5 % du montant dû plus 1 000 FCFA"
            " est appliquée." in " ".join(text.split())
        )

    def test_only_the_estimated_index_is_marked(self, tmp_path):
        doc = document(Language.EN, EUR_TARIFF)
        text = pdf_text(doc, tmp_path)
        [opening] = [ln for ln in text.splitlines() if "Opening index" in ln]
        [closing] = [ln for ln in text.splitlines() if "Closing index" in ln]
        assert "estimated" not in opening
        assert closing.endswith("(E) estimated")

    def test_english_euro_amounts_keep_the_euro_sign(self, tmp_path):
        doc = document(Language.EN, EUR_TARIFF)
        text = pdf_text(doc, tmp_path)
        total = doc.computation.total
        assert total.format("en").startswith("€1,")  # a four-digit total exercises grouping
        assert line_pattern("Total due", total.format("en")).search(text)
        assert line_pattern("VAT 5.5%", doc.computation.vat.format("en")).search(text)
        assert "Pay by 3 March 2027" in text

    def test_tok_pisin_kina_invoice(self, tmp_path):
        doc = document(Language.TPI, PGK_TARIFF, volume_l=30_001, days=30, tax_name="GST")
        text = pdf_text(doc, tmp_path)
        assert "Bil bilong wara" in text
        assert "Taim 1 Janueri 2027 – 14 Februeri 2027 (30 de)" in text
        assert line_pattern("Hap 3 (> 30 m³)", "0.001", "K2.50", "K0.00").search(text)
        assert line_pattern("GST 10%", doc.computation.vat.format("tpi")).search(text)
        assert line_pattern("Olgeta pe yu mas peim", doc.computation.total.format("tpi")).search(
            text
        )

    def test_subscription_only_invoice_says_so(self, tmp_path):
        doc = document(Language.FR, XAF_TARIFF, volume_l=0, vacant=True)
        text = pdf_text(doc, tmp_path)
        assert "Abonnement seul : logement vacant, aucune consommation." in text
        assert "Tranche" not in text
        assert "Frais de service" not in text
        assert line_pattern("Total TTC à payer", doc.computation.total.format("fr")).search(text)

    def test_a_windows_1252_document_embeds_no_font(self, tmp_path):
        doc = document(Language.FR, EUR_TARIFF)
        assert fits_core_font(doc)
        assert b"/FontFile2" not in render_invoice(doc)
        text = pdf_text(doc, tmp_path)
        assert "€" in text
        assert line_pattern("Total TTC à payer", doc.computation.total.format("fr")).search(text)

    @pytest.mark.skipif(not (FONT_DIR / "DejaVuSans.ttf").exists(), reason="needs DejaVu Sans")
    def test_a_name_beyond_windows_1252_embeds_dejavu(self, tmp_path):
        doc = replace(document(Language.FR, XAF_TARIFF), customer=Party("Ŋgoŋ Ɛkɔ"))
        assert not fits_core_font(doc)
        assert b"/FontFile2" in render_invoice(doc)
        text = pdf_text(doc, tmp_path)
        assert "Ŋgoŋ Ɛkɔ" in text
        assert line_pattern("Total TTC à payer", doc.computation.total.format("fr")).search(text)

    def test_without_dejavu_such_a_name_degrades_but_amounts_do_not(self, tmp_path):
        doc = replace(document(Language.EN, EUR_TARIFF), customer=Party("Ŋgoŋ Ɛkɔ"))
        (tmp_path / "fonts").mkdir()
        text = pdf_text(doc, tmp_path, font_dir=tmp_path / "fonts")
        assert "?go? ?k?" in text
        assert line_pattern("Total due", doc.computation.total.format("en")).search(text)

    def test_a_long_invoice_flows_onto_a_second_page(self, tmp_path):
        doc = replace(
            document(Language.EN, EUR_TARIFF),
            notes=tuple(
                f"Note {n}: meter access was arranged with the caretaker." for n in range(60)
            ),
        )
        text = pdf_text(doc, tmp_path)
        assert "\f" in text.rstrip("\f")
        assert "Note 59:" in text
