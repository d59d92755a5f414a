# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The RGS** key (clé de transmission) of the Chorus Pro account, on a PKCS#11 token.

The token must be reachable by the Odoo server (a token plugged into the server, or a network
HSM behind a PKCS#11 module). Chorus Pro's API does not authenticate with it: the key is what
the public body's procedure asks to be present to set up the link and run the retrieval, and it
signs the evidence of every call that changes something in Chorus Pro.

- "Vérifier la clé": presence, PIN, key and certificate details, or exactly what is wrong.
- "Clé RGS** requise": manual actions refuse to start without the key (through the one guard);
  the scheduled retrieval is never blocked, it records that the key was absent.
- Evidence: signed with the key when one is configured and usable, unsigned otherwise.
- The PIN comes from the Odoo configuration file or the environment, never from the database; a
  refused PIN is never tried again (``chorus.pro.token.pin.block``).
"""

import logging
from datetime import datetime, timezone

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError

from odoo.addons.chorus_pro_liaison.models.chorus_pro_account import MANAGER_GROUP
from odoo.addons.chorus_pro_liaison.services.access import check_action_access
from odoo.addons.chorus_pro_liaison.services.errors import ChorusGuardError
from odoo.addons.chorus_pro_liaison.services.key_messages import (
    token_problem_message,
    token_status_message,
)
from odoo.addons.chorus_pro_liaison.services.pin_guard_store import DatabasePinGuardStore

from chorus_pro.evidence import sign_evidence
from chorus_pro.timeutil import paris_today
from chorus_pro.token import (
    DEFAULT_PIN_ENV_VAR,
    PinGuard,
    RgsToken,
    TokenConfig,
    TokenError,
    TokenStatus,
    pin_from_environment,
)

_logger = logging.getLogger(__name__)

PROCESSOR_GROUP = "chorus_pro_liaison.group_chorus_pro_processor"
# The procedure asks for the key to set up the link and to run the retrieval; it signs what
# changes something in Chorus Pro. Every manual exchange therefore requires it when asked to.
TOKEN_PURPOSES = ("connection_test", "configuration", "sync", "status", "mandate")
TOKEN_CONFIG_FIELDS = ("token_module_path", "token_label", "token_key_label")
CERTIFICATE_FIELDS = (
    "token_certificate_subject",
    "token_certificate_issuer",
    "token_certificate_serial",
    "token_certificate_not_before",
    "token_certificate_not_after",
    "token_certificate_key_usage",
    "token_certificate_fingerprint",
)
CHECK_FIELDS = (
    "token_last_check_date",
    "token_last_check_ok",
    "token_last_check_problem",
    "token_last_check_message",
)
SERVER_PIN_KEY = "chorus_pro_token_pin"
SERVER_PEPPER_KEY = "chorus_pro_token_pin_pepper"
SERVER_MODULES_KEY = "chorus_pro_token_modules"
CONTEXT_RUN_KEY = "chorus_pro_current_run_id"


def _naive_utc(value):
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value else False


class ChorusProAccount(models.Model):
    _inherit = "chorus.pro.account"

    # ------------------------------------------------------------------ settings
    token_module_path = fields.Char(
        string="PKCS#11 module",
        tracking=True,
        help="Path, on the Odoo server, of the token vendor's PKCS#11 library (e.g. "
        "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so, or the network HSM's module). Empty: no "
        "RGS** key, evidence is unsigned.",
    )
    token_label = fields.Char(
        string="Token label", tracking=True, help="The label of the token (card or HSM slot)."
    )
    token_key_label = fields.Char(
        string="Key label",
        tracking=True,
        help="The label of the signature key; its certificate has the same label or the key's "
        "identifier.",
    )
    token_required = fields.Boolean(
        string="Clé RGS** requise",
        default=False,
        tracking=True,
        help="When on, the manual actions (Lancer la vérification, status changes, mandating, "
        "configuration and connection test) refuse to start unless the key is plugged in and "
        "usable. The scheduled retrieval is never blocked: it records that the key was absent.",
    )
    token_pin_source = fields.Selection(
        [
            ("company", "Odoo configuration file (this company)"),
            ("server", "Odoo configuration file"),
            ("environment", "Environment variable"),
            ("none", "Not set"),
        ],
        string="PIN from",
        compute="_compute_token_pin_source",
        help="The PIN is never stored in the database: the server administrator sets "
        "chorus_pro_token_pin_<company id> or chorus_pro_token_pin in the Odoo configuration "
        "file, or the environment variable CHORUS_PRO_TOKEN_PIN.",
    )
    token_pin_blocked_at = fields.Datetime(
        string="PIN refused on",
        compute="_compute_token_pin_blocked_at",
        help="The key refused the current PIN on this date: it is not tried again until the "
        "PIN or the labels change.",
    )

    # ------------------------------------------------------------------ what the last check saw
    token_certificate_subject = fields.Char(string="Certificate holder", readonly=True, copy=False)
    token_certificate_issuer = fields.Char(string="Issued by", readonly=True, copy=False)
    token_certificate_serial = fields.Char(string="Serial number", readonly=True, copy=False)
    token_certificate_not_before = fields.Datetime(string="Valid from", readonly=True, copy=False)
    token_certificate_not_after = fields.Datetime(string="Valid until", readonly=True, copy=False)
    token_certificate_key_usage = fields.Char(string="Key usage", readonly=True, copy=False)
    token_certificate_fingerprint = fields.Char(
        string="SHA-256 fingerprint", readonly=True, copy=False
    )
    token_certificate_days_left = fields.Integer(
        string="Days left", compute="_compute_token_certificate_days_left"
    )
    token_last_check_date = fields.Datetime(string="Last key check", readonly=True, copy=False)
    token_last_check_ok = fields.Boolean(string="Key ready", readonly=True, copy=False)
    token_last_check_problem = fields.Char(string="Problem code", readonly=True, copy=False)
    token_last_check_message = fields.Text(string="Key check result", readonly=True, copy=False)
    token_absent_at_last_sync = fields.Boolean(
        string="Key absent at the last scheduled retrieval", readonly=True, copy=False
    )
    token_absent_sync_date = fields.Datetime(
        string="Scheduled retrieval without the key", readonly=True, copy=False
    )

    # ------------------------------------------------------------------ expiry reminder
    token_reminder_user_ids = fields.Many2many(
        "res.users",
        "chorus_pro_account_token_reminder_user_rel",
        "account_id",
        "user_id",
        string="Users to remind (certificate)",
        domain="[('share', '=', False), ('company_ids', 'in', [company_id])]",
        help="Receive an activity before the RGS** certificate expires.",
    )
    token_reminder_days = fields.Integer(string="Reminder (days before the certificate expires)",
                                         default=30)
    token_reminder_sent_for = fields.Datetime(
        string="Reminder sent for certificate expiry", readonly=True, copy=False
    )

    # ------------------------------------------------------------------ computes / constraints
    def _compute_token_pin_source(self):
        for account in self:
            account.token_pin_source = account._token_pin_and_source()[1]

    def _compute_token_pin_blocked_at(self):
        Block = self.env["chorus.pro.token.pin.block"].sudo()
        for account in self:
            config = account._token_config()
            blocked = False
            if config is not None and config.pin is not None and account._origin.id:
                fingerprint = account._token_pin_guard().fingerprint(config)
                blocked = Block.search(
                    [("account_id", "=", account._origin.id), ("fingerprint", "=", fingerprint)],
                    limit=1,
                ).blocked_at
            account.token_pin_blocked_at = blocked

    @api.depends("token_certificate_not_after")
    def _compute_token_certificate_days_left(self):
        now = fields.Datetime.now()
        for account in self:
            not_after = account.token_certificate_not_after
            account.token_certificate_days_left = (not_after - now).days if not_after else 0

    @api.constrains("token_required", *TOKEN_CONFIG_FIELDS)
    def _check_token_settings(self):
        for account in self:
            values = [account[name] for name in TOKEN_CONFIG_FIELDS]
            if (account.token_required or any(values)) and not all(values):
                raise ValidationError(
                    _(
                        "RGS** key: enter the PKCS#11 module path, the token label and the key "
                        "label (or none of them and leave \"Clé RGS** requise\" off)."
                    )
                )

    def _check_token_module_path(self, new_path):
        """The PKCS#11 module is a shared library the Odoo server loads: only a system
        administrator chooses it, and only among the paths the server allows when
        ``chorus_pro_token_modules`` (comma-separated) is set in the Odoo configuration file."""
        if not (self.env.su or self.env.user._is_system()):
            raise AccessError(
                _(
                    "Only a system administrator can choose the PKCS#11 module: it is software "
                    "the Odoo server loads."
                )
            )
        allowed = tools.config.get(SERVER_MODULES_KEY)
        if new_path and allowed:
            paths = [path.strip() for path in str(allowed).split(",") if path.strip()]
            if new_path.strip() not in paths:
                raise ValidationError(
                    _(
                        "This PKCS#11 module is not allowed by the Odoo server configuration "
                        "(%(key)s): %(paths)s.",
                        key=SERVER_MODULES_KEY,
                        paths=", ".join(paths),
                    )
                )

    def _token_settings_write(self, vals):
        """Called by the account's ``write``: the module path is checked when it changes, and
        what the last check saw is forgotten when the key's settings change (it describes
        another key now). Returns the values to write."""
        if "token_module_path" in vals and any(
            account.token_module_path != (vals["token_module_path"] or False) for account in self
        ):
            self._check_token_module_path(vals["token_module_path"])
        changed = [name for name in TOKEN_CONFIG_FIELDS if name in vals]
        if changed and any(account[name] != (vals[name] or False)
                           for account in self for name in changed):
            vals = dict(vals, **{name: False for name in CERTIFICATE_FIELDS + CHECK_FIELDS},
                        token_reminder_sent_for=False)
        return vals

    # ------------------------------------------------------------------ the token
    def _token_pin_and_source(self):
        """(PIN, source): per-company server option, server option, environment variable."""
        self.ensure_one()
        company_pin = tools.config.get(f"{SERVER_PIN_KEY}_{self.company_id.id}")
        if company_pin:
            return str(company_pin), "company"
        server_pin = tools.config.get(SERVER_PIN_KEY)
        if server_pin:
            return str(server_pin), "server"
        environment_pin = pin_from_environment(DEFAULT_PIN_ENV_VAR)
        if environment_pin:
            return environment_pin, "environment"
        return None, "none"

    def _token_config(self):
        """The :class:`chorus_pro.token.TokenConfig` of this account, or None if no key is set."""
        self.ensure_one()
        account = self.sudo()
        if not all(account[name] for name in TOKEN_CONFIG_FIELDS):
            return None
        return TokenConfig(
            module_path=account.token_module_path.strip(),
            token_label=account.token_label,
            key_label=account.token_key_label,
            pin=account._token_pin_and_source()[0],
        )

    def _token_pin_guard(self):
        self.ensure_one()
        pepper = tools.config.get(SERVER_PEPPER_KEY) or ""
        return PinGuard(DatabasePinGuardStore(self.sudo()), pepper=str(pepper).encode("utf-8"))

    def _token_library_loader(self):
        """PKCS#11 library loader given to :class:`chorus_pro.token.RgsToken` (None: default).
        A hook for tests that count how often the token is touched."""
        return None

    def _rgs_token(self, config=None):
        self.ensure_one()
        config = config or self._token_config()
        return RgsToken(
            config,
            pin_guard=self._token_pin_guard(),
            library_loader=self._token_library_loader(),
        )

    def _token_check(self):
        """Check the key now; returns a :class:`chorus_pro.token.TokenStatus` (never raises).

        A PIN the key refused before is not even presented: the key is not touched at all.
        """
        self.ensure_one()
        config = self._token_config()
        now = datetime.now(timezone.utc)
        if config is None:
            status = TokenStatus(module_path="", token_label="", key_label="", checked_at=now)
            status.problem = "not_configured"
            status.message = "No RGS** key is configured."
            return status
        token = self._rgs_token(config)
        if config.pin is not None:
            try:
                token.pin_guard.ensure_allowed(config)
            except TokenError as error:  # PinRetryBlocked, or the guard cannot be read
                status = TokenStatus(
                    module_path=config.module_path,
                    token_label=config.token_label,
                    key_label=config.key_label,
                    checked_at=now,
                )
                status.problem, status.message, status.error = error.code, error.message, error
                return status
        return token.check(at=now)

    def _token_store_status(self, status):
        """Remember what a check saw (certificate details kept when it could not be read)."""
        self.ensure_one()
        message = token_status_message(status, self)
        vals = {
            "token_last_check_date": _naive_utc(status.checked_at),
            "token_last_check_ok": status.ok,
            "token_last_check_problem": status.problem or False,
            "token_last_check_message": message,
        }
        info = status.certificate
        if info is not None:
            if _naive_utc(info.not_after) != self.sudo().token_certificate_not_after:
                vals["token_reminder_sent_for"] = False
            vals.update(
                token_certificate_subject=info.subject,
                token_certificate_issuer=info.issuer,
                token_certificate_serial=info.serial_hex,
                token_certificate_not_before=_naive_utc(info.not_before),
                token_certificate_not_after=_naive_utc(info.not_after),
                token_certificate_key_usage=", ".join(
                    info.key_usage + info.extended_key_usage
                ),
                token_certificate_fingerprint=info.sha256_fingerprint,
            )
        # Results, not settings: the key's settings are not in ``vals`` (nothing is reset).
        self.sudo().write(vals)
        return message

    def _token_check_and_store(self):
        """Check the key and store the result; returns ``(status, message)``."""
        status = self._token_check()
        return status, self._token_store_status(status)

    # ------------------------------------------------------------------ the guard
    def _token_guard(self, purpose, *, manual=True):
        """The guard's last step (``_chorus_guard``): "Clé RGS** requise" means a manual action
        needs the key; the scheduled retrieval never waits for it but records its absence (on
        the account and on the run)."""
        account = self.sudo()
        if manual:
            if account.token_required and purpose in TOKEN_PURPOSES:
                status, message = account._token_check_and_store()
                if not status.ok:
                    raise ChorusGuardError(
                        _(
                            "The RGS** key must be plugged in and usable for this action "
                            "(\"Clé RGS** requise\" is on); nothing was sent to Chorus Pro. "
                            "%(problem)s",
                            problem=message,
                        ),
                        code="token_missing",
                    )
        elif purpose == "sync":
            account._token_record_scheduled_check()

    def _token_record_scheduled_check(self):
        """Scheduled retrieval: check the key (when required) and record whether it was there."""
        self.ensure_one()
        if not self.token_required:
            if self.token_absent_at_last_sync:
                self.token_absent_at_last_sync = False
            return
        status, message = self._token_check_and_store()
        absent = not status.ok
        vals = {"token_absent_at_last_sync": absent}
        if absent:
            vals["token_absent_sync_date"] = fields.Datetime.now()
        self.write(vals)
        run = self._token_current_run()
        if run and absent:
            run.write({"key_absent": True})
            run._log(
                _(
                    "The RGS** key was not usable during this scheduled retrieval; the "
                    "retrieval went on without it. %(problem)s",
                    problem=message,
                ),
                level="warning",
            )
            run._commit()

    def _token_current_run(self):
        """The retrieval run calling the guard: set in the context by the run (see
        ``chorus.pro.run._execute_locked``), else the account's running scheduled one."""
        Run = self.env["chorus.pro.run"].sudo()
        run_id = self.env.context.get(CONTEXT_RUN_KEY)
        if run_id:
            return Run.browse(run_id).exists()
        return Run.search(
            [("account_id", "=", self.id), ("run_type", "=", "sync"),
             ("trigger", "=", "cron"), ("state", "=", "running")],
            limit=1,
        )

    # ------------------------------------------------------------------ evidence
    def _token_sign_evidence(self, request_body, response_body, at, extra=None):
        """``(signed evidence, None)`` when a key is configured and signs; ``(None, reason)``
        when it is configured but cannot sign (the call already reached Chorus Pro, so a key
        problem never loses its evidence: it is kept unsigned and says why); ``(None, None)``
        without a key."""
        self.ensure_one()
        config = self._token_config()
        if config is None:
            return None, None
        try:
            return sign_evidence(self._rgs_token(config), request_body, response_body, at,
                                 extra), None
        except TokenError as error:
            _logger.warning(
                "Chorus Pro evidence of company %s left unsigned: RGS** key problem %s",
                self.company_id.id,
                error.code,
            )
            return None, error.code

    # ------------------------------------------------------------------ actions
    def _check_token_user(self):
        if not (self.env.su or self.env.user.has_group(PROCESSOR_GROUP)):
            raise AccessError(_("Only Chorus Pro processors and managers can check the RGS** key."))

    def action_token_check(self):
        """"Vérifier la clé": the certificate details, or exactly what is wrong."""
        check_action_access(self, "read")
        self.ensure_one()
        self._check_token_user()
        if self._token_config() is None:
            raise UserError(token_problem_message("not_configured", self.env))
        status, message = self._token_check_and_store()
        lines = [message]
        if status.certificate is not None:
            info = status.certificate
            lines += [
                _("Holder: %(subject)s", subject=info.subject),
                _("Issued by: %(issuer)s", issuer=info.issuer),
                _("Serial number: %(serial)s", serial=info.serial_hex),
                _(
                    "Valid from %(start)s to %(end)s",
                    start=info.not_before.strftime("%d/%m/%Y"),
                    end=info.not_after.strftime("%d/%m/%Y"),
                ),
                _("Key usage: %(usage)s",
                  usage=", ".join(info.key_usage + info.extended_key_usage) or "-"),
                _("SHA-256 fingerprint: %(fingerprint)s", fingerprint=info.sha256_fingerprint),
            ]
        # Processors may check the key; the account's chatter is written as them, with sudo.
        self.sudo().message_post(body=_("RGS** key check: %(result)s", result=message))
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("RGS** key"),
                "message": "\n".join(lines),
                "type": "success" if status.ok else "danger",
                "sticky": not status.ok,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def action_token_forget_refused_pin(self):
        """Allow the current PIN to be tried once more (managers; when it is known to be right)."""
        check_action_access(self, "write")
        self.ensure_one()
        if not (self.env.su or self.env.user.has_group(MANAGER_GROUP)):
            raise AccessError(_("Only Chorus Pro managers can do this."))
        config = self._token_config()
        if config is not None:
            self._token_pin_guard().reset(config)
            self.message_post(
                body=_("The refused PIN of the RGS** key was forgotten: it will be tried again.")
            )
        return True

    # ------------------------------------------------------------------ reminder
    @api.model
    def _cron_token_certificate_reminder(self):
        """Daily: an activity for the chosen users N days before the RGS** certificate expires."""
        now = fields.Datetime.now()
        accounts = self.sudo().search([("token_certificate_not_after", "!=", False)])
        for account in accounts:
            not_after = account.token_certificate_not_after
            days_left = (not_after - now).days
            if days_left > account.token_reminder_days:
                continue
            if account.token_reminder_sent_for == not_after:
                continue
            account._send_token_certificate_reminder(days_left)
        return True

    def _send_token_certificate_reminder(self, days_left):
        self.ensure_one()
        users = self.token_reminder_user_ids.filtered("active")
        if not users:
            _logger.warning(
                "RGS** certificate of company %s expires in %s days and nobody is set to be "
                "reminded.",
                self.company_id.id,
                days_left,
            )
        expiry = fields.Datetime.context_timestamp(self, self.token_certificate_not_after)
        summary = _("Renew the RGS** certificate of the Chorus Pro key")
        note = _(
            "The RGS** certificate of %(holder)s (key \"%(label)s\" of %(company)s) expires on "
            "%(date)s (%(days)s day(s) left). Order its renewal from the certification "
            "authority; once the new key is installed, check it in Accounting > Chorus Pro > "
            "Configuration (\"Vérifier la clé\").",
            holder=self.token_certificate_subject or "?",
            label=self.token_label or "",
            company=self.company_id.name,
            date=expiry.strftime("%d/%m/%Y"),
            days=max(days_left, 0),
        )
        for user in users:
            self.activity_schedule(
                "mail.mail_activity_data_todo",
                date_deadline=max(self.token_certificate_not_after.date(), paris_today()),
                summary=summary,
                note=note,
                user_id=user.id,
            )
        self.token_reminder_sent_for = self.token_certificate_not_after
