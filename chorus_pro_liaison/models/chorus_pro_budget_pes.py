# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""What the public accountant (Hélios) needs to know of a budget and its articles to read a PES.

Per budget, the accountant's identifiers of the PES header (``EnTetePES``): the accounting
office's codique (``IdPost``, the existing *Poste comptable code*), the SIRET of the public body
(``IdColl``), the codes of the budget in Hélios (``CodCol`` and ``CodBud``, the existing budget
code), the nomenclature (the existing *Budgetary instruction*: M57, M14, M4x...) and how the
budget is voted (by nature, by nature with a functional presentation, by function). Per budget
article: the account by nature (``Nature``), the function (``Fonction``, the existing field) and
the operation (``Operation``, the existing field).

Nothing is checked here: :func:`chorus_pro.pes.validate` says everything that is wrong when the
PES is generated, all at once.
"""

import re

from odoo import api, fields, models

from chorus_pro.pes import codes as pes_codes

VOTES = [
    (pes_codes.VOTE_NATURE, "By nature"),
    (pes_codes.VOTE_NATURE_FUNCTIONAL, "By nature, with a functional presentation"),
    (pes_codes.VOTE_FUNCTION, "By function"),
]
NATURE_RE = re.compile(r"^[0-9]{1,12}$")


class ChorusProBudget(models.Model):
    _inherit = "chorus.pro.budget"

    pes_id_coll = fields.Char(
        string="SIRET of the public body (IdColl)", tracking=True,
        default=lambda self: self.env.company.siret,
        help="SIRET of the public body this budget belongs to, as the accountant knows it "
        "(PES IdColl).",
    )
    pes_cod_col = fields.Char(
        string="Public body code in Hélios (CodCol)", tracking=True,
        help="Three digits given by the accounting office (PES CodCol).",
    )
    pes_vote = fields.Selection(
        VOTES, string="Voted", default=pes_codes.VOTE_NATURE, required=True, tracking=True,
        help="By function: every article needs a function (Fonction). By nature with a "
        "functional presentation: articles may carry a function.",
    )
    pes_fin_jur = fields.Char(
        string="Legal FINESS (FinJur)",
        help="Hospitals and social establishments (M21, M22) only: the legal FINESS number.",
    )


class ChorusProBudgetArticle(models.Model):
    _inherit = "chorus.pro.budget.article"

    pes_nature = fields.Char(
        string="Nature (PES)", compute="_compute_pes_nature", store=True, readonly=False,
        help="Account by nature sent to the accountant (digits only, e.g. 6042). Taken from "
        "the article's code when it is one.",
    )

    @api.depends("code")
    def _compute_pes_nature(self):
        for article in self:
            code = (article.code or "").strip()
            article.pes_nature = code if NATURE_RE.match(code) else False
