"""The customer portal: my dwellings and consumption, invoices and payments, alerts, profile."""

from __future__ import annotations

from fastapi import APIRouter

from accounts.models import Role
from api.web.i18n import PHONE_ERRORS, Msg, Translator
from api.web.layout import NavItem, Page, add_nav, add_page
from api.web.pages.portal_profile import PROFILE

router = APIRouter(include_in_schema=False)

CUSTOMER = (Role.CUSTOMER,)

# Each view is sent only its own messages (with the shared ones): the first visit of a phone on a
# slow network pays for the home page's, not the invoices' (tests/web/test_quality.py budget).
SHARED = {
    "portal.home": Msg("My water", "Mon eau", "Wara bilong mi"),
    "portal.invoices": Msg("Invoices and payments", "Factures et paiements", "Bil na peimen"),
    "portal.profile": Msg("My profile", "Mon profil", "Profail bilong mi"),
    "portal.dwelling": Msg("Dwelling", "Logement", "Haus"),
}

HOME = {
    "portal.dwellings": Msg("My dwellings", "Mes logements", "Ol haus bilong mi"),
    "portal.no_dwelling": Msg(
        "No dwelling is linked to your account yet. Ask your property manager.",
        "Aucun logement n'est encore lié à votre compte. Demandez à votre syndic.",
        "I no gat haus i join long akaun bilong yu yet. Askim manija bilong haus.",
    ),
    "portal.meters": Msg("Meters", "Compteurs", "Mita"),
    "portal.dwelling_type.apartment": Msg("Apartment", "Appartement", "Apatmen"),
    "portal.dwelling_type.house": Msg("House", "Maison", "Haus"),
    "portal.dwelling_type.commercial": Msg("Business", "Local commercial", "Ples bisnis"),
    "portal.dwelling_type.communal": Msg("Shared", "Partie commune", "Ples bilong olgeta"),
    "portal.consumption": Msg(
        "Consumption: this year and last year",
        "Consommation : cette année et l'an dernier",
        "Wara yu yusim: dispela yia na yia i go pinis",
    ),
    "portal.this_year": Msg("This year", "Cette année", "Dispela yia"),
    "portal.last_year": Msg("Last year", "L'an dernier", "Yia i go pinis"),
    "portal.month": Msg("Month", "Mois", "Mun"),
    "portal.total_year": Msg(
        "{this} so far this year, {last} over the same months last year.",
        "{this} depuis le début de l'année, {last} sur les mêmes mois l'an dernier.",
        "{this} long dispela yia, {last} long ol wankain mun long yia i go pinis.",
    ),
    "portal.total_this_year": Msg(
        "{this} so far this year.",
        "{this} depuis le début de l'année.",
        "{this} long dispela yia.",
    ),
    "portal.estimated_days": Msg(
        "Pale dashed bars include estimated days (no reading). Nothing before the first reading.",
        "Les barres pâles en pointillés comptent des jours estimés (sans relevé). Rien avant le"
        " premier relevé.",
        "Ol bar i no strong i gat ol de i no gat rit (tingting tasol). Nogat samting bipo long"
        " fes rit.",
    ),
    "portal.choose_dwelling": Msg("Dwelling shown", "Logement affiché", "Haus yu lukim"),
    "portal.alerts": Msg("Alerts", "Alertes", "Ol woning"),
    "portal.no_alerts": Msg(
        "No open alert. All looks normal.",
        "Aucune alerte en cours. Tout semble normal.",
        "Nogat woning. Olgeta samting i orait.",
    ),
    "portal.since": Msg("Since {date}", "Depuis le {date}", "Stat long {date}"),
    "portal.todo": Msg("What to do", "Que faire", "Wanem samting yu mas mekim"),
    "alert.leak.todo": Msg(
        "Water keeps flowing at night. Close every tap, then look at the meter: if it still turns,"
        " check toilets and pipes or call a plumber.",
        "L'eau coule en continu la nuit. Fermez tous les robinets puis regardez le compteur : s'il"
        " tourne encore, vérifiez chasses d'eau et tuyaux ou appelez un plombier.",
        "Wara i ran long nait olgeta. Pasim olgeta tap, na lukim mita: sapos em i tanim yet,"
        " lukim toilet na paip o singautim plamba.",
    ),
    "alert.burst.todo": Msg(
        "A pipe may have burst. Close the main valve if you see water, then call a plumber.",
        "Un tuyau a peut-être éclaté. Fermez la vanne principale si vous voyez de l'eau, puis"
        " appelez un plombier.",
        "Ating paip i bruk. Pasim bikpela valv sapos yu lukim wara, na singautim plamba.",
    ),
    "alert.backflow.todo": Msg(
        "Water flowed back through the meter. Do not drink tap water until the utility has"
        " checked; call customer service.",
        "De l'eau est repassée en arrière dans le compteur. Ne buvez pas l'eau du robinet avant"
        " la vérification ; appelez le service client.",
        "Wara i ran i go bek long mita. No dring wara long tap inap kampani i lukim; singautim"
        " kastoma sevis.",
    ),
    "alert.stuck.todo": Msg(
        "No water used for days. Away from home? Declare it in My profile. Otherwise a technician"
        " will check the meter; nothing to do on your side.",
        "Aucune consommation depuis des jours. Vous êtes absent ? Déclarez-le dans Mon profil."
        " Sinon un technicien vérifiera le compteur ; rien à faire de votre côté.",
        "Nogat wara long sampela de. Yu lusim haus? Raitim long Profail bilong mi. Sapos nogat,"
        " teknisen bai sekim mita; yu no mas mekim wanpela samting.",
    ),
    "alert.silent.todo": Msg(
        "We have not heard from the meter lately. Nothing to do: a technician will visit if it"
        " lasts.",
        "Nous n'avons plus de nouvelles du compteur. Rien à faire : un technicien passera si cela"
        " dure.",
        "Mita i no salim toksave long sampela taim. Yu no mas mekim samting: teknisen bai kam"
        " sapos em i go longpela taim.",
    ),
    "alert.tamper.todo": Msg(
        "The meter reported an opening or a magnet. Do not touch it; a technician will visit.",
        "Le compteur signale une ouverture ou un aimant. N'y touchez pas ; un technicien passera.",
        "Mita i tok man i opim o putim magnet. No ken tasim; teknisen bai kam.",
    ),
    "alert.dry.todo": Msg(
        "No water reached the meter. Check whether neighbours have water and call customer"
        " service.",
        "Aucune eau n'arrive au compteur. Vérifiez si vos voisins ont de l'eau et appelez le"
        " service client.",
        "Wara i no kam long mita. Askim ol neiba sapos ol i gat wara na singautim kastoma sevis.",
    ),
    "alert.low_battery.todo": Msg(
        "The meter's battery is low. Nothing to do: a technician will replace it.",
        "La pile du compteur est faible. Rien à faire : un technicien la remplacera.",
        "Bateri bilong mita i daun. Yu no mas mekim samting: teknisen bai senisim.",
    ),
    "alert.abnormal.todo": Msg(
        "You used much more water than usual. Look for a running toilet or tap, or a leak in the"
        " garden.",
        "Vous avez consommé bien plus que d'habitude. Cherchez une chasse d'eau ou un robinet qui"
        " coule, ou une fuite au jardin.",
        "Yu yusim wara moa long olgeta taim. Lukim toilet o tap i ran, o lik long gaden.",
    ),
    "alert.other.todo": Msg(
        "Our team is looking at it. Call customer service if you have a question.",
        "Notre équipe s'en occupe. Appelez le service client pour toute question.",
        "Ol wokman bilong mipela i lukim. Singautim kastoma sevis sapos yu gat askim.",
    ),
}

