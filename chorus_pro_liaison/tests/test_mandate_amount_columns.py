# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The stored mandate amounts of account.move (``chorus_pro_mandate_untaxed`` / ``_total``):
created and filled in SQL when the addon is installed on a database with moves, with the values
the compute gives, and nothing left for Odoo to compute move by move."""

from contextlib import closing
from unittest.mock import patch

from odoo import Command, api
from odoo.tests import tagged
from odoo.tools.sql import table_columns

from odoo.addons.chorus_pro_liaison.models.account_move import MANDATE_AMOUNT_FIELDS

from .mandate_common import MandateCase

AMOUNTS = tuple(MANDATE_AMOUNT_FIELDS)


@tagged("post_install", "-at_install", "chorus_pro")
class TestMandateAmountColumns(MandateCase):
    def setUp(self):
        super().setUp()
        invoice = self.ready_invoices(1)
        self.mandate(invoice)
        self.mandate_move = invoice.mandate_move_id
        self.assertEqual(self.mandate_move.state, "posted")
        self.bill = self.Move.create({
            "move_type": "in_invoice", "partner_id": self.mandate_move.partner_id.id,
            "invoice_date": "2026-01-15",
            "invoice_line_ids": [Command.create({
                "name": "Fournitures", "quantity": 1, "price_unit": 120.0,
                "account_id": self.article_ttc.account_id.id,
            })],
        })
        self.moves = self.Move.search([])
        self.assertIn(self.bill, self.moves)

    def stored(self, moves):
        """The amounts in the database, per move id."""
        self.env.flush_all()
        self.env.cr.execute(
            f"SELECT id, {', '.join(AMOUNTS)} FROM account_move WHERE id IN %s",
            [tuple(moves.ids)],
        )
        return {row[0]: tuple(row[1:]) for row in self.env.cr.fetchall()}

    def computed(self, moves):
        """The amounts the compute gives, recomputed now from the database and stored."""
        self.env.invalidate_all()
        for name in AMOUNTS:
            self.env.add_to_compute(self.Move._fields[name], moves)
        moves.flush_recordset(list(AMOUNTS))
        return self.stored(moves)

    def assert_as_computed(self, stored, expected):
        self.assertEqual(stored, expected)
        # Not vacuous: a mandate reads positive, any other move 0 (NULL would not be the compute).
        total = self.mandate_move.amount_total
        self.assertGreater(total, 0)
        self.assertEqual(float(stored[self.mandate_move.id][1]), total)
        self.assertEqual(float(stored[self.mandate_move.id][0]), self.mandate_move.amount_untaxed)
        self.assertEqual(stored[self.bill.id], (0, 0))
        self.assertEqual(self.bill.amount_total, 120.0)

    def test_stored_amounts_are_the_computed_ones(self):
        stored = self.stored(self.moves)
        self.assert_as_computed(stored, self.computed(self.moves))

    def test_the_fill_gives_every_move_its_computed_amounts(self):
        expected = self.computed(self.moves)
        self.env.cr.execute(f"UPDATE account_move SET {', '.join(f'{n} = NULL' for n in AMOUNTS)}")
        self.env.invalidate_all()
        self.Move._chorus_pro_fill_mandate_amounts()
        self.assert_as_computed(self.stored(self.moves), expected)

    def test_installing_creates_and_fills_the_columns_with_nothing_left_to_compute(self):
        expected = self.computed(self.moves)
        cr = self.env.cr
        # DDL is transactional in PostgreSQL: the columns come back when the savepoint is
        # rolled back.
        with closing(cr.savepoint()):
            cr.execute("ALTER TABLE account_move "
                       + ", ".join(f"DROP COLUMN {name}" for name in AMOUNTS))
            # What installing the addon does to account.move (its _auto_init, then Odoo's),
            # with the fields Odoo marks to compute on every existing row written down.
            marked = []
            add_to_compute = api.Environment.add_to_compute

            def recording(env, field, records):
                marked.append(field.name)
                return add_to_compute(env, field, records)

            with patch.object(api.Environment, "add_to_compute", recording):
                self.registry.init_models(cr, ["account.move"], {"module": "chorus_pro_liaison"})
            columns = table_columns(cr, "account_move")
            # Odoo's own column type: a column of another type would be replaced and computed.
            self.assertEqual({name: columns[name]["udt_name"] for name in AMOUNTS},
                             dict.fromkeys(AMOUNTS, "numeric"))
            self.assertFalse(set(marked) & set(AMOUNTS),
                             "Odoo computes the mandate amounts of every move one by one")
            self.assert_as_computed(self.stored(self.moves), expected)
        self.env.invalidate_all()
        self.assertEqual(self.stored(self.moves), expected)
