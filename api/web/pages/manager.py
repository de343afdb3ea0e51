"""The property manager's view: their buildings, dwellings and tenants, the monthly report with
unpaid follow-up, and the anomalies in their buildings (static/js/manager.js).

Reports and anomalies come from the reports and anomalies APIs; where this server does not have
them yet, the sections say so instead of failing.
"""

from __future__ import annotations

from fastapi import APIRouter

from accounts.models import Role
from api.web.i18n import Msg, Translator
from api.web.layout import NavItem, Page, add_nav, add_page

router = APIRouter(include_in_schema=False)

MESSAGES = {
    "manager.title": Msg("My buildings", "Mes immeubles", "Ol haus bilong mi"),
    "manager.nav": Msg("Buildings", "Immeubles", "Ol haus"),
    "manager.building": Msg("Building", "Immeuble", "Haus"),
    "manager.month": Msg("Month", "Mois", "Mun"),
    "manager.dwellings": Msg(
        "Dwellings and tenants", "Logements et locataires", "Ol rum na ol man"
    ),
    "manager.reference": Msg("Dwelling", "Logement", "Rum"),
    "manager.type": Msg("Type", "Type", "Kain"),
    "manager.occupancy": Msg("Occupancy", "Occupation", "Husat i stap"),
    "manager.tenants": Msg("Tenants and owners", "Locataires et propriétaires", "Ol man i stap"),
    "manager.since": Msg("since {date}", "depuis le {date}", "stat long {date}"),
    "manager.report": Msg("Monthly report", "Rapport mensuel", "Ripot bilong mun"),
    "manager.volume": Msg("Consumption", "Consommation", "Wara i yusim"),
    "manager.billed": Msg("Billed", "Facturé", "Bil"),
    "manager.paid": Msg("Paid", "Payé", "Peim pinis"),
    "manager.unpaid": Msg("Unpaid", "Impayé", "I no peim yet"),
    "manager.total": Msg("Total", "Total", "Olgeta"),
    "manager.followup": Msg("Unpaid follow-up", "Suivi des impayés", "Lukautim ol dinau"),
    "manager.no_unpaid": Msg(
        "Nothing unpaid this month.", "Aucun impayé ce mois-ci.", "Nogat dinau long dispela mun."
    ),
    "manager.collection": Msg(
        "Collection over the last 12 months",
        "Recouvrement sur les 12 derniers mois",
        "Mani i kam insait long 12 mun i go pinis",
    ),
    "manager.rate": Msg("Collection rate", "Taux de recouvrement", "Hamas i peim"),
    "manager.not_due": Msg("Not yet due", "Non échu", "Taim i no kamap yet"),
    "manager.late": Msg("Days late", "Jours de retard", "Ol de i lus"),
    "manager.anomalies": Msg(
        "Anomalies in my buildings", "Anomalies dans mes immeubles", "Ol samting i no stret"
    ),
    "manager.no_anomalies": Msg(
        "No open anomaly.", "Aucune anomalie ouverte.", "Nogat samting i no stret."
    ),
    "manager.kind": Msg("Kind", "Type", "Kain"),
    "manager.meter": Msg("Meter", "Compteur", "Mita"),
    "manager.started": Msg("Since", "Depuis", "Stat long"),
    "manager.no_buildings": Msg(
        "No building is assigned to you.",
        "Aucun immeuble ne vous est attribué.",
        "Nogat haus i stap aninit long yu.",
    ),
}


def _body(t: Translator) -> str:
    return f"""
<form id="pick" class="row">
<div class="field"><label for="building">{t("manager.building")}</label>
<select id="building" name="building"></select></div>
<div class="field"><label for="month">{t("manager.month")}</label>
<input type="month" id="month" name="month"></div>
</form>
<div class="two">
<section aria-labelledby="h-dwellings"><h2 id="h-dwellings">{t("manager.dwellings")}</h2>
<div id="dwellings"></div></section>
<section aria-labelledby="h-anomalies"><h2 id="h-anomalies">{t("manager.anomalies")}</h2>
<div id="anomalies"></div></section>
</div>
<section aria-labelledby="h-report"><h2 id="h-report">{t("manager.report")}</h2>
<div id="report"></div></section>
<section aria-labelledby="h-followup"><h2 id="h-followup">{t("manager.followup")}</h2>
<div id="followup"></div><h3>{t("manager.collection")}</h3><div id="collection"></div></section>
"""


add_nav(NavItem("/manager", "manager.nav", (Role.MANAGER, Role.ADMIN), order=20))
add_page(
    router,
    "/manager",
    Page(
        title="manager.title",
        body=_body,
        script="manager",
        roles=(Role.MANAGER, Role.ADMIN),
        messages=MESSAGES,
    ),
    name="manager_page",
)