INVOICES = {
    **PHONE_ERRORS,
    "portal.invoice_list": Msg("Invoices", "Factures", "Ol bil"),
    "portal.number": Msg("Number", "Numéro", "Namba"),
    "portal.issued": Msg("Issued", "Émise le", "De bilong bil"),
    "portal.amount": Msg("Amount", "Montant", "Hamas"),
    "portal.due": Msg("Due", "Échéance", "Pe long"),
    "portal.status": Msg("Status", "Statut", "Stetas"),
    "portal.volume": Msg("Volume", "Volume", "Wara"),
    "portal.pdf": Msg("PDF", "PDF", "PDF"),
    "portal.download_invoice": Msg(
        "Download invoice {number} (PDF)",
        "Télécharger la facture {number} (PDF)",
        "Daunlodim bil {number} (PDF)",
    ),
    "portal.invoice.issued": Msg("To pay", "À payer", "Yu mas pe"),
    "portal.invoice.partially_paid": Msg("Partly paid", "Payée en partie", "Pe hap"),
    "portal.invoice.paid": Msg("Paid", "Payée", "Pe pinis"),
    "portal.invoice.overdue": Msg("Overdue", "En retard", "Pe i let"),
    "portal.invoice.void": Msg("Cancelled", "Annulée", "Rausim"),
    "portal.invoice.draft": Msg("Draft", "Brouillon", "Draft"),
    "portal.balance": Msg(
        "Left to pay: {amount}", "Reste à payer : {amount}", "Hamas yu mas pe yet: {amount}"
    ),
    "portal.penalty": Msg(
        "Late fee: {amount}", "Pénalité de retard : {amount}", "Peim bilong pe let: {amount}"
    ),
    "portal.payments": Msg("Payments", "Paiements", "Ol peimen"),
    "portal.account": Msg("My account", "Mon compte", "Akaun bilong mi"),
    "portal.to_pay": Msg("To pay", "À payer", "Yu mas pe"),
    "portal.nothing_to_pay": Msg("Nothing to pay", "Rien à payer", "Nogat samting yu mas pe"),
    "portal.open_invoices": Msg(
        "Unpaid invoices: {count}", "Factures à régler : {count}", "Ol bil yu no pe yet: {count}"
    ),
    "portal.all_paid": Msg(
        "All your invoices are paid.",
        "Toutes vos factures sont réglées.",
        "Yu pe pinis olgeta bil.",
    ),
    "portal.credit": Msg("Credit", "Avoir", "Moni i stap yet"),
    "portal.credit_hint": Msg(
        "Paid in advance: it will pay your next invoice.",
        "Payé d'avance : il réglera votre prochaine facture.",
        "Yu pe pastaim: em bai peim nekis bil bilong yu.",
    ),
    "portal.estimate": Msg(
        "Estimated next bill", "Prochaine facture estimée", "Nekis bil: tingting tasol"
    ),
    "portal.estimate_for": Msg(
        "Estimate for {period}", "Estimation pour {period}", "Tingting long {period}"
    ),
    "portal.estimate_range": Msg(
        "Probably between {low} and {high}.",
        "Probablement entre {low} et {high}.",
        "Ating namel long {low} na {high}.",
    ),
    "portal.estimate_used": Msg(
        "{volume} used so far this month.",
        "{volume} consommés depuis le début du mois.",
        "{volume} yu yusim pinis long dispela mun.",
    ),
    "portal.estimate_note": Msg(
        "An estimate, not an invoice: your use so far this month plus the use expected until its"
        " end. Your invoice will follow your meter.",
        "Une estimation, pas une facture : votre consommation depuis le début du mois plus celle"
        " attendue jusqu'à sa fin. Votre facture suivra votre compteur.",
        "Em i tingting tasol, i no bil: wara yu yusim pinis long dispela mun na wara yu ken yusim"
        " inap mun i pinis. Bil bai bihainim mita bilong yu.",
    ),
    "portal.meter_serial": Msg("Meter {serial}", "Compteur {serial}", "Mita {serial}"),
    "portal.period": Msg("Period", "Période", "Taim"),
    "portal.month.1": Msg("January", "janvier", "Janueri"),
    "portal.month.2": Msg("February", "février", "Februeri"),
    "portal.month.3": Msg("March", "mars", "Mas"),
    "portal.month.4": Msg("April", "avril", "Epril"),
    "portal.month.5": Msg("May", "mai", "Me"),
    "portal.month.6": Msg("June", "juin", "Jun"),
    "portal.month.7": Msg("July", "juillet", "Julai"),
    "portal.month.8": Msg("August", "août", "Ogas"),
    "portal.month.9": Msg("September", "septembre", "Septemba"),
    "portal.month.10": Msg("October", "octobre", "Oktoba"),
    "portal.month.11": Msg("November", "novembre", "Novemba"),
    "portal.month.12": Msg("December", "décembre", "Desemba"),
    "portal.date": Msg("Date", "Date", "De"),
    "portal.method": Msg("Method", "Moyen", "Rot"),
    "portal.reference": Msg("Reference", "Référence", "Namba bilong peimen"),
    "portal.method.cash": Msg("Cash at an agent", "Espèces chez un agent", "Moni long ejen"),
    "portal.method.card": Msg("Card", "Carte", "Kad"),
    "portal.method.bank_transfer": Msg("Bank transfer", "Virement", "Salim long beng"),
    "portal.method.orange_money": Msg("Orange Money", "Orange Money", "Orange Money"),
    "portal.method.mtn_momo": Msg("MTN MoMo", "MTN MoMo", "MTN MoMo"),
    "portal.method.cellmoni": Msg("CellMoni", "CellMoni", "CellMoni"),
    "portal.pay_now": Msg("Pay now", "Payer maintenant", "Pe nau"),
    "portal.pay_now_label": Msg(
        "Pay invoice {number} now", "Payer la facture {number} maintenant", "Peim bil {number} nau"
    ),
    "portal.pay_title": Msg(
        "Pay invoice {number}: {amount}",
        "Payer la facture {number} : {amount}",
        "Peim bil {number}: {amount}",
    ),
    "portal.pay_operator": Msg("Mobile money", "Mobile money", "Mobail mani"),
    "portal.pay_phone": Msg(
        "Mobile money number", "Numéro mobile money", "Namba bilong mobail mani"
    ),
    "portal.pay_submit": Msg("Ask for the payment", "Demander le paiement", "Askim peimen"),
    "portal.pay_close": Msg("Close", "Fermer", "Pasim"),
    "portal.pay_none": Msg(
        "This invoice cannot be paid by mobile money here. Pay at an agent or by bank transfer.",
        "Cette facture ne peut pas être payée par mobile money ici. Payez chez un agent ou par"
        " virement.",
        "Yu no inap peim dispela bil long mobail mani hia. Pe long ejen o long beng.",
    ),
    "portal.pay_approve": Msg(
        "Approve the payment of {amount} on your phone ({operator}). The receipt will show here.",
        "Validez le paiement de {amount} sur votre téléphone ({operator}). Le reçu s'affichera"
        " ici.",
        "Orait long peimen bilong {amount} long fon bilong yu ({operator}). Risit bai kamap hia.",
    ),
    "portal.pay_finish": Msg(
        "Continue on {operator}", "Continuer sur {operator}", "Go long {operator}"
    ),
    "portal.pay_failed": Msg(
        "The payment did not go through: nothing was taken. You can try again.",
        "Le paiement n'a pas abouti : rien n'a été prélevé. Vous pouvez réessayer.",
        "Peimen i no go gut: mipela i no kisim moni. Yu ken traim gen.",
    ),
    "portal.pay_unreachable": Msg(
        "The mobile money service did not answer. Try again in a moment.",
        "Le service mobile money n'a pas répondu. Réessayez dans un instant.",
        "Mobail mani sevis i no bekim. Traim gen bihain liklik.",
    ),
    "portal.pay_still_waiting": Msg(
        "Still waiting for {operator}. The invoice will show as paid once they confirm.",
        "En attente de {operator}. La facture apparaîtra payée dès sa confirmation.",
        "Wetim {operator} yet. Bil bai soim pe pinis taim ol i orait.",
    ),
    "portal.receipt": Msg("Receipt", "Reçu", "Risit"),
    "portal.receipt_of": Msg(
        "Receipt of payment {reference}",
        "Reçu du paiement {reference}",
        "Risit bilong peimen {reference}",
    ),
    "portal.receipt_paid": Msg(
        "Payment received: {amount}", "Paiement reçu : {amount}", "Mipela kisim pe: {amount}"
    ),
    "portal.receipt_invoice": Msg(
        "Invoice {number}: {amount}", "Facture {number} : {amount}", "Bil {number}: {amount}"
    ),
    "portal.receipt_credit": Msg(
        "Credit for your next invoice: {amount}",
        "Avoir pour votre prochaine facture : {amount}",
        "Moni i stap yet long nekis bil: {amount}",
    ),
    "portal.payment.pending": Msg("Pending", "En attente", "Wetim"),
    "portal.payment.succeeded": Msg("Received", "Reçu", "Kisim pinis"),
    "portal.payment.failed": Msg("Failed", "Échoué", "I no wok"),
}


