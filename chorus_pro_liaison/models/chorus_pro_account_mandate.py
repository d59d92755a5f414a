# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Payment-delay (DGP) and mandating settings of the Chorus Pro account."""

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from chorus_pro import dgp

BODY_KINDS = [
    (dgp.BODY_COLLECTIVITE, "Local authority, EPCI or local public body (30 days)"),
    (dgp.BODY_ETAT, "State (30 days)"),
    (dgp.BODY_EPS, "Public health establishment (50 days)"),
    (dgp.BODY_ENTREPRISE_PUBLIQUE, "Public company (60 days)"),
]
CONVENTIONS = [
    (dgp.CONVENTION_START_DAY_ZERO, "The day the invoice is made available is day 0"),
    (dgp.CONVENTION_START_DAY_ONE, "The day the invoice is made available is day 1"),
]


class ChorusProAccount(models.Model):
    _inherit = "chorus.pro.account"

    public_body_kind = fields.Selection(
        BODY_KINDS, string="Kind of public body", default=dgp.BODY_COLLECTIVITE, required=True,
        tracking=True,
        help="Sets the legal payment delay (délai global de paiement): 30 days for the State "
        "and local authorities, 50 for public health establishments, 60 for public companies; "
        "and the comptable's share of it (10 days, 15 for health establishments).",
    )
    contract_delay_days = fields.Integer(
        string="Contractual payment delay (days)",
        help="Leave 0 when the contracts keep the legal delay. A shorter contractual delay "
        "applies instead of the legal one; a longer one is capped by the law.",
    )
    dgp_convention = fields.Selection(
        CONVENTIONS, string="Day counting", default=dgp.DEFAULT_CONVENTION, required=True,
        help="The law does not say whether the day the invoice is made available counts. By "
        "default it is day 0: made available on 2 March, due on 1 April (30 days).",
    )
    dgp_reminder_days = fields.Integer(
        string="Reminder (days before the ordonnateur's target)", default=5,
        help="An activity is scheduled for the users below this many days before the date by "
        "which the mandate must be sent to the comptable.",
    )
    dgp_reminder_user_ids = fields.Many2many(
        "res.users",
        "chorus_pro_account_dgp_reminder_rel",
        "account_id",
        "user_id",
        string="Users reminded of payment deadlines",
        domain="[('share', '=', False), ('company_ids', 'in', [company_id])]",
    )
    mandate_auto_post = fields.Boolean(
        string="Validate mandates at once", default=True,
        help="\"Mandater\" creates and validates the mandates: numbers are given and Chorus Pro "
        "is told Mandatée. When off, the mandates are created as drafts to check, and this "
        "happens when each one is validated.",
    )
    mandate_background_threshold = fields.Integer(
        string="Mandate in the background above", default=20,
        help="Selections larger than this are mandated in the background, with progress.",
    )

    @api.constrains("contract_delay_days", "dgp_reminder_days", "mandate_background_threshold")
    def _check_mandate_numbers(self):
        for account in self:
            if account.contract_delay_days < 0 or account.dgp_reminder_days < 0:
                raise ValidationError(self.env._("Delays cannot be negative."))
            if account.mandate_background_threshold < 0:
                raise ValidationError(self.env._("The background threshold cannot be negative."))
