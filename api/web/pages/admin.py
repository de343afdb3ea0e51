"""The administrator's view: tariff versions (list, create), the billing run (close and issue a
period, approve regularisations), the jobs (running, failed with a retry, scheduled) and users
with their roles (static/js/admin.js).

The billing run calls the billing API; where this server does not have it yet, the section says
so instead of failing.
"""

from __future__ import annotations

from fastapi import APIRouter

from accounts.models import Role
from api.web.i18n import Msg, Translator
from api.web.layout import NavItem, Page, add_nav, add_page
from registry.models import DwellingType

router = APIRouter(include_in_schema=False)

MESSAGES = {
    "admin.title": Msg("Administration", "Administration", "Lukautim sistem"),
    "admin.nav": Msg("Administration", "Administration", "Lukautim"),
    "admin.tariffs": Msg("Tariffs", "Tarifs", "Ol prais"),
    "admin.country": Msg("Country", "Pays", "Kantri"),
    "admin.effective": Msg("In force from", "En vigueur le", "Stat long"),
    "admin.zone": Msg("Zone", "Zone", "Hap"),
    "admin.all_zones": Msg("Whole country", "Tout le pays", "Olgeta kantri"),
    "admin.blocks": Msg("Blocks (m³: price)", "Tranches (m³ : prix)", "Ol hap (m³: prais)"),
    "admin.fee": Msg("Service fee", "Frais de service", "Pe bilong sevis"),
    "admin.vat": Msg("VAT %", "TVA %", "Takis %"),
    "admin.new_tariff": Msg("New tariff version", "Nouvelle version du tarif", "Nupela prais"),
    "admin.upper": Msg(
        "Block {n} up to (m³)", "Tranche {n} jusqu'à (m³)", "Hap {n} i go long (m³)"
    ),
    "admin.upper_hint": Msg(
        "Empty on the last block", "Vide pour la dernière tranche", "Lusim long las hap"
    ),
    "admin.price": Msg("Block {n} price per m³", "Tranche {n} prix au m³", "Hap {n} prais long m³"),
    "admin.subscription": Msg(
        "Monthly subscription: {type}", "Abonnement mensuel : {type}", "Pe bilong mun: {type}"
    ),
    "admin.penalty_pct": Msg("Late penalty %", "Pénalité de retard %", "Pe bilong lus %"),
    "admin.penalty_fixed": Msg("Late penalty, fixed", "Pénalité de retard, fixe", "Pe bilong lus"),
    "admin.note": Msg("Why (decision, reference)", "Motif (décision, référence)", "Bilong wanem"),
    "admin.create": Msg("Create the version", "Créer la version", "Mekim nupela"),
    "admin.created": Msg("Tariff version created.", "Version créée.", "Nupela prais i stap."),
    "admin.billing": Msg("Billing run", "Facturation", "Wok bilong bil"),
    "admin.period": Msg("Period (month)", "Période (mois)", "Mun"),
    "admin.close": Msg("Close the period", "Clôturer la période", "Pinisim mun"),
    "admin.closed": Msg(
        "{period}: close queued, {count} zone jobs ({ids}); the jobs list shows their progress.",
        "{period} : clôture lancée, {count} tâches par zone ({ids}) ; la liste des tâches suit"
        " leur avancement.",
        "{period}: pinisim mun i stat, {count} wok ({ids}).",
    ),
    "admin.issue": Msg("Issue the invoices", "Émettre les factures", "Salim ol bil"),
    "admin.issue_queued": Msg(
        "{period}: issue queued, {count} zone jobs ({ids}); the jobs list shows their progress.",
        "{period} : émission lancée, {count} tâches par zone ({ids}) ; la liste des tâches suit"
        " leur avancement.",
        "{period}: salim bil i stat, {count} wok ({ids}).",
    ),
    "admin.jobs": Msg("Jobs", "Tâches", "Ol wok"),
    "admin.jobs_running": Msg(
        "Running and waiting", "En cours et en attente", "Ol wok i ran na i wet"
    ),
    "admin.jobs_failed": Msg("Failed", "En échec", "Ol wok i bagarap"),
    "admin.jobs_scheduled": Msg("Scheduled", "Planifiées", "Ol wok i gat taim"),
    "admin.no_jobs": Msg(
        "No job running or waiting.",
        "Aucune tâche en cours ni en attente.",
        "Nogat wok i ran o i wet.",
    ),
    "admin.no_failed": Msg("No failed job.", "Aucune tâche en échec.", "Nogat wok i bagarap."),
    "admin.job": Msg("Job", "Tâche", "Wok"),
    "admin.job_status": Msg("Status", "État", "Olsem wanem"),
    "admin.job_progress": Msg("Progress", "Avancement", "Hamas i pinis"),
    "admin.job_started": Msg("Started", "Démarrée", "Stat"),
    "admin.job_failed_at": Msg("Failed", "Échec", "Bagarap"),
    "admin.job_error": Msg("Error", "Erreur", "Popaia"),
    "admin.job_result": Msg("Result", "Résultat", "Wanem i kamap"),
    "admin.job_cron": Msg("Schedule (cron, UTC)", "Calendrier (cron, UTC)", "Taim (cron, UTC)"),
    "admin.job_next": Msg("Next run", "Prochaine exécution", "Neks taim"),
    "admin.job_of": Msg("{done} of {total}", "{done} sur {total}", "{done} long {total}"),
    "admin.retry": Msg("Retry", "Relancer", "Traim gen"),
    "admin.retried": Msg(
        "Job #{id} queued again.", "Tâche n°{id} relancée.", "Wok #{id} i stat gen."
    ),
    "admin.jobs_updated": Msg(
        "Updated at {time}, every {seconds} s.",
        "Mis à jour à {time}, toutes les {seconds} s.",
        "Nupela long {time}, olgeta {seconds} sekon.",
    ),
    "job.todo": Msg("waiting", "en attente", "i wet"),
    "job.doing": Msg("running", "en cours", "i ran"),
    "job.succeeded": Msg("done", "terminée", "pinis"),
    "job.failed": Msg("failed", "en échec", "i bagarap"),
    "job.cancelled": Msg("cancelled", "annulée", "katim"),
    "job.aborted": Msg("aborted", "interrompue", "stopim"),
    "jobres.issued": Msg("issued", "émises", "i salim"),
    "jobres.numbers": Msg("numbers", "numéros", "ol namba"),
    "jobres.sms_queued": Msg("SMS", "SMS", "SMS"),
    "jobres.created": Msg("created", "créés", "i kamap nupela"),
    "jobres.existing": Msg("already registered", "déjà enregistrés", "i stap pinis"),
    "admin.regularisations": Msg(
        "Regularisations awaiting approval",
        "Régularisations à approuver",
        "Ol stretim i wet long orait",
    ),
    "admin.no_regularisations": Msg(
        "None awaiting approval.", "Aucune en attente.", "Nogat i wet."
    ),
    "admin.approve": Msg("Approve", "Approuver", "Orait"),
    "admin.approved": Msg("Approved.", "Approuvée.", "Orait pinis."),
    "admin.invoice": Msg("Invoice", "Facture", "Bil"),
    "admin.dwelling": Msg("Dwelling", "Logement", "Rum"),
    "admin.amount": Msg("Amount", "Montant", "Mani"),
    "admin.users": Msg("Users and roles", "Utilisateurs et rôles", "Ol man na wok bilong ol"),
    "admin.name": Msg("Name", "Nom", "Nem"),
    "admin.phone": Msg("Phone", "Téléphone", "Fon"),
    "admin.role": Msg("Role", "Rôle", "Wok"),
    "admin.active": Msg("Active", "Actif", "I wok"),
    "admin.role_saved": Msg(
        "Role of {name} is now {role}.",
        "Le rôle de {name} est maintenant {role}.",
        "Wok bilong {name} nau em {role}.",
    ),
    "role.customer": Msg("Customer", "Client", "Kastama"),
    "role.manager": Msg("Manager", "Gestionnaire", "Maneja"),
    "role.technician": Msg("Technician", "Technicien", "Teknisen"),
    "role.admin": Msg("Administrator", "Administrateur", "Bosman"),
    "dwelling.apartment": Msg("apartment", "appartement", "rum"),
    "dwelling.house": Msg("house", "maison", "haus"),
    "dwelling.commercial": Msg("commercial", "commerce", "stoa"),
    "dwelling.communal": Msg("communal", "collectif", "bilong olgeta"),
}

