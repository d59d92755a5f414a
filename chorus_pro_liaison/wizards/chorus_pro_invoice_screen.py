# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, models


class ChorusProInvoiceScreen(models.AbstractModel):
    """A screen (wizard) about one Chorus Pro invoice. Its related fields are read as superuser:
    it is opened only for an invoice the user can read."""

    _name = "chorus.pro.invoice.screen"
    _description = "Screen about a Chorus Pro invoice"

    @api.model_create_multi
    def create(self, vals_list):
        self.env["chorus.pro.invoice"].browse(
            {vals["invoice_id"] for vals in vals_list if vals.get("invoice_id")}
        ).check_access("read")
        return super().create(vals_list)
