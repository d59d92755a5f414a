# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
{
    "name": "Chorus Pro - Liaison automatique (destinataire public)",
    "summary": "Receive, process, match and mandate Chorus Pro supplier invoices "
    "for French public bodies",
    "version": "18.0.1.0.0",
    "category": "Accounting/Localizations",
    "website": "https://github.com/chorus-pro-liaison/chorus_pro_liaison",
    "author": "chorus_pro_liaison contributors",
    "maintainers": [],
    "license": "AGPL-3",
    "countries": ["fr"],
    "development_status": "Alpha",
    "application": False,
    "installable": True,
    "depends": ["account", "l10n_fr"],
    "external_dependencies": {
        "python": ["chorus-pro", "requests", "python-stdnum", "lxml"],
    },
    "data": [
        "security/chorus_pro_security.xml",
        "security/ir.model.access.csv",
        "security/chorus_pro_rules.xml",
        "data/ir_cron.xml",
        "data/mail_template.xml",
        "data/chorus_pro_motif_data.xml",
        "data/chorus_pro_ecb_rate_data.xml",
        "wizards/chorus_pro_structure_choice_views.xml",
        "wizards/chorus_pro_processing_confirm_views.xml",
        "wizards/chorus_pro_supplier_match_views.xml",
        "views/chorus_pro_account_views.xml",
        "views/chorus_pro_invoice_views.xml",
        "views/chorus_pro_run_views.xml",
        "views/chorus_pro_account_token_views.xml",
        "wizards/chorus_pro_dashboard_views.xml",
        "wizards/chorus_pro_dashboard_matching_views.xml",
        "views/res_config_settings_views.xml",
        "views/chorus_pro_motif_views.xml",
        "views/chorus_pro_account_processing_views.xml",
        "views/chorus_pro_status_push_views.xml",
        "views/chorus_pro_invoice_processing_views.xml",
        "wizards/chorus_pro_dashboard_processing_views.xml",
        "views/chorus_pro_invoice_matching_views.xml",
        "views/res_partner_views.xml",
        # Step 4: mandates (they extend the views above).
        "views/chorus_pro_budget_views.xml",
        "views/chorus_pro_invoice_mandate_views.xml",
        "views/account_move_mandate_views.xml",
        "views/chorus_pro_bordereau_views.xml",
        "views/chorus_pro_run_mandate_views.xml",
        "wizards/chorus_pro_mandate_wizard_views.xml",
        "report/chorus_pro_bordereau_report.xml",
        # PES V2: the bordereaux to the public accountant.
        "views/chorus_pro_pes_views.xml",
        # Every menu, once every action exists.
        "views/chorus_pro_menus.xml",
    ],
    "demo": [
        "demo/chorus_pro_mandate_demo.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "chorus_pro_liaison/static/src/**/*",
        ],
        "web.assets_tests": [
            "chorus_pro_liaison/static/tests/tours/*.js",
        ],
    },
    "images": ["static/description/icon.png"],
}
