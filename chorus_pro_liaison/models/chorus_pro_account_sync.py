# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Retrieval settings of the Chorus Pro account and the "Lancer la vérification" action."""

from datetime import date

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.chorus_pro_liaison.models.chorus_pro_account import paris_today


def first_day_of_month(day):
    return date(day.year, day.month, 1)


class ChorusProAccount(models.Model):
    _inherit = "chorus.pro.account"

    sync_cutoff_date = fields.Date(
        string="Cutoff date",
        default=lambda self: first_day_of_month(paris_today()),
        help="At the first retrieval, invoices whose last status change is older than this date "
        "and that are already closed are left out (or imported as history). Invoices still "
        "waiting for a decision always come in: their payment delay is running.",
    )
    sync_cutoff_mode = fields.Selection(
        [
            ("skip", "Leave older closed invoices out"),
            ("history", "Import them, marked as already processed"),
        ],
        string="Older invoices",
        default="skip",
        required=True,
    )
    sync_overlap_hours = fields.Integer(
        string="Overlap (hours)",
        default=24,
        help="Each retrieval looks back this far before the previous one, so that nothing "
        "changed at the boundary is missed.",
    )
    sync_bundle_mb = fields.Integer(
        string="Download bundle size (MB)",
        default=15,
        help="Invoices are downloaded together up to this size (Chorus Pro refuses 120 MB).",
    )
    sync_parallel_calls = fields.Integer(
        string="Calls in flight",
        default=3,
        help="How many calls to Chorus Pro may run at the same time (Chorus publishes no "
        "quota: keep it small).",
    )
    last_sync_at = fields.Datetime(
        string="Last successful retrieval",
        readonly=True,
        copy=False,
        help="Status changes up to this moment are in Odoo.",
    )
    last_sync_run_id = fields.Many2one("chorus.pro.run", readonly=True, copy=False)
    next_sync_at = fields.Datetime(
        string="Next scheduled retrieval", compute="_compute_next_sync_at"
    )
    run_ids = fields.One2many("chorus.pro.run", "account_id", string="Runs")
    invoice_ids = fields.One2many("chorus.pro.invoice", "account_id", string="Invoices")

    def _compute_next_sync_at(self):
        cron = self.env.ref("chorus_pro_liaison.ir_cron_chorus_pro_sync", raise_if_not_found=False)
        nextcall = cron.sudo().nextcall if cron and cron.sudo().active else False
        for account in self:
            account.next_sync_at = nextcall if account.enabled else False

    # ------------------------------------------------------------------ actions
    def _running_sync(self):
        """The account's retrieval queued or running, if any. A run left "running" by a server
        process that is gone (killed, time limit, restart) is marked failed on the way: it would
        otherwise be reopened and block the scheduled retrieval forever."""
        self.ensure_one()
        runs = self.env["chorus.pro.run"].sudo().search(
            [("account_id", "=", self.id), ("run_type", "=", "sync"),
             ("state", "in", ("queued", "running"))],
        )
        runs -= runs._reap_interrupted()
        return runs[:1]

    def action_launch_sync(self):
        """"Lancer la vérification": checks at once, then retrieves in the background."""
        self.ensure_one()
        if not self.env.user.has_group("chorus_pro_liaison.group_chorus_pro_processor"):
            raise UserError(_("Only Chorus Pro processors can launch the retrieval."))
        running = self._running_sync()
        if running:
            return running._action_open()
        # The cheap checks happen now, so that the user learns at once what is wrong.
        self._chorus_guard("sync", manual=True)
        run = self.env["chorus.pro.run"].sudo().create({
            "company_id": self.company_id.id,
            "account_id": self.id,
            "run_type": "sync",
            "trigger": "manual",
            "user_id": self.env.user.id,
        })
        self.env.ref("chorus_pro_liaison.ir_cron_chorus_pro_jobs").sudo()._trigger()
        return run._action_open()

    @api.model
    def action_launch_sync_current_company(self):
        account = self._for_company(self.env.company)
        if not account:
            raise UserError(
                _("Chorus Pro is not configured for %(company)s.", company=self.env.company.name)
            )
        return account.action_launch_sync()

    @api.model
    def _cron_scheduled_sync(self):
        """Hourly (editable): one retrieval per company whose link is on.

        Never raises: Chorus being down or expired credentials are recorded on the run (Odoo
        deactivates a cron that keeps failing). Companies switched off are skipped.
        """
        accounts = self.sudo().search([("enabled", "=", True)])
        for account in accounts:
            if account._running_sync():
                continue
            run = self.env["chorus.pro.run"].sudo().create({
                "company_id": account.company_id.id,
                "account_id": account.id,
                "run_type": "sync",
                "trigger": "cron",
                "user_id": False,
            })
            run._commit()
            run.with_company(account.company_id)._execute()
        return True


class ChorusProInvoice(models.Model):
    _inherit = "chorus.pro.invoice"

    # Set when the retrieval creates the invoice, cleared once the checks made on arrival
    # (duplicates among them) have run for it: a retrieval interrupted in between leaves it set,
    # and the next retrieval makes the checks (see InvoiceSynchronizer._after_sync).
    duplicate_check_pending = fields.Boolean(
        string="Arrival checks pending", readonly=True, copy=False
    )
