# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A mandate as it went to the accountant: one PES pièce of one bordereau's file.

A pièce is recorded each time a bordereau's PES is generated (and replaced when it is generated
again before being sent). It keeps what was sent (number, amounts, attachments' unique
identifiers) and what the accountant answered about it, so that a mandate rejected and re-sent
in a new bordereau still shows its first journey. The mandate (vendor bill) shows its latest
pièce: bordereau, number (IdPce) and PES state.

The mapping of a mandate to its neutral PES record (:class:`chorus_pro.pes.Piece`) lives on
``account.move`` (:meth:`AccountMove._chorus_pro_pes_piece`).
"""

import mimetypes
import os
from decimal import Decimal
from types import SimpleNamespace

from odoo import api, fields, models

from odoo.addons.chorus_pro_liaison.services.access import check_action_access

from chorus_pro import identifiers
from chorus_pro.pes import Address, BankAccount, DgpBlock, Line, OriginRef, PesFile, Piece, Tiers
from chorus_pro.pes import codes as pes_codes

CHORUS_USER_GROUP = "chorus_pro_liaison.group_chorus_pro_user"
# The states a bordereau reaches after its validation; a pièce follows its bordereau's, until
# the accountant rejects this very pièce.
PES_STATES = [
    ("generated", "PES generated"),
    ("signed", "Signed"),
    ("sent", "Sent"),
    ("accepted", "Accepted"),
    ("rejected", "Rejected"),
]
# Country codes whose creditors live in France for the PES (CodRes 0).
FRENCH_COUNTRIES = frozenset({"FR", "GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF", "MC"})


def pes_amount(value):
    """An Odoo monetary float as the PES's two-decimal :class:`~decimal.Decimal`."""
    return Decimal("%.2f" % (value or 0.0))


class ChorusProPesPiece(models.Model):
    _name = "chorus.pro.pes.piece"
    _description = "Mandate sent to the public accountant (PES pièce)"
    _order = "bordereau_id desc, number, id"
    _rec_name = "number"

    bordereau_id = fields.Many2one("chorus.pro.bordereau", required=True, ondelete="cascade",
                                   index=True, readonly=True)
    move_id = fields.Many2one("account.move", string="Mandate", required=True, ondelete="cascade",
                              index=True, readonly=True)
    company_id = fields.Many2one(related="bordereau_id.company_id", store=True, index=True)
    number = fields.Integer(string="Mandate number (IdPce)", readonly=True)
    exercice = fields.Integer(related="bordereau_id.exercice", store=True)
    bordereau_number = fields.Integer(related="bordereau_id.number", string="Bordereau number")
    partner_id = fields.Many2one(related="move_id.partner_id")
    currency_id = fields.Many2one(related="bordereau_id.currency_id")
    amount_ht = fields.Monetary(string="Amount (MtHT)", readonly=True,
                                help="Without VAT, or with VAT on a budget that does not recover it.")
    amount_vat = fields.Monetary(string="VAT (MtTVA)", readonly=True)
    attachment_count = fields.Integer(string="Attachments", readonly=True)
    file_ids_text = fields.Text(string="Attachment identifiers (IdUnique)", readonly=True)
    rejected = fields.Boolean(readonly=True, help="The accountant rejected this very mandate.")
    reasons = fields.Text(string="Accountant's reasons", readonly=True)
    state = fields.Selection(PES_STATES, string="PES state", compute="_compute_state",
                             store=True)

    @api.depends("bordereau_id.state", "rejected")
    def _compute_state(self):
        for piece in self:
            if piece.rejected:
                piece.state = "rejected"
            else:
                state = piece.bordereau_id.state
                piece.state = state if state in dict(PES_STATES) else "generated"

    def action_open_bordereau(self):
        check_action_access(self, "read")
        self.ensure_one()
        return self.bordereau_id._get_records_action(name=self.bordereau_id.display_name)


