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
from odoo.models import BaseModel
from odoo.service.model import get_public_method
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

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
    def commune_samples(self, owner):
        """One record of the commune per model with buttons, after the real steps: decisions,
        matching, a mandate on a bordereau. The screens (transient records, each person seeing
        only their own) belong to ``owner``, the person pressing the buttons: a screen of
        someone else would be refused by the own-screen rule before the button's own check ran.
        They are made as superuser under ``owner``'s name (``with_user(owner).sudo()``: the
        screen is ``owner``'s even where their rights would not let them open it, as when a
        user's rights or companies change after the screen opened), and armed: ticked,
        selected, filled, so that a button without its own check would change something."""
        env = self.env
        invoice, unmandated = self.ready_invoices(2)
        self.mandate(invoice)
        awaiting = self.commune_awaiting_invoice()
        move = invoice.mandate_move_id
        bordereau = move.chorus_pro_bordereau_id
        # A matched invoice whose IBAN nobody trusted yet: what the bank confirmation is for.
        untrusted = self.Invoice.search([
            ("company_id", "=", self.commune.id), ("bank_state", "=", "to_confirm"),
            ("bank_account_valid", "=", True),
        ], limit=1)

        def screens(model):
            return env[model].with_user(owner).sudo()

        partner = env["res.partner"].create({
            "name": "Fournisseur de la commune", "is_company": True,
            "company_id": self.commune.id,
        })
        self.pending_decision(awaiting, self.processor)
        match = screens("chorus.pro.supplier.match").create({
            "invoice_id": awaiting.id, "partner_id": partner.id,
            "line_ids": [(0, 0, {"partner_id": partner.id, "sequence": 1})],
        })
        wizard = screens("chorus.pro.mandate.wizard").create({
            "company_id": self.commune.id, "budget_id": self.budget_ttc.id,
            "article_id": self.article_ttc.id,
            "line_ids": [(0, 0, {"invoice_id": unmandated.id, "selected": True})],
        })
        choice = screens("chorus.pro.structure.choice").create({
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
            "res.config.settings": screens("res.config.settings").create(
                {"company_id": self.commune.id}),
            "chorus.pro.supplier.match": match,
            "chorus.pro.supplier.match.line": match.line_ids[:1],
            "chorus.pro.bank.confirm": screens("chorus.pro.bank.confirm").create({
                "invoice_id": untrusted.id, "confirmed_by_trusted_channel": True,
                "note": "Appel au numéro connu",
            }),
            "chorus.pro.mandate.wizard": wizard,
            "chorus.pro.mandate.wizard.line": wizard.line_ids[:1],
            "chorus.pro.processing.confirm": screens("chorus.pro.processing.confirm").create(
                {"invoice_ids": [(6, 0, awaiting.ids)], "acknowledged": True}),
            "chorus.pro.dashboard": screens("chorus.pro.dashboard").create(
                {"company_id": self.commune.id}),
            "chorus.pro.partner.history": screens("chorus.pro.partner.history").create(
                {"partner_id": partner.id, "match_id": match.id}),
            "chorus.pro.structure.choice": choice,
            "chorus.pro.structure.choice.line": choice.line_ids,
            "chorus.pro.pes.sign": screens("chorus.pro.pes.sign").create(
                {"bordereau_id": bordereau.id}),
            "chorus.pro.pes.acquittement": screens("chorus.pro.pes.acquittement").create({
                "bordereau_id": bordereau.id, "data": base64.b64encode(b"<PES_Acquit/>"),
            }),
        }
        for name, records in samples.items():
            self.assertTrue(records, f"no sample record of {name}")
            if "company_id" in records._fields and records._fields["company_id"].store:
                self.assertEqual(records.sudo().company_id, self.commune, name)
            if records._transient:
                self.assertEqual(records.sudo().create_uid, owner, f"{name}: not owner's screen")
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
        samples = self.commune_samples(user)
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


@tagged("post_install", "-at_install", "chorus_pro")
class TestNoOtherPublicMethod(TransactionCase):
    """The buttons are the only business methods RPC may call: any other public method the
    addon defines is an ORM override (checked by the ORM and the addon's own overrides) or is
    made private (``@api.private``), so that it is never called with ids nobody checked."""

    def test_only_buttons_and_orm_methods_are_callable_over_rpc(self):
        orm = set(dir(BaseModel))
        exposed = []
        for name in self.env.registry:
            model = self.env[name]
            for cls in type(model).__mro__:
                if not (cls.__module__ or "").startswith(ADDON_MODULE):
                    continue
                for attr, value in vars(cls).items():
                    if (attr.startswith("_") or BUTTON.match(attr) or attr in orm
                            or not callable(value)):
                        continue
                    try:
                        get_public_method(model, attr)
                    except AccessError:
                        continue
                    exposed.append(f"{name}.{attr}")
        self.assertFalse(sorted(set(exposed)), "public methods that are not buttons")
