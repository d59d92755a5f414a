# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo.tests import HttpCase, tagged

from .pes_common import DS, PesCommon, parse_pes


@tagged("post_install", "-at_install", "chorus_pro", "chorus_pro_browser")
class TestPesTour(PesCommon, HttpCase):
    def test_generate_and_sign_from_the_bordereau_form(self):
        mandates = self.mandate_now(self.ready_invoices(2))
        bordereau = self.validated_bordereau(mandates)
        self.start_tour(
            f"/odoo/action-chorus_pro_liaison.chorus_pro_bordereau_action/{bordereau.id}",
            "chorus_pro_pes_tour", login="admin", timeout=180,
        )
        self.assertEqual(bordereau.state, "signed")
        self.assertEqual(bordereau.pes_signed_by_id, self.env.ref("base.user_admin"))
        path = self.file_path(bordereau)
        self.assert_valid_pes(path)
        signature = parse_pes(path).getroot().find("PES_DepenseAller/Bordereau/" + DS + "Signature")
        checked = self.assert_signature_verifies(path, signature.get("Id"))
        self.assertEqual(checked.returncode, 0, checked.stderr)
