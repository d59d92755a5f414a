# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Every public button of the addon, pressed by people who may not: a user of another company
(with every Chorus Pro right there) and a read-only user of the company. The buttons are found
by introspection (every ``action_*`` / ``button_*`` method the addon defines or overrides, on
its own models and on Odoo's models it extends: mandates, partners, settings, PES...), called
the way an RPC client calls them, and nothing may change: no row of the database written or
added (new screens of the caller's own aside), no call to Chorus Pro.

A new button without a sample record here makes the test fail: add one."""

import base64
import inspect
import re

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .two_companies_common import TwoCompaniesCase

ADDON_MODULE = "odoo.addons.chorus_pro_liaison."
BUTTON = re.compile(r"^(action|button)_")
# Tables compared besides the addon's models: what a button could write on the way.
EXTRA_MODELS = ("account.move", "account.move.line", "res.partner", "res.partner.bank",
                "ir.attachment", "mail.message", "mail.tracking.value", "mail.activity",
                "ir.cron.trigger", "res.company")


def addon_buttons(env):
    """``{model name: sorted button names}`` for every model whose class (or a class it
    inherits) comes from the addon, with the buttons those classes define."""
    found = {}
    for name in env.registry:
        model = env[name]
        if model._abstract:
            continue
        buttons = set()
        for cls in type(model).__mro__:
            if not (cls.__module__ or "").startswith(ADDON_MODULE):
                continue
            buttons.update(attr for attr, value in vars(cls).items()
                           if BUTTON.match(attr) and callable(value))
        if buttons:
            found[name] = sorted(buttons)
    return found


@tagged("post_install", "-at_install", "chorus_pro")
class TestEveryButton(TwoCompaniesCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ccas_all_rights = cls.ccas_manager  # every Chorus Pro group, in the CCAS only

    # ------------------------------------------------------------------ samples
    def commune_samples(self):
        """One record of the commune per model with buttons (screens opened by the commune's
        own users), after the real steps: decisions, matching, a mandate on a bordereau."""
        env = self.env
        invoice = self.ready_invoices(1)
        self.mandate(invoice)
        awaiting = self.commune_awaiting_invoice()
        move = invoice.mandate_move_id
        bordereau = move.chorus_pro_bordereau_id

        partner = env["res.partner"].create({
            "name": "Fournisseur de la commune", "is_company": True,
            "company_id": self.commune.id,
        })
        match = env["chorus.pro.supplier.match"].with_user(self.processor).browse(
            awaiting.with_user(self.processor).action_open_supplier_match()["res_id"])
        self.pending_decision(awaiting, self.processor)
        if not match.line_ids:
            match.sudo().write({"line_ids": [(0, 0, {"partner_id": partner.id, "sequence": 1})]})
        wizard = self.open_screen(invoice)
        choice = env["chorus.pro.structure.choice"].create({
            "account_id": self.account.id,
            "line_ids": [(0, 0, {"chorus_id": self.sim.info["structure_id"], "name": "Commune"})],
        })
        samples = {
            "chorus.pro.account": self.account,
            "chorus.pro.invoice": invoice,
            "chorus.pro.bordereau": bordereau,
            "chorus.pro.run": env["chorus.pro.run"].search(
                [("company_id", "=", self.commune.id)], limit=1),
            "chorus.pro.status.push": awaiting.push_ids[:1],
            "chorus.pro.supplier": env["chorus.pro.supplier"].search(
                [("company_id", "=", self.commune.id)], limit=1),
            "chorus.pro.pes.piece": env["chorus.pro.pes.piece"].create({
                "bordereau_id": bordereau.id, "move_id": move.id,
                "number": move.chorus_pro_mandate_number,
            }),
            "account.move": move,
            "res.partner": partner,
            "res.config.settings": env["res.config.settings"].create(
                {"company_id": self.commune.id}),
            "chorus.pro.supplier.match": match,
            "chorus.pro.supplier.match.line": match.line_ids[:1],
            "chorus.pro.bank.confirm": env["chorus.pro.bank.confirm"].with_user(
                self.bank_validator).create({"invoice_id": invoice.id}),
            "chorus.pro.mandate.wizard": wizard,
            "chorus.pro.mandate.wizard.line": wizard.line_ids[:1],
            "chorus.pro.processing.confirm": env["chorus.pro.processing.confirm"].with_user(
                self.processor).create({"invoice_ids": [(6, 0, awaiting.ids)]}),
            "chorus.pro.dashboard": env["chorus.pro.dashboard"].with_user(
                self.processor).create({}),
            "chorus.pro.partner.history": env["chorus.pro.partner.history"].with_user(
                self.processor).create({"partner_id": partner.id, "match_id": match.id}),
            "chorus.pro.structure.choice": choice,
            "chorus.pro.structure.choice.line": choice.line_ids,
            "chorus.pro.pes.sign": env["chorus.pro.pes.sign"].create(
                {"bordereau_id": bordereau.id}),
            "chorus.pro.pes.acquittement": env["chorus.pro.pes.acquittement"].with_user(
                self.mandating_user).create({
                    "bordereau_id": bordereau.id, "data": base64.b64encode(b"<PES_Acquit/>"),
                }),
        }
        for name, records in samples.items():
            self.assertTrue(records, f"no sample record of {name}")
            if "company_id" in records._fields and records._fields["company_id"].store:
                self.assertEqual(records.sudo().company_id, self.commune, name)
        return {name: records.sudo(False).with_env(self.env) for name, records in samples.items()}

    # ------------------------------------------------------------------ the state compared
    def tables(self):
        names = set(addon_buttons(self.env)) | {
            name for name in self.env.registry
            if not self.env[name]._abstract and self.env[name]._auto
            and self.env[name]._original_module == "chorus_pro_liaison"
        } | set(EXTRA_MODELS)
        return sorted({(self.env[name]._table, self.env[name]._transient) for name in names
                       if self.env[name]._auto and not self.env[name]._abstract})

    def snapshot(self, tops=None):
        """Every row of every table compared (its whole content, up to the last id before the
        call), the last id of each table, and the simulator's call counters. Screens
        (transient tables) may gain rows: the caller's own new screens."""
        self.env.flush_all()
        state, tops = {}, dict(tops or {})
        for table, transient in self.tables():
            self.env.cr.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
            (top,) = self.env.cr.fetchone()
            tops.setdefault(table, top)
            self.env.cr.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) "
                f"FROM {table} t WHERE t.id <= %s", [tops[table]])
            state[table] = (self.env.cr.fetchone(), None if transient else top)
        return state, self.counters(), tops

    def assert_nothing_changed(self, before, label):
        after = self.snapshot(before[2])
        changed = sorted(table for table in before[0] if before[0][table] != after[0][table])
        self.assertFalse(changed, f"{label} changed the tables {changed}")
        self.assertEqual(after[1], before[1], f"{label} called Chorus Pro")

    # ------------------------------------------------------------------ the walk
    def press_every_button(self, user, foreign):
        samples = self.commune_samples()
        buttons = addon_buttons(self.env)
        self.assertIn("chorus.pro.bordereau", buttons)
        self.assertIn("action_pes_generate", buttons["chorus.pro.bordereau"])
        self.assertIn("action_post", buttons["account.move"])
        missing = sorted(set(buttons) - set(samples))
        self.assertFalse(missing, f"buttons of models without a sample record: {missing}")
        self.sim.admin.reset_counters()
        pressed = 0
        for model, names in sorted(buttons.items()):
            for name in names:
                label = f"{user.login}: {model}.{name}"
                records = samples[model].with_user(user)
                method = getattr(records, name)
                required = [p for p in list(inspect.signature(method).parameters.values())
                            if p.default is inspect.Parameter.empty
                            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
                self.assertFalse(required, f"{label} needs arguments: give it a sample call")
                model_level = getattr(getattr(type(records), name), "_api", None) == "model"
                if model_level and foreign:
                    # No ids to pass: it acts on the caller's own company by construction.
                    continue
                before = self.snapshot()
                if model_level:
                    records = records.browse()
                try:
                    with self.env.cr.savepoint():
                        getattr(records, name)()
                except AccessError:
                    self.env.invalidate_all(flush=False)
                except UserError as error:  # a refusal in words is fine too; a crash is not
                    self.env.invalidate_all(flush=False)
                    self.assertFalse(foreign, f"{label} refused with {error!r}, not AccessError")
                else:
                    self.assertFalse(foreign, f"{label} was not refused")
                self.assert_nothing_changed(before, label)
                pressed += 1
        self.assertGreater(pressed, 60)

    def test_every_button_refused_to_a_user_of_another_company(self):
        self.press_every_button(self.ccas_all_rights, foreign=True)

    def test_every_button_changes_nothing_for_a_read_only_user(self):
        self.press_every_button(self.commune_reader, foreign=False)
