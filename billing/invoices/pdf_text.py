"""The words an invoice PDF prints, per language, and how it writes dates, volumes and bounds."""

from __future__ import annotations

from datetime import date

from billing.tariffs.pricing import litres_to_m3
from core.countries import Language
from core.money import format_number
from registry.models import DwellingType

LABELS: dict[Language, dict[str, str]] = {
    Language.EN: {
        "title": "Water bill",
        "colon": ":",
        "number": "Invoice no.",
        "issued": "Issued",
        "due": "Pay by",
        "customer": "Customer",
        "account": "Account",
        "dwelling": "Dwelling",
        "meter": "Meter",
        "period": "Period",
        "days": "days",
        "opening": "Opening index",
        "closing": "Closing index",
        "estimated": "estimated",
        "consumed": "Consumption",
        "description": "Description",
        "volume": "Volume (m³)",
        "unit_price": "Unit price",
        "amount": "Amount",
        "block": "Block {n}",
        "subscription": "Subscription",
        "service_fee": "Service fee",
        "tax": "VAT",
        "net": "Total before tax",
        "total": "Total due",
        "subscription_only": "Subscription only: the dwelling was vacant and used no water.",
        "how_to_pay": "How to pay",
        "tax_id": "Tax ID",
        "penalty": "After the due date a late penalty of {pct}% of the amount due plus {fixed}"
        " is added.",
        "reference": "Quote this reference",
        "mobile_money": "Mobile money",
        "card": "Card",
        "bank_transfer": "Bank transfer",
        "cash": "Cash at our agents",
        "phone": "Tel.",
    },
    Language.FR: {
        "title": "Facture d'eau",
        "colon": "\u00a0:",
        "number": "Facture n°",
        "issued": "Émise le",
        "due": "À payer avant le",
        "customer": "Client",
        "account": "Compte",
        "dwelling": "Logement",
        "meter": "Compteur",
        "period": "Période",
        "days": "jours",
        "opening": "Ancien index",
        "closing": "Nouvel index",
        "estimated": "estimé",
        "consumed": "Consommation",
        "description": "Désignation",
        "volume": "Volume (m³)",
        "unit_price": "Prix unitaire",
        "amount": "Montant",
        "block": "Tranche {n}",
        "subscription": "Abonnement",
        "service_fee": "Frais de service",
        "tax": "TVA",
        "net": "Total HT",
        "total": "Total TTC à payer",
        "subscription_only": "Abonnement seul : logement vacant, aucune consommation.",
        "how_to_pay": "Comment payer",
        "tax_id": "N° contribuable",
        "penalty": "Après l'échéance, une pénalité de retard de {pct}\u00a0% du montant dû"
        " plus {fixed} est appliquée.",
        "reference": "Référence à indiquer",
        "mobile_money": "Mobile money",
        "card": "Carte bancaire",
        "bank_transfer": "Virement bancaire",
        "cash": "Espèces auprès de nos agents",
        "phone": "Tél.",
    },
    Language.TPI: {
        "title": "Bil bilong wara",
        "colon": ":",
        "number": "Namba bilong bil",
        "issued": "De bilong bil",
        "due": "Peim long o pastaim long",
        "customer": "Kastama",
        "account": "Akaun",
        "dwelling": "Haus",
        "meter": "Mita",
        "period": "Taim",
        "days": "de",
        "opening": "Namba bilong mita long stat",
        "closing": "Namba bilong mita long pinis",
        "estimated": "ges",
        "consumed": "Wara yu yusim",
        "description": "Wanem samting",
        "volume": "Hamas wara (m³)",
        "unit_price": "Pe long wan m³",
        "amount": "Pe",
        "block": "Hap {n}",
        "subscription": "Pe bilong mun",
        "service_fee": "Pe bilong sevis",
        "tax": "Takis",
        "net": "Olgeta pe paslain long takis",
        "total": "Olgeta pe yu mas peim",
        "subscription_only": "Pe bilong mun tasol: i no gat man long haus na i no yusim wara.",
        "how_to_pay": "Rot bilong peim",
        "tax_id": "Takis namba",
        "penalty": "Sapos yu no peim long taim, bai yu peim moa {pct}% bilong dinau na {fixed}.",
        "reference": "Raitim dispela namba",
        "mobile_money": "Mobail mani",
        "card": "Kad",
        "bank_transfer": "Peim long benk",
        "cash": "Peim kes long ol ejen bilong mipela",
        "phone": "Fon",
    },
}

DWELLING_TYPES: dict[Language, dict[DwellingType, str]] = {
    Language.EN: {t: t.value for t in DwellingType},
    Language.FR: {
        DwellingType.APARTMENT: "appartement",
        DwellingType.HOUSE: "maison",
        DwellingType.COMMERCIAL: "local commercial",
        DwellingType.COMMUNAL: "point d'eau collectif",
    },
    Language.TPI: {
        DwellingType.APARTMENT: "rum long bikpela haus",
        DwellingType.HOUSE: "haus",
        DwellingType.COMMERCIAL: "haus bisnis",
        DwellingType.COMMUNAL: "wara bilong komuniti",
    },
}

MONTHS: dict[Language, list[str]] = {
    Language.EN: (
        "January February March April May June July August September October November December"
    ).split(),
    Language.FR: (
        "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
    ).split(),
    Language.TPI: (
        "Janueri Februeri Mas Epril Me Jun Julai Ogas Septemba Oktoba Novemba Desemba"
    ).split(),
}


def format_date(day: date, language: Language) -> str:
    return f"{day.day} {MONTHS[language][day.month - 1]} {day.year}"


def format_m3(litres: int, language: Language) -> str:
    """A volume in m³ with litre precision (three decimals), in the language's digits."""
    return format_number(litres_to_m3(litres), places=3, language=language.value)


def format_bound(litres: int, language: Language) -> str:
    """A block bound: whole m³ without decimals (10), else to the litre (8.333)."""
    places = 0 if litres % 1000 == 0 else 3
    return format_number(litres_to_m3(litres), places=places, language=language.value)
