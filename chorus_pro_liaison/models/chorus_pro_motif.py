# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Usual motifs: ready-made texts the processing screen offers, then lets the user edit."""

from odoo import api, fields, models

from odoo.addons.chorus_pro_liaison.services.errors import checked_text

from chorus_pro import statuses as chorus_statuses
from chorus_pro import text as chorus_text

# The decisions of the processing screen (the library's list), with the names users know.
PROCESSING_TARGET_LABELS = {
    chorus_statuses.SERVICE_FAIT: "Service fait",
    chorus_statuses.REJETEE: "Rejetée",
    chorus_statuses.SUSPENDUE: "Suspendue",
    chorus_statuses.A_RECYCLER: "À recycler",
}
PROCESSING_TARGET_SELECTION = [
    (code, PROCESSING_TARGET_LABELS[code]) for code in chorus_statuses.PROCESSING_TARGETS
]


class ChorusProMotif(models.Model):
    _name = "chorus.pro.motif"
    _description = "Chorus Pro usual motif"
    _order = "sequence, id"

    name = fields.Char(required=True, help="Short name shown in the motif picker.")
    text = fields.Char(
        string="Motif text",
        required=True,
        size=chorus_statuses.MOTIF_MAX_LENGTH,
        help="Text proposed as the motif (the supplier reads it in Chorus Pro); the user can "
        "edit it before confirming. At most 255 characters, as Chorus Pro accepts.",
    )
    code = fields.Char(
        help="Technical key used by the addon (e.g. 'duplicate' for the motif proposed on "
        "suspected duplicates).",
        index=True,
    )
    suggested_status = fields.Selection(
        PROCESSING_TARGET_SELECTION,
        string="Decision",
        help="The decision this motif is offered for (empty: offered for every decision). "
        "Picking a motif never changes the decision chosen.",
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company",
        help="Leave empty to offer this motif to every company.",
        index=True,
    )

    def _check_text_before_storing(self, vals_list):
        # Before the field's size would cut it: a motif too long is refused, never cut. What
        # is stored is the motif as Chorus Pro receives it (check_motif's result, spaces
        # folded): the processing screen compares it with the motif typed as it is.
        for vals in vals_list:
            if vals.get("text"):
                vals["text"] = checked_text(chorus_text.check_motif, vals["text"], self.env)

    @api.model_create_multi
    def create(self, vals_list):
        self._check_text_before_storing(vals_list)
        return super().create(vals_list)

    def write(self, vals):
        self._check_text_before_storing([vals])
        return super().write(vals)

    @api.model
    def _for_code(self, code, company=None):
        """The active motif with this technical code, preferring the company's own."""
        company = company or self.env.company
        motifs = self.search(
            [("code", "=", code), ("company_id", "in", [company.id, False])],
            order="company_id, sequence, id",
        )
        own = motifs.filtered(lambda motif: motif.company_id == company)
        return (own or motifs)[:1]
