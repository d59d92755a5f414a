# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The two small windows of the PES: *Signer* (the PIN of the RGS** key) and the import of the
accountant's acquittement.

The PIN is never stored: the window's PIN field is not a database column, and it travels only
with the click on *Signer* (in that call's context, removed at once). The key is the one of the
company's Chorus Pro account (module, token and key labels: RGS** key tab); a PIN the key
refused is never presented again (``chorus.pro.token.pin.block``), and nothing retries by
itself.
"""

import base64

from odoo import _, fields, models
from odoo.exceptions import UserError

from odoo.addons.chorus_pro_liaison.models.chorus_pro_bordereau_pes import SIGNATORY_GROUP
from odoo.addons.chorus_pro_liaison.services.access import check_action_access
from odoo.addons.chorus_pro_liaison.services.key_messages import token_problem_message

from chorus_pro.pes import PesAnswerError, SignatureOptions, TokenSigner, parse_acquittement
from chorus_pro.token import TokenError

PIN_CONTEXT_KEY = "chorus_pro_pes_pin"
CLAIMED_ROLE = "Ordonnateur"  # the XAdES ClaimedRole Hélios reads (a French word on purpose)


class ChorusProPesScreen(models.AbstractModel):
    """A window about one bordereau: opened only for a bordereau the user can read."""

    _name = "chorus.pro.pes.screen"
    _inherit = ["chorus.pro.screen.mixin"]
    _screen_subject_fields = ("bordereau_id",)
    _description = "Window about a bordereau's PES file"

    bordereau_id = fields.Many2one("chorus.pro.bordereau", required=True, readonly=True,
                                   ondelete="cascade")


class ChorusProPesSign(models.TransientModel):
    _name = "chorus.pro.pes.sign"
    _inherit = "chorus.pro.pes.screen"
    _description = "Sign a bordereau's PES file with the RGS** key"

    mandate_count = fields.Integer(related="bordereau_id.mandate_count")
    amount_total = fields.Monetary(related="bordereau_id.amount_total")
    currency_id = fields.Many2one(related="bordereau_id.currency_id")
    certificate_holder = fields.Char(compute="_compute_key", string="Certificate of")
    certificate_valid_until = fields.Datetime(compute="_compute_key", string="Valid until")
    key_configured = fields.Boolean(compute="_compute_key", string="Key configured")
    pin = fields.Char(
        string="PIN of the key", compute="_compute_pin", inverse="_inverse_pin",
        help="Asked each time, never stored.",
    )

    def _compute_key(self):
        for wizard in self:
            account = wizard._account()
            wizard.key_configured = bool(account and account._token_config() is not None)
            wizard.certificate_holder = account.token_certificate_subject or False
            wizard.certificate_valid_until = account.token_certificate_not_after or False

    def _compute_pin(self):
        for wizard in self:
            wizard.pin = False

    def _inverse_pin(self):
        """Never stored: the PIN only travels with the click on *Signer*."""

    def _account(self):
        return self.env["chorus.pro.account"].sudo()._for_company(self.bordereau_id.company_id)

    def action_sign(self):
        check_action_access(self, "write")
        self.ensure_one()
        pin = self.env.context.get(PIN_CONTEXT_KEY) or ""
        # The PIN goes no further than the token: out of the context of everything below.
        wizard = self.with_context(**{PIN_CONTEXT_KEY: None})
        return wizard._sign(pin)

    def _sign(self, pin):
        bordereau = self.bordereau_id
        bordereau._pes_check(("generated",), group=SIGNATORY_GROUP, operation="read")
        account = self._account()
        config = account._token_config() if account else None
        if config is None:
            raise UserError(token_problem_message("not_configured", self.env))
        if not pin:
            raise UserError(_("Type the PIN of the RGS** key."))
        token = account._rgs_token(config.with_pin(pin))
        company = bordereau.company_id
        options = SignatureOptions(claimed_role=CLAIMED_ROLE, city=company.city or "",
                                   postal_code=company.zip or "")
        try:
            bordereau._pes_sign(TokenSigner(token), options)
        except TokenError as error:
            raise UserError(self._token_error_text(error, account)) from None
        return bordereau._pes_notification(
            _("Bordereau signed"),
            _("%(name)s is signed with the RGS** key of %(signer)s. Download it and hand it "
              "over to the accountant.", name=bordereau.display_name, signer=bordereau.pes_signer),
            "success",
        )

    def _token_error_text(self, error, account):
        if error.code == "pin_retry_blocked":
            return _(
                "The key already refused this PIN: it is not presented again, so that the key "
                "does not lock itself. Type the right PIN."
            )
        if error.code == "pin_incorrect":
            return _(
                "The key refused this PIN. It will not be presented again (a key locks itself "
                "for good after a few wrong PINs): type the right PIN."
            )
        return token_problem_message(
            error.code, self.env, token_label=account.token_label or "",
            key_label=account.token_key_label or "", module_path=account.token_module_path or "",
            fallback=error.message,
        )


class ChorusProPesAcquittement(models.TransientModel):
    _name = "chorus.pro.pes.acquittement"
    _inherit = "chorus.pro.pes.screen"
    _description = "Import the accountant's acquittement of a PES file"

    data = fields.Binary(string="Acquittement file", required=True, attachment=False)
    filename = fields.Char()

    def action_import(self):
        check_action_access(self, "write")
        self.ensure_one()
        bordereau = self.bordereau_id
        bordereau._pes_check(("sent",))
        raw = base64.b64decode(self.data or b"")
        try:
            acquittement = parse_acquittement(raw)
        except PesAnswerError as error:
            raise UserError(_("This file is not a PES acquittement that can be read (%(reason)s).",
                              reason=str(error))) from None
        header = acquittement.header
        budget = bordereau.budget_id
        if header.cod_col and header.cod_bud and (header.cod_col, header.cod_bud) != (
            (budget.pes_cod_col or "").strip(), (budget.code or "").strip()
        ):
            raise UserError(_(
                "This acquittement is for budget %(col)s/%(bud)s, not for budget %(budget)s "
                "(%(our_col)s/%(our_bud)s).", col=header.cod_col, bud=header.cod_bud,
                budget=budget.display_name, our_col=budget.pes_cod_col or "?",
                our_bud=budget.code or "?",
            ))
        attachment = self.env["ir.attachment"].sudo().create({
            "name": self.filename or "acquittement.xml",
            "res_model": bordereau._name,
            "res_id": bordereau.id,
            "raw": raw,
            "description": _("Acquittement of %(name)s", name=bordereau.display_name),
        })
        accepted = bordereau._pes_apply_acquittement(acquittement, attachment)
        if accepted:
            return bordereau._pes_notification(
                _("Accepted"), _("The accountant accepted %(name)s.", name=bordereau.display_name),
                "success")
        return bordereau._pes_notification(
            _("Rejected"),
            _("The accountant rejected %(name)s:\n%(reasons)s", name=bordereau.display_name,
              reasons=bordereau.pes_rejection_reasons or "-"),
            "danger",
        )
