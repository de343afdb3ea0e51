"""The operator's incidents workspace: filter, page through, acknowledge, assign and resolve
incidents one by one or a page at a time, with each incident's evidence on a chart."""

from __future__ import annotations

from fastapi import APIRouter

from accounts.models import Role
from api.web.i18n import Msg, Translator
from api.web.layout import NavItem, Page, add_nav, add_page
from api.web.pages.operator import MESSAGES as OPERATOR_MESSAGES

router = APIRouter(include_in_schema=False)

MESSAGES = {
    "inc.title": Msg("Incidents", "Incidents", "Ol hevi"),
    "inc.filters": Msg("Filters", "Filtres", "Makim"),
    "inc.kind": Msg("Kind", "Type", "Kain"),
    "inc.severity": Msg("Severity", "Gravité", "Bikpela o liklik"),
    "inc.zone": Msg("Zone", "Zone", "Hap"),
    "inc.status": Msg("Status", "Statut", "Stetas"),
    "inc.any": Msg("Any", "Tous", "Olgeta"),
    "inc.live": Msg("Open or acknowledged", "Ouverts ou pris en compte", "I op o lukim pinis"),
    "inc.apply": Msg("Apply", "Appliquer", "Mekim"),
    "inc.count": Msg(
        "{total} incidents; {from}–{to} shown.",
        "{total} incidents ; {from}–{to} affichés.",
        "{total} hevi; {from}–{to} i stap.",
    ),
    "inc.previous": Msg("Previous page", "Page précédente", "Pes i go pas"),
    "inc.next": Msg("Next page", "Page suivante", "Pes i kam bihain"),
    "inc.select": Msg("Select", "Choisir", "Makim"),
    "inc.select_page": Msg(
        "Select every incident on this page",
        "Choisir tous les incidents de la page",
        "Makim olgeta hevi long dispela pes",
    ),
    "inc.selected": Msg("{count} selected", "{count} choisis", "{count} i makim"),
    "inc.meter": Msg("Meter", "Compteur", "Mita"),
    "inc.started": Msg("Started", "Début", "Stat"),
    "inc.assigned": Msg("Assigned to", "Confié à", "Givim long"),
    "inc.nobody": Msg("Nobody", "Personne", "Nogat wanpela"),
    "inc.open": Msg("Details", "Détails", "Lukim moa"),
    "inc.acknowledge": Msg("Acknowledge", "Prendre en compte", "Lukim pinis"),
    "inc.assign": Msg("Assign", "Confier", "Givim"),
    "inc.assign_to": Msg("Assign to", "Confier à", "Givim long"),
    "inc.resolve": Msg("Resolve", "Résoudre", "Stretim"),
    "inc.note": Msg(
        "Note (why it is resolved)", "Note (pourquoi c'est résolu)", "Tok (bilong wanem em i pinis)"
    ),
    "inc.bulk": Msg("Selected incidents", "Incidents choisis", "Ol hevi yu makim"),
    "inc.none_selected": Msg(
        "Select at least one incident.",
        "Choisissez au moins un incident.",
        "Makim wanpela hevi o moa.",
    ),
    "inc.bulk_done": Msg(
        "{done} done, {refused} refused.",
        "{done} faits, {refused} refusés.",
        "{done} pinis, {refused} i no inap.",
    ),
    "inc.refused.IncidentAlreadyClosed": Msg("closed already", "déjà clos", "i pinis pinis"),
    "inc.refused.IncidentNotFound": Msg("not found", "introuvable", "i no stap"),
    "inc.refused.NoteRequired": Msg(
        "still ongoing: a note must say why it is resolved",
        "toujours en cours : une note doit dire pourquoi",
        "i stap yet: raitim tok bilong wanem",
    ),
    "inc.done": Msg("Saved.", "Enregistré.", "Seivim pinis."),
    "inc.detail": Msg("Incident {id}", "Incident {id}", "Hevi {id}"),
    "inc.evidence": Msg("Evidence", "Éléments", "Ol samting i soim"),
    "inc.evidence_chart": Msg(
        "Hourly consumption (litres) around the incident",
        "Consommation horaire (litres) autour de l'incident",
        "Wara i yusim long olgeta aua (lita) klostu long hevi",
    ),
    "inc.hourly_l": Msg("Litres per hour", "Litres par heure", "Lita long wan aua"),
    "inc.start_end": Msg("Start and end", "Début et fin", "Stat na pinis"),
    "inc.time": Msg("Time", "Heure", "Taim"),
    "inc.close_detail": Msg("Close", "Fermer", "Pasim"),
}

