"""The operator's views: the fleet dashboard (ingest, silence, quarantine, anomalies) and the
meter page (index, consumption over a chosen range, anomalies on the chart, forecast band)."""

from __future__ import annotations

from fastapi import APIRouter

from accounts.models import Role
from api.web.i18n import Msg, Translator
from api.web.layout import NavItem, Page, add_nav, add_page

router = APIRouter(include_in_schema=False)

OPERATOR = (Role.ADMIN,)
# Managers and technicians reach meter pages from their own views; the API scopes the data.
METER_READERS = (Role.ADMIN, Role.MANAGER, Role.TECHNICIAN)

MESSAGES = {
    "op.dashboard": Msg("Operations", "Exploitation", "Wok bilong opereta"),
    "op.live": Msg(
        "Updated {time}; refreshes every {seconds} s.",
        "Mis à jour à {time} ; actualisé toutes les {seconds} s.",
        "Nupela long {time}; em i kisim nupela long olgeta {seconds} s.",
    ),
    "op.ingest": Msg("Ingest", "Ingestion", "Data i kam insait"),
    "op.rate": Msg("Readings per second", "Relevés par seconde", "Rid long wan sekon"),
    "op.last_minute": Msg("Readings, last minute", "Relevés, dernière minute", "Rid, las minit"),
    "op.lag": Msg("Lag (newest reading)", "Retard (dernier relevé)", "Longwe (nupela rid)"),
    "op.rollup_queue": Msg("Meters awaiting rollup", "Compteurs à agréger", "Mita i wet"),
    "op.history": Msg("History", "Historique", "Ol samting i bin kamap"),
    "op.window": Msg("Time window", "Fenêtre de temps", "Hamas taim"),
    "op.window.hour": Msg("Last hour", "Dernière heure", "Las aua"),
    "op.window.day": Msg("Last day", "Dernier jour", "Las de"),
    "op.window.30d": Msg("30 days", "30 jours", "30 de"),
    "op.window.custom": Msg("Custom", "Personnalisée", "Yu makim"),
    "op.scope": Msg("Meters", "Compteurs", "Ol mita"),
    "op.scope.fleet": Msg("Whole fleet", "Tout le parc", "Olgeta mita"),
    "op.scope.zone": Msg("Zone {name}", "Zone {name}", "Hap {name}"),
    "op.scope.zones": Msg("Zones", "Zones", "Ol hap"),
    "op.scope.buildings": Msg("Buildings", "Immeubles", "Ol haus"),
    "op.scope.meter": Msg("Meter {serial}", "Compteur {serial}", "Mita {serial}"),
    "op.history_volume": Msg(
        "Consumption (m³) · {scope} · {window}",
        "Consommation (m³) · {scope} · {window}",
        "Wara i yusim (m³) · {scope} · {window}",
    ),
    "op.readings": Msg("Readings", "Relevés", "Rid"),
    "op.readings_per.minute": Msg(
        "Readings per minute · {scope} · {window}",
        "Relevés par minute · {scope} · {window}",
        "Rid long wan minit · {scope} · {window}",
    ),
    "op.readings_per.hour": Msg(
        "Readings per hour · {scope} · {window}",
        "Relevés par heure · {scope} · {window}",
        "Rid long wan aua · {scope} · {window}",
    ),
    "op.readings_per.day": Msg(
        "Readings per day · {scope} · {window}",
        "Relevés par jour · {scope} · {window}",
        "Rid long wan de · {scope} · {window}",
    ),
    "op.history_total": Msg(
        "{volume} used, {readings} readings.",
        "{volume} consommés, {readings} relevés.",
        "{volume} wara i yusim, {readings} rid.",
    ),
    "op.history_readings": Msg("{readings} readings.", "{readings} relevés.", "{readings} rid."),
    "op.minute_no_volume": Msg(
        "Consumption is counted by the hour: choose the last day or longer to see it.",
        "La consommation est comptée par heure : choisissez le dernier jour ou plus.",
        "Wara i yusim i kaunim long olgeta aua: makim las de o moa long lukim.",
    ),
    "op.estimated_note": Msg(
        "Grey bars include estimated volumes.",
        "Les barres grises comprennent des volumes estimés.",
        "Ol ba i gat kala gre i gat sampela namba i ting tasol.",
    ),
    "op.meter_history": Msg(
        "History of this meter on the dashboard",
        "Historique du compteur sur le tableau de bord",
        "Lukim ol samting bilong dispela mita long pes bilong opereta",
    ),
    "op.meters": Msg("Meters", "Compteurs", "Mita"),
    "op.active": Msg("Active", "Actifs", "I wok"),
    "op.reporting": Msg("Reporting", "Communiquent", "I salim toksave"),
    "op.silent": Msg("Silent", "Muets", "I no salim toksave"),
    "op.hand_read": Msg(
        "Read by hand (45 days)", "Relevés à la main (45 jours)", "Man i ritim (45 de)"
    ),
    "op.last_manual": Msg("Last read by hand", "Dernier relevé manuel", "Las taim man i ritim"),
    "op.silent_list": Msg("Silent meters", "Compteurs muets", "Mita i no salim toksave"),
    "op.serial": Msg("Serial", "N° de série", "Namba bilong mita"),
    "op.last_seen": Msg("Last heard", "Dernier contact", "Las taim i toksave"),
    "op.never": Msg("never", "jamais", "nogat wanpela taim"),
    "op.silent_for": Msg("Silent for", "Muet depuis", "I no toksave inap"),
    "op.quarantine": Msg("Quarantine by reason", "Quarantaine par motif", "Ol rong mesej"),
    "op.reason": Msg("Reason", "Motif", "As"),
    "op.open": Msg("Open", "Ouverts", "I op"),
    "op.total_open": Msg("Open in quarantine", "En quarantaine", "I stap long kwarantin"),
    "op.reason.bad_topic": Msg("Unknown topic", "Sujet inconnu", "Topik i no stret"),
    "op.reason.payload_too_large": Msg("Too large", "Trop volumineux", "I bikpela tumas"),
    "op.reason.malformed_json": Msg("Not valid JSON", "JSON invalide", "JSON i no stret"),
    "op.reason.schema_violation": Msg("Wrong fields", "Champs invalides", "Ol hap i no stret"),
    "op.reason.future_timestamp": Msg("Time in the future", "Date future", "Taim bihain"),
    "op.reason.unknown_meter": Msg("Unknown meter", "Compteur inconnu", "Mita i no save"),
    "op.reason.index_jump": Msg("Index jump", "Saut d'index", "Namba i kalap"),
    "op.reason.store_failed": Msg("Not stored", "Non enregistré", "I no seivim"),
    "op.anomalies": Msg("Open anomalies", "Anomalies ouvertes", "Ol hevi i op"),
    "op.kind": Msg("Kind", "Type", "Kain"),
    "op.count": Msg("Count", "Nombre", "Hamas"),
    "op.meter_list": Msg("Meters", "Compteurs", "Mita"),
    "op.see_incidents": Msg("Handle the {count}", "Traiter les {count}", "Lukautim {count}"),
    "op.severity": Msg("Severity", "Gravité", "Bikpela o liklik"),
    "op.started": Msg("Started", "Début", "Stat"),
    "op.meter": Msg("Meter {serial}", "Compteur {serial}", "Mita {serial}"),
    "op.meter_title": Msg("Meter", "Compteur", "Mita"),
    "op.index": Msg("Index", "Index", "Namba bilong mita"),
    "op.index_at": Msg("at {time}", "le {time}", "long {time}"),
    "op.kind_label": Msg("Type", "Type", "Kain"),
    "op.installed": Msg("Installed", "Posé le", "Putim long"),
    "op.interval": Msg("Reports every", "Émet toutes les", "Salim toksave olgeta"),
    "op.timezone": Msg("Time zone", "Fuseau horaire", "Taim sone"),
    "op.range": Msg("Range", "Période", "Taim"),
    "op.from": Msg("From", "Du", "Long"),
    "op.to": Msg("To (included)", "Au (inclus)", "I go long (insait)"),
    "op.granularity": Msg("Step", "Pas", "Step"),
    "op.hourly": Msg("Hourly", "Horaire", "Olgeta aua"),
    "op.daily": Msg("Daily", "Journalier", "Olgeta de"),
    "op.show": Msg("Show", "Afficher", "Soim"),
    "op.consumption": Msg("Consumption", "Consommation", "Wara i yusim"),
    "op.consumption_l": Msg("Consumption (litres)", "Consommation (litres)", "Wara i yusim (lita)"),
    "op.total": Msg(
        "{volume} over the range.", "{volume} sur la période.", "{volume} long dispela taim."
    ),
    "op.forecast": Msg("Forecast (likely range)", "Prévision (fourchette)", "Ting bilong bihain"),
    "op.forecast_none": Msg(
        "No forecast for this meter yet.",
        "Pas encore de prévision pour ce compteur.",
        "I no gat ting bilong bihain yet.",
    ),
    "op.meter_anomalies": Msg("Anomalies of this meter", "Anomalies du compteur", "Ol hevi"),
    "op.marker": Msg("Anomaly start", "Début d'anomalie", "Hevi i stat"),
    "op.status": Msg("Status", "Statut", "Stetas"),
    "op.ended": Msg("Ended", "Fin", "Pinis"),
    "op.time": Msg("Time", "Heure", "Taim"),
    "op.date": Msg("Date", "Date", "De"),
    "op.state.open": Msg("Open", "Ouverte", "I op"),
    "op.state.acknowledged": Msg("Acknowledged", "Prise en compte", "Lukim pinis"),
    "op.state.resolved": Msg("Resolved", "Résolue", "Stretim pinis"),
    "op.state.closed": Msg("Closed", "Close", "Pinis"),
    "op.meter_kind.mechanical": Msg("Mechanical", "Mécanique", "Mekanikal"),
    "op.meter_kind.electronic": Msg("Electronic", "Électronique", "Elektronik"),
    "op.meter_kind.iot": Msg("Connected", "Communicant", "I join long netwok"),
    "op.bad_range": Msg(
        "Choose an end date after the start date.",
        "Choisissez une date de fin après la date de début.",
        "Makim de bilong pinis bihain long de bilong stat.",
    ),
}

