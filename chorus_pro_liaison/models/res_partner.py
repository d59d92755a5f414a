# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""What supplier matching needs on partners: an indexed, validated SIRET and SIREN, and a
trigram index on names (names only rank candidates for a human, never match on their own)."""

import logging

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.chorus_pro_liaison.services.access import check_action_access

from chorus_pro import identifiers

_logger = logging.getLogger(__name__)

TRIGRAM_INDEX = "res_partner_chorus_pro_name_trgm_gist_idx"


class ResPartner(models.Model):
    _inherit = "res.partner"

    chorus_pro_siret = fields.Char(
        string="SIRET (checked)", compute="_compute_chorus_pro_identifiers", store=True,
        index="btree_not_null",
        help="The partner's SIRET without separators, when it passes the checksum "
        "(from the SIRET field, else the Company ID).",
    )
    chorus_pro_siren = fields.Char(
        string="SIREN", compute="_compute_chorus_pro_identifiers", store=True,
        index="btree_not_null",
        help="The company's SIREN (first 9 digits of the SIRET, or the Company ID, or the "
        "French VAT number), used to propose other establishments of the same company.",
    )
    chorus_pro_supplier_ids = fields.One2many(
        "chorus.pro.supplier", "partner_id", string="Chorus Pro suppliers",
        help="Chorus Pro supplier identifiers remembered for this partner.",
    )
    chorus_pro_invoice_count = fields.Integer(
        string="Chorus Pro invoices", compute="_compute_chorus_pro_invoice_count",
        groups="chorus_pro_liaison.group_chorus_pro_user",
    )

    @api.depends("siret", "company_registry", "vat")
    def _compute_chorus_pro_identifiers(self):
        for partner in self:
            siret, siren = identifiers.siret_and_siren(
                partner.siret, partner.company_registry, partner.vat
            )
            partner.chorus_pro_siret = siret or False
            partner.chorus_pro_siren = siren or False

    def _compute_chorus_pro_invoice_count(self):
        data = self.env["chorus.pro.invoice"]._read_group(
            [("partner_id", "in", self.commercial_partner_id.ids)], ["partner_id"], ["__count"]
        )
        counts = {partner.id: count for partner, count in data}
        for partner in self:
            partner.chorus_pro_invoice_count = counts.get(partner.commercial_partner_id.id, 0)

    def init(self):
        super().init()
        self._chorus_pro_create_trigram_index()

    def _chorus_pro_create_trigram_index(self):
        """pg_trgm and a trigram GiST index on partner names (ranking of name candidates by
        nearest-neighbour search: fast even when names share common words such as SARL).

        pg_trgm is a trusted extension since PostgreSQL 13: the database owner may create it
        without being superuser. When it cannot be created, name candidates fall back on a plain
        ``ILIKE`` (slower, less tolerant) and a warning says so.
        """
        cr = self.env.cr
        try:
            with cr.savepoint(flush=False):
                cr.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except psycopg2.Error as error:
            _logger.warning(
                "Chorus Pro: the PostgreSQL extension pg_trgm cannot be created (%s); supplier "
                "name candidates will use a slower, stricter search. Ask the database "
                "administrator to run CREATE EXTENSION pg_trgm.", error.pgerror or error,
            )
            return
        try:
            with cr.savepoint(flush=False):
                cr.execute(
                    f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON res_partner "
                    "USING gist (name gist_trgm_ops)"
                )
        except psycopg2.Error as error:
            _logger.warning("Chorus Pro: trigram index on partner names not created: %s", error)

    @api.model
    def _chorus_pro_has_trigram(self):
        self.env.cr.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        return bool(self.env.cr.fetchone())

    # ------------------------------------------------------------------ actions
    def action_chorus_pro_history(self):
        """Past Chorus invoices, vendor bills and payments of this partner."""
        check_action_access(self, "read")
        self.ensure_one()
        return self.env["chorus.pro.partner.history"]._open_for(self.commercial_partner_id)


class ResPartnerBank(models.Model):
    _inherit = "res.partner.bank"

    @api.constrains("acc_number")
    def _check_chorus_pro_iban(self):
        """A number written as an IBAN must be one: a typo would send a mandate's payment to
        nobody (rejected) or to someone else."""
        for bank in self:
            if identifiers.looks_like_iban(bank.acc_number) and not identifiers.is_valid_iban(
                bank.acc_number
            ):
                raise ValidationError(_(
                    "%(number)s is not a valid IBAN: its check digits or its length for the "
                    "country do not match. Copy it again from the supplier's RIB.",
                    number=identifiers.mask_iban(bank.acc_number) or bank.acc_number[:4],
                ))