class AccountMove(models.Model):
    _inherit = "account.move"

    # Readable by the Chorus Pro users only (the pièces are theirs; a plain Invoicing user keeps
    # opening vendor bills).
    chorus_pro_pes_piece_ids = fields.One2many(
        "chorus.pro.pes.piece", "move_id", string="Sent to the accountant", readonly=True,
        groups=CHORUS_USER_GROUP,
    )
    chorus_pro_pes_piece_id = fields.Many2one(
        "chorus.pro.pes.piece", string="PES pièce", compute="_compute_chorus_pro_pes_piece",
        help="The latest PES file this mandate went in.", groups=CHORUS_USER_GROUP,
    )
    chorus_pro_pes_state = fields.Selection(
        PES_STATES, string="PES state", compute="_compute_chorus_pro_pes_piece",
        groups=CHORUS_USER_GROUP,
    )
    chorus_pro_pes_reasons = fields.Text(
        string="Accountant's reasons", compute="_compute_chorus_pro_pes_piece",
        groups=CHORUS_USER_GROUP,
    )

    @api.depends("chorus_pro_pes_piece_ids.state", "chorus_pro_pes_piece_ids.reasons")
    def _compute_chorus_pro_pes_piece(self):
        for move in self:
            piece = move.chorus_pro_pes_piece_ids.sorted("id")[-1:]
            move.chorus_pro_pes_piece_id = piece
            move.chorus_pro_pes_state = piece.state or False
            move.chorus_pro_pes_reasons = piece.reasons or False

    # ------------------------------------------------------------------ neutral PES records
    def _chorus_pro_pes_piece(self, bordereau, attachments, rates):
        """This mandate as a :class:`chorus_pro.pes.Piece` of ``bordereau``.

        ``attachments``: the mandate's files, main document first (read lazily while the file
        is written); ``rates``: the ECB rate table (DGP interest rate).
        """
        self.ensure_one()
        invoice = self.chorus_pro_invoice_id
        article = self.chorus_pro_article_id
        reduction = self.move_type == "in_refund"
        nature = (article.pes_nature or "").strip()
        if reduction:
            piece_type, piece_nature = "02", "06"  # mandat correctif d'annulation/réduction
        else:
            # Class 2 of the M57/M14 charts is investment (NatPce 02), the rest operating (01).
            piece_type, piece_nature = "01", "02" if nature.startswith("2") else "01"
        if self.chorus_pro_budget_id.vat_recovering:
            amount_ht, amount_vat = pes_amount(self.amount_untaxed), pes_amount(self.amount_tax)
        else:
            # "Montant HT ou TTC si TVA non remplie": the expense is the amount TTC.
            amount_ht, amount_vat = pes_amount(self.amount_total), None
        line = Line(
            nature=nature,
            function=(article.fonction or "").strip(),
            operation=(article.operation or "").strip(),
            amount_ht=amount_ht,
            amount_vat=amount_vat,
            tiers=self._chorus_pro_pes_tiers(),
            invoice_number=invoice.number or self.ref or "",
            transfer_label_1=" ".join(
                part for part in (invoice.number or self.ref, f"CPP {invoice.chorus_id}"
                                  if invoice.chorus_id else "") if part
            ),
        )
        origin = None
        if reduction:
            reduced = self.reversed_entry_id
            origin = OriginRef(exercice=reduced.chorus_pro_exercice,
                               piece_number=reduced.chorus_pro_mandate_number, line_number=1)
        return Piece(
            number=self.chorus_pro_mandate_number,
            lines=[line],
            object=invoice._mandate_object() if invoice else (self.ref or self.name or ""),
            piece_type=piece_type,
            nature=piece_nature,
            due_date=self.chorus_pro_dgp_due_date or self.invoice_date_due or None,
            dgp=None if reduction else self._chorus_pro_pes_dgp(rates),
            files=self._chorus_pro_pes_files(bordereau, attachments),
            origin=origin,
        )

    def _chorus_pro_pes_dgp(self, rates):
        """The DGP block (start, legal due date, délai, interest rate if late), when known."""
        invoice = self.chorus_pro_invoice_id
        start, due = self.chorus_pro_dgp_start, self.chorus_pro_dgp_due_date
        if not (start and due and invoice.dgp_delay):
            return None
        result = SimpleNamespace(start=start, due=due, delay=invoice.dgp_delay, rate=None)
        return DgpBlock.from_dgp(result, rates=rates)

    def _chorus_pro_pes_tiers(self):
        """The creditor: the partner matched at step 3, its address (else the one Chorus Pro
        gives for the supplier) and the bank account the mandate pays (the factor's for a
        factored invoice)."""
        partner = self.partner_id.commercial_partner_id
        invoice = self.chorus_pro_invoice_id
        identifier, identifier_type = "", pes_codes.NAT_ID_SIRET
        if partner.chorus_pro_siret:
            identifier = partner.chorus_pro_siret
        elif invoice.supplier_identifier and identifiers.is_valid_siret(invoice.supplier_identifier):
            identifier = identifiers.compact_siret(invoice.supplier_identifier)
        elif partner.chorus_pro_siren:
            identifier, identifier_type = partner.chorus_pro_siren, pes_codes.NAT_ID_SIREN
        bank = self.partner_bank_id
        bank_account = None
        if bank:
            bank_account = BankAccount(
                iban=bank.sanitized_acc_number or bank.acc_number or "",
                bic=bank.bank_id.bic or bank.bank_bic or "",
                holder=bank.acc_holder_name or bank.partner_id.name or partner.name or "",
                bank_name=bank.bank_id.name or "",
            )
        return Tiers(
            name=partner.name or invoice.supplier_name or "",
            identifier=identifier,
            identifier_type=identifier_type,
            reference=partner.ref or "",
            address=_pes_address(partner, invoice),
            bank_account=bank_account,
        )

    def _chorus_pro_pes_files(self, bordereau, attachments):
        """The mandate's files as :class:`chorus_pro.pes.PesFile`, read lazily from the
        filestore. Their unique identifier names the Chorus invoice, the bordereau and the
        rank: a mandate sent again in a new bordereau sends its files under new identifiers
        (Hélios refuses an identifier it already has)."""
        invoice = self.chorus_pro_invoice_id
        key = f"CPP{invoice.chorus_id}" if invoice.chorus_id else f"M{self.id}"
        files = []
        for rank, attachment in enumerate(attachments, start=1):
            files.append(PesFile(
                id_unique=f"{key}B{bordereau.id}F{rank}",
                name=_file_name(attachment),
                source=_attachment_source(attachment),
                mime_type=attachment.mimetype or "application/octet-stream",
                description=attachment.name or "",
            ))
        return files