BLOCKS = 3


def _input(t: Translator, name: str, label: str, extra: str = "", hint: str = "") -> str:
    hint_html = f'<span class="hint">{t(hint)}</span>' if hint else ""
    return (
        f'<div class="field"><label for="{name}">{label}</label>{hint_html}'
        f'<input id="{name}" name="{name}" {extra}></div>'
    )


def _tariff_form(t: Translator) -> str:
    number = 'type="number" step="any" min="0" inputmode="decimal"'
    blocks = "".join(
        '<div class="row">'
        + _input(
            t,
            f"upper{n}",
            t("admin.upper").replace("{n}", str(n)),
            number,
            "admin.upper_hint" if n == BLOCKS else "",
        )
        + _input(t, f"price{n}", t("admin.price").replace("{n}", str(n)), number + " required")
        + "</div>"
        for n in range(1, BLOCKS + 1)
    )
    subscriptions = "".join(
        _input(
            t,
            f"sub_{kind.value}",
            t("admin.subscription").replace("{type}", t(f"dwelling.{kind.value}")),
            number + " required",
        )
        for kind in DwellingType
    )
    return (
        '<form id="tariff-form" class="stack panel" novalidate>'
        f"<h3>{t('admin.new_tariff')}</h3>"
        + _input(t, "effective_from", t("admin.effective"), 'type="date" required')
        + blocks
        + f'<div class="row">{subscriptions}</div><div class="row">'
        + _input(t, "service_fee", t("admin.fee"), number + " required")
        + _input(t, "vat_pct", t("admin.vat"), number + " required")
        + _input(t, "penalty_pct", t("admin.penalty_pct"), number + ' value="0"')
        + _input(t, "penalty_fixed", t("admin.penalty_fixed"), number + ' value="0"')
        + "</div>"
        + _input(t, "note", t("admin.note"), 'type="text" maxlength="2000"')
        + f'<button class="primary" type="submit">{t("admin.create")}</button></form>'
    )


