# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Trusting the IBAN of a Chorus Pro invoice (the payment-fraud safeguard)."""

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.chorus_pro_liaison.services.access import check_action_access

from chorus_pro import identifiers


class ChorusProBankConfirm(models.TransientModel):
    """Trusting a new IBAN: only for account.group_validate_bank_account, after checking it with
    the supplier by a trusted channel (a known phone number, not the one on the invoice)."""

    _name = "chorus.pro.bank.confirm"
    _inherit = ["chorus.pro.invoice.screen"]
    _description = "Chorus Pro bank account confirmation"

    invoice_id = fields.Many2one("chorus.pro.invoice", required=True, readonly=True,
                                 ondelete="cascade")
    payee_id = fields.Many2one("res.partner", string="Account of", compute="_compute_payee")
    payment_iban_display = fields.Char(related="invoice_id.payment_iban_display", string="IBAN")
    bank_bic = fields.Char(related="invoice_id.bank_bic")
    bank_holder = fields.Char(related="invoice_id.bank_holder")
    is_factored = fields.Boolean(related="invoice_id.is_factored")
    factor_name = fields.Char(related="invoice_id.factor_name")
    known_accounts = fields.Text(string="Accounts already trusted", compute="_compute_payee")
    confirmed_by_trusted_channel = fields.Boolean(
        string="I confirmed these bank details with the supplier by a trusted channel",
        help="For example by calling a phone number known beforehand, not the one given with "
        "the invoice or in an e-mail announcing new bank details.",
    )
    note = fields.Char(string="How it was confirmed")

    @api.depends("invoice_id")
    def _compute_payee(self):
        for wizard in self:
            payee = wizard.invoice_id._payee().commercial_partner_id
            wizard.payee_id = payee
            accounts = payee.sudo().bank_ids.filtered("allow_out_payment")
            wizard.known_accounts = "\n".join(
                identifiers.mask_iban(account.sanitized_acc_number) or account.acc_number
                for account in accounts
            ) or _("None")

    @api.model
    def _open_for(self, invoice):
        if not self.env.user.has_group("account.group_validate_bank_account"):
            raise AccessError(_(
                "Only people allowed to validate bank accounts can trust a new IBAN."
            ))
        wizard = self.create({"invoice_id": invoice.id})
        return {
            "type": "ir.actions.act_window",
            "name": _("Confirm the bank account"),
            "res_model": self._name,
            "res_id": wizard.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
        }

    def action_confirm(self):
        check_action_access(self, "write")
        self.ensure_one()
        if not self.confirmed_by_trusted_channel:
            raise UserError(_(
                "Confirm first that you checked these bank details with the supplier by a "
                "trusted channel."
            ))
        self.invoice_id._chorus_trust_bank_account(note=self.note or "")
        return {"type": "ir.actions.act_window_close"}
