"""From stored invoice rows to the ``billing.invoices.pdf.InvoiceDocument`` the renderer prints.

The language is the billed customer's, else the country's; the currency format follows the
invoice's currency. After a meter replacement the PDF shows the newest meter's indexes and a
note with the replaced one's; regularisations name the invoice they correct.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import User
from billing.close.models import BillingPeriod
from billing.invoices.models import Invoice
from billing.invoices.pdf import (
    InvoiceDocument,
    LatePenaltyTerms,
    MeterIndex,
    Party,
    PaymentInstructions,
)
from billing.invoices.pdf_text import format_m3
from billing.tariffs.models import TariffVersion
from billing.tariffs.pricing import InvoiceComputation, InvoiceKind, InvoiceLine, LineKind
from core.config_billing import BillingSettings
from core.countries import Country, Language
from core.money import Money, get_currency
from registry.models import Building, Dwelling, Meter, Zone

_NOTES = {
    Language.EN: {
        "draft": "DRAFT",
        "corrects": "Regularisation of invoice {number}: the lines are the differences.",
        "replaced": "Meter {serial} replaced: {opening} → {closing} m³ ({volume} m³).",
    },
    Language.FR: {
        "draft": "BROUILLON",
        "corrects": "Régularisation de la facture {number} : les lignes sont les différences.",
        "replaced": "Compteur {serial} remplacé : {opening} → {closing} m³ ({volume} m³).",
    },
    Language.TPI: {
        "draft": "DRAFT",
        "corrects": "Stretim bil {number}: ol lain i diferens.",
        "replaced": "Mita {serial} i senis: {opening} → {closing} m³ ({volume} m³).",
    },
}


async def invoice_document(
    session: AsyncSession, *, invoice: Invoice, settings: BillingSettings, today: date
) -> InvoiceDocument:
    """Everything the PDF prints about ``invoice`` (lines and meters loaded with it)."""
    period = await session.get(BillingPeriod, invoice.period_id)
    dwelling = await session.get(Dwelling, invoice.dwelling_id)
    country = await session.get(Country, invoice.country_code)
    tariff = await session.get(TariffVersion, invoice.tariff_id)
    customer = None if invoice.customer_id is None else await session.get(User, invoice.customer_id)
    assert period is not None
    assert dwelling is not None
    assert country is not None
    assert tariff is not None
    building = await session.get(Building, dwelling.building_id)
    assert building is not None
    zone = await session.get(Zone, building.zone_id)
    tz = ZoneInfo((zone.timezone if zone else None) or country.timezone)
    language = customer.language if customer is not None else country.language
    notes = _NOTES[language]
    utility = settings.utility(invoice.country_code)
    currency = get_currency(invoice.currency)
    meter_ids = [m.meter_id for m in invoice.meters]
    rows = await session.execute(select(Meter.id, Meter.serial).where(Meter.id.in_(meter_ids)))
    serials: dict[int, str] = {row.id: row.serial for row in rows}
    texts: list[str] = []
    if invoice.kind is InvoiceKind.REGULARISATION and invoice.corrects_invoice_id is not None:
        original = await session.get(Invoice, invoice.corrects_invoice_id)
        texts.append(notes["corrects"].format(number=original.number if original else "?"))
    for replaced in invoice.meters[:-1]:
        texts.append(
            notes["replaced"].format(
                serial=serials.get(replaced.meter_id, "?"),
                opening=format_m3(replaced.opening_index_l, language),
                closing=format_m3(replaced.closing_index_l, language),
                volume=format_m3(replaced.volume_l, language),
            )
        )
    last = invoice.meters[-1] if invoice.meters else None
    issued_on = invoice.issue_date or today
    return InvoiceDocument(
        number=invoice.number or notes["draft"],
        language=language,
        issued_on=issued_on,
        due_on=invoice.due_date or issued_on + timedelta(days=settings.payment_days),
        utility=Party(
            name=utility.name,
            address_lines=tuple(p.strip() for p in utility.address.split("|") if p.strip()),
            phone=utility.support_phone or None,
            tax_id=utility.tax_id or None,
        ),
        customer=Party(
            name=customer.full_name if customer is not None else dwelling.reference,
            phone=customer.phone if customer is not None else None,
            reference=f"C{invoice.customer_id}" if invoice.customer_id else None,
            address_lines=(building.name, building.address)
            if building.address
            else (building.name,),
        ),
        dwelling_reference=dwelling.reference,
        dwelling_type=dwelling.dwelling_type,
        meter_serial=serials.get(last.meter_id, "") if last else "",
        period_start=period.start_date,
        period_end=period.end_date,
        opening=MeterIndex(
            index_l=last.opening_index_l if last else 0,
            read_on=(last.opening_at.astimezone(tz).date() if last else period.start_date),
            estimated=bool(last and last.opening_estimated),
        ),
        closing=MeterIndex(
            index_l=last.closing_index_l if last else 0,
            read_on=(last.closing_at.astimezone(tz).date() if last else period.end_date),
            estimated=bool(last and last.closing_estimated),
        ),
        computation=InvoiceComputation(
            kind=invoice.kind,
            currency=currency,
            volume_l=invoice.volume_l,
            period_days=invoice.period_days,
            lines=tuple(
                InvoiceLine(
                    kind=LineKind(row.kind),
                    amount=Money.from_minor(row.amount_minor, currency),
                    block=row.block,
                    lower_l=row.lower_l,
                    upper_l=row.upper_l,
                    volume_l=row.volume_l,
                    unit_price=row.unit_price,
                    vat_pct=row.vat_pct,
                )
                for row in invoice.lines
            ),
        ),
        payment=PaymentInstructions(
            reference=invoice.number or f"INV{invoice.id}",
            channels=tuple(utility.channels),
        ),
        late_penalty=LatePenaltyTerms(
            pct=tariff.penalty_pct, fixed=Money.from_minor(tariff.penalty_fixed_minor, currency)
        ),
        notes=tuple(texts),
    )
