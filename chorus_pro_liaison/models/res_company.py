# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    chorus_pro_account_ids = fields.One2many("chorus.pro.account", "company_id")
    # Partners created from Chorus Pro data belong to the company that matched them: their
    # chatter tells the bank details and invoices of that company. Companies that share one
    # register of suppliers (and trust each other with it) can choose otherwise.
    chorus_pro_share_partners = fields.Boolean(
        string="Share the suppliers created from Chorus Pro",
        help="When set, the partners created from Chorus Pro data have no company: every "
        "company of the database sees them (their bank accounts and history included).",
    )
