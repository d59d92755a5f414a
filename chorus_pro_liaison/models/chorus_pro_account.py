# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The Chorus Pro account of a company, and the one guard every Chorus call goes through."""

import logging
from contextlib import contextmanager
from datetime import date

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError

from odoo.addons.chorus_pro_liaison.services.access import check_action_access
from odoo.addons.chorus_pro_liaison.services.errors import (
    ChorusGuardError,
    chorus_error_message,
)

from chorus_pro import dgp
from chorus_pro import errors as chorus_errors
from chorus_pro.account import password_expiry
from chorus_pro.client import ChorusProClient
from chorus_pro.evidence import unsigned_evidence
from chorus_pro.timeutil import from_utc_naive, paris_today

_logger = logging.getLogger(__name__)

# Columns holding secrets: written and read with SQL only, never through an ORM field, so that
# no read(), export, search or web client request can ever return them.
SECRET_COLUMNS = ("technical_password_secret", "piste_client_secret_secret")
# Guard purposes. Manual actions may require the RGS** key; scheduled ones never do.
MANAGER_GROUP = "chorus_pro_liaison.group_chorus_pro_manager"
WRITE_ONLY_FIELDS = ["technical_password", "piste_client_secret"]
PURPOSES = ("connection_test", "configuration", "sync", "status", "mandate")


