# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import _, fields, models

from odoo.addons.chorus_pro_liaison.services.access import check_action_access


class ChorusProStructureChoice(models.TransientModel):
    """Pick the recipient structure among those Chorus Pro returned."""

    _name = "chorus.pro.structure.choice"
    _inherit = ["chorus.pro.screen.mixin"]
    _screen_subject_fields = ("account_id",)
    _description = "Choose a Chorus Pro structure"

    account_id = fields.Many2one("chorus.pro.account", required=True, ondelete="cascade")
    line_ids = fields.One2many("chorus.pro.structure.choice.line", "choice_id")

    def _open_for(self, account, structures):
        choice = self.create(
            {
                "account_id": account.id,
                "line_ids": [
                    (
                        0,
                        0,
                        {
                            "chorus_id": structure.chorus_id,
                            "identifier": structure.identifier,
                            "identifier_type": structure.identifier_type,
                            "name": structure.name,
                        },
                    )
                    for structure in structures
                ],
            }
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("Choose the recipient structure"),
            "res_model": self._name,
            "res_id": choice.id,
            "view_mode": "form",
            "target": "new",
        }


class ChorusProStructureChoiceLine(models.TransientModel):
    _name = "chorus.pro.structure.choice.line"
    _description = "Chorus Pro structure proposal"

    choice_id = fields.Many2one("chorus.pro.structure.choice", required=True, ondelete="cascade")
    chorus_id = fields.Integer(string="Structure ID", readonly=True)
    identifier = fields.Char(string="Identifier", readonly=True)
    identifier_type = fields.Char(string="Identifier type", readonly=True)
    name = fields.Char(readonly=True)

    def action_choose(self):
        check_action_access(self, "write")
        self.ensure_one()
        account = self.choice_id.account_id
        account._check_manager_access()
        account.sudo().write(
            {
                "structure_chorus_id": self.chorus_id,
                "structure_identifier": self.identifier,
                "structure_name": self.name,
            }
        )
        # Fill the services right away; a failure here is not blocking (they can be loaded later).
        try:
            account.action_load_services()
        except Exception as error:  # noqa: BLE001 - reported to the user in the chatter
            account.message_post(
                body=_("The services could not be loaded: %(error)s", error=str(error))
            )
        return account._action_open_form()