add_nav(NavItem("/operator", "op.dashboard", OPERATOR, order=20))


def _dashboard(t: Translator) -> str:
    return f"""
<p class="muted" id="live"></p>
<section aria-labelledby="ingest-h"><h2 id="ingest-h">{t("op.ingest")}</h2>
<ul class="cards" id="ingest-cards"></ul></section>
<section aria-labelledby="history-h" id="history"><h2 id="history-h">{t("op.history")}</h2>
<form id="history-form" class="row">
<fieldset class="choices"><legend>{t("op.window")}</legend>
{
        "".join(
            f'<label><input type="radio" name="window" value="{w}"> {t(f"op.window.{w}")}</label>'
            for w in ("hour", "day", "30d", "custom")
        )
    }</fieldset>
<div class="field"><label for="h-scope">{t("op.scope")}</label>
<select id="h-scope" name="scope"><option value="fleet">{
        t("op.scope.fleet")
    }</option></select></div>
<div class="field custom-only"><label for="h-start">{t("op.from")}</label>
<input id="h-start" name="start" type="date"></div>
<div class="field custom-only"><label for="h-end">{t("op.to")}</label>
<input id="h-end" name="end" type="date"></div>
<button class="primary" type="submit">{t("op.show")}</button></form>
<p id="history-total"></p><div id="volume-chart"></div><div id="rate-chart"></div></section>
<section aria-labelledby="meters-h"><h2 id="meters-h">{t("op.meters")}</h2>
<ul class="cards" id="meter-cards"></ul>
<h3>{t("op.silent_list")}</h3><div id="silent"></div></section>
<div class="two">
<section aria-labelledby="q-h"><h2 id="q-h">{t("op.quarantine")}</h2><div id="quarantine"></div>
</section>
<section aria-labelledby="a-h"><h2 id="a-h">{t("op.anomalies")}</h2><div id="anomalies"></div>
</section></div>"""


