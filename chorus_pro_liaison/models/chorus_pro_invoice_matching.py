# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Step 3 — link each Chorus Pro supplier to the partner used in the accounts ("Valider les
tiers"), and keep payments away from bank details nobody confirmed.

How it works:
- the first invoice of a supplier is matched by a person on the matching screen, which proposes
  candidates: partners holding the same IBAN, then the same SIRET, then the same SIREN, then
  similar names (names only rank candidates; nothing is ever matched on a name by itself);
- the confirmed match is remembered (``chorus.pro.supplier``); later invoices of that supplier are
  matched at retrieval time, set-based, without anyone looking;
- the IBAN an invoice asks to be paid on must be a trusted bank account (Odoo's
  ``res.partner.bank.allow_out_payment``) of the matched partner, or of the factor for a factored
  invoice; otherwise mandating is blocked until someone in ``account.group_validate_bank_account``
  trusts it (traced), or the invoice is rejected;
- identifiers and IBANs are checked with python-stdnum and shown as invalid when they are.

Everything that runs over many invoices is a handful of SQL statements (no query per invoice or
per partner): remembered matches, candidate proposals, bank-account look-ups.
"""

import logging

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import float_compare

from odoo.addons.chorus_pro_liaison.services.access import check_action_access
from odoo.addons.chorus_pro_liaison.services.errors import (
    ChorusGuardError,
    chorus_error_message,
)
from odoo.addons.chorus_pro_liaison.services.languages import selection_label

from chorus_pro import errors as chorus_errors
from chorus_pro import identifiers
from chorus_pro import statuses as chorus_statuses

_logger = logging.getLogger(__name__)

BANK_STATES = [
    ("trusted", "Trusted"), ("to_confirm", "To confirm"), ("invalid", "Invalid IBAN"),
    ("missing", "No bank account"), ("no_partner", "Supplier not matched"),
]
REASONS = [
    ("remembered", "Remembered match"), ("iban", "Same IBAN"), ("siret", "Same SIRET"),
    ("identifier", "Same identifier"), ("siren", "Same SIREN"), ("name", "Similar name"),
]
# Rank of each reason: lower comes first.
REASON_TIERS = {"remembered": 0, "iban": 1, "siret": 2, "identifier": 2, "siren": 3, "name": 4}
MATCH_ORIGINS = [
    ("remembered", "Remembered match"), ("manual", "Confirmed by a person"),
    ("created", "Partner created from Chorus Pro"),
]
NAME_CANDIDATES = 5
NAME_SIMILARITY = 0.3
BANK_GROUP = "account.group_validate_bank_account"
PROCESSOR_GROUP = "chorus_pro_liaison.group_chorus_pro_processor"

# Candidates by identifier and IBAN, for the invoices of the CTE ``inv`` (columns id, company_id,
# is_factored, iban, idtype, ident, siren). A candidate is always a commercial partner (company
# or individual, not a contact person) that is active and either shared (no company) or of the
# invoice's company: other companies' partners are never proposed.
CANDIDATES_BY_IDENTIFIERS = """
    SELECT inv.id AS invoice_id, cp.id AS partner_id, 'iban' AS reason, 1 AS tier,
           coalesce(bool_or(b.allow_out_payment), false) AS trusted,
           0.0::float AS similarity
      FROM inv
      JOIN res_partner_bank b ON b.sanitized_acc_number = inv.iban AND b.active
      JOIN res_partner bp ON bp.id = b.partner_id
      JOIN res_partner cp ON cp.id = bp.commercial_partner_id
     WHERE NOT inv.is_factored AND inv.iban IS NOT NULL
       AND cp.active AND (cp.company_id IS NULL OR cp.company_id = inv.company_id)
     GROUP BY inv.id, cp.id
    UNION ALL
    SELECT DISTINCT inv.id, cp.id, 'siret', 2, false, 0.0
      FROM inv
      JOIN res_partner p ON p.chorus_pro_siret = inv.ident
      JOIN res_partner cp ON cp.id = p.commercial_partner_id
     WHERE inv.idtype = 'SIRET' AND p.active
       AND cp.active AND (cp.company_id IS NULL OR cp.company_id = inv.company_id)
    UNION ALL
    SELECT DISTINCT inv.id, cp.id, 'siren', 3, false, 0.0
      FROM inv
      JOIN res_partner p ON p.chorus_pro_siren = inv.siren
      JOIN res_partner cp ON cp.id = p.commercial_partner_id
     WHERE inv.siren IS NOT NULL AND p.active
       AND p.chorus_pro_siret IS DISTINCT FROM inv.ident
       AND cp.active AND (cp.company_id IS NULL OR cp.company_id = inv.company_id)
"""
# Same, for identifiers other than a SIRET (EU VAT number, foreign registry...): compared with
# the partner's VAT number and Company ID, compacted as the library compacts identifiers
# (``%(separators)s``: chorus_pro.identifiers.SEPARATORS_PATTERN). Only run when such invoices
# are present.
CANDIDATES_BY_OTHER_IDENTIFIERS = """
    SELECT DISTINCT inv.id AS invoice_id, cp.id AS partner_id, 'identifier' AS reason, 2 AS tier,
           false AS trusted, 0.0::float AS similarity
      FROM inv
      JOIN res_partner p
        ON p.vat IS NOT NULL OR p.company_registry IS NOT NULL
      JOIN res_partner cp ON cp.id = p.commercial_partner_id
     WHERE inv.idtype NOT IN ('', 'SIRET') AND inv.ident <> ''
       AND (upper(regexp_replace(coalesce(p.vat, ''), %(separators)s, '', 'g')) = inv.ident
            OR upper(regexp_replace(coalesce(p.company_registry, ''), %(separators)s, '', 'g'))
               = inv.ident)
       AND p.active AND cp.active AND (cp.company_id IS NULL OR cp.company_id = inv.company_id)
