# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo.tests import HttpCase, tagged

from .common import ChorusCase


@tagged("post_install", "-at_install", "chorus_pro", "chorus_pro_browser")
class TestConfigurationTour(ChorusCase, HttpCase):
    # The PISTE application and the structure are known; the tour types the technical account.
    account_options = {"technical_login": False, "technical_password": False}

    def test_configuration_tour(self):
        self.assertFalse(self.account.technical_password_set)
        self.start_tour("/odoo/action-chorus_pro_liaison.chorus_pro_account_action", "chorus_pro_configuration_tour", login="admin", timeout=120)
        self.assertEqual(self.account.technical_login, self.sim.info["login"])
        self.assertTrue(self.account.technical_password_set)
        self.assertTrue(self.account.last_test_ok, self.account.last_test_report)
