# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A partner's history before matching: its past Chorus Pro invoices, vendor bills and
payments, to check that the partner chosen really is this supplier."""

from odoo import _, api, fields, models

from odoo.addons.chorus_pro_liaison.services.access import check_action_access

HISTORY_LIMIT = 80


class ChorusProPartnerHistory(models.TransientModel):
    _name = "chorus.pro.partner.history"
    _inherit = ["chorus.pro.screen.mixin"]
    _screen_subject_fields = ("partner_id", "match_id")
    _description = "Chorus Pro partner history"

    partner_id = fields.Many2one("res.partner", required=True, readonly=True)
    partner_identifier = fields.Char(compute="_compute_history", string="National identifier")
    match_id = fields.Many2one("chorus.pro.supplier.match", readonly=True, ondelete="cascade")
    chorus_invoice_ids = fields.Many2many(
        "chorus.pro.invoice", compute="_compute_history", string="Chorus Pro invoices"
    )
    bill_ids = fields.Many2many("account.move", compute="_compute_history", string="Vendor bills")
    payment_ids = fields.Many2many(
        "account.payment", compute="_compute_history", string="Payments"
    )
    bank_account_ids = fields.Many2many(
        "res.partner.bank", compute="_compute_history", string="Bank accounts"
    )
    chorus_invoice_count = fields.Integer(compute="_compute_history")
    bill_count = fields.Integer(compute="_compute_history")
    payment_count = fields.Integer(compute="_compute_history")

    @api.depends("partner_id")
    def _compute_history(self):
        from odoo.addons.chorus_pro_liaison.wizards.chorus_pro_supplier_match import (
            partner_identifier,
        )

        for history in self:
            partner = history.partner_id.commercial_partner_id
            family = [("partner_id", "child_of", partner.id)] if partner else [("id", "=", 0)]
            invoices = self.env["chorus.pro.invoice"].search(
                [("partner_id", "=", partner.id)] if partner else [("id", "=", 0)],
                limit=HISTORY_LIMIT,
            )
            bills = self.env["account.move"].search(
                family + [("move_type", "in", ("in_invoice", "in_refund"))],
                order="invoice_date desc, id desc", limit=HISTORY_LIMIT,
            )
            payments = self.env["account.payment"].search(
                family + [("payment_type", "=", "outbound")],
                order="date desc, id desc", limit=HISTORY_LIMIT,
            )
            history.chorus_invoice_ids = invoices
            history.bill_ids = bills
            history.payment_ids = payments
            history.bank_account_ids = partner.bank_ids
            history.chorus_invoice_count = len(invoices)
            history.bill_count = len(bills)
            history.payment_count = len(payments)
            history.partner_identifier = partner_identifier(partner)

    @api.model
    def _open_for(self, partner, match=None):
        history = self.create({
            "partner_id": partner.commercial_partner_id.id,
            "match_id": match.id if match else False,
        })
        return history._get_records_action(
            name=_("History of %(partner)s", partner=partner.commercial_partner_id.display_name),
            target="new", context={"dialog_size": "extra-large"},
        )

    def action_back(self):
        """Back to the matching screen it was opened from."""
        check_action_access(self, "read")
        self.ensure_one()
        if self.match_id:
            return self.match_id._reopen()
        return {"type": "ir.actions.act_window_close"}
