# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import _, api, models
from odoo.exceptions import AccessError


class ChorusProScreenMixin(models.AbstractModel):
    """A screen (wizard) about one record of a company: the record is checked when the screen is
    created (in the user's companies, readable by the user) and cannot be changed afterwards,
    and the screen's related fields are read with the user's rights (never as superuser): a
    screen shows nothing its user could not read on the record itself."""

    _name = "chorus.pro.screen.mixin"
    _description = "Screen about one record"
    # The many2one fields that say what the screen is about (fixed at creation).
    _screen_subject_fields = ()

    @api.model
    def _setup_fields(self):
        super()._setup_fields()
        for field in self._fields.values():
            if field.related:
                field.compute_sudo = False

    def _screen_check_subjects(self, vals_list):
        if self.env.su:
            return
        for name in self._screen_subject_fields:
            field = self._fields[name]
            ids = {vals[name] for vals in vals_list if vals.get(name)}
            if not ids:
                continue
            subjects = self.env[field.comodel_name].browse(ids)
            companies = subjects.sudo().mapped("company_id") if "company_id" in subjects._fields \
                else self.env["res.company"]
            if companies - self.env.companies:
                raise AccessError(_(
                    "This screen cannot be opened on a record of a company you do not work for."
                ))
            subjects.check_access("read")

    @api.model_create_multi
    def create(self, vals_list):
        self._screen_check_subjects(vals_list)
        if not self.env.su and "company_id" in self._fields and self._fields["company_id"].store:
            for vals in vals_list:
                if vals.get("company_id") and vals["company_id"] not in self.env.companies.ids:
                    raise AccessError(_(
                        "This screen cannot be opened for a company you do not work for."
                    ))
        return super().create(vals_list)

    def write(self, vals):
        fixed = [name for name in self._screen_subject_fields + ("company_id",)
                 if name in vals and name in self._fields and self._fields[name].store]
        for name in fixed:
            if any(record[name].id != (vals[name] or False) for record in self):
                raise AccessError(_(
                    "What a screen is about is set when it opens and cannot be changed: open "
                    "the screen again from the record you want."
                ))
        return super().write(vals)


class ChorusProInvoiceScreen(models.AbstractModel):
    """A screen (wizard) about one Chorus Pro invoice."""

    _name = "chorus.pro.invoice.screen"
    _inherit = ["chorus.pro.screen.mixin"]
    _description = "Screen about a Chorus Pro invoice"
    _screen_subject_fields = ("invoice_id",)