add_nav(
    NavItem("/portal", "portal.home", CUSTOMER, order=10),
    NavItem("/portal/invoices", "portal.invoices", CUSTOMER, order=11),
    NavItem("/portal/profile", "portal.profile", CUSTOMER, order=12),
)


def _home(t: Translator) -> str:
    return f"""
<section aria-labelledby="dwellings-h"><h2 id="dwellings-h">{t("portal.dwellings")}</h2>
<ul class="cards" id="dwellings"></ul></section>
<section aria-labelledby="alerts-h"><h2 id="alerts-h">{t("portal.alerts")}</h2>
<div id="alerts"></div></section>
<section aria-labelledby="usage-h"><h2 id="usage-h">{t("portal.consumption")}</h2>
<div class="field" id="dwelling-pick" hidden><label for="dwelling-select">
{t("portal.choose_dwelling")}</label><select id="dwelling-select"></select></div>
<p id="usage-total"></p><div id="usage-chart"></div><p class="hint" id="usage-note"></p>
</section>"""


def _invoices(t: Translator) -> str:
    return f"""
<section aria-labelledby="acct-h"><h2 id="acct-h">{t("portal.account")}</h2>
<ul class="cards wide" id="summary"></ul></section>
<section aria-labelledby="pay-now-h" id="pay-panel" class="panel" hidden tabindex="-1">
<h2 id="pay-now-h"></h2><div id="pay-body"></div></section>
<section aria-labelledby="est-h" id="estimate-section" hidden>
<h2 id="est-h">{t("portal.estimate")}</h2><div id="estimate"></div></section>
<section aria-labelledby="inv-h"><h2 id="inv-h">{t("portal.invoice_list")}</h2>
<div id="invoices"></div></section>
<section aria-labelledby="pay-h"><h2 id="pay-h">{t("portal.payments")}</h2>
<div id="payments"></div></section>"""