# The incident states, named as the operator pages name them.
MESSAGES.update({k: v for k, v in OPERATOR_MESSAGES.items() if k.startswith("op.state.")})

add_nav(NavItem("/operator/incidents", "inc.title", (Role.ADMIN,), order=21))


def _options(t: Translator, prefix: str, values: tuple[str, ...]) -> str:
    return "".join(f'<option value="{v}">{t(f"{prefix}{v}")}</option>' for v in values)


KINDS = ("leak", "burst", "backflow", "stuck", "silent", "tamper", "dry", "low_battery", "abnormal")
STATUSES = ("open", "acknowledged", "resolved", "closed")


def _body(t: Translator) -> str:
    return f"""
<form id="filters" class="row" aria-label="{t("inc.filters")}">
<div class="field"><label for="f-kind">{t("inc.kind")}</label><select id="f-kind" name="kind">
<option value="">{t("inc.any")}</option>{_options(t, "anomaly.", KINDS)}</select></div>
<div class="field"><label for="f-severity">{t("inc.severity")}</label>
<select id="f-severity" name="severity"><option value="">{t("inc.any")}</option>
{_options(t, "anomaly.severity.", ("critical", "warning", "info"))}</select></div>
<div class="field"><label for="f-zone">{t("inc.zone")}</label><select id="f-zone" name="zone_id">
<option value="">{t("inc.any")}</option></select></div>
<div class="field"><label for="f-status">{t("inc.status")}</label>
<select id="f-status" name="status">
<option value="live">{t("inc.live")}</option>{_options(t, "op.state.", STATUSES)}
<option value="">{t("inc.any")}</option></select></div>
<button class="primary" type="submit">{t("inc.apply")}</button></form>
<p id="count" class="muted"></p>
<section id="detail" class="panel" hidden aria-labelledby="detail-h" tabindex="-1">
<h2 id="detail-h"></h2><dl id="detail-facts" class="facts"></dl>
<div id="evidence-chart"></div>
<form id="detail-form" class="row">
<button class="secondary" type="button" id="one-ack">{t("inc.acknowledge")}</button>
<div class="field"><label for="one-assignee">{t("inc.assign_to")}</label>
<select id="one-assignee"></select></div>
<button class="secondary" type="button" id="one-assign">{t("inc.assign")}</button>
<div class="field"><label for="one-note">{t("inc.note")}</label>
<input id="one-note" type="text" maxlength="2000"></div>
<button class="primary" type="button" id="one-resolve">{t("inc.resolve")}</button>
<button class="link" type="button" id="one-close">{t("inc.close_detail")}</button>
</form></section>
<section id="bulk" class="panel" aria-labelledby="bulk-h"><h2 id="bulk-h">{t("inc.bulk")}</h2>
<p id="selected" aria-live="polite"></p>
<form id="bulk-form" class="row">
<button class="secondary" type="button" id="bulk-ack">{t("inc.acknowledge")}</button>
<div class="field"><label for="bulk-assignee">{t("inc.assign_to")}</label>
<select id="bulk-assignee"></select></div>
<button class="secondary" type="button" id="bulk-assign">{t("inc.assign")}</button>
<div class="field"><label for="bulk-note">{t("inc.note")}</label>
<input id="bulk-note" type="text" maxlength="2000"></div>
<button class="secondary" type="button" id="bulk-resolve">{t("inc.resolve")}</button>
</form></section>
<div id="list"></div>
<nav class="row pager" aria-label="{t("inc.title")}">
<button class="secondary" type="button" id="prev">{t("inc.previous")}</button>
<button class="secondary" type="button" id="next">{t("inc.next")}</button></nav>"""


add_page(
    router,
    "/operator/incidents",
    Page(
        title="inc.title",
        body=_body,
        script="incidents",
        roles=(Role.ADMIN,),
        messages=MESSAGES,
        styles=("css/operator.css",),
    ),
    name="operator_incidents_page",
)
