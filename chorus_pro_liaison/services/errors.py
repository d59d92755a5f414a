# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Chorus Pro client errors in words an accountant understands (one place for all of them)."""

from odoo.exceptions import UserError

from chorus_pro import errors


class ChorusGuardError(UserError):
    """The guard refused a Chorus Pro call; ``code`` says why (disabled, incomplete, ...)."""

    def __init__(self, message, code="refused"):
        super().__init__(message)
        self.code = code


class MandateBlocked(Exception):
    """This invoice cannot be mandated now; the message says why, in plain words."""


def chorus_error_message(error, env):
    """A plain-French (translated) explanation of a :mod:`chorus_pro.errors` exception.

    It quotes what Chorus said (its libellé or the PISTE reason) but never a secret: the client
    already keeps secrets, IBANs and file contents out of its messages.
    """
    _ = env._
    said = error.label or getattr(error, "reason", "") or ""
    detail = _(" Chorus Pro said: %(said)s", said=said) if said else ""
    # The most precise kind of error wins (a server error is also a transport error).
    explanations = {
        errors.ChorusCredentialsError: lambda: _(
            "Chorus Pro refused the credentials.%(detail)s Check the technical account login and "
            "password (the password expires every 424 days) and the PISTE application's client "
            "ID and secret.", detail=detail),
        errors.ChorusAuthorizationError: lambda: _(
            "Chorus Pro refused access (HTTP 403).%(detail)s The PISTE application may not be "
            "authorised for this API, the API connection (raccordement) may not be declared in "
            "Chorus Pro, or the technical account is not attached to the structure.",
            detail=detail),
        errors.ChorusNotFoundError: lambda: _(
            "Chorus Pro does not know this invoice or structure.%(detail)s", detail=detail),
        errors.ChorusTransitionRefused: lambda: _(
            "Chorus Pro refused this status change: the invoice's status no longer allows it "
            "(it may have been changed on the portal, by the supplier or by Hélios).%(detail)s",
            detail=detail),
        errors.ChorusPayloadTooLarge: lambda: _(
            "The file is too large for Chorus Pro to send in one piece (HTTP 413).%(detail)s",
            detail=detail),
        errors.ChorusOutcomeUnknown: lambda: _(
            "Chorus Pro answered without saying whether it accepted the status change: the "
            "outcome is unknown. The invoice's history in Chorus Pro is read before the decision "
            "is sent again, so it is never sent twice."),
        errors.ChorusMalformedResponse: lambda: _(
            "Chorus Pro sent an answer that could not be read.%(detail)s Nothing was lost; "
            "the operation can be tried again later.", detail=detail),
        errors.ChorusServerError: lambda: _(
            "Chorus Pro is unavailable or overloaded right now (HTTP %(status)s).%(detail)s "
            "Nothing was lost; it will be tried again.",
            status=error.http_status or "?", detail=detail),
        errors.ChorusTransportError: lambda: _(
            "Chorus Pro cannot be reached (network problem or service down). Nothing was lost; "
            "it will be tried again."),
        errors.ChorusFunctionalError: lambda: _(
            "Chorus Pro refused the request (code %(code)s).%(detail)s",
            code=error.code if error.code is not None else "?", detail=detail),
    }
    for kind in type(error).__mro__:
        if kind in explanations:
            return explanations[kind]()
    return _("Chorus Pro error: %(message)s", message=error.message or str(error))


def pivot_error_message(error, env):
    """A :class:`chorus_pro.pivot.PivotError` in the user's words: where in the file (invoice
    rank, number, IdCPRO, XML line) and what is wrong, all translated (never the library's
    English inside a French sentence)."""
    _ = env._
    params = error.params
    reasons = {
        "malformed_xml": lambda: _(
            "the XML is malformed (%(detail)s); %(read)s invoice(s) read before it",
            detail=params.get("detail", ""), read=params.get("read", 0)),
        "doctype": lambda: _("a DOCTYPE declaration is not allowed in a PIVOT file"),
        "not_pivot": lambda: _("this is not a PIVOT invoice file (root element <%(root)s>)",
                               root=params.get("root", "")),
        "missing_amount": lambda: _("the amount %(path)s is missing", path=params.get("path", "")),
        "invalid_decimal": lambda: _("the amount %(path)s is not a number (%(value)s)",
                                     path=params.get("path", ""), value=params.get("value", "")),
        "invalid_date": lambda: _("the date %(path)s is not a date (%(value)s)",
                                  path=params.get("path", ""), value=params.get("value", "")),
        "invalid_integer": lambda: _("%(path)s is not a whole number (%(value)s)",
                                     path=params.get("path", ""), value=params.get("value", "")),
        "missing_data": lambda: _("the invoice data (DonneesFacture) is missing"),
        "missing_number": lambda: _("the invoice number (DonneesFacture/Id) is missing"),
        "missing_supplier_identifier": lambda: _(
            "the supplier identifier (Fournisseur/Identifiant) is missing"),
        "invalid_line_order": lambda: _("a line number (Ligne/@NumOrdre) is invalid (%(value)s)",
                                        value=params.get("value", "")),
        "not_base64": lambda: _("the content of attachment %(label)s cannot be decoded",
                                label=params.get("label", "")),
    }
    explain = reasons.get(error.code)
    reason = explain() if explain else error.reason
    where = []
    if error.position:
        where.append(_("invoice no. %(position)s in the file", position=error.position))
    if error.invoice_number:
        where.append(_("number %(number)s", number=error.invoice_number))
    if error.chorus_id:
        where.append(_("IdCPRO %(id)s", id=error.chorus_id))
    if error.line:
        where.append(_("XML line %(line)s", line=error.line))
    if where:
        return _("%(where)s: %(reason)s", where=", ".join(where), reason=reason)
    return reason


def text_refusal_message(refused, env, what=None):
    """A :class:`chorus_pro.text.TextRefused` in words: the character and where it is, the limit,
    the expected shape. ``what`` names the text (default: the motif)."""
    _ = env._
    what = what or _("The motif")
    params = refused.params
    if refused.code == "character":
        return _(
            "%(what)s contains an invisible or control character (%(char)s, at position "
            "%(position)s): retype it without that character (it often comes from a copy and "
            "paste).", what=what, char=params["char"], position=params["position"],
        )
    if refused.code == "too_long":
        return _(
            "%(what)s has %(length)s characters; Chorus Pro accepts at most %(limit)s. Shorten "
            "it (nothing is cut for you: the supplier would read half a sentence).",
            what=what, length=params["length"], limit=params["limit"],
        )
    if refused.code == "nature_shape":
        return _(
            "The budget article \"%(value)s\" is not a nature of the chart of accounts: "
            "%(min)s to %(max)s digits, the first not 0, nothing else (for example 6042).",
            value=params["value"], min=params["min"], max=params["max"],
        )
    return str(refused)