"""
# Remembered matches (``chorus.pro.supplier``) applied in one statement, for the supplier or the
# factor of the invoices (``REMEMBERED_MATCHES``): only active partners of the invoice's company
# or shared ones.
REMEMBERED_MATCH_SQL = """
    UPDATE chorus_pro_invoice i
       SET {assignments}
      FROM chorus_pro_supplier s
      JOIN res_partner p ON p.id = s.partner_id
     WHERE i.id = ANY(%(ids)s) AND {unmatched}
       AND s.active AND s.role = %(role)s
       AND s.company_id = i.company_id
       AND s.identifier_type = {identifier_type}
       AND s.identifier = {identifier}
       AND p.active AND (p.company_id IS NULL OR p.company_id = i.company_id)
    RETURNING i.id
"""
REMEMBERED_MATCHES = {
    "supplier": {
        "sql": {
            "assignments": "partner_id = s.partner_id, partner_match_origin = 'remembered', "
                           "suggested_partner_id = NULL, suggestion_reason = NULL",
            "unmatched": "i.partner_id IS NULL",
            "identifier_type": "i.supplier_identifier_type",
            "identifier": "i.supplier_identifier_key",
        },
        "fields": ["partner_id", "partner_match_origin", "suggested_partner_id",
                   "suggestion_reason"],
    },
    "factor": {
        "sql": {
            "assignments": "factor_partner_id = s.partner_id",
            "unmatched": "i.is_factored AND i.factor_partner_id IS NULL",
            "identifier_type": "coalesce(i.factor_identifier_type, 'SIRET')",
            "identifier": "i.factor_identifier_key",
        },
        "fields": ["factor_partner_id"],
    },
}
INVOICES_CTE = """
    inv AS (
        SELECT i.id, i.company_id, coalesce(i.is_factored, false) AS is_factored,
               i.payment_iban AS iban, coalesce(i.supplier_identifier_type, '') AS idtype,
               coalesce(i.supplier_identifier_key, '') AS ident, i.supplier_siren AS siren
          FROM chorus_pro_invoice i
         WHERE i.id = ANY(%(ids)s)
    )
