# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class IrAttachment(models.Model):
    _inherit = "ir.attachment"

    chorus_pro_original_name = fields.Char(
        string="Name in Chorus Pro", readonly=True,
        help="The file's name as Chorus Pro delivered it; kept when the file is renamed.",
    )
    chorus_pro_type_code = fields.Char(
        string="Chorus Pro file type", readonly=True,
        help="01: the invoice itself; 02: complementary attachment.",
    )
    chorus_pro_is_main = fields.Boolean(string="Main document", readonly=True)
