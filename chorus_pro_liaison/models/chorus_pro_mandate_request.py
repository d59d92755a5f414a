# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""One invoice of a mandating run ("Mandater"), with the article chosen for it and what became
of it. The run: ``chorus_pro_run.py``; the work: ``services/mandating.py``."""

from odoo import fields, models

REQUEST_STATES = [
    ("pending", "To do"), ("done", "Done"), ("skipped", "Already done"), ("blocked", "Stopped"),
]


class ChorusProMandateRequest(models.Model):
    """One invoice of a mandating run, with the article chosen for it and what became of it."""

    _name = "chorus.pro.mandate.request"
    _description = "Chorus Pro invoice to mandate"
    _order = "run_id, sequence, id"

    run_id = fields.Many2one("chorus.pro.run", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="run_id.company_id", store=True, index=True)
    sequence = fields.Integer()
    invoice_id = fields.Many2one("chorus.pro.invoice", required=True, ondelete="cascade", index=True)
    article_id = fields.Many2one("chorus.pro.budget.article", ondelete="restrict")
    state = fields.Selection(REQUEST_STATES, default="pending", required=True, index=True)
    move_id = fields.Many2one("account.move", string="Mandate", ondelete="set null")
    message = fields.Text()