def first_day_of_month(day):
    return date(day.year, day.month, 1)


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
    _name = "chorus.pro.account"
    _description = "Chorus Pro account"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _rec_name = "name"
    _order = "company_id"

    name = fields.Char(compute="_compute_name", store=True)
    company_id = fields.Many2one(
        "res.company",
        required=True,
        default=lambda self: self.env.company,
        ondelete="cascade",
        index=True,
    )
    enabled = fields.Boolean(
        string="Automatic Chorus Pro link",
        help="Liaison automatique Chorus Portail Pro: when off, nothing is sent to or read from "
        "Chorus Pro for this company (the scheduled retrieval skips it).",
        tracking=True,
    )
    environment = fields.Selection(
        [
            ("production", "Production"),
            ("qualification", "Qualification (PISTE sandbox)"),
            ("custom", "Custom URLs (local simulator)"),
        ],
        default="qualification",
        required=True,
        tracking=True,
    )
    custom_api_url = fields.Char(
        string="API base URL",
        help="Base of the Chorus Pro API, e.g. http://127.0.0.1:8123 for the local simulator; "
        "paths /cpro/... are appended.",
    )
    custom_token_url = fields.Char(string="OAuth token URL")

    # Technical account (compte technique): what the cpro-account header carries.
    technical_login = fields.Char(
        string="Technical account login", tracking=True, groups=MANAGER_GROUP
    )
    technical_password = fields.Char(
        string="Technical account password",
        compute="_compute_secret_inputs",
        inverse="_inverse_technical_password",
        groups=MANAGER_GROUP,
        help="Write-only: type a new password to set or replace it; it is never shown again.",
    )
    technical_password_set = fields.Boolean(
        string="Password set", compute="_compute_secret_flags"
    )
    password_expiry_date = fields.Date(
        string="Password expiry date",
        tracking=True,
        help="Chorus Pro technical passwords expire every 424 days. Set automatically to "
        "today + 424 days when the password is replaced, and read from Chorus Pro when it "
        "reports it (connection test).",
    )
    password_expiry_source = fields.Selection(
        [("manual", "Entered"), ("computed", "Computed (424 days)"), ("chorus", "Chorus Pro")],
        string="Expiry date source",
        readonly=True,
    )
    password_days_left = fields.Integer(compute="_compute_password_days_left")

    # PISTE application (OAuth2 client credentials).
    piste_client_id = fields.Char(string="PISTE client ID", tracking=True, groups=MANAGER_GROUP)
    piste_client_secret = fields.Char(
        string="PISTE client secret",
        compute="_compute_secret_inputs",
        inverse="_inverse_piste_client_secret",
        groups=MANAGER_GROUP,
        help="Write-only. When empty, the Odoo server configuration key "
        "chorus_pro_piste_client_secret is used (hosted setups).",
    )
    piste_client_secret_set = fields.Boolean(
        string="Secret set", compute="_compute_secret_flags"
    )

    # Recipient structure (our entity in Chorus Pro) and its services.
    structure_chorus_id = fields.Integer(
        string="Structure ID (idStructureCPP)", tracking=True
    )
    structure_identifier = fields.Char(string="Structure SIRET")
    structure_name = fields.Char(string="Structure name")
    service_ids = fields.One2many("chorus.pro.service", "account_id", string="Services")

    # Password expiry reminder.
    reminder_user_ids = fields.Many2many(
        "res.users",
        "chorus_pro_account_reminder_user_rel",
        "account_id",
        "user_id",
        string="Users to remind",
        domain="[('share', '=', False), ('company_ids', 'in', [company_id])]",
        help="Reminded (activity and e-mail) before the technical password expires.",
    )
    reminder_days = fields.Integer(string="Reminder (days before expiry)", default=15)
    reminder_sent_for = fields.Date(
        string="Reminder sent for expiry", readonly=True, copy=False
    )

    # ------------------------------------------------------------------ step 1: retrieval
    sync_cutoff_date = fields.Date(
        string="Cutoff date",
        default=lambda self: first_day_of_month(paris_today()),
        help="The first retrieval treats closed invoices whose last status change is older than "
        "this date as described in Older invoices; invoices still waiting for a decision always "
        "come in, whatever their date.",
    )
    sync_cutoff_mode = fields.Selection(
        [
            ("skip", "Leave older closed invoices out"),
            ("history", "Import them, marked as already processed"),
        ],
        string="Older invoices",
        default="skip",
        required=True,
        help="What the first retrieval does with closed invoices older than the cutoff date: "
        "leave them out of Odoo, or import them marked as already processed, with nothing left "
        "to do on them.",
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

    # ------------------------------------------------------------------ step 2: processing
    require_service_fait_motif = fields.Boolean(
        string="Motif required for Service fait",
        default=True,
        tracking=True,
        help="Chorus Pro requires a motif only for Rejetée and Suspendue; many bodies' "
        "procedures also ask for one when certifying the service. Untick to make it optional.",
    )
    require_internal_validation = fields.Boolean(
        string="Internal validation required before mandating",
        default=False,
        tracking=True,
        help="An internal validator must tick \"Validation interne\" on an invoice before it "
        "can be mandated.",
    )
    four_eyes = fields.Boolean(
        string="Four-eyes rule",
        default=False,
        tracking=True,
        help="The person who gave the internal validation of an invoice cannot also mandate it.",
    )

    # ------------------------------------------------------------------ step 4: payment delay, mandates
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

    # Last connection test.
    last_test_date = fields.Datetime(readonly=True, copy=False)
    last_test_ok = fields.Boolean(string="Last test OK", readonly=True, copy=False)
    last_test_report = fields.Text(readonly=True, copy=False)

    _sql_constraints = [
        (
            "company_unique",
            "unique(company_id)",
            "A company has only one Chorus Pro account.",
        ),
    ]

    def init(self):
        for column in SECRET_COLUMNS:
            self.env.cr.execute(
                f"ALTER TABLE {self._table} ADD COLUMN IF NOT EXISTS {column} varchar"
            )

    @api.depends("company_id.name")
    def _compute_name(self):
        for account in self:
            account.name = _("Chorus Pro – %(company)s", company=account.company_id.name)

    def _compute_secret_inputs(self):
        # Write-only fields: reading them always gives an empty value.
        for account in self:
            account.technical_password = False
            account.piste_client_secret = False

    def _compute_secret_flags(self):
        values = self._read_secret_flags()
        for account in self:
            flags = values.get(account.id, {})
            account.technical_password_set = flags.get("technical_password_secret", False)
            account.piste_client_secret_set = flags.get("piste_client_secret_secret", False)

    @api.depends("password_expiry_date")
    def _compute_password_days_left(self):
        today = paris_today()
        for account in self:
            account.password_days_left = (
                (account.password_expiry_date - today).days
                if account.password_expiry_date
                else 0
            )

    def _inverse_technical_password(self):
        for account in self:
            if account.technical_password:
                account._write_secret("technical_password_secret", account.technical_password)
                # A new password is valid 424 days, unless an expiry date is entered with it.
                if not self.env.context.get("chorus_pro_expiry_in_write"):
                    account.sudo().write(
                        {
                            "password_expiry_date": password_expiry(paris_today()),
                            "password_expiry_source": "computed",
                        }
                    )
                account.message_post(body=_("The technical account password was replaced."))

    def _inverse_piste_client_secret(self):
        for account in self:
            if account.piste_client_secret:
                account._write_secret("piste_client_secret_secret", account.piste_client_secret)
                account.message_post(body=_("The PISTE client secret was replaced."))

    # ------------------------------------------------------------------ secrets
    def _check_manager_access(self):
        if not (
            self.env.su or self.env.user.has_group(MANAGER_GROUP)
        ):
            raise AccessError(
                _("Only Chorus Pro managers can change the Chorus Pro credentials.")
            )

    def _write_secret(self, column, value):
        assert column in SECRET_COLUMNS
        self._check_manager_access()
        self.check_access("write")
        self.env.cr.execute(
            f"UPDATE {self._table} SET {column} = %s WHERE id = %s",
            (value or None, self.id),
        )

    def _read_secret_flags(self):
        if not self.ids:
            return {}
        self.env.cr.execute(
            f"""SELECT id, technical_password_secret IS NOT NULL,
                       piste_client_secret_secret IS NOT NULL
                  FROM {self._table} WHERE id IN %s""",
            (tuple(self.ids),),
        )
        return {
            row[0]: {"technical_password_secret": row[1], "piste_client_secret_secret": row[2]}
            for row in self.env.cr.fetchall()
        }

    def _read_secret(self, column):
        """Internal use only (building the client); never returned to a caller outside Python."""
        assert column in SECRET_COLUMNS
        self.ensure_one()
        self.env.cr.execute(f"SELECT {column} FROM {self._table} WHERE id = %s", (self.id,))
        row = self.env.cr.fetchone()
        return row[0] if row else None

    def _get_piste_credentials(self):
        """PISTE client id and secret: per account, else from the server configuration file."""
        self.ensure_one()
        client_id = self.piste_client_id or tools.config.get("chorus_pro_piste_client_id")
        secret = self._read_secret("piste_client_secret_secret")
        if self.environment == "custom":
            # The server-wide PISTE client (hosted setups) only ever goes to PISTE's own hosts.
            return self.piste_client_id, secret
        secret = secret or tools.config.get("chorus_pro_piste_client_secret")
        return client_id, secret

    # ------------------------------------------------------------------ ORM
    def _check_custom_urls_rights(self, vals):
        """Custom URLs make the Odoo server send the Chorus credentials wherever they point:
        only a system administrator sets them (for the local simulator)."""
        if self.env.su or self.env.user._is_system():
            return
        accounts = self or [self]  # at create: compared with nothing set
        wants_custom = (
            vals.get("environment") == "custom"
            and any(account.environment != "custom" for account in accounts)
        ) or any(
            vals.get(name) and any(account[name] != vals[name] for account in accounts)
            for name in ("custom_api_url", "custom_token_url")
        )
        if wants_custom:
            raise AccessError(_(
                "Only a system administrator can send Chorus Pro's traffic to custom URLs (the "
                "local simulator); choose Production or Qualification."
            ))

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_custom_urls_rights(vals)
            if vals.get("token_module_path"):
                self._check_token_module_path(vals["token_module_path"])
            if vals.get("password_expiry_date"):
                vals.setdefault("password_expiry_source", "manual")
        # An expiry date entered with the password wins over the computed 424 days.
        keep_expiry = any(vals.get("password_expiry_date") for vals in vals_list)
        records = super(
            ChorusProAccount, self.with_context(chorus_pro_expiry_in_write=keep_expiry)
        ).create(vals_list)
        records.invalidate_recordset(WRITE_ONLY_FIELDS)
        return records.with_env(self.env)

    def write(self, vals):
        self._check_custom_urls_rights(vals)
        vals = self._token_settings_write(vals)
        if "password_expiry_date" in vals and "password_expiry_source" not in vals:
            vals = dict(vals, password_expiry_source="manual", reminder_sent_for=False)
        records = self
        if "password_expiry_date" in vals and "technical_password" in vals:
            records = self.with_context(chorus_pro_expiry_in_write=True)
        result = super(ChorusProAccount, records).write(vals)
        # Write-only fields: what was typed must not linger in the cache and be read back.
        self.invalidate_recordset(WRITE_ONLY_FIELDS)
        return result

    @api.constrains("contract_delay_days", "dgp_reminder_days", "mandate_background_threshold")
    def _check_mandate_numbers(self):
        for account in self:
            if account.contract_delay_days < 0 or account.dgp_reminder_days < 0:
                raise ValidationError(self.env._("Delays cannot be negative."))
            if account.mandate_background_threshold < 0:
                raise ValidationError(self.env._("The background threshold cannot be negative."))

    def _same_structure_domain(self):
        self.ensure_one()
        domain = [("id", "!=", self.id), ("structure_chorus_id", "=", self.structure_chorus_id),
                  ("environment", "=", self.environment)]
        if self.environment == "custom":
            domain.append(("custom_api_url", "=", self.custom_api_url or False))
        return domain

    @api.constrains("structure_chorus_id", "environment", "custom_api_url")
    def _check_structure_unique(self):
        """A recipient structure belongs to one account: each Chorus invoice is then imported
        by one company only."""
        for account in self.filtered("structure_chorus_id"):
            other = self.sudo().with_context(active_test=False).search(
                account._same_structure_domain(), limit=1)
            if other:
                raise ValidationError(_(
                    "The recipient structure %(structure)s is already the one of %(company)s: "
                    "a structure belongs to one company only, otherwise its invoices would be "
                    "retrieved twice. Choose another structure.",
                    structure=account.structure_name or account.structure_chorus_id,
                    company=other.company_id.name,
                ))

    @api.constrains("environment", "custom_api_url", "custom_token_url")
    def _check_custom_urls(self):
        for account in self:
            if account.environment == "custom" and account.enabled and not (
                account.custom_api_url and account.custom_token_url
            ):
                raise ValidationError(
                    _("Custom environment: enter the API base URL and the OAuth token URL.")
                )

    @api.model
    def _simulator_values(self, info):
        """Values that point an account at the local Chorus Pro simulator (``make demo``, the
        tests, the benchmarks), from the JSON line the simulator prints when it starts."""
        return {
            "enabled": True,
            "environment": "custom",
            "custom_api_url": info["base_url"],
            "custom_token_url": info["token_url"],
            "technical_login": info["login"],
            "technical_password": info["password"],
            "piste_client_id": info["client_id"],
            "piste_client_secret": info["client_secret"],
            "structure_chorus_id": info["structure_id"],
            "structure_identifier": info.get("structure_siret") or False,
        }

    @api.model
    def _for_company(self, company=None, create=False):
        company = company or self.env.company
        account = self.search([("company_id", "=", company.id)], limit=1)
        if not account and create:
            account = self.create({"company_id": company.id})
        return account

    # ------------------------------------------------------------------ the guard
    def _chorus_guard(self, purpose, *, manual=True):
        """The one place that decides whether a Chorus Pro call may happen.

        Every action that talks to Chorus (connection test, configuration loading, sync, status
        changes, mandating) calls this first, through :meth:`_chorus_client`. It checks the
        switch, the credentials and the technical password's expiry, then the RGS** key
        (:meth:`_token_guard`, ``chorus_pro_account_token.py``). It raises :class:`ChorusGuardError`
        (a ``UserError``) with a message an accountant understands; nothing is sent then.
        """
        self.ensure_one()
        assert purpose in PURPOSES, purpose
        account = self.sudo()
        company = account.company_id.name
        if purpose not in ("connection_test", "configuration") and not account.enabled:
            raise ChorusGuardError(
                _(
                    "The automatic Chorus Pro link is switched off for %(company)s: nothing "
                    "is sent to Chorus Pro. A Chorus Pro manager can switch it on in "
                    "Accounting > Chorus Pro > Configuration.",
                    company=company,
                ),
                code="disabled",
            )
        missing = []
        if not account.technical_login:
            missing.append(_("technical account login"))
        if not account._read_secret("technical_password_secret"):
            missing.append(_("technical account password"))
        client_id, client_secret = account._get_piste_credentials()
        if not client_id:
            missing.append(_("PISTE client ID"))
        if not client_secret:
            missing.append(_("PISTE client secret"))
        if account.environment == "custom" and not (
            account.custom_api_url and account.custom_token_url
        ):
            missing.append(_("API and token URLs"))
        if missing:
            raise ChorusGuardError(
                _(
                    "The Chorus Pro account of %(company)s is incomplete (%(missing)s). "
                    "A Chorus Pro manager must complete it in Accounting > Chorus Pro > "
                    "Configuration.",
                    company=company,
                    missing=", ".join(missing),
                ),
                code="incomplete",
            )
        if account.password_expiry_date and account.password_expiry_date < paris_today():
            raise ChorusGuardError(
                _(
                    "The Chorus Pro technical account password expired on %(date)s: nothing "
                    "was sent to Chorus Pro. The main manager of the structure (gestionnaire "
                    "principal) must renew it in Chorus Pro (Raccordements > Compte technique), "
                    "then a Chorus Pro manager enters the new password here.",
                    date=account.password_expiry_date.strftime("%d/%m/%Y"),
                ),
                code="password_expired",
            )
        self._token_guard(purpose, manual=manual)
        return True

    def _chorus_evidence(self, request_body, response_body, at, extra=None):
        """Evidence of a call that changed something in Chorus Pro (status push, MANDATEE): the
        exact request body, Chorus's answer and the time, signed with the RGS** key when one is
        configured and usable (:meth:`_token_sign_evidence`), unsigned otherwise. Returns a
        :class:`chorus_pro.evidence.Evidence`."""
        self.ensure_one()
        # Odoo's datetimes are naive UTC; the library reads naive values as Paris time.
        at = from_utc_naive(at)
        signed, unsigned_reason = self._token_sign_evidence(request_body, response_body, at, extra)
        if signed is not None:
            return signed
        if unsigned_reason:
            extra = dict(extra or {}, unsigned_reason=unsigned_reason)
        return unsigned_evidence(request_body, response_body, at, extra)

    def _chorus_client_kwargs(self):
        self.ensure_one()
        account = self.sudo()
        client_id, client_secret = account._get_piste_credentials()
        kwargs = {
            "client_id": client_id,
            "client_secret": client_secret,
            "login": account.technical_login,
            "password": account._read_secret("technical_password_secret"),
        }
        if account.environment == "custom":
            kwargs.update(api_url=account.custom_api_url, token_url=account.custom_token_url)
        return kwargs

    @contextmanager
    def _chorus_client(self, purpose, *, manual=True, **client_options):
        """Guarded Chorus Pro client: ``with account._chorus_client("sync") as client: ...``."""
        self._chorus_guard(purpose, manual=manual)
        client = ChorusProClient.for_environment(
            self.sudo().environment, **self._chorus_client_kwargs(), **client_options
        )
        try:
            yield client
        finally:
            client.close()

    # ------------------------------------------------------------------ actions
    def action_update(self):
        """"Mettre à jour": the form saves the account (as before any button), then the
        connection is tested with what was just saved."""
        check_action_access(self, "write")
        return self.action_test_connection()

    def action_test_connection(self):
        """"Tester la connexion": token, technical account, structure access, in plain words."""
        check_action_access(self, "write")
        self.ensure_one()
        self._check_manager_access()
        lines = []
        ok = True
        typed_expiry = (self.password_expiry_date
                        if self.password_expiry_source == "manual" else False)
        try:
            with self._chorus_client("connection_test") as client:
                ok = self._run_connection_checks(client, lines)
        except ChorusGuardError as error:
            ok = False
            lines.append("✗ " + error.args[0])
        if (typed_expiry and self.password_expiry_source == "chorus"
                and self.password_expiry_date != typed_expiry):
            # Say it: the date the manager typed is not silently overwritten.
            lines.append("ℹ " + _(
                "The password expiry date you typed (%(typed)s) was replaced by the one Chorus "
                "Pro gives (%(chorus)s).",
                typed=typed_expiry.strftime("%d/%m/%Y"),
                chorus=self.password_expiry_date.strftime("%d/%m/%Y"),
            ))
        self.sudo().write(
            {
                "last_test_date": fields.Datetime.now(),
                "last_test_ok": ok,
                "last_test_report": "\n".join(lines),
            }
        )
        result = _("success") if ok else _("failure")
        self.message_post(body=_("Connection test: %(result)s", result=result))
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Chorus Pro connection test"),
                "message": "\n".join(lines),
                "type": "success" if ok else "danger",
                "sticky": not ok,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def _run_connection_checks(self, client, lines):
        """Run each check in turn and describe it; stops at the first blocking failure."""

        def ask(label, call):
            """``call()``, or None with the failure described under ``label``."""
            try:
                return call()
            except chorus_errors.ChorusProError as error:
                lines.append("✗ " + label % {"reason": chorus_error_message(error, self.env)})
                return None

        if ask(_("PISTE application: %(reason)s"), client.get_token) is None:
            return False
        lines.append("✓ " + _("PISTE application: access token obtained."))
        if ask(_("Technical account: %(reason)s"), client.get_vat_rates) is None:
            return False
        lines.append("✓ " + _("Technical account: accepted by Chorus Pro."))
        if not self.structure_chorus_id:
            lines.append(
                "✗ "
                + _(
                    "Recipient structure: none chosen yet. Use \"Load my structures\" or "
                    "\"Find by SIRET\"."
                )
            )
            return False
        structures = ask(_("Recipient structure: %(reason)s"), client.get_active_structures)
        if structures is None:
            return False
        if self.structure_chorus_id not in [s.chorus_id for s in structures]:
            lines.append(
                "✗ "
                + _(
                    "Recipient structure: the technical account is not attached to structure "
                    "%(id)s (%(name)s). The main manager must attach it in Chorus Pro, or "
                    "choose another structure.",
                    id=self.structure_chorus_id,
                    name=self.structure_name or "?",
                )
            )
            return False
        found = ask(_("Recipient structure: %(reason)s"), lambda: (
            client.get_structure(self.structure_chorus_id),
            client.get_services(self.structure_chorus_id),
        ))
        if found is None:
            return False
        detail, services = found
        self._store_structure(detail, services)
        lines.append(
            "✓ "
            + _(
                "Recipient structure: %(name)s (SIRET %(siret)s), %(count)s active service(s).",
                name=detail.name or self.structure_name,
                siret=detail.identifier or self.structure_identifier or "?",
                count=len([s for s in services if s.active]),
            )
        )
        if detail.password_expiry_date:
            lines.append(
                "✓ "
                + _(
                    "Chorus Pro reports that the technical password expires on %(date)s.",
                    date=detail.password_expiry_date.strftime("%d/%m/%Y"),
                )
            )
        return True

    def _store_structure(self, detail, services=None):
        """Remember the structure's identity, Chorus's password expiry date and its services."""
        self.ensure_one()
        vals = {
            "structure_chorus_id": detail.chorus_id,
            "structure_identifier": detail.identifier or self.structure_identifier,
            "structure_name": detail.name or detail.label or self.structure_name,
        }
        if detail.password_expiry_date and detail.password_expiry_date != self.password_expiry_date:
            vals.update(
                password_expiry_date=detail.password_expiry_date,
                password_expiry_source="chorus",
                reminder_sent_for=False,
            )
        self.sudo().write(vals)
        if services is not None:
            self.env["chorus.pro.service"].sudo()._sync_from_chorus(self, services)

    def action_load_structures(self):
        """Load the structures the technical account can receive for, to pick one."""
        check_action_access(self, "write")
        self.ensure_one()
        self._check_manager_access()
        try:
            with self._chorus_client("configuration") as client:
                structures = client.get_active_structures()
        except chorus_errors.ChorusProError as error:
            raise UserError(chorus_error_message(error, self.env)) from error
        return self.env["chorus.pro.structure.choice"]._open_for(self, structures)

    def action_find_structure_by_siret(self):
        """Find the structure of the company's SIRET."""
        check_action_access(self, "write")
        self.ensure_one()
        self._check_manager_access()
        siret = (self.company_id.siret or "").replace(" ", "")
        if not siret:
            raise UserError(
                _("Enter the SIRET of %(company)s first (company settings).",
                  company=self.company_id.name)
            )
        try:
            with self._chorus_client("configuration") as client:
                structures = client.search_structures(siret)
        except chorus_errors.ChorusProError as error:
            raise UserError(chorus_error_message(error, self.env)) from error
        if not structures:
            raise UserError(
                _("Chorus Pro knows no structure with SIRET %(siret)s.", siret=siret)
            )
        return self.env["chorus.pro.structure.choice"]._open_for(self, structures)

    def action_load_services(self):
        check_action_access(self, "write")
        self.ensure_one()
        self._check_manager_access()
        if not self.structure_chorus_id:
            raise UserError(_("Choose the recipient structure first."))
        try:
            with self._chorus_client("configuration") as client:
                detail = client.get_structure(self.structure_chorus_id)
                services = client.get_services(self.structure_chorus_id)
        except chorus_errors.ChorusProError as error:
            raise UserError(chorus_error_message(error, self.env)) from error
        self._store_structure(detail, services)
        return True

    # ------------------------------------------------------------------ retrieval
    def _compute_next_sync_at(self):
        cron = self.env.ref("chorus_pro_liaison.ir_cron_chorus_pro_sync", raise_if_not_found=False)
        nextcall = cron.sudo().nextcall if cron and cron.sudo().active else False
        for account in self:
            account.next_sync_at = nextcall if account.enabled else False

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
        check_action_access(self, "read")
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
        run._trigger_jobs()
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
        """Hourly (editable): one retrieval per company whose link is on, executed here (the
        run is never committed as queued: the job cron does not pick it too).

        Never raises: Chorus being down or expired credentials are recorded on the run (Odoo
        deactivates a cron that keeps failing). Companies switched off are skipped.
        """
        accounts = self.sudo().search([("enabled", "=", True)])
        for index, account in enumerate(accounts):
            if not account._running_sync():
                run = self.env["chorus.pro.run"].sudo().create({
                    "company_id": account.company_id.id,
                    "account_id": account.id,
                    "run_type": "sync",
                    "trigger": "cron",
                    "user_id": False,
                })
                run.with_company(account.company_id)._execute()
            self.env["ir.cron"]._notify_progress(done=index + 1,
                                                 remaining=len(accounts) - index - 1)
        return True

    # ------------------------------------------------------------------ reminders
    @api.model
    def _cron_password_expiry_reminder(self):
        """Daily: remind the chosen users N days before the technical password expires."""
        today = paris_today()
        accounts = self.sudo().search([("password_expiry_date", "!=", False)])
        for account in accounts:
            days_left = (account.password_expiry_date - today).days
            if days_left > account.reminder_days:
                continue
            if account.reminder_sent_for == account.password_expiry_date:
                continue
            account._send_password_expiry_reminder(days_left)

    def _send_password_expiry_reminder(self, days_left):
        self.ensure_one()
        users = self.reminder_user_ids.filtered("active")
        if not users:
            _logger.warning(
                "Chorus Pro password of company %s expires in %s days and nobody is set to be "
                "reminded.",
                self.company_id.id,
                days_left,
            )
        summary = _("Renew the Chorus Pro technical password")
        note = _(
            "The Chorus Pro technical account password of %(company)s expires on %(date)s "
            "(%(days)s day(s) left). The main manager of the structure must renew it in "
            "Chorus Pro (Raccordements > Compte technique); then enter the new password in "
            "Accounting > Chorus Pro > Configuration.",
            company=self.company_id.name,
            date=self.password_expiry_date.strftime("%d/%m/%Y"),
            days=days_left,
        )
        for user in users:
            self.activity_schedule(
                "mail.mail_activity_data_todo",
                date_deadline=self.password_expiry_date,
                summary=summary,
                note=note,
                user_id=user.id,
            )
        template = self.env.ref(
            "chorus_pro_liaison.mail_template_password_expiry", raise_if_not_found=False
        )
        if template and users:
            template.with_context(days_left=days_left).send_mail(
                self.id,
                email_values={"recipient_ids": [(6, 0, users.partner_id.ids)]},
            )
        self.reminder_sent_for = self.password_expiry_date

    def _action_open_form(self):
        self.ensure_one()
        return self._get_records_action(name=_("Chorus Pro account"))