def _body(t: Translator) -> str:
    return f"""
<section aria-labelledby="h-tariffs"><h2 id="h-tariffs">{t("admin.tariffs")}</h2>
<div class="row"><div class="field"><label for="country">{t("admin.country")}</label>
<input id="country" name="country" type="text" maxlength="2" size="3"
 autocapitalize="characters"></div></div>
<div id="tariffs"></div>
{_tariff_form(t)}
</section>
<section aria-labelledby="h-billing"><h2 id="h-billing">{t("admin.billing")}</h2>
<form id="close-form" class="row" novalidate>
<div class="field"><label for="period">{t("admin.period")}</label>
<input type="month" id="period" name="period" required></div>
<button class="primary" type="submit">{t("admin.close")}</button>
<button class="secondary" type="button" id="issue">{t("admin.issue")}</button></form>
<p id="close-result" role="status"></p>
<h3>{t("admin.regularisations")}</h3>
<div id="regularisations"></div>
</section>
<section aria-labelledby="h-jobs"><h2 id="h-jobs">{t("admin.jobs")}</h2>
<p id="jobs-updated" class="muted"></p>
<h3>{t("admin.jobs_running")}</h3><div id="jobs-running"></div>
<h3>{t("admin.jobs_failed")}</h3><div id="jobs-failed"></div>
<h3>{t("admin.jobs_scheduled")}</h3><div id="jobs-scheduled"></div>
</section>
<section aria-labelledby="h-users"><h2 id="h-users">{t("admin.users")}</h2>
<div id="users"></div></section>
"""


add_nav(NavItem("/admin", "admin.nav", (Role.ADMIN,), order=90))
add_page(
    router,
    "/admin",
    Page(title="admin.title", body=_body, script="admin", roles=(Role.ADMIN,), messages=MESSAGES),
    name="admin_page",
)
