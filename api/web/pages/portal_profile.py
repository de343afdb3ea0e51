"""The messages of the portal's profile page (names, language, my data, away from home): kept
apart from the portal's other views, which are never sent them."""

from __future__ import annotations

from api.web.i18n import Msg

PROFILE = {
    "portal.away": Msg("Away from home", "Absence", "Yu lusim haus"),
    "portal.away_text": Msg(
        "Going away? Tell us the dates: an empty home raises no alert, and your return is not"
        ' "unusual use". By SMS: AWAY 2026-12-20 2027-01-05.',
        "Vous partez ? Donnez-nous les dates : un logement vide ne déclenche aucune alerte, et"
        " votre retour n'est pas une « consommation inhabituelle ». Par SMS : ABSENT 20/12/2026"
        " 05/01/2027.",
        "Yu laik go? Tokim mipela ol de: haus i stap nating i no kirapim woning, na taim yu kam"
        ' bek i no "wara moa". Long SMS: HOLIDE 20/12/2026 05/01/2027.',
    ),
    "portal.away_from": Msg("Leaving on", "Départ le", "Yu go long"),
    "portal.away_to": Msg("Back on", "Retour le", "Yu kam bek long"),
    "portal.away_save": Msg("Declare my absence", "Déclarer mon absence", "Tokaut"),
    "portal.away_saved": Msg("Absence declared.", "Absence déclarée.", "Tokaut i go pinis."),
    "portal.away_order": Msg(
        "The return date must not be before the departure.",
        "La date de retour ne peut pas précéder le départ.",
        "De bilong kam bek i no ken stap paslain long de bilong go.",
    ),
    "portal.away_none": Msg(
        "No absence declared.", "Aucune absence déclarée.", "Yu no tokaut long lusim haus."
    ),
    "portal.away_item": Msg(
        "{ref}: away from {start} to {end}",
        "{ref} : absent du {start} au {end}",
        "{ref}: yu lusim haus {start} i go {end}",
    ),
    "portal.away_cancel": Msg("Cancel", "Annuler", "Rausim"),
    "portal.first_name": Msg("First name", "Prénom", "Nem"),
    "portal.last_name": Msg("Last name", "Nom", "Nem bilong famili"),
    "portal.phone": Msg("Phone", "Téléphone", "Fon"),
    "portal.language": Msg(
        "Language of pages and SMS", "Langue des pages et des SMS", "Tokples bilong pes na SMS"
    ),
    "portal.save": Msg("Save", "Enregistrer", "Seivim"),
    "portal.saved": Msg("Saved.", "Enregistré.", "Seivim pinis."),
    "portal.export": Msg("My data", "Mes données", "Data bilong mi"),
    "portal.export_text": Msg(
        "Download everything we hold about you (JSON file).",
        "Téléchargez toutes les données que nous détenons sur vous (fichier JSON).",
        "Daunlodim olgeta data mipela i holim long yu (fail JSON).",
    ),
    "portal.export_button": Msg("Download my data", "Télécharger mes données", "Daunlodim data"),
}