def _meter(t: Translator) -> str:
    return f"""
<ul class="cards" id="meter-facts"></ul><p id="meter-history"></p>
<section aria-labelledby="usage-h"><h2 id="usage-h">{t("op.consumption")}</h2>
<form id="range-form" class="row">
<div class="field"><label for="start">{t("op.from")}</label>
<input id="start" name="start" type="date" required></div>
<div class="field"><label for="end">{t("op.to")}</label>
<input id="end" name="end" type="date" required></div>
<div class="field"><label for="granularity">{t("op.granularity")}</label>
<select id="granularity" name="granularity"><option value="hour">{t("op.hourly")}</option>
<option value="day">{t("op.daily")}</option></select></div>
<button class="primary" type="submit">{t("op.show")}</button></form>
<p id="usage-total"></p><div id="usage-chart"></div><p class="muted" id="forecast-note"></p>
</section>
<section aria-labelledby="ma-h"><h2 id="ma-h">{t("op.meter_anomalies")}</h2>
<div id="meter-anomalies"></div></section>"""


add_page(
    router,
    "/operator",
    Page(
        title="op.dashboard",
        body=_dashboard,
        script="operator",
        roles=OPERATOR,
        messages=MESSAGES,
        styles=("css/operator.css",),
    ),
    name="operator_page",
)
add_page(
    router,
    "/operator/meters/{meter_id}",
    Page(
        title="op.meter_title",
        body=_meter,
        script="meter",
        roles=METER_READERS,
        messages=MESSAGES,
        styles=("css/operator.css",),
    ),
    name="operator_meter_page",
)
