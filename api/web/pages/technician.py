"""The technician's view: today's round, manual readings with a photo, fault reports; offline.

A service worker (``/technician/sw.js``, scope ``/technician``) keeps the page, its assets and the
last round in the browser's cache; readings and faults wait in IndexedDB with the idempotency key
chosen when they were saved, and are sent when the network returns (static/js/technician.js).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from accounts.models import Role
from api.web.i18n import Msg, Translator
from api.web.layout import NavItem, Page, add_nav, add_page, static_url
from ingest.field.models import FaultKind

router = APIRouter(include_in_schema=False)

# What the worker stores at install: everything the page needs to open with no network.
# (Module imports resolve "./core.js" without the version query, so both forms are kept.)
SHELL_ASSETS = (
    "css/base.css",
    "css/field.css",
    "js/core.js",
    "js/technician.js",
    "img/icon.svg",
)

MESSAGES = {
    "technician.title": Msg("Today's round", "Tournée du jour", "Raun bilong tude"),
    "technician.nav": Msg("My round", "Ma tournée", "Raun bilong mi"),
    "technician.offline": Msg(
        "No network: readings are kept on this phone and sent when the network returns.",
        "Pas de réseau : les relevés restent sur ce téléphone et partiront au retour du réseau.",
        "Nogat netwok: ol rid i stap long fon na bai i go taim netwok i kam bek.",
    ),
    "technician.round_cached": Msg(
        "Round saved on {when} (offline copy).",
        "Tournée enregistrée le {when} (copie hors ligne).",
        "Raun i seiv long {when} (kopi long fon).",
    ),
    "technician.empty": Msg(
        "No meter to visit today.",
        "Aucun compteur à visiter aujourd'hui.",
        "Nogat mita long visit tude.",
    ),
    "technician.reason.fault": Msg("Fault reported", "Panne signalée", "Bagarap i gat ripot"),
    "technician.reason.device_alarm": Msg("Meter alarm", "Alarme du compteur", "Mita i singaut"),
    "technician.reason.check_register": Msg(
        "No use: check the register",
        "Aucune conso : vérifier le compteur",
        "Nogat wara: sekim mita",
    ),
    "technician.reason.silent": Msg("Not reporting", "Muet", "I no salim data"),
    "technician.reason.due": Msg("Reading due", "Relevé à faire", "Taim long rid"),
    "technician.done": Msg("Read today", "Relevé aujourd'hui", "Rid pinis tude"),
    "technician.last": Msg(
        "Last reading: {index} on {when}",
        "Dernier relevé : {index} le {when}",
        "Las rid: {index} long {when}",
    ),
    "technician.never": Msg("Never read", "Jamais relevé", "I no rid yet"),
    "technician.read": Msg("Enter reading", "Saisir le relevé", "Raitim rid"),
    "technician.report": Msg("Report a fault", "Signaler une panne", "Ripotim bagarap"),
    "technician.reading_form": Msg("Manual reading", "Relevé manuel", "Rid long han"),
    "technician.fault_form": Msg("Fault report", "Signalement de panne", "Ripot bilong bagarap"),
    "technician.meter": Msg("Meter", "Compteur", "Mita"),
    "technician.time": Msg("Read at", "Relevé le", "Taim bilong rid"),
    "technician.index_m3": Msg(
        "Index shown on the register (m³)",
        "Index affiché au compteur (m³)",
        "Namba i stap long mita (m³)",
    ),
    "technician.index_l": Msg(
        "Index shown on the register (litres)",
        "Index affiché au compteur (litres)",
        "Namba i stap long mita (lita)",
    ),
    "technician.photo": Msg("Photo of the register", "Photo du compteur", "Poto bilong mita"),
    "technician.photo_hint": Msg(
        "Optional; opens the camera on a phone.",
        "Facultatif ; ouvre l'appareil photo du téléphone.",
        "Sapos yu laik; em i opim kamera bilong fon.",
    ),
    "technician.note": Msg("Note", "Remarque", "Toktok"),
    "technician.kind": Msg("What is wrong", "Problème constaté", "Wanem samting i bagarap"),
    "technician.save": Msg("Save", "Enregistrer", "Seivim"),
    "technician.cancel": Msg("Cancel", "Annuler", "Lusim"),
    "technician.queue": Msg(
        "Sent from this phone", "Envoyés depuis ce téléphone", "Salim long dispela fon"
    ),
    "technician.queue_empty": Msg(
        "Nothing saved yet.", "Rien d'enregistré pour l'instant.", "I no gat samting yet."
    ),
    "technician.sync": Msg("Send now", "Envoyer maintenant", "Salim nau"),
    "technician.clear": Msg(
        "Clear sent items", "Effacer les envois réussis", "Rausim ol i go pinis"
    ),
    "technician.state.queued": Msg(
        "Waiting for the network", "En attente du réseau", "Wetim netwok"
    ),
    "technician.state.syncing": Msg("Sending…", "Envoi…", "Salim nau…"),
    "technician.state.synced": Msg("Saved on the server", "Enregistré", "I go pinis"),
    "technician.state.warning": Msg(
        "Saved with a warning",
        "Enregistré avec un avertissement",
        "I go pinis, tasol i gat toksave",
    ),
    "technician.state.conflict": Msg(
        "Refused by the server", "Refusé par le serveur", "Seva i no laik"
    ),
    "technician.kind.reading": Msg("Reading", "Relevé", "Rid"),
    "technician.kind.fault": Msg("Fault", "Panne", "Bagarap"),
    "technician.saved_local": Msg(
        "Saved on this phone.", "Enregistré sur ce téléphone.", "Seiv long dispela fon."
    ),
    "technician.bad_index": Msg(
        "Enter the index as a number.", "Saisissez l'index en chiffres.", "Raitim namba tasol."
    ),
    "fault.broken": Msg("Broken meter", "Compteur cassé", "Mita i bruk"),
    "fault.illegible": Msg("Register unreadable", "Index illisible", "I no inap ridim"),
    "fault.leaking": Msg("Leaking at the meter", "Fuite au compteur", "Wara i lik long mita"),
    "fault.tampered": Msg("Tampered / seal broken", "Fraude / scellé cassé", "Man i bagarapim sil"),
    "fault.stopped": Msg("Register stopped", "Compteur bloqué", "Mita i no ran"),
    "fault.no_access": Msg(
        "No access to the meter", "Compteur inaccessible", "I no inap go long mita"
    ),
    "fault.other": Msg("Other", "Autre", "Narapela"),
}


def _field(t: Translator, name: str, label: str, control: str, hint: str | None = None) -> str:
    hint_html = f'<span class="hint" id="{name}-hint">{t(hint)}</span>' if hint else ""
    return f'<div class="field"><label for="{name}">{t(label)}</label>{hint_html}{control}</div>'


def _body(t: Translator) -> str:
    kinds = "".join(
        f'<option value="{k.value}">{t(f"fault.{k.value}")}</option>' for k in FaultKind
    )
    photo = (
        '<input type="file" accept="image/*" capture="environment" id="{id}" name="photo"'
        ' aria-describedby="{id}-hint">'
    )
    time = '<input type="datetime-local" id="reading-time" name="time" required>'
    index = (
        '<input type="number" id="reading-index" name="index" inputmode="decimal" step="0.001"'
        ' min="0" required aria-describedby="reading-index-error">'
        '<span class="hint error" id="reading-index-error" role="alert"></span>'
    )
    note = '<textarea id="{id}" name="note" rows="2" maxlength="2000"></textarea>'
    buttons = (
        f'<div class="row"><button class="primary" type="submit">{t("technician.save")}</button>'
        f'<button class="secondary" type="button" data-cancel>{t("technician.cancel")}</button>'
        "</div>"
    )
    reading_fields = (
        _field(t, "reading-time", "technician.time", time)
        + _field(t, "reading-index", "technician.index_m3", index)
        + _field(
            t,
            "reading-photo",
            "technician.photo",
            photo.format(id="reading-photo"),
            "technician.photo_hint",
        )
        + _field(t, "reading-note", "technician.note", note.format(id="reading-note"))
    )
    fault_fields = (
        _field(
            t,
            "fault-kind",
            "technician.kind",
            f'<select id="fault-kind" name="kind">{kinds}</select>',
        )
        + _field(
            t,
            "fault-photo",
            "technician.photo",
            photo.format(id="fault-photo"),
            "technician.photo_hint",
        )
        + _field(t, "fault-note", "technician.note", note.format(id="fault-note"))
    )
    return f"""
