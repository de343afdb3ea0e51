"""The words of the customer SMS alerts: one template per incident kind and language."""

from __future__ import annotations

from datetime import datetime

from analytics.incidents.models import IncidentKind
from core.countries import Language

# What happened, since when ({since}, local time), what to do. GSM-7 only (tests check it), so
# each is one 160-character segment or close to it.
TEMPLATES: dict[IncidentKind, dict[Language, str]] = {
    IncidentKind.LEAK: {
        Language.EN: "WaterBill: water keeps flowing at meter {serial} since {since}, even at"
        " night: a possible leak. Check taps, toilets and pipes.",
        Language.FR: "WaterBill: l'eau coule sans arret au compteur {serial} depuis le {since},"
        " meme la nuit: fuite probable. Verifiez robinets, WC et tuyaux.",
        Language.TPI: "WaterBill: wara i ran oltaim long mita {serial} kirap long {since}, long"
        " nait tu: ating i lik. Lukim ol tap, toilet na paip.",
    },
    IncidentKind.BURST: {
        Language.EN: "WaterBill: very high flow at meter {serial} since {since}: a burst pipe?"
        " Close the main valve and call a plumber.",
        Language.FR: "WaterBill: debit tres fort au compteur {serial} depuis le {since}: tuyau"
        " casse? Fermez la vanne principale et appelez un plombier.",
        Language.TPI: "WaterBill: planti wara i ran long mita {serial} kirap long {since}: paip"
        " i bruk? Pasim bikpela valv na singautim plamba.",
    },
    IncidentKind.BACKFLOW: {
        Language.EN: "WaterBill: water ran backwards through meter {serial} since {since}."
        " Please call us so we can check your connection.",
        Language.FR: "WaterBill: l'eau a circule a l'envers au compteur {serial} depuis le"
        " {since}. Appelez-nous pour verifier votre branchement.",
        Language.TPI: "WaterBill: wara i ran i go bek long mita {serial} kirap long {since}."
        " Plis singautim mipela long sekim paip bilong yu.",
    },
    IncidentKind.STUCK: {
        Language.EN: "WaterBill: meter {serial} shows no use since {since} though the home is"
        " occupied. It may be stuck; a technician will check it.",
        Language.FR: "WaterBill: le compteur {serial} n'indique aucune consommation depuis le"
        " {since}. Il est peut-etre bloque; un technicien passera.",
        Language.TPI: "WaterBill: mita {serial} i no soim wara kirap long {since}, tasol ol i"
        " stap long haus. Ating em i pas; teknisen bai kam sekim.",
    },
    IncidentKind.SILENT: {
        Language.EN: "WaterBill: meter {serial} has sent no data since {since}. Nothing to do;"
        " a technician will check it.",
        Language.FR: "WaterBill: le compteur {serial} n'envoie plus de donnees depuis le"
        " {since}. Rien a faire; un technicien va le verifier.",
        Language.TPI: "WaterBill: mita {serial} i no salim toktok kirap long {since}. Yu no"
        " ken wari; teknisen bai sekim.",
    },
    IncidentKind.TAMPER: {
        Language.EN: "WaterBill: meter {serial} reported tampering since {since}. If nobody"
        " touched it, please call us.",
        Language.FR: "WaterBill: le compteur {serial} signale une manipulation depuis le"
        " {since}. Si personne n'y a touche, appelez-nous.",
        Language.TPI: "WaterBill: mita {serial} i tok wanpela i bagarapim em kirap long"
        " {since}. Sapos nogat, plis singautim mipela.",
    },
    IncidentKind.DRY: {
        Language.EN: "WaterBill: meter {serial} finds no water in the pipe since {since}."
        " Check your supply valve; call us if it is open.",
        Language.FR: "WaterBill: le compteur {serial} ne voit plus d'eau depuis le {since}."
        " Verifiez votre vanne; appelez-nous si elle est ouverte.",
        Language.TPI: "WaterBill: mita {serial} i no painim wara long paip kirap long {since}."
        " Lukim valv; sapos em i op, singautim mipela.",
    },
    IncidentKind.LOW_BATTERY: {
        Language.EN: "WaterBill: the battery of meter {serial} is low since {since}. Nothing to"
        " do; a technician will replace it.",
        Language.FR: "WaterBill: la pile du compteur {serial} est faible depuis le {since}."
        " Rien a faire; un technicien la remplacera.",
        Language.TPI: "WaterBill: bateri bilong mita {serial} i laik dai kirap long {since}."
        " Yu no ken wari; teknisen bai senisim.",
    },
    IncidentKind.ABNORMAL: {
        Language.EN: "WaterBill: unusually high water use at meter {serial} since {since}."
        " Check for leaks or taps left running; it raises your bill.",
        Language.FR: "WaterBill: consommation inhabituelle au compteur {serial} depuis le"
        " {since}. Cherchez une fuite ou un robinet ouvert.",
        Language.TPI: "WaterBill: yu yusim planti wara tumas long mita {serial} kirap long"
        " {since}. Lukim lik o tap i op; bil bai go antap.",
    },
}
# A kind a newer detector added before it got its own words: still told, never stuck in the queue.
GENERIC: dict[Language, str] = {
    Language.EN: "WaterBill: something unusual ({kind}) at meter {serial} since {since}. Please"
    " call us if you need help.",
    Language.FR: "WaterBill: anomalie ({kind}) au compteur {serial} depuis le {since}."
    " Appelez-nous si besoin.",
    Language.TPI: "WaterBill: samting i no stret ({kind}) long mita {serial} kirap long {since}."
    " Singautim mipela sapos yu laik.",
}
# Every kind is a category a customer may mute.
CATEGORIES = tuple(kind.value for kind in IncidentKind)


def render_alert(kind: str, language: str, *, serial: str, since: datetime) -> str:
    """The SMS for an incident of ``kind`` since ``since`` (a local time), English by default."""
    templates = TEMPLATES.get(IncidentKind(kind), GENERIC) if kind in CATEGORIES else GENERIC
    text = templates.get(Language(language), templates[Language.EN])
    return text.format(kind=kind, serial=serial, since=since.strftime("%d/%m %H:%M"))