def _profile(t: Translator) -> str:
    return f"""
<form id="profile-form" class="stack">
<div class="field"><label for="phone">{t("portal.phone")}</label>
<input id="phone" type="tel" readonly></div>
<div class="field"><label for="first_name">{t("portal.first_name")}</label>
<input id="first_name" name="first_name" type="text" required maxlength="100"
 autocomplete="given-name"><span class="hint error" id="first_name-error" role="alert"></span></div>
<div class="field"><label for="last_name">{t("portal.last_name")}</label>
<input id="last_name" name="last_name" type="text" required maxlength="100"
 autocomplete="family-name"><span class="hint error" id="last_name-error" role="alert"></span></div>
<div class="field"><label for="language">{t("portal.language")}</label>
<select id="language" name="language"><option value="en" lang="en">English</option>
<option value="fr" lang="fr">Français</option><option value="tpi" lang="tpi">Tok Pisin</option>
</select></div>
<button class="primary" type="submit">{t("portal.save")}</button></form>
<section aria-labelledby="export-h"><h2 id="export-h">{t("portal.export")}</h2>
<p>{t("portal.export_text")}</p>
<button class="secondary" type="button" id="export">{t("portal.export_button")}</button>
</section>
<section aria-labelledby="away-h" id="away-section" hidden>
<h2 id="away-h">{t("portal.away")}</h2><p>{t("portal.away_text")}</p>
<ul class="stack" id="absences"></ul>
<form id="away-form" class="stack" novalidate>
<div class="field" id="away-dwelling-pick" hidden><label for="away-dwelling">
{t("portal.dwelling")}</label><select id="away-dwelling" name="dwelling"></select></div>
<div class="field"><label for="from_date">{t("portal.away_from")}</label>
<input id="from_date" name="from_date" type="date" required>
<span class="hint error" id="from_date-error" role="alert"></span></div>
<div class="field"><label for="to_date">{t("portal.away_to")}</label>
<input id="to_date" name="to_date" type="date" required>
<span class="hint error" id="to_date-error" role="alert"></span></div>
<button class="primary" type="submit">{t("portal.away_save")}</button></form></section>"""


for path, title, body, script, messages, name in (
    ("/portal", "portal.home", _home, "portal", HOME, "portal_page"),
    (
        "/portal/invoices",
        "portal.invoices",
        _invoices,
        "portal-invoices",
        INVOICES,
        "portal_invoices_page",
    ),
    ("/portal/profile", "portal.profile", _profile, "portal", PROFILE, "portal_profile_page"),
):
    add_page(
        router,
        path,
        Page(
            title=title,
            body=body,
            script=script,
            roles=CUSTOMER,
            messages={**SHARED, **messages},
        ),
        name=name,
    )