<p id="net" class="status" data-kind="error" hidden>{t("technician.offline")}</p>
<p id="round-note" class="muted"></p>
<ul id="round" class="round"></ul>
<form id="reading-form" class="stack panel" hidden novalidate aria-labelledby="reading-title">
<h2 id="reading-title">{t("technician.reading_form")}</h2>
<p><strong id="reading-meter"></strong></p>
<input type="hidden" name="meter_id">
{reading_fields}
{buttons}
</form>
<form id="fault-form" class="stack panel" hidden novalidate aria-labelledby="fault-title">
<h2 id="fault-title">{t("technician.fault_form")}</h2>
<p><strong id="fault-meter"></strong></p>
<input type="hidden" name="meter_id">
{fault_fields}
{buttons}
</form>
<h2>{t("technician.queue")}</h2>
<div class="row">
<button class="secondary" type="button" id="sync-now">{t("technician.sync")}</button>
<button class="link" type="button" id="clear-sent">{t("technician.clear")}</button></div>
<ul id="queue" class="queue" aria-live="polite"></ul>
"""


def service_worker() -> str:
    """The worker's script, naming the current asset versions (a new version installs anew)."""
    urls = ["/technician"]
    for asset in SHELL_ASSETS:
        urls += [static_url(asset), f"/static/{asset}"]
    version = hashlib.sha256(json.dumps(urls).encode()).hexdigest()[:12]
    template = (Path(__file__).parent / "technician_sw.js").read_text()
    return template.replace("__VERSION__", version).replace("__SHELL__", json.dumps(urls))


@router.get("/technician/sw.js")
async def technician_service_worker() -> Response:
    """Served under /technician so that its scope covers the view."""
    return Response(
        service_worker(),
        media_type="text/javascript",
        # Its directory is /technician/; the page itself (/technician) needs the wider scope.
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/technician"},
    )


add_nav(NavItem("/technician", "technician.nav", (Role.TECHNICIAN,), order=10))
add_page(
    router,
    "/technician",
    Page(
        title="technician.title",
        body=_body,
        script="technician",
        roles=(Role.TECHNICIAN, Role.ADMIN),
        messages=MESSAGES,
        styles=("css/field.css",),
    ),
    name="technician_page",
)
