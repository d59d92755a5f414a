# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A remembered match: this Chorus Pro supplier (identifier and its type) is this partner.

Created when someone confirms a match on the matching screen; later invoices from the same
supplier are then matched at retrieval time without anyone looking.
"""

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, ValidationError

from odoo.addons.chorus_pro_liaison.models.chorus_pro_invoice import IDENTIFIER_TYPE_SELECTION
from odoo.addons.chorus_pro_liaison.services.access import check_action_access

from chorus_pro.identifiers import compact_identifier

# The partners a Chorus Pro supplier (or factor) can be matched with: companies, not their
# contacts, shared by every company or belonging to this one. The matching screen's "…" takes
# it from the field it fills (static/src/matching/partner_picker.js).
MATCHABLE_PARTNER_DOMAIN = (
    "[('parent_id', '=', False), '|', ('company_id', '=', False), "
    "('company_id', '=', company_id)]"
)


class ChorusProSupplier(models.Model):
    _name = "chorus.pro.supplier"
    _description = "Chorus Pro supplier matched to a partner"
    _inherit = ["mail.thread"]
    _order = "name, id"
    _rec_names_search = ["name", "identifier"]

    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company,
        readonly=True,
    )
    identifier = fields.Char(
        required=True, index=True, readonly=True,
        help="The supplier's identifier in Chorus Pro (SIRET for French companies).",
    )
    identifier_type = fields.Selection(
        IDENTIFIER_TYPE_SELECTION, required=True,
        default="SIRET", readonly=True,
    )
    chorus_supplier_id = fields.Integer(string="Chorus supplier ID", readonly=True)
    name = fields.Char(string="Name in Chorus Pro", readonly=True)
    role = fields.Selection(
        [("supplier", "Supplier"), ("factor", "Factoring company")], default="supplier",
        required=True, readonly=True,
    )
    partner_id = fields.Many2one(
        "res.partner", string="Partner", required=True, index=True, tracking=True,
        ondelete="restrict", domain=MATCHABLE_PARTNER_DOMAIN,
    )
    matched_by = fields.Many2one("res.users", string="Matched by", readonly=True, tracking=True)
    matched_at = fields.Datetime(string="Matched on", readonly=True)
    active = fields.Boolean(default=True, tracking=True)
    invoice_count = fields.Integer(compute="_compute_invoice_count", string="Invoices")

    _sql_constraints = [
        (
            "company_identifier_unique",
            "unique(company_id, identifier_type, identifier)",
            "This Chorus Pro supplier is already matched in this company.",
        )
    ]

    @api.constrains("partner_id", "company_id")
    def _check_partner_company(self):
        for supplier in self:
            company = supplier.partner_id.commercial_partner_id.company_id
            if company and company != supplier.company_id:
                raise ValidationError(_(
                    "%(partner)s belongs to %(company)s: a supplier of %(own)s cannot be matched "
                    "to it.", partner=supplier.partner_id.display_name, company=company.name,
                    own=supplier.company_id.name,
                ))

    def _compute_display_name(self):
        for supplier in self:
            supplier.display_name = f"{supplier.name or '?'} ({supplier.identifier})"

    def _compute_invoice_count(self):
        Invoice = self.env["chorus.pro.invoice"]
        for supplier in self:
            field = "factor_identifier_key" if supplier.role == "factor" else "supplier_identifier_key"
            supplier.invoice_count = Invoice.search_count([
                ("company_id", "=", supplier.company_id.id),
                (field, "=", supplier.identifier),
            ])

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if "identifier" in vals:
                vals["identifier"] = compact_identifier(vals["identifier"])
        return super().create(vals_list)

    def write(self, vals):
        if not self.env.su and "company_id" in vals and any(
                supplier.company_id.id != (vals["company_id"] or False) for supplier in self):
            raise AccessError(_(
                "A remembered supplier match belongs to the company that made it: its company "
                "cannot be changed (archive it and match the supplier in the other company)."
            ))
        if "identifier" in vals:
            vals["identifier"] = compact_identifier(vals["identifier"])
        if "partner_id" in vals and "matched_by" not in vals:
            vals.update(matched_by=self.env.user.id, matched_at=fields.Datetime.now())
        return super().write(vals)

    @api.model
    def _remember(self, company, identifier, identifier_type, partner, name="", chorus_id=0,
                  role="supplier"):
        """Create or update the remembered match (also reactivates an archived one)."""
        key = compact_identifier(identifier)
        if not key or not identifier_type:
            return self.browse()
        existing = self.with_context(active_test=False).search([
            ("company_id", "=", company.id),
            ("identifier_type", "=", identifier_type),
            ("identifier", "=", key),
        ], limit=1)
        now = fields.Datetime.now()
        if existing:
            vals = {"active": True}
            if existing.partner_id != partner:
                vals.update(partner_id=partner.id)
            vals.update(matched_by=self.env.user.id, matched_at=now)
            if name and name != existing.name:
                vals["name"] = name
            if chorus_id and not existing.chorus_supplier_id:
                vals["chorus_supplier_id"] = chorus_id
            existing.write(vals)
            return existing
        return self.create({
            "company_id": company.id,
            "identifier": key,
            "identifier_type": identifier_type,
            "name": name or False,
            "chorus_supplier_id": chorus_id or 0,
            "partner_id": partner.id,
            "role": role,
            "matched_by": self.env.user.id,
            "matched_at": now,
        })

    def action_open_invoices(self):
        check_action_access(self, "read")
        self.ensure_one()
        field = "factor_identifier_key" if self.role == "factor" else "supplier_identifier_key"
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "chorus_pro_liaison.chorus_pro_invoice_action"
        )
        action.update(
            name=_("Invoices of %(supplier)s", supplier=self.display_name),
            domain=[("company_id", "=", self.company_id.id), (field, "=", self.identifier)],
            context={},
        )
        return action
