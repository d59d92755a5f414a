# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The matching screen ("Valider les tiers"): the supplier as Chorus Pro knows it on the left,
the candidate partners on the right, each with why it is proposed."""

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.chorus_pro_liaison.models.chorus_pro_invoice_matching import REASONS
from odoo.addons.chorus_pro_liaison.models.chorus_pro_supplier import MATCHABLE_PARTNER_DOMAIN
from odoo.addons.chorus_pro_liaison.services.access import check_action_access
from odoo.addons.chorus_pro_liaison.services.languages import selection_labels

from chorus_pro import identifiers


def partner_identifier(partner):
    """The national identifier shown next to a partner: SIRET, else SIREN, VAT or Company ID."""
    if not partner:
        return False
    partner = partner.commercial_partner_id
    return (
        partner.chorus_pro_siret or partner.siret or partner.chorus_pro_siren or partner.vat
        or partner.company_registry or False
    )


class ChorusProSupplierMatch(models.TransientModel):
    _name = "chorus.pro.supplier.match"
    _inherit = ["chorus.pro.invoice.payee.screen"]
    _description = "Chorus Pro supplier matching"

    company_id = fields.Many2one(related="invoice_id.company_id")
    # (the invoice and the bank details it asks to be paid on: chorus.pro.invoice.payee.screen)
    # -- the supplier as Chorus Pro knows it
    number = fields.Char(related="invoice_id.number")
    currency_id = fields.Many2one(related="invoice_id.currency_id")
    amount_total = fields.Monetary(related="invoice_id.amount_total")
    invoice_date = fields.Date(related="invoice_id.invoice_date")
    supplier_name = fields.Char(related="invoice_id.supplier_name")
    supplier_identifier = fields.Char(related="invoice_id.supplier_identifier")
    supplier_identifier_type = fields.Selection(related="invoice_id.supplier_identifier_type")
    supplier_identifier_valid = fields.Boolean(related="invoice_id.supplier_identifier_valid")
    supplier_chorus_id = fields.Integer(related="invoice_id.supplier_chorus_id")
    supplier_address = fields.Char(compute="_compute_supplier_address", string="Address")
    details_message = fields.Char(
        string="Chorus Pro details", readonly=True,
        help="Why the supplier's address could not be requested from Chorus Pro, if it could not.",
    )
    bank_account = fields.Char(related="invoice_id.bank_account", string="Bank account as sent")
    bank_account_valid = fields.Boolean(related="invoice_id.bank_account_valid")
    factor_identifier = fields.Char(related="invoice_id.factor_identifier")
    attachment_count = fields.Integer(related="invoice_id.attachment_count")
    main_attachment_pdf_id = fields.Many2one(related="invoice_id.main_attachment_pdf_id")
    bank_state = fields.Selection(related="invoice_id.bank_state")
    # -- the partner chosen
    partner_id = fields.Many2one("res.partner", string="Partner", domain=MATCHABLE_PARTNER_DOMAIN)
    partner_identifier = fields.Char(
        string="National identifier", compute="_compute_partner_identifiers",
        help="SIRET of the partner (else SIREN, VAT number or Company ID).",
    )
    partner_identifier_warning = fields.Char(compute="_compute_partner_identifiers")
    factor_partner_id = fields.Many2one(
        "res.partner", string="Factor partner", domain=MATCHABLE_PARTNER_DOMAIN
    )
    factor_partner_identifier = fields.Char(
        string="Factor identifier", compute="_compute_partner_identifiers",
    )
    line_ids = fields.One2many("chorus.pro.supplier.match.line", "match_id", string="Candidates")
    has_candidates = fields.Boolean(compute="_compute_has_candidates")

    @api.depends("invoice_id")
    def _compute_supplier_address(self):
        for match in self:
            invoice = match.invoice_id
            match.supplier_address = ", ".join(
                part for part in (
                    invoice.supplier_street, invoice.supplier_street2,
                    " ".join(p for p in (invoice.supplier_zip, invoice.supplier_city) if p),
                    invoice.supplier_country_code,
                ) if part
            ) or False

    @api.depends("partner_id", "factor_partner_id", "invoice_id")
    def _compute_partner_identifiers(self):
        for match in self:
            match.partner_identifier = partner_identifier(match.partner_id)
            match.factor_partner_identifier = partner_identifier(match.factor_partner_id)
            warning = False
            invoice = match.invoice_id
            commercial = match.partner_id.commercial_partner_id
            if (
                match.partner_id and invoice.supplier_identifier_type == "SIRET"
                and invoice.supplier_identifier_valid
            ):
                if commercial.chorus_pro_siret and commercial.chorus_pro_siret != invoice.supplier_identifier_key:
                    warning = _("The partner's SIRET differs from the one in Chorus Pro.")
                    if commercial.chorus_pro_siren == invoice.supplier_siren:
                        warning = _(
                            "Another establishment of the same company (same SIREN, other SIRET)."
                        )
            if commercial.siret and not identifiers.is_valid_siret(commercial.siret):
                warning = _("The partner's SIRET (%(siret)s) is not valid: correct it before "
                            "matching.", siret=commercial.siret)
            match.partner_identifier_warning = warning

    @api.depends("line_ids")
    def _compute_has_candidates(self):
        for match in self:
            match.has_candidates = bool(match.line_ids)

    # ------------------------------------------------------------------ opening
    @api.model
    def _open_for(self, invoice):
        factor = invoice.factor_partner_id
        if invoice.is_factored and not factor and invoice.factor_identifier_key:
            same = self.env["res.partner"].search([
                ("chorus_pro_siret", "=", invoice.factor_identifier_key),
                ("parent_id", "=", False),
                "|", ("company_id", "=", False), ("company_id", "=", invoice.company_id.id),
            ], limit=2)
            factor = same if len(same) == 1 else factor
        # The address (and BIC) are only in Chorus's consult answer: asked once, on opening.
        details_message = invoice._chorus_fetch_supplier_details()
        match = self.create({
            "invoice_id": invoice.id,
            "partner_id": invoice.partner_id.id,
            "factor_partner_id": factor.id,
            "details_message": details_message or False,
        })
        match._load_candidates()
        return match._reopen(_("Valider les tiers"))

    def _load_candidates(self):
        self.ensure_one()
        lines = []
        for sequence, candidate in enumerate(self.invoice_id._chorus_candidates(), start=1):
            lines.append((0, 0, {
                "sequence": sequence,
                "partner_id": candidate["partner"].id,
                "reason_codes": ",".join(candidate["reasons"]),
                "best_reason": candidate["reasons"][0],
                "trusted": candidate["trusted"],
                "similarity": candidate["similarity"] or 0.0,
            }))
        self.line_ids = [(5, 0, 0)] + lines

    def _reopen(self, name=None):
        self.ensure_one()
        return self._get_records_action(
            name=name or _("Valider les tiers"), target="new",
            context=dict(self.env.context, dialog_size="extra-large"),
        )

    # ------------------------------------------------------------------ actions
    def action_confirm(self):
        check_action_access(self, "write")
        self.ensure_one()
        if not self.partner_id:
            raise UserError(_("Select the partner of this supplier first."))
        if self.is_factored and not self.factor_partner_id:
            raise UserError(_(
                "This invoice is factored: select (or create) the factoring company as well."
            ))
        self.invoice_id._chorus_confirm_match(self.partner_id, self.factor_partner_id)
        return self._done(_(
            "%(supplier)s is matched with %(partner)s; this supplier's next invoices will be "
            "matched automatically.",
            supplier=self.invoice_id.supplier_name or self.invoice_id.supplier_identifier or "?",
            partner=self.partner_id.display_name,
        ))

    def _done(self, message):
        """Close the screen and say what was done."""
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Valider les tiers"),
                "message": message,
                "type": "success",
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_create_partner(self):
        """One click: the partner from the Chorus Pro data, matched at once."""
        check_action_access(self, "write")
        self.ensure_one()
        partner = self.invoice_id._chorus_create_partner("supplier")
        self.partner_id = partner
        if self.is_factored and not self.factor_partner_id:
            return self._reopen()
        self.invoice_id._chorus_confirm_match(partner, self.factor_partner_id, origin="created")
        return self._done(_(
            "The partner %(partner)s was created from the Chorus Pro data and matched; its bank "
            "account is not trusted until someone confirms it.",
            partner=partner.display_name,
        ))

    def action_create_factor(self):
        check_action_access(self, "write")
        self.ensure_one()
        self.factor_partner_id = self.invoice_id._chorus_create_partner("factor")
        return self._reopen()

    def action_open_history(self):
        check_action_access(self, "read")
        self.ensure_one()
        if not self.partner_id:
            raise UserError(_("Select a partner to see its history."))
        return self.env["chorus.pro.partner.history"]._open_for(self.partner_id, match=self)

    def action_open_invoice(self):
        check_action_access(self, "read")
        self.ensure_one()
        return self.invoice_id._get_records_action()

    def action_open_files(self):
        check_action_access(self, "read")
        # Odoo's file viewer, over the screen: nothing is left, no new tab.
        self.ensure_one()
        return self.invoice_id.action_preview_files()

    def action_open_pdf(self):
        check_action_access(self, "read")
        self.ensure_one()
        if not self.main_attachment_pdf_id:
            raise UserError(_("Chorus Pro sent no PDF for this invoice (yet)."))
        return self.invoice_id.action_preview_files()


class ChorusProSupplierMatchLine(models.TransientModel):
    _name = "chorus.pro.supplier.match.line"
    _description = "Chorus Pro supplier matching candidate"
    _order = "sequence, id"

    match_id = fields.Many2one("chorus.pro.supplier.match", required=True, ondelete="cascade")
    sequence = fields.Integer()
    partner_id = fields.Many2one("res.partner", string="Partner", readonly=True)
    partner_identifier = fields.Char(string="SIRET", compute="_compute_display")
    partner_city = fields.Char(related="partner_id.city", string="City")
    reason_codes = fields.Char(readonly=True)
    best_reason = fields.Selection(REASONS, string="Strongest reason", readonly=True)
    reason_text = fields.Char(string="Why proposed", compute="_compute_display")
    trusted = fields.Boolean(string="IBAN trusted", readonly=True)
    similarity = fields.Float(digits=(3, 2), readonly=True)
    name_only = fields.Boolean(compute="_compute_display")
    is_selected = fields.Boolean(compute="_compute_display")

    @api.depends("reason_codes", "trusted", "similarity", "match_id.partner_id")
    def _compute_display(self):
        labels = selection_labels(self, "best_reason")
        for line in self:
            codes = [code for code in (line.reason_codes or "").split(",") if code]
            texts = []
            for code in codes:
                if code == "iban":
                    texts.append(
                        _("Same IBAN (trusted account)") if line.trusted
                        else _("Same IBAN (account not trusted yet)")
                    )
                elif code == "name":
                    texts.append(_("Similar name (%(percent)s %%)",
                                   percent=round((line.similarity or 0.0) * 100)))
                elif code == "siren":
                    texts.append(_("Same SIREN (another establishment)"))
                else:
                    texts.append(labels.get(code, code))
            if codes == ["name"]:
                texts.append(_("name only: check the SIRET and the IBAN"))
            line.reason_text = " · ".join(texts)
            line.name_only = codes == ["name"]
            line.partner_identifier = partner_identifier(line.partner_id)
            line.is_selected = bool(line.partner_id) and line.partner_id == line.match_id.partner_id

    def action_select(self):
        """Clicking a candidate fills the partner fields of the screen."""
        check_action_access(self, "write")
        self.ensure_one()
        self.match_id.partner_id = self.partner_id
        return self.match_id._reopen()

