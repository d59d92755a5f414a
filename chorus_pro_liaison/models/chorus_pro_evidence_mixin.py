# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Evidence of an exchange that changed something in Chorus Pro, and its "Vérifier" action.

A model recording such exchanges (status pushes, ``MANDATEE``) inherits this mixin, stores the
exact request and answer bodies, and the evidence returned by ``account._chorus_evidence(...)``
(:meth:`_chorus_evidence_values`). "Vérifier" re-checks it later with the certificate stored in
the evidence alone (no key needed) and says whether it is intact.
"""

from odoo import _, api, fields, models

from odoo.addons.chorus_pro_liaison.services.access import check_action_access
from odoo.addons.chorus_pro_liaison.services.key_messages import (
    evidence_problem_messages,
    token_problem_message,
)

from chorus_pro.evidence import (
    STATUS_INVALID,
    STATUS_UNSIGNED,
    STATUS_VALID,
    Evidence,
    VerificationResult,
    verify_evidence,
)


class ChorusProEvidenceMixin(models.AbstractModel):
    _name = "chorus.pro.evidence.mixin"
    _description = "Chorus Pro exchange evidence (signed with the RGS** key when configured)"

    request_body = fields.Text(
        string="Request sent", readonly=True, copy=False,
        help="The exact body sent to Chorus Pro.",
    )
    response_body = fields.Text(
        string="Chorus Pro answer", readonly=True, copy=False,
        help="The exact body Chorus Pro answered.",
    )
    evidence = fields.Text(
        readonly=True, copy=False,
        help="Digests of the request and answer and the time of the exchange, with the "
        "RGS** signature and certificate when a key was configured.",
    )
    evidence_signed = fields.Boolean(string="Signed evidence", readonly=True, copy=False)

    # ------------------------------------------------------------------ storing
    @api.model
    def _chorus_evidence_values(self, evidence):
        """Field values storing a :class:`chorus_pro.evidence.Evidence` (for create/write)."""
        return {"evidence": evidence.to_json(), "evidence_signed": evidence.is_signed}

    @staticmethod
    def _chorus_body_bytes(body):
        """The exact bytes of a stored body (Text holds the UTF-8 text that was exchanged)."""
        if body is False or body is None:
            return None
        return body if isinstance(body, bytes) else body.encode("utf-8")

    def _chorus_evidence_bodies(self):
        """(request bytes, response bytes) the evidence must match; override when a model
        stores its bodies elsewhere."""
        self.ensure_one()
        return self._chorus_body_bytes(self.request_body), self._chorus_body_bytes(
            self.response_body
        )

    # ------------------------------------------------------------------ verifying
    def _chorus_verify_evidence(self):
        """Re-check this record's evidence: a :class:`chorus_pro.evidence.VerificationResult`."""
        self.ensure_one()
        request_body, response_body = self._chorus_evidence_bodies()
        return self._chorus_check_evidence(
            self.evidence, request_body, response_body, recorded_signed=self.evidence_signed
        )

    def action_verify_evidence(self):
        """"Vérifier": says whether the stored evidence is intact."""
        check_action_access(self, "read")
        self.ensure_one()
        return self._chorus_evidence_notification(self._chorus_verify_evidence(), self.evidence)

    # The logic below works on values (callable on the empty model), so that any model - or
    # a report, a controller - can check an evidence it holds.
    @api.model
    def _chorus_check_evidence(self, evidence_text, request_body, response_body,
                               recorded_signed=False):
        """Check a stored evidence (``Evidence.to_json()`` text) against the exact bodies
        (bytes, or None when not kept). ``recorded_signed``: the record says it was signed."""
        try:
            evidence = Evidence.from_json(evidence_text or "")
        except ValueError:
            return VerificationResult(status=STATUS_INVALID, problems=("evidence_unreadable",))
        result = verify_evidence(evidence, request_body, response_body)
        if recorded_signed and not evidence.is_signed:
            # The signature was stripped (and the payload perhaps rewritten with it).
            return VerificationResult(
                status=STATUS_INVALID,
                problems=result.problems + ("signature_removed",),
                request_matches=result.request_matches,
                response_matches=result.response_matches,
                signed_at=result.signed_at,
            )
        return result

    @api.model
    def _chorus_unsigned_reason(self, evidence_text):
        """Why a configured key did not sign (problem code written in the evidence), or ''."""
        try:
            document = Evidence.from_json(evidence_text or "").document
        except ValueError:
            return ""
        return (document.get("extra") or {}).get("unsigned_reason") or ""

    @api.model
    def _chorus_evidence_message(self, result, evidence_text=None):
        """Plain words for a verification result."""
        if result.status == STATUS_VALID:
            return _(
                "The evidence is intact: the signature matches the request sent and the answer "
                "of Chorus Pro recorded on %(date)s. Signed by %(subject)s (certificate "
                "SHA-256 %(fingerprint)s).",
                date=result.signed_at.strftime("%d/%m/%Y %H:%M:%S UTC"),
                subject=result.certificate_subject,
                fingerprint=result.certificate_fingerprint,
            )
        if result.status == STATUS_UNSIGNED:
            message = _(
                "This evidence is not signed (no RGS** key was configured or usable at the "
                "time): the request and answer match what was recorded, but no signature "
                "proves it."
            )
            reason = self._chorus_unsigned_reason(evidence_text)
            if reason:
                message += " " + _(
                    "The key was configured but could not sign: %(reason)s",
                    reason=token_problem_message(reason, self.env, fallback=reason),
                )
            return message
        return _(
            "The evidence is NOT intact: %(problems)s",
            problems=" ".join(evidence_problem_messages(result.problems, self.env)),
        )

    @api.model
    def _chorus_evidence_notification(self, result, evidence_text=None):
        """The notification action telling the user what the check found."""
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Evidence check"),
                "message": self._chorus_evidence_message(result, evidence_text),
                "type": {STATUS_VALID: "success", STATUS_UNSIGNED: "warning"}.get(
                    result.status, "danger"
                ),
                "sticky": result.status == STATUS_INVALID,
            },
        }
