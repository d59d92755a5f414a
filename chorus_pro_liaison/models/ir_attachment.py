# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Files received from Chorus Pro: their Chorus name, type and main-document mark; a person may
only rename them (the content is the supporting document of the mandate); a rename is traced."""

import os

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from chorus_pro import text as chorus_text

CHORUS_INVOICE = "chorus.pro.invoice"


# What a person may change on a file received from Chorus Pro: its display name only. The
# content is the supporting document of the mandate and stays as Chorus Pro delivered it.
USER_EDITABLE = frozenset({"name", "description"})


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

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su and any(
            name.startswith("chorus_pro_") for vals in vals_list for name in vals
        ):
            raise AccessError(_("Only files retrieved from Chorus Pro carry its marks."))
        return super().create(vals_list)

    def write(self, vals):
        if not self.env.su and "chorus_pro_original_name" in vals and any(
            att.chorus_pro_original_name for att in self
        ):
            raise AccessError(_("The name a file had in Chorus Pro cannot be changed."))
        if not self.env.su and (
            set(vals) - USER_EDITABLE or any(name.startswith("chorus_pro_") for name in vals)
        ) and self.filtered("chorus_pro_original_name"):
            raise AccessError(_(
                "A file received from Chorus Pro is kept as Chorus Pro delivered it: only its "
                "name can be changed."
            ))
        chorus_files = self.filtered(
            lambda att: att.res_model == CHORUS_INVOICE and att.chorus_pro_original_name
        ) if "name" in vals else self.browse()
        if not chorus_files:
            return super().write(vals)
        others = self - chorus_files
        result = super(IrAttachment, others).write(vals) if others else True
        for attachment in chorus_files:
            old_name = attachment.name
            new_name = attachment._chorus_pro_renamed(vals["name"])
            result = super(IrAttachment, attachment).write(dict(vals, name=new_name)) and result
            if new_name != old_name:
                attachment._chorus_pro_trace_rename(old_name, new_name)
        return result

    def _chorus_pro_renamed(self, name):
        """The new name, keeping the file's extension when the user left it out."""
        self.ensure_one()
        # No folders, no invisible or control characters: "../../etc/passwd" is "passwd".
        name = chorus_text.clean_file_name(name, default="")
        if not name:
            raise UserError(_("A file needs a name."))
        extension = os.path.splitext(self.chorus_pro_original_name or self.name or "")[1]
        if extension and not name.lower().endswith(extension.lower()):
            name += extension
        return name

    def _chorus_pro_trace_rename(self, old_name, new_name):
        invoice = self.env[CHORUS_INVOICE].sudo().browse(self.res_id).exists()
        if invoice:
            invoice.message_post(
                body=Markup("%s") % _(
                    "File renamed: %(old)s → %(new)s (name in Chorus Pro: %(original)s).",
                    old=old_name, new=new_name, original=self.chorus_pro_original_name,
                ),
                subtype_xmlid="mail.mt_note",
            )

    @api.ondelete(at_uninstall=False)
    def _unlink_except_chorus_pro_file(self):
        if not self.env.su and self.filtered("chorus_pro_original_name"):
            raise AccessError(_(
                "A file received from Chorus Pro cannot be deleted: it is the supporting "
                "document of the invoice."
            ))
