"""Message catalogs in English, French and Tok Pisin, and the choice of the user's language.

A view declares its messages next to its routes (``MESSAGES`` in its page module); a test checks
that every message has all three languages. The page gets the common messages and its own,
inline, so a slow network pays no extra request for them.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from starlette.requests import Request

from core.countries import Language

LANG_COOKIE = "wb_lang"
LANGUAGES = tuple(Language)


@dataclass(frozen=True, slots=True)
class Msg:
    en: str
    fr: str
    tpi: str

    def get(self, language: Language) -> str:
        text: str = getattr(self, language.value)
        return text


Catalog = Mapping[str, Msg]

COMMON: dict[str, Msg] = {
    "app.name": Msg("WaterBill", "WaterBill", "WaterBill"),
    "app.skip": Msg("Skip to content", "Aller au contenu", "Go long ol samting"),
    "app.menu": Msg("Menu", "Menu", "Menu"),
    "app.language": Msg("Language", "Langue", "Tokples"),
    "app.change": Msg("Change", "Changer", "Senisim"),
    "app.signout": Msg("Sign out", "Se déconnecter", "Lusim"),
    "app.signin": Msg("Sign in", "Se connecter", "Go insait"),
    "app.loading": Msg("Loading…", "Chargement…", "Wetim liklik…"),
    "app.error": Msg(
        "Something went wrong. Try again.",
        "Une erreur est survenue. Réessayez.",
        "Samting i no orait. Traim gen.",
    ),
    "app.offline": Msg(
        "No network: showing what was loaded before.",
        "Pas de réseau : affichage des dernières données chargées.",
        "Nogat netwok: yu lukim ol samting yu bin kisim pastaim.",
    ),
    "app.forbidden": Msg(
        "Your account may not open this page.",
        "Votre compte ne peut pas ouvrir cette page.",
        "Akaun bilong yu i no inap opim dispela pes.",
    ),
    "app.unavailable": Msg(
        "Not available yet on this server.",
        "Pas encore disponible sur ce serveur.",
        "I no redi yet long dispela seva.",
    ),
    "app.none": Msg("Nothing to show.", "Rien à afficher.", "Nogat samting."),
    "app.more": Msg("Show the figures", "Afficher les chiffres", "Soim ol namba"),
    "app.refresh": Msg("Refresh", "Actualiser", "Kisim nupela"),
    "app.home": Msg("Home", "Accueil", "Hom"),
    "unit.m3": Msg("m³", "m³", "m³"),
    "unit.l": Msg("L", "L", "L"),
    "anomaly.leak": Msg("Possible leak", "Fuite possible", "Ating wara i lik"),
    "anomaly.burst": Msg("Very high flow", "Débit très élevé", "Wara i ran strong tumas"),
    "anomaly.backflow": Msg("Water flowing back", "Retour d'eau", "Wara i ran i go bek"),
    "anomaly.stuck": Msg("Meter not moving", "Compteur bloqué", "Mita i no tanim"),
    "anomaly.silent": Msg("Meter not reporting", "Compteur muet", "Mita i no salim toksave"),
    "anomaly.tamper": Msg("Meter tampering", "Compteur manipulé", "Man i bagarapim mita"),
    "anomaly.dry": Msg("No water", "Pas d'eau", "Nogat wara"),
    "anomaly.low_battery": Msg(
        "Meter battery low", "Pile du compteur faible", "Bateri bilong mita i daun"
    ),
    "anomaly.abnormal": Msg(
        "Unusual consumption", "Consommation inhabituelle", "Yu yusim wara narakain"
    ),
    "anomaly.severity.info": Msg("Info", "Info", "Toksave"),
    "anomaly.severity.warning": Msg("Warning", "Attention", "Lukaut"),
    "anomaly.severity.critical": Msg("Critical", "Critique", "Bikpela hevi"),
    "chart.empty": Msg("No data in this range.", "Aucune donnée sur cette période.", "Nogat data."),
}


# Why a phone number was refused (``core.phone.InvalidPhoneNumber.code``), for the forms that ask
# for one: the server's English reason never reaches a French or Tok Pisin page.
PHONE_ERRORS: dict[str, Msg] = {
    "error.phone.empty": Msg(
        "Enter a phone number.", "Saisissez un numéro de téléphone.", "Raitim namba bilong fon."
    ),
    "error.phone.characters": Msg(
        "Use only digits, spaces, dashes and a leading +.",
        "Utilisez seulement des chiffres, des espaces, des tirets et un + au début.",
        "Raitim namba tasol, spes, das na + long stat.",
    ),
    "error.phone.length": Msg(
        "A phone number has 9 to 15 digits.",
        "Un numéro de téléphone a de 9 à 15 chiffres.",
        "Namba bilong fon i gat 9 inap 15 namba.",
    ),
    "error.phone.invalid": Msg(
        "This is not a valid phone number. Check it, or add the country code (+237, +675).",
        "Ce numéro de téléphone n'est pas valide. Vérifiez-le ou ajoutez l'indicatif du pays"
        " (+237, +675).",
        "Dispela namba bilong fon i no stret. Lukim gen, o putim namba bilong kantri (+237, +675).",
    ),
    "error.phone.not_mobile": Msg(
        "This is not a mobile number: give a mobile number.",
        "Ce n'est pas un numéro de mobile : donnez un numéro de mobile.",
        "Dispela i no namba bilong mobail fon: givim namba bilong mobail.",
    ),
}


class Translator:
    """``t(key)`` in one language, HTML-escaped, over every catalog of the app."""

    def __init__(self, language: Language, catalog: Catalog) -> None:
        self.language = language
        self.catalog = catalog

    def text(self, key: str) -> str:
        msg = self.catalog.get(key)
        return msg.get(self.language) if msg else key

    def __call__(self, key: str) -> str:
        return html.escape(self.text(key))


def client_messages(language: Language, catalogs: Iterable[Catalog]) -> dict[str, str]:
    """The plain strings a page's script needs, in one language."""
    return {key: msg.get(language) for catalog in catalogs for key, msg in catalog.items()}


def _supported(value: str | None) -> Language | None:
    if not value:
        return None
    code = value.strip().lower().split("-")[0].split("_")[0]
    return Language(code) if code in {lang.value for lang in LANGUAGES} else None


def request_language(request: Request) -> Language:
    """The cookie the switcher set, else the browser's first language we speak, else English."""
    chosen = _supported(request.cookies.get(LANG_COOKIE))
    if chosen:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        found = _supported(part.split(";")[0])
        if found:
            return found
    return Language.EN


def intl_locale(language: Language, country: str) -> str:
    """A BCP 47 locale browsers format with: Tok Pisin has no CLDR data, so Papua New Guinea's
    English conventions stand in for it."""
    if language is Language.TPI:
        return "en-PG"
    return f"{language.value}-{country.upper()}"
