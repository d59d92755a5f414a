# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Who may press a button on which records: the one check every public ``action_*`` /
``button_*`` method of the addon makes first.

A button is a method anyone can call over RPC with any ids: the record rules only fence the
standard reads and writes, not the code a button runs (often as superuser, to reach Chorus or to
write what people may not). So each button first checks that its records belong to the user's
allowed companies and that the user may read (or write) them, whoever calls it and with
whatever ids. Server code (superuser: crons, jobs) passes through.
"""

from odoo.exceptions import AccessError

# The link from a screen (wizard) to the records it is about: its records count as the screen's.
SCREEN_LINKS = ("invoice_id", "invoice_ids", "bordereau_id", "account_id", "match_id",
                "wizard_id", "choice_id")


def _companies_of(records):
    """The companies of ``records`` (and of the records a screen is about), read as superuser:
    the point is to refuse before anything of another company is read with the user's rights."""
    companies = records.env["res.company"]
    pending = [records.sudo()]
    seen = set()
    while pending:
        batch = pending.pop()
        key = (batch._name, tuple(batch.ids))
        if key in seen or not batch:
            continue
        seen.add(key)
        if "company_id" in batch._fields and batch._fields["company_id"].type == "many2one" \
                and batch._fields["company_id"].comodel_name == "res.company":
            companies |= batch.company_id
        for link in SCREEN_LINKS:
            field = batch._fields.get(link)
            if field is not None and field.type in ("many2one", "many2many"):
                pending.append(batch[link])
    return companies


def check_action_access(records, operation="write"):
    """Refuse (``AccessError``) unless the current user may act on ``records``: all of them in
    the user's allowed companies, and ``records.check_access(operation)`` (access rights and
    record rules). ``operation`` is ``"read"`` for buttons that only open or show something,
    ``"write"`` for those that change something or talk to Chorus Pro.

    Superuser (server code) passes. Empty recordsets (model-level buttons) check the model's
    access right only."""
    env = records.env
    if env.su:
        return
    _ = env._
    records = records.exists() if records.ids else records
    if not records:
        records.check_access(operation)
        return
    foreign = _companies_of(records) - env.companies
    if foreign:
        raise AccessError(_(
            "You cannot act on %(what)s of %(company)s: this company is not among the companies "
            "you work for.",
            what=env["ir.model"]._get(records._name).name or records._name,
            company=", ".join(foreign.sudo().mapped("name")),
        ))
    records.check_access(operation)
