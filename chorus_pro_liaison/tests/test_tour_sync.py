# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import threading
import time

from odoo import SUPERUSER_ID, api
from odoo.tests import HttpCase, tagged

from .common import WHOLE_WORLD, ChorusCase


class CronWorker(threading.Thread):
    """Stands in for Odoo's cron worker during a tour (tests run none): executes the queued
    Chorus Pro runs the way the job cron does, on its own cursor."""

    def __init__(self, registry):
        super().__init__(daemon=True)
        self.registry = registry
        self.stopping = threading.Event()
        self.executed = 0
        self.error = None

    def run(self):
        while not self.stopping.is_set():
            try:
                with self.registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    queued = env["chorus.pro.run"].search([("state", "=", "queued")])
                    if queued:
                        env["chorus.pro.run"]._cron_process_queue()
                        self.executed += len(queued)
            except Exception as error:  # noqa: BLE001 - reported by the test
                self.error = error
                return
            time.sleep(0.5)

    def stop(self):
        self.stopping.set()
        self.join(timeout=60)


@tagged("post_install", "-at_install", "chorus_pro", "chorus_pro_browser")
class TestSyncTour(ChorusCase, HttpCase):
    account_options = WHOLE_WORLD

    def test_launch_sync_from_the_chorus_screen(self):
        self.assertFalse(self.env["chorus.pro.invoice"].search_count([]))
        worker = CronWorker(self.registry)
        worker.start()
        try:
            self.start_tour(
                "/odoo/action-chorus_pro_liaison.chorus_pro_dashboard_action",
                "chorus_pro_sync_tour",
                login="admin",
                timeout=180,
            )
        finally:
            worker.stop()
        self.assertIsNone(worker.error)
        self.assertEqual(worker.executed, 1)
        run = self.env["chorus.pro.run"].search([("account_id", "=", self.account.id)])
        self.assertEqual(run.trigger, "manual")
        self.assertEqual(run.user_id.login, "admin")
        self.assertGreater(self.env["chorus.pro.invoice"].search_count([]), 40)