def _pes_address(partner, invoice):
    """The creditor's address: the partner's, else the one Chorus Pro gives the supplier."""
    if partner.street or partner.city or partner.zip:
        street, complement = partner.street or "", partner.street2 or ""
        postal_code, city = partner.zip or "", partner.city or ""
        country = partner.country_id.code or ""
    elif invoice.supplier_street or invoice.supplier_city:
        street, complement = invoice.supplier_street or "", invoice.supplier_street2 or ""
        postal_code, city = invoice.supplier_zip or "", invoice.supplier_city or ""
        country = (invoice.supplier_country_code or "").upper()
    else:
        return None
    if country and country not in FRENCH_COUNTRIES:
        # Abroad: 99999, the foreign postal code with the city; Hélios needs the INSEE
        # country code, which Odoo does not know (the validation says so).
        return Address(street=street, complement=complement, postal_code="99999",
                       city=" ".join(part for part in (postal_code, city) if part),
                       resident=False)
    if not street and complement:
        street, complement = complement, ""
    return Address(street=street, complement=complement, postal_code=postal_code.strip(),
                   city=city)


def _file_name(attachment):
    """The attachment's name with an extension of 2 to 4 characters (the PES requires one)."""
    name = (attachment.name or "document").strip()
    extension = os.path.splitext(name)[1][1:]
    if 2 <= len(extension) <= 4 and extension.isalnum():
        return name
    guessed = mimetypes.guess_extension(attachment.mimetype or "") or ".bin"
    return name + guessed


def _attachment_source(attachment):
    """The file on disk when the filestore holds it (read by chunks while the PES is written),
    else a callable returning its bytes (attachments stored in the database)."""
    if attachment.store_fname:
        return attachment._full_path(attachment.store_fname)
    return lambda: attachment.raw or b""
