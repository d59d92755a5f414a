# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class ChorusProService(models.Model):
    """A service (service exécutant) of our recipient structure in Chorus Pro."""

    _name = "chorus.pro.service"
    _description = "Chorus Pro recipient service"
    _order = "code"

    account_id = fields.Many2one(
        "chorus.pro.account", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(
        related="account_id.company_id", store=True, index=True
    )
    chorus_id = fields.Integer(string="Service ID", required=True)
    code = fields.Char(required=True)
    name = fields.Char()
    active = fields.Boolean(default=True)
    chorus_status = fields.Char(string="Chorus status")
    budget_id = fields.Many2one(
        "chorus.pro.budget", string="Budget", ondelete="set null",
        help="Budget the invoices of this service are usually mandated on.",
    )

    _sql_constraints = [
        (
            "account_chorus_id_unique",
            "unique(account_id, chorus_id)",
            "This service is already listed.",
        )
    ]

    def _compute_display_name(self):
        for service in self:
            service.display_name = (
                f"{service.code} – {service.name}" if service.name else service.code
            )

    def _sync_from_chorus(self, account, services):
        """Create or update the services Chorus lists; archive those it no longer lists."""
        existing = {
            s.chorus_id: s
            for s in self.with_context(active_test=False).search(
                [("account_id", "=", account.id)]
            )
        }
        seen = set()
        for service in services:
            # The generic FACTURES_PUBLIQUES service is not a real service (OCA PR #178).
            if service.code == "FACTURES_PUBLIQUES":
                continue
            seen.add(service.chorus_id)
            vals = {
                "code": service.code,
                "name": service.name,
                "active": service.active,
                "chorus_status": service.status,
            }
            if service.chorus_id in existing:
                existing[service.chorus_id].write(vals)
            else:
                self.create(dict(vals, account_id=account.id, chorus_id=service.chorus_id))
        for chorus_id, record in existing.items():
            if chorus_id not in seen and record.active:
                record.active = False
