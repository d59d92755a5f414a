# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""ECB main refinancing rates: the editable table late-payment interest is computed from.

The rows shipped with the package (``chorus_pro/data/ecb_rates.csv``) are the single source of
the seed: they are read by :func:`chorus_pro.dgp.load_ecb_rates` at install and update, and only
the rows the table does not have yet are added, so that a row corrected by the finance
administrator is never overwritten.
"""

from decimal import Decimal

from odoo import api, fields, models, tools

from chorus_pro import dgp


class ChorusProEcbRate(models.Model):
    _name = "chorus.pro.ecb.rate"
    _description = "ECB main refinancing rate"
    _order = "valid_from desc"
    _rec_name = "valid_from"

    valid_from = fields.Date(
        string="In force from", required=True, index=True,
        help="Date the European Central Bank's main refinancing rate took effect.",
    )
    ecb_mro_rate = fields.Float(string="ECB rate (%)", digits=(6, 3), required=True)
    interest_rate = fields.Float(
        string="Late-payment interest rate (%)", digits=(6, 3), compute="_compute_interest_rate",
        help="ECB rate + 8 points (Code de la commande publique, R2192-31), applied to interest "
        "starting in a half-year whose first day falls under this rate.",
    )
    note = fields.Char()

    _sql_constraints = [
        ("valid_from_unique", "unique(valid_from)", "There is already a rate from this date."),
    ]

    @api.depends("ecb_mro_rate")
    def _compute_interest_rate(self):
        for rate in self:
            rate.interest_rate = rate.ecb_mro_rate + float(dgp.INTEREST_MARGIN)

    @api.model
    def _load_packaged_rates(self):
        """Add the packaged rows the table lacks (install and every update)."""
        existing = set(self.sudo().search([]).mapped("valid_from"))
        self.sudo().create([
            {"valid_from": day, "ecb_mro_rate": float(rate), "note": "chorus_pro/data/ecb_rates.csv"}
            for day, rate in dgp.load_ecb_rates()
            if day not in existing
        ])
        return True

    @api.model
    def _rate_table(self):
        """The table as :func:`chorus_pro.dgp.compute` takes it: ``[(date, Decimal)]``."""
        return list(self._rate_rows())

    @api.model
    @tools.ormcache()
    def _rate_rows(self):
        # Read at every payment-delay computation (twice a mandate) but changed a few times a
        # year: kept in Odoo's cache, cleared by any change to the table.
        rows = self.sudo().search_read([], ["valid_from", "ecb_mro_rate"], order="valid_from")
        return tuple((row["valid_from"], Decimal(str(row["ecb_mro_rate"]))) for row in rows)

    @api.model_create_multi
    def create(self, vals_list):
        rates = super().create(vals_list)
        self.env.registry.clear_cache()
        rates._recompute_late_interest()
        return rates

    def write(self, vals):
        result = super().write(vals)
        if {"valid_from", "ecb_mro_rate"} & set(vals):
            self.env.registry.clear_cache()
            self._recompute_late_interest()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        self.env["chorus.pro.ecb.rate"]._recompute_late_interest()
        return result

    def _recompute_late_interest(self):
        """A corrected rate changes the interest owed on invoices paid late."""
        Invoice = self.env["chorus.pro.invoice"].sudo()
        if "dgp_paid_date" not in Invoice._fields:
            return
        late = Invoice.with_context(active_test=False).search([("dgp_late_days", ">", 0)])
        late._dgp_recompute()
