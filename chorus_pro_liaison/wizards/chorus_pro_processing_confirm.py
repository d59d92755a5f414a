# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Confirming several decisions at once: what each decision means, acknowledged, then sent."""

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.chorus_pro_liaison.services.access import check_action_access
from odoo.addons.chorus_pro_liaison.services.languages import selection_labels

from chorus_pro import statuses as chorus_statuses



class ChorusProProcessingConfirm(models.TransientModel):
    _name = "chorus.pro.processing.confirm"
    _description = "Chorus Pro: confirm decisions"

    invoice_ids = fields.Many2many("chorus.pro.invoice", string="Invoices", readonly=True)
    summary = fields.Html(compute="_compute_summary", sanitize=False)
    needs_acknowledgement = fields.Boolean(compute="_compute_summary")
    acknowledged = fields.Boolean(
        string="I have read the consequences of these decisions",
    )

    @api.depends("invoice_ids.decision_status")
    def _compute_summary(self):
        labels = selection_labels(self.env["chorus.pro.invoice"], "decision_status")
        for wizard in self:
            invoices = wizard.invoice_ids
            blocks = []
            for code, label in labels.items():
                chosen = invoices.filtered(lambda inv, code=code: inv.decision_status == code)
                if not chosen:
                    continue
                consequence = chosen[0]._chorus_consequence(code) if code != (
                    chorus_statuses.SUSPENDUE
                ) else [_(
                    "Suspendue interrupts the payment delay (once only, before the mandate): "
                    "the supplier completes the invoice in Chorus Pro, then a new delay starts."
                )]
                css = "alert-danger" if code == chorus_statuses.REJETEE else (
                    "alert-warning" if code in chorus_statuses.RETURNED_FOR_GOOD else "alert-info"
                )
                blocks.append(
                    Markup('<div class="alert %s mb-2" role="alert"><strong>%s</strong> — %s<br/>%s</div>')
                    % (css, label, _("%(count)s invoice(s)", count=len(chosen)),
                       " ".join(consequence))
                )
            wizard.summary = Markup("").join(blocks)
            wizard.needs_acknowledgement = any(
                inv.decision_status in chorus_statuses.RETURNED_FOR_GOOD for inv in invoices
            )

    @api.model_create_multi
    def create(self, vals_list):
        wizards = super().create(vals_list)
        check_action_access(wizards.invoice_ids, "write")
        return wizards

    def write(self, vals):
        if "invoice_ids" in vals and not self.env.su:
            raise AccessError(_(
                "The invoices of this confirmation are set when it opens: select them again "
                "in the list."
            ))
        return super().write(vals)

    def action_confirm(self):
        check_action_access(self, "write")
        check_action_access(self.invoice_ids, "write")
        self.ensure_one()
        if self.needs_acknowledgement and not self.acknowledged:
            raise UserError(_(
                "Rejetée and À recycler send invoices back to their suppliers: tick \"I have "
                "read the consequences\" to confirm."
            ))
        outcomes = self.invoice_ids._chorus_confirm_decisions()
        return self.env["chorus.pro.invoice"]._chorus_outcome_notification(outcomes)
