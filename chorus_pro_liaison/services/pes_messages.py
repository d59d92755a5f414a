# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""PES problems and the accountant's answers in words the user reads (one place, translated).

:func:`chorus_pro.pes.validate` returns :class:`~chorus_pro.pes.Problem` objects with a stable
``code`` and English ``params``; the templates below are the library's
(:data:`chorus_pro.pes.problems.MESSAGES`) as translatable source strings, so that a French user
reads French. A code this table does not know falls back on the library's English message.
"""

import re

from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)

PROBLEM_TEMPLATES = {
    # header
    "codique_missing": _lt("The accounting office number (codique) is missing."),
    "codique_invalid": _lt(
        "The accounting office number (codique) %(value)s is not valid: 6 or 7 digits, or 02A "
        "or 02B followed by 3 or 4 digits."
    ),
    "collectivity_siret_missing": _lt("The SIRET of the public body (IdColl) is missing."),
    "collectivity_siret_invalid": _lt(
        "The SIRET of the public body (IdColl) %(value)s is not valid."
    ),
    "cod_col_invalid": _lt(
        "The public body code in Hélios (CodCol) must be 3 digits, not %(value)r."
    ),
    "cod_bud_invalid": _lt(
        "The budget code in Hélios (CodBud) must be a digit or capital letter followed by a "
        "digit, not %(value)r."
    ),
    "nomenclature_unknown": _lt("The budgetary nomenclature %(value)r is not one Hélios knows."),
    "vote_unknown": _lt("The way the budget is voted (%(value)r) is unknown."),
    "vote_function_not_allowed": _lt(
        "A budget in %(nomenclature)s cannot be voted by function (functions exist only in "
        "M14, M52, M57 and M71)."
    ),
    "finess_missing": _lt("A budget in %(nomenclature)s needs the legal FINESS number (FinJur)."),
    "finess_forbidden": _lt(
        "The legal FINESS number (FinJur) is only for M21 and M22 budgets: remove it."
    ),
    "finess_invalid": _lt(
        "The legal FINESS number %(value)r is not valid (up to 20 letters/digits)."
    ),
    "text_cut": _lt("%(label)s will be cut to %(max)s characters: %(value)r."),
    "file_name_invalid": _lt("The PES file name %(value)r is not valid."),
    # flow and bordereaux
    "no_bordereau": _lt("There is no bordereau to send."),
    "bordereau_number_invalid": _lt(
        "The bordereau number %(value)r must be from 1 to 9,999,999."
    ),
    "bordereau_exercice_invalid": _lt("The exercice %(value)r is not a year."),
    "bordereau_issue_date_missing": _lt("The bordereau has no issue date."),
    "bordereau_kind_invalid": _lt(
        "The bordereau type %(value)r is not possible (01 ordinary, 02 reduction/cancellation)."
    ),
    "bordereau_duplicate": _lt(
        "Bordereau %(number)s of %(exercice)s (type %(kind)s) appears twice in the file."
    ),
    "bordereau_id_invalid": _lt(
        "The bordereau identifier %(value)r must start with a letter and contain only letters, "
        "digits, '-', '_' and '.'."
    ),
    "bordereau_id_duplicate": _lt("The bordereau identifier %(value)r is used twice in the file."),
    "bordereau_empty": _lt("The bordereau holds no mandate."),
    "bordereau_too_many_pieces": _lt(
        "A bordereau holds at most 99,999 mandates (%(count)s here)."
    ),
    "previous_cumul_invalid": _lt(
        "The previous cumulative total of the year (%(value)s) is not a valid amount."
    ),
    "cumul_not_positive": _lt(
        "The yearly cumulative total (MtCumulAnnuel) must be above zero for dematerialised "
        "mandates."
    ),
    "amount_too_large": _lt("The bordereau total %(value)s is too large for the PES."),
    # pièces
    "piece_number_invalid": _lt("The mandate number %(value)r must be from 1 to 99,999,999."),
    "piece_duplicate": _lt("Mandate %(number)s appears twice in the file."),
    "piece_type_unknown": _lt("The mandate type (TypPce) %(value)r is unknown."),
    "piece_nature_unknown": _lt("The mandate nature (NatPce) %(value)r is unknown."),
    "triplet_mismatch": _lt(
        "A mandate of type %(piece_type)s / nature %(nature)s cannot go in a bordereau of type "
        "%(kind)s: %(hint)s"
    ),
    "triplet_unknown": _lt(
        "The combination bordereau %(kind)s / mandate type %(piece_type)s / nature %(nature)s is "
        "not one this software knows; Hélios rejects combinations it does not know: check it "
        "with the accounting office."
    ),
    "piece_without_line": _lt("The mandate has no line."),
    "object_missing": _lt(
        "The mandate has no object (Obj): the accountant will not know what it pays."
    ),
    "origin_missing": _lt(
        "This reduction/cancellation does not say which mandate it reduces (mandate number, "
        "exercice and line)."
    ),
    "origin_invalid": _lt("The reduced mandate reference is not valid: %(reason)s."),
    "service_code_invalid": _lt(
        "The service code %(value)r is too long (10 characters at most)."
    ),
    "dgp_invalid": _lt("The payment delay (DGP) is not valid: %(reason)s."),
    # lines
    "line_number_invalid": _lt("The line number %(value)r must be from 1 to 999,999."),
    "line_number_duplicate": _lt("Line number %(value)s is used twice in the mandate."),
    "nature_missing": _lt("The budget article has no account by nature (Nature)."),
    "nature_invalid": _lt("The account by nature %(value)r must be digits only (up to 12)."),
    "function_missing": _lt(
        "The budget is voted by function: the budget article needs a function (Fonction)."
    ),
    "function_invalid": _lt("The function %(value)r must be digits only (up to 10)."),
    "function_not_allowed": _lt(
        "The budget (%(nomenclature)s, %(vote)s) does not take a function: remove %(value)r "
        "from the budget article."
    ),
    "operation_invalid": _lt("The operation number %(value)r must be digits only (up to 10)."),
    "operation_not_allowed": _lt(
        "A budget in %(nomenclature)s does not take an operation number."
    ),
    "amount_invalid": _lt("The amount %(label)s (%(value)s) %(reason_text)s."),
    "payment_mode_unknown": _lt("The payment method (ModRegl) %(value)r is unknown."),
    "invoice_number_cut": _lt(
        "The invoice number %(value)r will be cut to 20 characters in the PES (Facture)."
    ),
    # creditor
    "tiers_missing": _lt("The line has no creditor."),
    "tiers_name_missing": _lt("The creditor has no name."),
    "tiers_category_unknown": _lt("The creditor category (CatTiers) %(value)r is unknown."),
    "tiers_legal_nature_unknown": _lt(
        "The creditor's legal nature (NatJur) %(value)r is unknown."
    ),
    "tiers_identifier_type_unknown": _lt(
        "The creditor identifier type (NatIdTiers) %(value)r is unknown."
    ),
    "tiers_identifier_missing": _lt(
        "The creditor %(name)s has no national identifier (SIRET...): Hélios may not match it "
        "to its register."
    ),
    "tiers_identifier_without_type": _lt("The creditor's identifier %(value)r has no type."),
    "tiers_siret_invalid": _lt("The SIRET %(value)r of the creditor %(name)s is not valid."),
    "tiers_siren_invalid": _lt("The SIREN %(value)r of the creditor %(name)s is not valid."),
    "tiers_identifier_invalid": _lt(
        "The identifier %(value)r of the creditor %(name)s is not a valid %(kind)s: %(rule)s."
    ),
    "tiers_person_fields_missing": _lt(
        "The creditor %(name)s is a natural person: the civility and the first name are "
        "required."
    ),
    "address_missing": _lt("The creditor %(name)s has no address."),
    "address_street_missing": _lt("The address of the creditor %(name)s has no street."),
    "address_city_missing": _lt("The address of the creditor %(name)s has no city."),
    "address_postal_code_invalid": _lt(
        "The postal code %(value)r of the creditor %(name)s must be 5 digits (99999 abroad)."
    ),
    "address_country_missing": _lt(
        "The creditor %(name)s lives abroad: the INSEE country code is required."
    ),
    "address_country_invalid": _lt("The INSEE country code %(value)r must be 1 to 3 digits."),
    "address_kind_unknown": _lt("The address type %(value)r is unknown (0, 1 or 2)."),
    "bank_account_missing": _lt(
        "The creditor %(name)s has no bank account, which payment by transfer requires."
    ),
    "iban_invalid": _lt("The IBAN %(value)s of the creditor %(name)s is not valid."),
    "bic_invalid": _lt("The BIC %(value)r of the creditor %(name)s is not valid."),
    "bic_missing": _lt(
        "The creditor %(name)s is paid abroad (%(country)s): the BIC is required."
    ),
    "bank_holder_missing": _lt("The bank account of the creditor %(name)s has no holder name."),
    # files
    "file_id_invalid": _lt(
        "The attachment %(name)r has an invalid unique identifier %(value)r (1 to 50 letters "
        "and digits)."
    ),
    "file_id_duplicate": _lt(
        "Two different attachments (%(name)r and %(other)r) share the unique identifier "
        "%(value)s."
    ),
    "file_name_missing": _lt("An attachment has no file name."),
    "file_extension_invalid": _lt(
        "The attachment %(name)r needs an extension of 2 to 4 letters or digits (e.g. .pdf)."
    ),
    "file_mime_missing": _lt("The attachment %(name)r has no MIME type."),
    "file_mime_invalid": _lt("The MIME type %(value)r of the attachment %(name)r is not valid."),
    "file_type_unknown": _lt("The attachment type (TypePJ) %(value)r of %(name)r is unknown."),
    "file_support_unknown": _lt("The attachment support %(value)r of %(name)r is unknown."),
    "file_not_found": _lt("The attachment %(name)r cannot be read: %(reason)s."),
    "file_empty": _lt("The attachment %(name)r is empty: Hélios rejects empty attachments."),
}

# The English phrases the library puts in a problem's params (labels, reasons, rules).
PARAM_TEXTS = {
    # amounts (chorus_pro.pes.problems.AMOUNT_LABELS / AMOUNT_REASONS)
    "without VAT (MtHT)": _lt("without VAT (MtHT)"),
    "of VAT (MtTVA)": _lt("of VAT (MtTVA)"),
    "of the invoice without VAT (MtFactHT)": _lt("of the invoice without VAT (MtFactHT)"),
    "is not a number": _lt("is not a number"),
    "is negative (a reduction is written in a reduction bordereau, in positive)": _lt(
        "is negative (a reduction is written in a reduction bordereau, in positive)"
    ),
    "must be above zero": _lt("must be above zero"),
    "has more than two decimals": _lt("has more than two decimals"),
    "is too large for the PES": _lt("is too large for the PES"),
    "is missing": _lt("is missing"),
    # texts cut to their PES length
    "The budget's label": _lt("The budget's label"),
    "The accounting office's label": _lt("The accounting office's label"),
    "The mandate's object": _lt("The mandate's object"),
    "The transfer label": _lt("The transfer label"),
    "The contract number": _lt("The contract number"),
    "The creditor's name": _lt("The creditor's name"),
    "The creditor's name complement": _lt("The creditor's name complement"),
    "The creditor's reference": _lt("The creditor's reference"),
    "The creditor's street": _lt("The creditor's street"),
    "The address complement": _lt("The address complement"),
    "The address locality": _lt("The address locality"),
    "The city": _lt("The city"),
    "The account holder": _lt("The account holder"),
    "The bank's name": _lt("The bank's name"),
    "The attachment's description": _lt("The attachment's description"),
    "The attachment's file name": _lt("The attachment's file name"),
    # mandate types
    "a reduction/cancellation bordereau holds corrective mandates (type 02, nature 06 or 10).":
        _lt("a reduction/cancellation bordereau holds corrective mandates (type 02, nature 06 "
            "or 10)."),
    "reductions and cancellations go in a bordereau of type 02.": _lt(
        "reductions and cancellations go in a bordereau of type 02."
    ),
    # payment delay
    "its start and end dates are required": _lt("its start and end dates are required"),
    "it ends before it starts": _lt("it ends before it starts"),
    "its duration must be 1 to 99 days": _lt("its duration must be 1 to 99 days"),
    "the interest rate must be above 0 and below 100, two decimals": _lt(
        "the interest rate must be above 0 and below 100, two decimals"
    ),
    # reduced mandate
    "the original mandate number is missing or wrong": _lt(
        "the original mandate number is missing or wrong"
    ),
    "the original exercice is missing or wrong": _lt("the original exercice is missing or wrong"),
    "the original line number is wrong": _lt("the original line number is wrong"),
    # identifiers
    "9 digits": _lt("9 digits"),
    "15 characters": _lt("15 characters"),
    "4 to 18 characters": _lt("4 to 18 characters"),
    "18 characters at most": _lt("18 characters at most"),
    "9 characters": _lt("9 characters"),
    "9 or 10 digits": _lt("9 or 10 digits"),
    "18 characters starting FRWF": _lt("18 characters starting FRWF"),
    "starting with 5 digits": _lt("starting with 5 digits"),
    "13 digits": _lt("13 digits"),
    "letters and digits only, 80 at most": _lt("letters and digits only, 80 at most"),
    "reserved to natural persons (category 01)": _lt("reserved to natural persons (category 01)"),
    "allowed only in M21/M22 on a mandate cancelling a revenue title": _lt(
        "allowed only in M21/M22 on a mandate cancelling a revenue title"
    ),
    # how the budget is voted (chorus_pro.pes.codes.VOTES, lower case)
    "voted by nature": _lt("voted by nature"),
    "voted by nature, with a functional presentation": _lt(
        "voted by nature, with a functional presentation"
    ),
    "voted by function": _lt("voted by function"),
}

# Reasons the library builds with a value inside: (pattern, translated template).
PARAM_PATTERNS = [
    (re.compile(r"^a mandate of (?P<year>\d+) can only be reduced in \d+ \(later: a revenue "
                r"title\)$"),
     _lt("a mandate of %(year)s can only be reduced in %(year)s (later: a revenue title)")),
    (re.compile(r"^the interest code (?P<code>.+) is unknown$"),
     _lt("the interest code %(code)s is unknown")),
    (re.compile(r"^the original pièce nature (?P<code>.+) is unknown$"),
     _lt("the original pièce nature %(code)s is unknown")),
]

# The accountant's anomaly codes (acquittement NumAnoAck), when Hélios gives no words of its own.
ACK_LABELS = {
    "ERREUR_CONNECTION_IMPOSSIBLE_A_LA_BASE": _lt("Hélios could not reach its database"),
    "ERREUR_ENCODING": _lt("The file's character encoding is wrong"),
    "ERREUR_FLUX_VIDE": _lt("The file is empty"),
    "ERREUR_SCHEMA_INCOMPLET": _lt("The file does not follow the PES schema"),
    "ERREUR_CODIFICATION": _lt("A code in the file is unknown"),
    "ERREUR_CODIQUE": _lt("The accounting office number (codique) is unknown"),
    "ERREUR_SIRET": _lt("The SIRET of the public body is unknown"),
    "ERREUR_CODE_COLLECTIVITE_BUDGET": _lt("The public body or budget code is unknown"),
    "ERREUR_VERSION_PES": _lt("Wrong PES version"),
    "ERREUR_VERSION_PJ": _lt("Wrong version of the attachment block"),
    "ERREUR_SIGNATURE_INVALIDE": _lt("The signature is invalid"),
    "ERREUR_SIGNATURE_ILLISIBLE": _lt("The signature cannot be read"),
    "ERREUR_SIGNATURE_INCOMPLETE": _lt("The signature is incomplete"),
    "ERREUR_DOUBLON_BORDEREAU": _lt("This bordereau number was already received"),
    "ERREUR_DOUBLON_PIECE": _lt("This mandate number was already received"),
    "ERREUR_DOUBLON_LIGNE": _lt("This mandate line was already received"),
    "ERREUR_DOUBLON_PJ": _lt("This attachment was already received"),
    "ERREUR_PES_PARAM": _lt("The public body's PES settings refuse this file"),
    "ERREUR_PES_SIGNATURE": _lt("The signature does not meet the PES rules"),
    "ERREUR_PES_PARAM_SIGNATURE": _lt(
        "The public body's signature settings refuse this signature"
    ),
    "ERREUR_CERTIFICAT": _lt("The signing certificate is not accepted"),
    "ERREUR_TIMEOUT": _lt("Hélios timed out"),
    "ERREUR_TAILLE_BORDEREAUX": _lt("Too many or too large bordereaux"),
    "ERREUR_TAILLE_PIECE": _lt("Too many or too large mandates"),
    "ERREUR_TAILLE_LIGNE": _lt("Too many or too large mandate lines"),
    "ERREUR_PJ_SIGNEE": _lt("A signed attachment is refused"),
    "ERREUR_SIGNATURE_EXTERNE": _lt("External signature refused"),
    "ERREUR_AUTRE": _lt("Other error"),
    "ERREUR_SIGNATURE_BORDEREAU_INVALIDE": _lt("The bordereau's signature is invalid"),
    "ERREUR_MONTANT_TVA_ZERO_NEGATIF": _lt("A VAT amount is zero or negative"),
    "ERREUR_PJ": _lt("An attachment is refused"),
    "ERREUR_CUMUL_MONTANTS": _lt("The yearly cumulative amount is wrong"),
    "ERREUR_SIGNATURE_BORDEREAU_ILLISIBLE": _lt("The bordereau's signature cannot be read"),
    "ERREUR_SIGNATURE_BORDEREAU_INCOMPLETE": _lt("The bordereau's signature is incomplete"),
}


def _param_text(value, env):
    """A param value in the user's language when it is one of the library's phrases."""
    if not isinstance(value, str):
        return value
    known = PARAM_TEXTS.get(value)
    if known is not None:
        return env._(known)
    for pattern, template in PARAM_PATTERNS:
        match = pattern.match(value)
        if match:
            return env._(template) % match.groupdict()
    return value


def problem_text(problem, env):
    """The message of a :class:`chorus_pro.pes.Problem` in the user's language."""
    template = PROBLEM_TEMPLATES.get(problem.code)
    if template is None:
        return problem.message
    params = {key: _param_text(value, env) for key, value in problem.params.items()}
    try:
        return env._(template) % params
    except (KeyError, TypeError, ValueError):
        return problem.message


def ack_error_text(error, env):
    """One anomaly of an acquittement: Hélios' own words, else the code explained."""
    if error.message:
        return error.message
    label = ACK_LABELS.get(error.code or "")
    if label is not None:
        return env._(label)
    return error.code or env._("Rejected without a reason")