"""


class ChorusProInvoice(models.Model):
    _inherit = "chorus.pro.invoice"

    # ------------------------------------------------------------------ matched partners
    partner_id = fields.Many2one(
        "res.partner", string="Partner", index=True, tracking=True, readonly=True,
        ondelete="restrict",
        help="The partner (tiers) that stands for this Chorus Pro supplier in the accounts.",
    )
    partner_match_origin = fields.Selection(
        MATCH_ORIGINS, string="Matched by", readonly=True,
    )
    factor_partner_id = fields.Many2one(
        "res.partner", string="Factor partner", index=True, tracking=True, readonly=True,
        ondelete="restrict",
        help="Factored invoice: the factoring company the money goes to.",
    )
    suggested_partner_id = fields.Many2one(
        "res.partner", string="Proposed partner", readonly=True, ondelete="set null",
        help="Best candidate found at retrieval time; a person confirms it on the matching screen.",
    )
    suggestion_reason = fields.Selection(REASONS, string="Why proposed", readonly=True)

    # ------------------------------------------------------------------ identifiers
    supplier_identifier_key = fields.Char(
        compute="_compute_identifier_checks", store=True, index="btree_not_null",
        help="The supplier identifier without separators (what remembered matches use).",
    )
    supplier_siren = fields.Char(
        string="Supplier SIREN", compute="_compute_identifier_checks", store=True,
    )
    supplier_identifier_valid = fields.Boolean(
        string="Supplier identifier valid", compute="_compute_identifier_checks", store=True,
        help="SIRET: 14 digits with a valid checksum; EU VAT number: valid for its country.",
    )
    factor_identifier_key = fields.Char(
        compute="_compute_identifier_checks", store=True, index="btree_not_null",
    )
    supplier_display = fields.Char(
        string="Chorus supplier", compute="_compute_identifier_checks", store=True,
        help="Name and identifier as Chorus Pro gives them.",
    )

    # ------------------------------------------------------------------ bank
    payment_iban = fields.Char(
        string="IBAN to pay", compute="_compute_payment_iban", store=True,
        help="The IBAN of the invoice, compact (a French RIB is turned into its IBAN).",
    )
    payment_iban_display = fields.Char(
        string="IBAN (formatted)", compute="_compute_payment_iban_display"
    )
    bank_account_valid = fields.Boolean(
        string="IBAN valid", compute="_compute_payment_iban", store=True,
        help="Checked with python-stdnum: country structure and check digits.",
    )
    partner_bank_id = fields.Many2one(
        "res.partner.bank", string="Bank account paid", compute="_compute_bank", store=True,
        help="The bank account of the supplier (or of the factor) the invoice asks to be paid "
        "on, when the partner holds it.",
    )
    bank_state = fields.Selection(
        BANK_STATES, string="Bank details", compute="_compute_bank", store=True, index=True,
        tracking=True,
        help="Trusted: the IBAN is a trusted account of the partner (or factor). To confirm: "
        "unknown or not trusted; mandating is blocked until someone allowed to validate bank "
        "accounts trusts it.",
    )
    supplier_check_message = fields.Text(
        string="Blocking reasons", compute="_compute_supplier_check_message",
    )
    partner_locked = fields.Boolean(compute="_compute_partner_locked")

    # ------------------------------------------------------------------ computes
    @api.depends(
        "supplier_identifier", "supplier_identifier_type", "supplier_name", "factor_identifier",
    )
    def _compute_identifier_checks(self):
        for invoice in self:
            kind = invoice.supplier_identifier_type or ""
            key = identifiers.compact_identifier(invoice.supplier_identifier)
            siren = False
            if kind == "SIRET":
                check = identifiers.check_identifier(invoice.supplier_identifier, "SIRET")
                valid = check.valid
                if valid:
                    key = check.value
                    siren = check.value[:9]
            else:
                valid = identifiers.check_identifier(invoice.supplier_identifier, kind).valid
            invoice.supplier_identifier_key = key or False
            invoice.supplier_siren = siren
            invoice.supplier_identifier_valid = valid
            invoice.factor_identifier_key = (
                identifiers.compact_identifier(invoice.factor_identifier) or False
            )
            invoice.supplier_display = " – ".join(
                part for part in (invoice.supplier_name, invoice.supplier_identifier) if part
            ) or False

    @api.depends("bank_account", "bank_account_type")
    def _compute_payment_iban(self):
        for invoice in self:
            value = identifiers.payment_iban(invoice.bank_account, invoice.bank_account_type)
            invoice.payment_iban = value or False
            invoice.bank_account_valid = bool(value) and identifiers.is_valid_iban(value)

    @api.depends("payment_iban")
    def _compute_payment_iban_display(self):
        for invoice in self:
            invoice.payment_iban_display = (
                identifiers.format_iban(invoice.payment_iban) if invoice.payment_iban else False
            )

    @api.depends(
        "partner_id", "factor_partner_id", "is_factored", "payment_iban", "bank_account_valid",
        "partner_id.bank_ids.sanitized_acc_number", "partner_id.bank_ids.allow_out_payment",
        "partner_id.bank_ids.active", "partner_id.commercial_partner_id",
        "factor_partner_id.bank_ids.sanitized_acc_number",
        "factor_partner_id.bank_ids.allow_out_payment", "factor_partner_id.bank_ids.active",
    )
    def _compute_bank(self):
        """One query for all the invoices: the payee's bank account holding the invoice IBAN."""
        found = self._payee_bank_accounts()
        for invoice in self:
            payee = invoice._payee()
            bank_id, trusted = found.get((payee.commercial_partner_id.id, invoice.payment_iban),
                                         (False, False))
            invoice.partner_bank_id = bank_id
            if not invoice.partner_id:
                state = "no_partner"
            elif not invoice.payment_iban:
                state = "missing"
            elif not invoice.bank_account_valid:
                state = "invalid"
            elif bank_id and trusted:
                state = "trusted"
            else:
                state = "to_confirm"
            invoice.bank_state = state

    def _payee(self):
        """Who the money goes to: the factor of a factored invoice, else the supplier."""
        self.ensure_one()
        return self.factor_partner_id if self.is_factored else self.partner_id

    def _payee_bank_accounts(self):
        """{(commercial partner id, IBAN): (bank account id, trusted)} for the payees and IBANs
        of these invoices (active accounts; a trusted one wins over an untrusted duplicate)."""
        pairs = {
            (invoice._payee().commercial_partner_id.id, invoice.payment_iban)
            for invoice in self
            if invoice.payment_iban and invoice._payee()
        }
        if not pairs:
            return {}
        self.env["res.partner.bank"].flush_model(
            ["sanitized_acc_number", "allow_out_payment", "active", "partner_id"]
        )
        self.env["res.partner"].flush_model(["commercial_partner_id"])
        self.env.cr.execute(
            """
            SELECT DISTINCT ON (p.commercial_partner_id, b.sanitized_acc_number)
                   p.commercial_partner_id, b.sanitized_acc_number, b.id, b.allow_out_payment
              FROM res_partner_bank b
              JOIN res_partner p ON p.id = b.partner_id
             WHERE b.active AND b.sanitized_acc_number = ANY(%s)
               AND p.commercial_partner_id = ANY(%s)
             ORDER BY p.commercial_partner_id, b.sanitized_acc_number,
                      b.allow_out_payment DESC, b.id
            """,
            [list({iban for _p, iban in pairs}), list({partner for partner, _i in pairs})],
        )
        return {
            (partner_id, iban): (bank_id, trusted)
            for partner_id, iban, bank_id, trusted in self.env.cr.fetchall()
            if (partner_id, iban) in pairs
        }

    @api.depends("partner_id", "factor_partner_id", "bank_state", "is_factored",
                 "invoice_type", "amount_to_pay")
    def _compute_supplier_check_message(self):
        for invoice in self:
            invoice.supplier_check_message = "\n".join(invoice._check_supplier_for_mandate())

    @api.depends("chorus_status")
    def _compute_partner_locked(self):
        for invoice in self:
            invoice.partner_locked = invoice.chorus_status in chorus_statuses.MANDATED

    # ------------------------------------------------------------------ contract for mandating
    def _needs_payment(self):
        """A credit note or an invoice with nothing left to pay (A2, already paid) sends no
        money: no bank account is needed to mandate it."""
        self.ensure_one()
        if self.invoice_type == "credit_note":
            return False
        return float_compare(self.amount_to_pay or 0.0, 0.0, precision_digits=2) > 0

    def _check_supplier_for_mandate(self):
        """Plain-words reasons why this invoice cannot be mandated yet as far as its supplier and
        bank details go; an empty list when the partner is matched and the bank account trusted.
        """
        self.ensure_one()
        reasons = []
        if not self.partner_id:
            reasons.append(_(
                "The Chorus Pro supplier %(supplier)s is not matched to a partner yet: use "
                "\"Valider les tiers\".", supplier=self.supplier_display or "?",
            ))
        if self.is_factored and not self.factor_partner_id:
            reasons.append(_(
                "Factored invoice: the factoring company %(factor)s is not matched to a partner "
                "yet.", factor=self.factor_name or self.bank_holder or "?",
            ))
        if not self._needs_payment() or not self.partner_id:
            return reasons
        iban = identifiers.mask_iban(self.payment_iban) if self.payment_iban else ""
        if self.bank_state == "missing":
            reasons.append(_("The invoice gives no bank account to pay."))
        elif self.bank_state == "invalid":
            reasons.append(_(
                "The IBAN of the invoice (%(iban)s) is invalid: ask the supplier to correct its "
                "bank details in Chorus Pro, or reject the invoice.", iban=iban,
            ))
        elif self.bank_state == "to_confirm" and self._payee():
            reasons.append(_(
                "The IBAN %(iban)s is not a trusted bank account of %(payee)s: someone allowed to "
                "validate bank accounts must confirm it with the supplier by a trusted channel, "
                "or the invoice must be rejected.",
                iban=iban, payee=self._payee().display_name,
            ))
        return reasons

    # ------------------------------------------------------------------ after a retrieval
    def _chorus_match_suppliers(self):
        """Set-based matching of these invoices: remembered suppliers and factors first, then a
        proposed partner (with the reason) for those still unmatched. Returns counts."""
        if not self:
            return {"remembered": 0, "factors": 0, "proposed": 0}
        self.flush_recordset()
        matched = self._chorus_apply_remembered("supplier")
        factors = self._chorus_apply_remembered("factor")
        proposed = self._chorus_update_suggestions()
        return {"remembered": len(matched), "factors": len(factors), "proposed": proposed}

    def _chorus_apply_remembered(self, role="supplier"):
        """Invoices without a partner for ``role`` (the supplier, or the factor of a factored
        invoice) whose identifier and type are remembered get the remembered partner, in one
        statement. Returns the invoices matched."""
        match = REMEMBERED_MATCHES[role]
        self.env["chorus.pro.supplier"].flush_model()
        self.env["res.partner"].flush_model(["active", "company_id"])
        self.env.cr.execute(REMEMBERED_MATCH_SQL.format(**match["sql"]),
                            {"ids": self.ids, "role": role})
        matched = self.browse([row[0] for row in self.env.cr.fetchall()])
        if matched:
            self._chorus_sql_changed(matched, match["fields"])
        return matched

    def _chorus_sql_changed(self, records, fnames):
        """After an SQL update: drop the stale cache and recompute what depends on it."""
        records.invalidate_recordset(fnames)
        records.modified(fnames)

    def _chorus_update_suggestions(self):
        """Store the best candidate of every unmatched invoice (identifiers first, names only
        when no identifier matches), in a few statements. Returns how many got one."""
        self.env["res.partner"].flush_model(
            ["chorus_pro_siret", "chorus_pro_siren", "commercial_partner_id", "active",
             "company_id", "name", "parent_id", "vat", "company_registry"]
        )
        self.env["res.partner.bank"].flush_model(
            ["sanitized_acc_number", "active", "allow_out_payment", "partner_id"]
        )
        cr = self.env.cr
        cr.execute(
            "SELECT id FROM chorus_pro_invoice WHERE id = ANY(%s) AND partner_id IS NULL",
            [self.ids],
        )
        ids = [row[0] for row in cr.fetchall()]
        if not ids:
            return 0
        candidates = CANDIDATES_BY_IDENTIFIERS
        if self._chorus_has_other_identifiers(ids):
            candidates += " UNION ALL " + CANDIDATES_BY_OTHER_IDENTIFIERS
        cr.execute(
            f"""
            WITH {INVOICES_CTE},
            cand AS ({candidates}),
            best AS (
                SELECT DISTINCT ON (invoice_id) invoice_id, partner_id, reason
                  FROM cand
                 ORDER BY invoice_id, tier, trusted DESC, partner_id
            )
            UPDATE chorus_pro_invoice i
               SET suggested_partner_id = best.partner_id, suggestion_reason = best.reason
              FROM inv LEFT JOIN best ON best.invoice_id = inv.id
             WHERE i.id = inv.id
            """,
            {"ids": ids, "separators": identifiers.SEPARATORS_PATTERN},
        )
        # Names only for invoices no identifier could place, one look-up per distinct name
        # (MATERIALIZED: otherwise PostgreSQL repeats the look-up for every invoice).
        cr.execute(
            """
            SELECT id FROM chorus_pro_invoice
             WHERE id = ANY(%s) AND suggested_partner_id IS NULL AND supplier_name IS NOT NULL
            """,
            [ids],
        )
        unplaced = [row[0] for row in cr.fetchall()]
        if unplaced:
            cr.execute(
                f"""
                WITH names AS MATERIALIZED ({self._chorus_name_candidates_sql(limit=1)})
                UPDATE chorus_pro_invoice i
                   SET suggested_partner_id = names.partner_id, suggestion_reason = 'name'
                  FROM names
                 WHERE i.id = ANY(%(ids)s) AND i.company_id = names.company_id
                   AND i.supplier_name = names.supplier_name
                """,
                {"ids": unplaced, "threshold": NAME_SIMILARITY},
            )
        invoices = self.browse(ids)
        invoices.invalidate_recordset(["suggested_partner_id", "suggestion_reason"])
        cr.execute(
            "SELECT count(*) FROM chorus_pro_invoice WHERE id = ANY(%s) "
            "AND suggested_partner_id IS NOT NULL",
            [ids],
        )
        return cr.fetchone()[0]

    def _chorus_has_other_identifiers(self, ids):
        self.env.cr.execute(
            """
            SELECT 1 FROM chorus_pro_invoice
             WHERE id = ANY(%s) AND coalesce(supplier_identifier_type, '') NOT IN ('', 'SIRET')
               AND supplier_identifier_key IS NOT NULL
             LIMIT 1
            """,
            [ids],
        )
        return bool(self.env.cr.fetchone())

    def _chorus_name_candidates_sql(self, limit=NAME_CANDIDATES):
        """SQL (params ``ids``, ``threshold``) giving, per distinct (company, supplier name) of
        the invoices, up to ``limit`` commercial partners with a similar name, best first:
        columns company_id, supplier_name, partner_id, similarity.

        With pg_trgm, a nearest-neighbour search on the trigram GiST index of partner names
        (a few milliseconds per name whatever the number of partners), kept only above the
        similarity threshold; without it, the same name whatever the case."""
        if self.env["res.partner"]._chorus_pro_has_trigram():
            nearest = """
                SELECT k.partner_id, similarity(k.name, n.supplier_name)::float AS similarity
                  FROM (SELECT p.id AS partner_id, p.name
                          FROM res_partner p
                         WHERE p.active AND p.parent_id IS NULL
                           AND (p.company_id IS NULL OR p.company_id = n.company_id)
                         ORDER BY p.name <-> n.supplier_name
                         LIMIT {limit}) k
                 WHERE similarity(k.name, n.supplier_name) >= %(threshold)s
            """
        else:
            nearest = """
                SELECT p.id AS partner_id, 1.0::float AS similarity
                  FROM res_partner p
                 WHERE lower(p.name) = lower(n.supplier_name) AND p.active AND p.parent_id IS NULL
                   AND (p.company_id IS NULL OR p.company_id = n.company_id)
                 ORDER BY p.id
                 LIMIT {limit}
            """
        return f"""
            SELECT n.company_id, n.supplier_name, c.partner_id, c.similarity
              FROM (SELECT DISTINCT company_id, supplier_name FROM chorus_pro_invoice
                     WHERE id = ANY(%(ids)s) AND supplier_name IS NOT NULL) n
             CROSS JOIN LATERAL ({nearest.format(limit=int(limit))}) c
        """

    # ------------------------------------------------------------------ candidates (one invoice)
    def _chorus_candidates(self, limit=20):
        """Candidate partners for this invoice, best first: a list of dicts with ``partner``,
        ``reasons`` (list of reason codes), ``trusted`` (the IBAN is a trusted account of the
        partner), ``similarity`` (names) and ``tier``."""
        self.ensure_one()
        self.flush_recordset()
        self.env["res.partner"].flush_model()
        self.env["res.partner.bank"].flush_model()
        cr = self.env.cr
        candidates = CANDIDATES_BY_IDENTIFIERS
        if self._chorus_has_other_identifiers(self.ids):
            candidates += " UNION ALL " + CANDIDATES_BY_OTHER_IDENTIFIERS
        names = self._chorus_name_candidates_sql(limit=NAME_CANDIDATES)
        cr.execute(
            f"""
            WITH {INVOICES_CTE},
            cand AS ({candidates}
                UNION ALL
                SELECT inv.id, n.partner_id, 'name', 4, false, n.similarity
                  FROM inv
                  JOIN chorus_pro_invoice i ON i.id = inv.id
                  JOIN ({names}) n ON n.company_id = i.company_id
                   AND n.supplier_name = i.supplier_name
            )
            SELECT partner_id, array_agg(reason ORDER BY tier), min(tier), bool_or(trusted),
                   max(similarity)
              FROM cand
             GROUP BY partner_id
             ORDER BY min(tier), bool_or(trusted) DESC, count(*) DESC, max(similarity) DESC,
                      partner_id
             LIMIT %(limit)s
            """,
            {"ids": self.ids, "limit": limit, "threshold": NAME_SIMILARITY,
             "separators": identifiers.SEPARATORS_PATTERN},
        )
        rows = cr.fetchall()
        partners = self.env["res.partner"].browse([row[0] for row in rows])
        partners.fetch(["name", "chorus_pro_siret", "city"])
        return [
            {
                "partner": self.env["res.partner"].browse(partner_id),
                "reasons": list(dict.fromkeys(reasons)),
                "tier": tier,
                "trusted": trusted,
                "similarity": similarity,
            }
            for partner_id, reasons, tier, trusted, similarity in rows
        ]

    # ------------------------------------------------------------------ matching
    def _chorus_check_can_match(self):
        if not self.env.user.has_group(PROCESSOR_GROUP):
            raise AccessError(_("Only Chorus Pro processors can match suppliers to partners."))
        locked = self.filtered("partner_locked")
        if locked:
            raise UserError(_(
                "%(invoice)s is already mandated: its partner cannot change here.",
                invoice=locked[0].display_name,
            ))

    def _chorus_check_partner_allowed(self, partner):
        """A partner of another company is never accepted."""
        for invoice in self:
            commercial = partner.commercial_partner_id
            if commercial.company_id and commercial.company_id != invoice.company_id:
                raise UserError(_(
                    "%(partner)s belongs to %(company)s: choose a partner of %(own)s or a shared "
                    "one.", partner=commercial.display_name, company=commercial.company_id.name,
                    own=invoice.company_id.name,
                ))
        commercial = partner.commercial_partner_id
        if commercial.siret and not identifiers.is_valid_siret(commercial.siret):
            raise UserError(_(
                "The SIRET of %(partner)s (%(siret)s) is not valid: a SIRET is 14 digits with a "
                "valid check digit. Correct it on the partner before matching it.",
                partner=commercial.display_name, siret=commercial.siret,
            ))
        wrong = commercial.sudo().bank_ids.filtered(
            lambda bank: identifiers.looks_like_iban(bank.acc_number)
            and not identifiers.is_valid_iban(bank.acc_number))
        if wrong:
            raise UserError(_(
                "%(partner)s has a bank account whose IBAN is not valid (%(iban)s): correct or "
                "archive it before matching this partner.", partner=commercial.display_name,
                iban=identifiers.mask_iban(wrong[0].acc_number) or "?",
            ))

    def _chorus_confirm_match(self, partner, factor_partner=None, origin="manual"):
        """Link this invoice's supplier (and factor) to partners, remember it, and apply it at
        once to the other unmatched invoices of the same supplier. Traced in the chatter."""
        self.ensure_one()
        self._chorus_check_can_match()
        partner = partner.commercial_partner_id
        self._chorus_check_partner_allowed(partner)
        if factor_partner:
            factor_partner = factor_partner.commercial_partner_id
            self._chorus_check_partner_allowed(factor_partner)
        Supplier = self.env["chorus.pro.supplier"]
        memory = Supplier
        formerly = self._chorus_remembered_partner()
        if self.supplier_identifier_key and self.supplier_identifier_type:
            memory = Supplier._remember(
                self.company_id, self.supplier_identifier_key, self.supplier_identifier_type,
                partner, name=self.supplier_name, chorus_id=self.supplier_chorus_id,
            )
        if factor_partner and self.factor_identifier_key:
            Supplier._remember(
                self.company_id, self.factor_identifier_key,
                self.factor_identifier_type if self.factor_identifier_type in dict(
                    Supplier._fields["identifier_type"].selection
                ) else "SIRET",
                factor_partner, name=self.factor_name, chorus_id=self.factor_chorus_id,
                role="factor",
            )
        previous = self.partner_id
        vals = {
            "partner_id": partner.id,
            "partner_match_origin": origin,
            "suggested_partner_id": False,
            "suggestion_reason": False,
        }
        if self.is_factored:
            vals["factor_partner_id"] = factor_partner.id if factor_partner else False
        # Checked above (rights, company, partner allowed): the application writes the match.
        self.sudo().write(vals)
        body = Markup("%s") % _(
            "Supplier %(supplier)s matched to partner %(partner)s by %(user)s.",
            supplier=self.supplier_display or "?", partner=partner.display_name,
            user=self.env.user.name,
        )
        if previous and previous != partner:
            body += Markup("<br/>") + _("Previous partner: %(partner)s.",
                                        partner=previous.display_name)
        if factor_partner:
            body += Markup("<br/>") + _("Factoring company: %(factor)s.",
                                        factor=factor_partner.display_name)
        if self.bank_state != "trusted" and self._needs_payment():
            body += Markup("<br/>") + _("Bank details: %(state)s.",
                                        state=selection_label(self, "bank_state", self.bank_state))
        self.message_post(body=body, subtype_xmlid="mail.mt_note")
        # The other unmatched invoices of this supplier follow at once.
        siblings = self.search([
            ("company_id", "=", self.company_id.id),
            ("partner_id", "=", False),
            ("id", "!=", self.id),
            ("supplier_identifier_key", "=", self.supplier_identifier_key),
        ]) if memory else self.browse()
        if siblings:
            siblings._chorus_match_suppliers()
        # A corrected match: the invoices matched automatically on the former partner, not
        # mandated yet, follow the correction.
        if memory and formerly and formerly != partner:
            followers = self.search([
                ("company_id", "=", self.company_id.id),
                ("id", "!=", self.id),
                ("supplier_identifier_key", "=", self.supplier_identifier_key),
                ("supplier_identifier_type", "=", self.supplier_identifier_type),
                ("partner_id", "=", formerly.id),
                ("partner_match_origin", "=", "remembered"),
                ("chorus_status", "not in", sorted(chorus_statuses.MANDATED)),
            ])
            if followers:
                followers.sudo().write({"partner_id": partner.id})
                for follower in followers:
                    follower.message_post(body=_(
                        "Partner corrected from %(old)s to %(new)s by %(user)s (matching of "
                        "invoice %(invoice)s).", old=formerly.display_name,
                        new=partner.display_name, user=self.env.user.name,
                        invoice=self.display_name,
                    ), subtype_xmlid="mail.mt_note")
        return memory

    def _chorus_remembered_partner(self):
        """The partner currently remembered for this invoice's supplier (or nothing)."""
        self.ensure_one()
        if not (self.supplier_identifier_key and self.supplier_identifier_type):
            return self.env["res.partner"]
        return self.env["chorus.pro.supplier"].search([
            ("company_id", "=", self.company_id.id),
            ("identifier_type", "=", self.supplier_identifier_type),
            ("identifier", "=", self.supplier_identifier_key),
            ("role", "=", "supplier"),
        ], limit=1).partner_id

    # ------------------------------------------------------------------ Chorus data on demand
    def _chorus_fetch_supplier_details(self):
        """The supplier's address and BIC are only in the consult answer (the retrieval consults
        factored invoices only): ask Chorus Pro now. Returns an error message or ``""``."""
        self.ensure_one()
        # The Chorus supplier id only comes with the consult answer: already consulted.
        if self.supplier_chorus_id or (
            self.supplier_city and (self.bank_bic or not self.payment_iban)
        ):
            return ""
        account = self.account_id or self.env["chorus.pro.account"].sudo()._for_company(
            self.company_id
        )
        if not account:
            return _("Chorus Pro is not configured for %(company)s.", company=self.company_id.name)
        try:
            with account.sudo()._chorus_client("sync") as client:
                detail = client.get_invoice(self.chorus_id)
        except ChorusGuardError as error:
            return error.args[0]
        except chorus_errors.ChorusProError as error:
            return chorus_error_message(error, self.env)
        vals = self._chorus_record_values(detail)
        if vals:
            self.sudo().write(vals)
        return ""

    def _chorus_partner_values(self, role="supplier"):
        """Values of a partner created from the Chorus Pro data."""
        self.ensure_one()
        country_code = (self.supplier_country_code or "").upper()
        if role == "factor":
            name = self.factor_name or self.bank_holder
            identifier, kind = self.factor_identifier_key, self.factor_identifier_type or "SIRET"
            vals = {"name": name, "is_company": True}
        else:
            name = self.supplier_name
            identifier, kind = self.supplier_identifier_key, self.supplier_identifier_type
            vals = {
                "name": name,
                "is_company": kind != "PARTICULIER",
                "street": self.supplier_street or False,
                "street2": self.supplier_street2 or False,
                "zip": self.supplier_zip or False,
                "city": self.supplier_city or False,
            }
            if country_code:
                country = self.env["res.country"].search([("code", "=", country_code)], limit=1)
                vals["country_id"] = country.id or False
        if kind == "SIRET" and identifiers.is_valid_siret(identifier):
            vals["siret"] = identifiers.compact_siret(identifier)
            if role == "factor" or not country_code:
                vals["country_id"] = self.env.ref("base.fr").id
        elif kind == "UE_HORS_FRANCE" and identifier:
            vals["vat"] = identifier
        elif identifier:
            vals["company_registry"] = identifier
        vals["supplier_rank"] = 1
        vals["comment"] = Markup("<p>%s</p>") % _(
            "Created from Chorus Pro invoice %(invoice)s.", invoice=self.display_name
        )
        return vals

    def _chorus_create_partner(self, role="supplier"):
        """Create the supplier (or the factor) from the Chorus Pro data: company, SIRET, address
        and the bank account of the invoice (NOT trusted: someone allowed to validate bank
        accounts confirms it). Refuses when a partner with the same SIRET exists."""
        self.ensure_one()
        self._chorus_check_can_match()
        message = self._chorus_fetch_supplier_details() if role == "supplier" else ""
        vals = self._chorus_partner_values(role)
        if not vals.get("name"):
            raise UserError(_("Chorus Pro gives no name for this %(role)s.", role=role))
        Partner = self.env["res.partner"]
        if vals.get("siret"):
            same = Partner.search([
                ("chorus_pro_siret", "=", vals["siret"]),
                "|", ("company_id", "=", False), ("company_id", "=", self.company_id.id),
            ], limit=1)
            if same:
                raise UserError(_(
                    "%(partner)s already has the SIRET %(siret)s: select it rather than create a "
                    "duplicate.", partner=same.display_name, siret=vals["siret"],
                ))
        if not self.company_id.chorus_pro_share_partners:
            vals["company_id"] = self.company_id.id
        # Processors may lack Odoo's contact-creation right: this controlled creation from Chorus
        # data is theirs (checked above), hence sudo.
        partner = Partner.sudo().create(vals).sudo(False)
        bank_for_partner = (role == "factor") == bool(self.is_factored)
        if bank_for_partner and self.payment_iban and self.bank_account_valid:
            self._chorus_create_bank_account(partner, trusted=False)
        partner.sudo().message_post(
            body=_("Created from Chorus Pro invoice %(invoice)s by %(user)s.",
                   invoice=self.display_name, user=self.env.user.name),
            subtype_xmlid="mail.mt_note",
        )
        if message:
            self.message_post(body=_(
                "Partner %(partner)s created without the details Chorus Pro could not give now: "
                "%(reason)s", partner=partner.display_name, reason=message,
            ), subtype_xmlid="mail.mt_note")
        return partner

    def _chorus_bank(self):
        """The res.bank of the invoice's BIC (created when unknown)."""
        bic = identifiers.compact_bic(self.bank_bic)
        if not bic or not identifiers.is_valid_bic(bic):
            return self.env["res.bank"]
        Bank = self.env["res.bank"].sudo()
        bank = Bank.search([("bic", "=", bic)], limit=1)
        if not bank:
            bank = Bank.create({"name": self.bank_name or bic, "bic": bic})
        return bank

    def _chorus_create_bank_account(self, partner, trusted=False):
        """Add the invoice IBAN to ``partner`` (reactivating an archived copy)."""
        self.ensure_one()
        Bank = self.env["res.partner.bank"].sudo().with_context(active_test=False)
        existing = Bank.search([
            ("partner_id", "=", partner.id), ("sanitized_acc_number", "=", self.payment_iban),
        ], limit=1)
        if existing:
            if not existing.active:
                existing.active = True
            return existing.sudo(False)
        vals = {
            "partner_id": partner.id,
            "acc_number": identifiers.format_iban(self.payment_iban),
            "bank_id": self._chorus_bank().id or False,
            "acc_holder_name": self.bank_holder or False,
        }
        vals["allow_out_payment"] = bool(trusted)
        return Bank.create(vals).sudo(False)

    # ------------------------------------------------------------------ bank confirmation
    def _chorus_trust_bank_account(self, note=""):
        """Trust the invoice IBAN as a bank account of the payee (supplier or factor): only for
        account.group_validate_bank_account; traced on the invoice and the partner."""
        self.ensure_one()
        if not self.env.user.has_group(BANK_GROUP):
            raise AccessError(_(
                "Only people allowed to validate bank accounts can trust a new IBAN."
            ))
        payee = self._payee()
        if not payee:
            raise UserError(_("Match the supplier (and the factor) before confirming the IBAN."))
        if not self.payment_iban or not self.bank_account_valid:
            raise UserError(_("This invoice has no valid IBAN to trust."))
        payee = payee.commercial_partner_id
        bank = self.partner_bank_id
        if bank and bank.allow_out_payment:
            return bank
        # sudo for the access rights on bank accounts only: Odoo still checks that the real user
        # is in account.group_validate_bank_account before trusting (create, write, constraint).
        if bank:
            bank.sudo().write({"allow_out_payment": True})
        else:
            bank = self._chorus_create_bank_account(payee, trusted=True)
            if not bank.allow_out_payment:
                bank.sudo().write({"allow_out_payment": True})
        masked = identifiers.mask_iban(self.payment_iban)
        body = _(
            "Bank account %(iban)s of %(partner)s trusted by %(user)s.",
            iban=masked, partner=payee.display_name, user=self.env.user.name,
        )
        if note:
            body += " " + _("Confirmation: %(note)s", note=note)
        self.sudo().message_post(body=body, subtype_xmlid="mail.mt_note")
        payee.sudo().message_post(
            body=body + " " + _("(Chorus Pro invoice %(invoice)s)", invoice=self.display_name),
            subtype_xmlid="mail.mt_note",
        )
        return bank

    # ------------------------------------------------------------------ actions
    def action_open_supplier_match(self):
        """"Valider les tiers": the matching screen for this invoice."""
        check_action_access(self, "write")
        self.ensure_one()
        self._chorus_check_can_match()
        return self.env["chorus.pro.supplier.match"]._open_for(self)

    def action_refresh_proposals(self):
        """"Refresh the proposals" of the list of suppliers to match (the selected invoices, or
        all of them): remembered matches applied, best candidates found again."""
        check_action_access(self, "write")
        if not self.env.user.has_group(PROCESSOR_GROUP):
            raise AccessError(_("Only Chorus Pro processors can match suppliers to partners."))
        invoices = self or self.search(self._to_match_domain())
        counts = invoices._chorus_match_suppliers()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "info",
                "message": _(
                    "%(remembered)s invoice(s) matched by a remembered supplier, %(proposed)s "
                    "with a proposed partner.", **counts,
                ),
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def action_confirm_bank_account(self):
        check_action_access(self, "read")
        self.ensure_one()
        return self.env["chorus.pro.bank.confirm"]._open_for(self)

    def action_open_partner(self):
        check_action_access(self, "read")
        self.ensure_one()
        return self.partner_id._get_records_action() if self.partner_id else False

    @api.model
    def _to_match_domain(self):
        """Invoices waiting for "Valider les tiers" (history and rejected ones need none)."""
        return [
            ("partner_id", "=", False),
            ("imported_as_history", "=", False),
            ("chorus_status", "not in", sorted(chorus_statuses.NOT_TO_MATCH)),
        ]

    @api.model
    def _bank_to_confirm_domain(self):
        """Matched invoices whose bank details block mandating."""
        return [
            ("partner_id", "!=", False),
            ("bank_state", "in", ("to_confirm", "invalid", "missing")),
            ("imported_as_history", "=", False),
            ("invoice_type", "!=", "credit_note"),
            ("amount_to_pay", ">", 0),
            ("chorus_status", "not in",
             sorted(chorus_statuses.NOT_TO_MATCH | chorus_statuses.MANDATED)),
        ]
