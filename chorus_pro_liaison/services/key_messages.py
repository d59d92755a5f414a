# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""RGS** key problems and evidence checks in words an accountant understands (one place)."""


def token_problem_message(problem, env, *, token_label="", key_label="", module_path="",
                          fallback=""):
    """Translated explanation of a :mod:`chorus_pro.token` problem code.

    ``fallback`` (the library's English message) is used for codes this table does not know.
    Never contains the PIN.
    """
    _ = env._
    messages = {
        "not_configured": _(
            "No RGS** key is configured: enter the PKCS#11 module path, the token label and the "
            "key label (RGS** key tab of the Chorus Pro configuration)."
        ),
        "python_pkcs11_missing": _(
            "The python-pkcs11 package is not installed on the Odoo server: the key cannot be "
            "used. Ask the server administrator to install it."
        ),
        "module_not_found": _(
            "The token software (PKCS#11 module) is not installed on the Odoo server at "
            "%(path)s. Install the token vendor's software, or correct the module path.",
            path=module_path,
        ),
        "module_not_loadable": _(
            "The token software (PKCS#11 module) %(path)s cannot be loaded on the Odoo server.",
            path=module_path,
        ),
        "token_absent": _(
            "The key \"%(label)s\" is not plugged in (no connected token has this label). Plug "
            "it in on the Odoo server, or check the token label.",
            label=token_label,
        ),
        "token_ambiguous": _(
            "Several connected tokens are labelled \"%(label)s\": unplug the others or give "
            "each its own label.",
            label=token_label,
        ),
        "pin_missing": _(
            "No PIN is set for the key. The server administrator sets it in the Odoo "
            "configuration file (chorus_pro_token_pin) or in the environment variable "
            "CHORUS_PRO_TOKEN_PIN; it is never stored in the database."
        ),
        "pin_incorrect": _(
            "The key refused the PIN. To protect the key from being locked, this PIN will not "
            "be tried again: the server administrator must correct it in the Odoo configuration "
            "file (or the environment variable)."
        ),
        "pin_retry_blocked": _(
            "The key refused this PIN before; it is not tried again so that the key does not "
            "lock itself. The server administrator must correct the PIN in the Odoo "
            "configuration file (or the environment variable); a Chorus Pro manager can also "
            "forget the refused PIN once it is known to be right."
        ),
        "pin_locked": _(
            "The key's PIN is locked after too many wrong attempts. Only its security officer "
            "(or the certification authority) can unlock it."
        ),
        "pin_expired": _("The key requires its PIN to be changed before it can be used."),
        "key_not_found": _(
            "The key holds no signature key labelled \"%(label)s\". Check the key label.",
            label=key_label,
        ),
        "key_ambiguous": _(
            "Several signature keys are labelled \"%(label)s\" on the token: use a unique label.",
            label=key_label,
        ),
        "certificate_not_found": _(
            "No certificate goes with the signature key \"%(label)s\" on the token.",
            label=key_label,
        ),
        "certificate_ambiguous": _(
            "Several certificates are labelled \"%(label)s\" on the token.", label=key_label
        ),
        "certificate_unreadable": _("The certificate stored on the key cannot be read."),
        "key_certificate_mismatch": _(
            "The certificate on the key does not belong to its signature key."
        ),
        "mechanism_not_supported": _("The key cannot produce the signature Odoo needs."),
        "pin_guard_unavailable": _(
            "Odoo cannot tell whether this PIN was already refused: the key is not used."
        ),
    }
    message = messages.get(problem)
    if message:
        return message
    # Expired / not yet valid certificates, device failures: the library's message names the
    # holder, the date or the PKCS#11 error, which the table above cannot know.
    return fallback or problem or ""


def token_status_message(status, account):
    """Plain words for a :class:`chorus_pro.token.TokenStatus` of ``account``'s key."""
    if status.ok:
        info = status.certificate
        return account.env._(
            "The key is ready: certificate of %(holder)s, valid until %(date)s (%(days)s day(s) "
            "left).",
            holder=info.common_name or info.subject,
            date=info.not_after.strftime("%d/%m/%Y"),
            days=status.days_left,
        )
    return token_problem_message(
        status.problem,
        account.env,
        token_label=account.token_label or "",
        key_label=account.token_key_label or "",
        module_path=account.token_module_path or "",
        fallback=status.message,
    )


def evidence_problem_messages(problems, env):
    """Translated sentences for the problem codes of :func:`chorus_pro.evidence.verify_evidence`."""
    _ = env._
    messages = {
        "payload_unreadable": _("The evidence is not a readable evidence document."),
        "time_mismatch": _("The recorded time differs from the signed time."),
        "request_mismatch": _("The request sent to Chorus Pro differs from the one recorded."),
        "response_mismatch": _("The answer of Chorus Pro differs from the one recorded."),
        "signature_incomplete": _("The signature, its algorithm or its certificate is missing."),
        "algorithm_unknown": _("The signature algorithm is unknown."),
        "certificate_unreadable": _("The certificate stored with the signature cannot be read."),
        "certificate_fingerprint_mismatch": _("It was signed with another certificate."),
        "certificate_not_valid_at_signing": _(
            "The certificate was not valid at the recorded time."
        ),
        "signature_invalid": _("The signature does not match the evidence: it was altered."),
        "evidence_unreadable": _("The stored evidence cannot be read."),
        "signature_removed": _(
            "The evidence was recorded as signed but carries no signature any more."
        ),
    }
    return [messages.get(code, code) for code in problems]
