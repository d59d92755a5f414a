# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import models


class AccountChartTemplate(models.AbstractModel):
    _inherit = "account.chart.template"

    def _post_load_data(self, template_code, company, template_data):
        result = super()._post_load_data(template_code, company, template_data)
        module = self.env.ref("base.module_chorus_pro_liaison", raise_if_not_found=False)
        # Demo databases: the budgets and articles follow the French chart when it is loaded.
        if template_code == "fr" and module and module.demo:
            self.env["chorus.pro.budget"].sudo()._create_demo_data(company)
        return result
