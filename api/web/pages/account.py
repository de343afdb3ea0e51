"""Sign-in by phone and password, sign-up with the SMS code step, and the role-based start page."""

from __future__ import annotations

from fastapi import APIRouter

from accounts.passwords import MAX_LENGTH, MIN_LENGTH
from api.web.i18n import PHONE_ERRORS, Msg, Translator
from api.web.layout import Page, add_page
from core.countries import Language

router = APIRouter(include_in_schema=False)

MESSAGES = {
    **PHONE_ERRORS,
    "account.signin": Msg("Sign in", "Connexion", "Go insait"),
    "account.signup": Msg("Create an account", "Créer un compte", "Mekim nupela akaun"),
    "account.phone": Msg("Mobile phone number", "Numéro de mobile", "Namba bilong mobail fon"),
    "account.phone_hint": Msg(
        "National or international, e.g. +675 7012 3456",
        "National ou international, par ex. +237 6 58 55 22 94",
        "Namba bilong kantri o intanesenel, olsem +675 7012 3456",
    ),
    "account.password": Msg("Password", "Mot de passe", "Paswot"),
    "account.password_hint": Msg(
        "At least 8 characters", "Au moins 8 caractères", "Olsem 8 leta o moa"
    ),
    "account.first_name": Msg("First name", "Prénom", "Nem"),
    "account.last_name": Msg("Last name", "Nom", "Nem bilong famili"),
    "account.language": Msg("Language", "Langue", "Tokples"),
    "account.no_account": Msg("No account yet?", "Pas encore de compte ?", "Yu no gat akaun yet?"),
    "account.have_account": Msg(
        "Already have an account?", "Vous avez déjà un compte ?", "Yu gat akaun pinis?"
    ),
    "account.bad_credentials": Msg(
        "Wrong phone number or password.",
        "Numéro ou mot de passe incorrect.",
        "Namba o paswot i no stret.",
    ),
    "account.inactive": Msg(
        "This account is not active yet: enter the code we sent by SMS.",
        "Ce compte n'est pas encore actif : saisissez le code reçu par SMS.",
        "Akaun i no wok yet: raitim kod mipela i salim long SMS.",
    ),
    "account.too_many": Msg(
        "Too many attempts. Wait a minute and try again.",
        "Trop de tentatives. Patientez une minute.",
        "Yu traim planti taim tumas. Wet liklik na traim gen.",
    ),
    "account.check_fields": Msg(
        "Check the fields marked in red.",
        "Vérifiez les champs en rouge.",
        "Lukim gen ol hap i gat retpela mak.",
    ),
    "account.code": Msg("Code received by SMS", "Code reçu par SMS", "Kod yu kisim long SMS"),
    "account.code_hint": Msg("6 digits", "6 chiffres", "6-pela namba"),
    "account.code_sent": Msg(
        "We sent a 6-digit code by SMS to {phone}.",
        "Nous avons envoyé un code à 6 chiffres par SMS au {phone}.",
        "Mipela i salim 6-pela namba kod long SMS i go long {phone}.",
    ),
    "account.activate": Msg("Activate my account", "Activer mon compte", "Kirapim akaun"),
    "account.resend": Msg("Send a new code", "Renvoyer un code", "Salim nupela kod"),
    "account.code_wrong": Msg(
        "This code is wrong or has expired.",
        "Ce code est faux ou a expiré.",
        "Kod i no stret o taim bilong en i pinis.",
    ),
    "account.step1": Msg(
        "Step 1 of 2: your details",
        "Étape 1 sur 2 : vos informations",
        "Step 1 long 2: ol infomesen bilong yu",
    ),
    "account.step2": Msg(
        "Step 2 of 2: the SMS code", "Étape 2 sur 2 : le code SMS", "Step 2 long 2: kod bilong SMS"
    ),
    "account.welcome": Msg(
        "Opening your space…", "Ouverture de votre espace…", "Opim ples bilong yu…"
    ),
}


def _field(
    t: Translator,
    name: str,
    label: str,
    kind: str = "text",
    *,
    hint: str | None = None,
    extra: str = "",
) -> str:
    hint_html = f'<span class="hint" id="{name}-hint">{t(hint)}</span>' if hint else ""
    described = (
        f' aria-describedby="{name}-hint {name}-error"'
        if hint
        else (f' aria-describedby="{name}-error"')
    )
    return (
        f'<div class="field"><label for="{name}">{t(label)}</label>{hint_html}'
        f'<input id="{name}" name="{name}" type="{kind}" required{described} {extra}>'
        f'<span class="hint error" id="{name}-error" role="alert"></span></div>'
    )


def _signin(t: Translator) -> str:
    return (
        '<form id="signin-form" class="stack" novalidate>'
        + _field(
            t,
            "phone",
            "account.phone",
            "tel",
            hint="account.phone_hint",
            extra='autocomplete="tel" inputmode="tel"',
        )
        + _field(
            t, "password", "account.password", "password", extra='autocomplete="current-password"'
        )
        + f'<button class="primary" type="submit">{t("account.signin")}</button></form>'
        + f'<p>{t("account.no_account")} <a href="/signup">{t("account.signup")}</a></p>'
    )


def _signup(t: Translator) -> str:
    names = {Language.EN: "English", Language.FR: "Français", Language.TPI: "Tok Pisin"}
    options = "".join(f'<option value="{lang.value}">{names[lang]}</option>' for lang in Language)
    return (
        f'<form id="signup-form" class="stack" novalidate><p class="muted">{t("account.step1")}</p>'
        + _field(
            t,
            "phone",
            "account.phone",
            "tel",
            hint="account.phone_hint",
            extra='autocomplete="tel" inputmode="tel"',
        )
        + _field(t, "first_name", "account.first_name", extra='autocomplete="given-name"')
        + _field(t, "last_name", "account.last_name", extra='autocomplete="family-name"')
        + _field(
            t,
            "new_password",
            "account.password",
            "password",
            hint="account.password_hint",
            extra=f'autocomplete="new-password" minlength="{MIN_LENGTH}" maxlength="{MAX_LENGTH}"',
        )
        + f'<div class="field"><label for="language">{t("account.language")}</label>'
        f'<select id="language" name="language">{options}</select></div>'
        f'<button class="primary" type="submit">{t("account.signup")}</button></form>'
        f'<form id="code-form" class="stack" novalidate hidden>'
        f'<p class="muted">{t("account.step2")}</p><p id="code-sent"></p>'
        + _field(
            t,
            "code",
            "account.code",
            "text",
            hint="account.code_hint",
            extra='inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" '
            'maxlength="6"',
        )
        + f'<button class="primary" type="submit">{t("account.activate")}</button>'
        f'<button class="secondary" type="button" id="resend">{t("account.resend")}</button>'
        f"</form>"
        f'<p>{t("account.have_account")} <a href="/signin">{t("account.signin")}</a></p>'
    )


add_page(
    router,
    "/",
    Page(title="app.home", body=lambda t: f"<p>{t('app.loading')}</p>", script="home", roles=None),
    name="home_page",
)
add_page(
    router,
    "/signin",
    Page(title="account.signin", body=_signin, script="signin", roles=None, messages=MESSAGES),
    name="signin_page",
)
add_page(
    router,
    "/signup",
    Page(title="account.signup", body=_signup, script="signup", roles=None, messages=MESSAGES),
    name="signup_page",
)
