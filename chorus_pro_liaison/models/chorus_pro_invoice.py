# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A supplier invoice received through Chorus Pro, as Chorus describes it."""

import hashlib

from markupsafe import Markup

from odoo import Command, _, api, fields, models, tools

from odoo.addons.chorus_pro_liaison.services.access import check_action_access
from odoo.addons.chorus_pro_liaison.services.languages import selection_label, selection_labels

from chorus_pro import billing
from chorus_pro import statuses as chorus_statuses
from chorus_pro import text as chorus_text
from chorus_pro.mapping import KNOWN_FIELDS, invoice_values
from chorus_pro.records import IDENTIFIER_TYPES
from chorus_pro.timeutil import paris_date, to_utc_naive

# Every status Chorus may report, in lifecycle order; unknown codes are kept in
# chorus_status_code and shown as "Other".
STATUS_SELECTION = [(code, en) for code, en, _fr in chorus_statuses.CATALOGUE] + [
    ("OTHER", "Other"),
]
KNOWN_STATUSES = {code for code, _label in STATUS_SELECTION}
# Chorus supplier identifier types (the library's list), with readable labels.
IDENTIFIER_TYPE_LABELS = {
    "SIRET": "SIRET",
    "UE_HORS_FRANCE": "EU outside France",
    "HORS_UE": "Outside the EU",
    "RIDET": "RIDET (New Caledonia)",
    "TAHITI": "TAHITI number",
    "EN_COURS_IMMATRICULATION": "Being registered",
    "PARTICULIER": "Private person",
    "AUTRE": "Other",
}
IDENTIFIER_TYPE_SELECTION = [(code, IDENTIFIER_TYPE_LABELS[code]) for code in IDENTIFIER_TYPES]


class ChorusProInvoice(models.Model):
    _name = "chorus.pro.invoice"
    _description = "Chorus Pro received invoice"
    _inherit = ["mail.thread.main.attachment", "mail.activity.mixin"]
    _order = "status_datetime desc, id desc"
    _rec_names_search = ["number", "supplier_name", "supplier_identifier", "purchase_order"]

    # ------------------------------------------------------------------ identity
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    account_id = fields.Many2one("chorus.pro.account", index=True, ondelete="restrict")
    chorus_id = fields.Integer(
        string="Chorus ID", required=True, index=True, readonly=True,
        help="Chorus Pro technical invoice id (idFacture / identifiantFactureCPP).",
    )
    number = fields.Char(string="Invoice number", readonly=True, tracking=True, index="trigram")
    payment_request_type = fields.Selection(
        [(billing.FACTURE, "Invoice"), (billing.FACTURE_TRAVAUX, "Works invoice")],
        string="Request type", default="FACTURE", readonly=True,
    )
    is_works = fields.Boolean(
        string="Works invoice", compute="_compute_is_works", store=True
    )
    invoice_type = fields.Selection(
        [(billing.KIND_INVOICE, "Invoice"), (billing.KIND_CREDIT_NOTE, "Credit note"),
         (billing.KIND_ADVANCE, "Advance")],
        default=billing.KIND_INVOICE, readonly=True,
    )
    works_type = fields.Char(readonly=True)
    frame = fields.Char(
        string="Billing frame", readonly=True,
        help="Cadre de facturation, e.g. A1_FACTURE_FOURNISSEUR; A2 means already paid.",
    )
    deposit_mode = fields.Char(readonly=True)
    redelivery = fields.Char(
        readonly=True, help="PIVOT 'Renvoi': Non, Complétée or Recyclée."
    )
    origin_invoice_number = fields.Char(
        string="Original invoice number", readonly=True,
        help="For a credit note: the number of the invoice it corrects.",
    )
    supplier_comment = fields.Text(readonly=True)

    # ------------------------------------------------------------------ supplier
    supplier_name = fields.Char(readonly=True, index="trigram")
    supplier_identifier = fields.Char(
        string="Supplier identifier", readonly=True, index=True,
        help="SIRET for French companies, otherwise the identifier of the given type.",
    )
    supplier_identifier_type = fields.Selection(
        IDENTIFIER_TYPE_SELECTION, string="Identifier type", readonly=True
    )
    supplier_chorus_id = fields.Integer(string="Chorus supplier ID", readonly=True)
    supplier_service_code = fields.Char(readonly=True)
    supplier_street = fields.Char(readonly=True)
    supplier_street2 = fields.Char(string="Supplier street (continued)", readonly=True)
    supplier_zip = fields.Char(string="Supplier ZIP", readonly=True)
    supplier_city = fields.Char(readonly=True)
    supplier_country_code = fields.Char(readonly=True)
    supplier_rcs = fields.Char(string="Supplier RCS", readonly=True)

    # ------------------------------------------------------------------ payment
    bank_account_type = fields.Char(readonly=True)
    bank_account = fields.Char(
        string="IBAN", readonly=True,
        help="The account this invoice asks to be paid on (it may belong to a factor).",
    )
    bank_bic = fields.Char(string="BIC", readonly=True)
    bank_holder = fields.Char(string="Account holder", readonly=True)
    bank_name = fields.Char(readonly=True)
    is_factored = fields.Boolean(
        readonly=True,
        help="The money goes to a factoring company (affacturage) rather than to the supplier.",
    )
    factor_name = fields.Char(readonly=True)
    factor_identifier = fields.Char(readonly=True)
    factor_identifier_type = fields.Char(readonly=True)
    factor_chorus_id = fields.Integer(string="Factor Chorus ID", readonly=True)
    payment_mode = fields.Char(readonly=True)
    supplier_due_date = fields.Date(
        string="Due date asked by the supplier", readonly=True,
        help="Informative only: the legal payment delay (DGP) governs the due date.",
    )

    # ------------------------------------------------------------------ recipient
    recipient_chorus_id = fields.Integer(string="Recipient structure ID", readonly=True)
    recipient_identifier = fields.Char(string="Recipient SIRET", readonly=True)
    service_id = fields.Many2one("chorus.pro.service", string="Service", readonly=True, index=True)
    service_code = fields.Char(readonly=True, index=True)
    service_name = fields.Char(readonly=True)
    purchase_order = fields.Char(
        string="Engagement (EJ)", readonly=True, index=True,
        help="Engagement juridique / purchase order number given by the supplier.",
    )
    contract = fields.Char(string="Contract (marché)", readonly=True)

    # ------------------------------------------------------------------ amounts
    currency_id = fields.Many2one(
        "res.currency", readonly=True, default=lambda self: self.env.ref("base.EUR")
    )
    amount_untaxed = fields.Monetary(string="Untaxed amount", readonly=True)
    amount_tax = fields.Monetary(string="VAT", readonly=True)
    amount_total = fields.Monetary(string="Total (TTC)", readonly=True)
    amount_to_pay = fields.Monetary(string="Amount to pay", readonly=True)
    tax_ids = fields.One2many("chorus.pro.invoice.tax", "invoice_id", string="VAT by rate")
    line_ids = fields.One2many("chorus.pro.invoice.line", "invoice_id", string="Lines")
    has_lines = fields.Boolean(compute="_compute_has_lines", store=True)

    # ------------------------------------------------------------------ dates (Paris dates)
    invoice_date = fields.Date(readonly=True)
    deposit_date = fields.Date(readonly=True)
    delivery_date = fields.Date(readonly=True)
    mise_a_disposition_at = fields.Datetime(
        string="First made available at", readonly=True,
        help="When Chorus Pro first made the invoice available to us: the payment delay starts.",
    )
    mise_a_disposition_date = fields.Date(
        string="Made available on", readonly=True,
        help="Paris date of the first mise à disposition.",
    )
    status_datetime = fields.Datetime(string="Status date", readonly=True, index=True)

    # ------------------------------------------------------------------ status
    chorus_status = fields.Selection(
        STATUS_SELECTION, string="Chorus status", readonly=True, tracking=True,
        index=True, group_expand="_group_expand_chorus_status",
    )
    chorus_status_code = fields.Char(string="Chorus status code", readonly=True)
    chorus_status_comment = fields.Char(string="Status comment", readonly=True)
    status_history_ids = fields.One2many(
        "chorus.pro.invoice.status", "invoice_id", string="Status history", readonly=True
    )
    mandate_number_chorus = fields.Char(string="Mandate number in Chorus", readonly=True)
    imported_as_history = fields.Boolean(
        string="Imported as history", readonly=True,
        help="Older than the cutoff date and already closed when the link was activated: "
        "kept for reference, nothing to process.",
    )

    # ------------------------------------------------------------------ files
    attachment_ids = fields.One2many(
        "ir.attachment", "res_id", domain=[("res_model", "=", "chorus.pro.invoice")],
        string="Files", readonly=True,
    )
    main_attachment_pdf_id = fields.Many2one(
        "ir.attachment", string="Invoice PDF", readonly=True, ondelete="set null"
    )
    attachment_count = fields.Integer(string="Number of files", compute="_compute_attachment_count")
    files_state = fields.Selection(
        [
            ("pending", "To download"),
            ("done", "Downloaded"),
            ("unavailable", "Not available"),
            ("error", "Error"),
        ],
        string="File retrieval", default="pending", readonly=True, index=True,
    )
    files_size = fields.Integer(readonly=True, help="Size Chorus reported when last downloaded.")
    files_status_code = fields.Char(
        readonly=True, help="Chorus status when the files were last downloaded."
    )
    sync_error = fields.Text(string="Last retrieval error", readonly=True)
    sync_attempts = fields.Integer(readonly=True)
    files_attempted_at = fields.Datetime(
        string="Files last asked at", readonly=True, help="Last time the files were asked from Chorus Pro."
    )
    last_sync_at = fields.Datetime(readonly=True)
    # Set when the retrieval creates the invoice, cleared by :meth:`_chorus_after_retrieval` once
    # the checks made on arrival (duplicates among them) have run for it: a retrieval interrupted
    # in between leaves it set, and the next retrieval makes the checks.
    duplicate_check_pending = fields.Boolean(
        string="Arrival checks pending", readonly=True, copy=False
    )
    # Set when Chorus's status history of the invoice is needed but could not be read (the
    # payment delay's interruptions come from it): the next retrieval reads it again.
    history_pending = fields.Boolean(
        string="Status history to read", readonly=True, copy=False, index=True
    )
    # Set when the PIVOT of an invoice deposited as structured data (XML) is stored, cleared when
    # Chorus's PDF of it is: a rendering that could not be had is asked again by the next
    # retrieval, alone (its PIVOT is not downloaded again).
    rendering_pending = fields.Boolean(
        string="Invoice PDF to fetch", readonly=True, copy=False, index=True
    )

    _sql_constraints = [
        (
            "company_chorus_id_unique",
            "unique(company_id, chorus_id)",
            "This Chorus Pro invoice already exists in this company.",
        )
    ]

    def init(self):
        super().init()
        # One Chorus invoice of one recipient structure is one record, whatever the company
        # (a structure belongs to one account: chorus.pro.account._check_structure_unique).
        self.env.cr.execute(
            """SELECT 1 FROM chorus_pro_invoice WHERE recipient_chorus_id > 0
                GROUP BY recipient_chorus_id, chorus_id HAVING count(*) > 1 LIMIT 1"""
        )
        if not self.env.cr.fetchone():
            self.env.cr.execute(
                """CREATE UNIQUE INDEX IF NOT EXISTS chorus_pro_invoice_one_per_structure
                       ON chorus_pro_invoice (recipient_chorus_id, chorus_id)
                    WHERE recipient_chorus_id > 0"""
            )

    # ------------------------------------------------------------------ compute
    @api.depends("payment_request_type")
    def _compute_is_works(self):
        for invoice in self:
            invoice.is_works = invoice.payment_request_type == billing.FACTURE_TRAVAUX

    @api.depends("line_ids")
    def _compute_has_lines(self):
        for invoice in self:
            invoice.has_lines = bool(invoice.line_ids)

    def _compute_attachment_count(self):
        data = self.env["ir.attachment"]._read_group(
            [("res_model", "=", self._name), ("res_id", "in", self.ids)],
            ["res_id"], ["__count"],
        )
        counts = dict(data)
        for invoice in self:
            invoice.attachment_count = counts.get(invoice.id, 0)

    def _compute_display_name(self):
        for invoice in self:
            parts = [invoice.number or str(invoice.chorus_id or "")]
            if invoice.supplier_name:
                parts.append(invoice.supplier_name)
            invoice.display_name = " – ".join(parts)

    @api.model
    def _group_expand_chorus_status(self, statuses, domain):
        return [code for code, _label in STATUS_SELECTION
                if code in chorus_statuses.MAIN or code in statuses]

    # ------------------------------------------------------------------ helpers
    @api.model
    def _status_selection_value(self, code):
        return code if code in KNOWN_STATUSES else "OTHER"

    def action_open_files(self):
        check_action_access(self, "read")
        self.ensure_one()
        return self.env["ir.attachment"]._get_records_action(
            name=_("Files of %(invoice)s", invoice=self.display_name),
            views=[(False, "kanban"), (False, "list"), (False, "form")],
            domain=[("res_model", "=", self._name), ("res_id", "=", self.id)],
            context={"default_res_model": self._name, "default_res_id": self.id, "create": False},
        )

    # ------------------------------------------------------------------ after a retrieval
    def _chorus_after_retrieval(self):
        """What each step does with the invoices a retrieval batch created or changed, in this
        order (called by ``services/retrieval.py``, committed with the batch):

        1. step 3, suppliers: remembered supplier and factor matches applied, the best partner
           proposed for the others (``chorus_pro_invoice_matching.py``);
        2. step 2, duplicates: the invoices whose arrival checks are pending (new ones, or left
           by an interrupted run) compared with those already received
           (``chorus_pro_invoice_processing.py``);
        3. step 4, payment delay: the délai global de paiement dates of the batch made final
           (``chorus_pro_invoice_dgp.py``).
        """
        arriving = self.filtered("duplicate_check_pending")
        self._chorus_match_suppliers()
        arriving._chorus_detect_duplicates()
        self._dgp_recompute()
        if arriving:
            arriving.write({"duplicate_check_pending": False})

    # ------------------------------------------------------------------ from Chorus
    def _status_label(self, code):
        """The status's label in the language ``_()`` writes the sentence around it in: the
        context's, else (a cron, a script) the current user's, never English by default."""
        return selection_label(self, "chorus_status", code)

    def _post_status_change(self, previous, new, comment=""):
        """Chatter trace of a status change made elsewhere (portal, supplier, Hélios). After our
        own push (``chorus_pro_quiet_status``), the push's message says it all."""
        if self.env.context.get("chorus_pro_quiet_status"):
            return
        body = Markup("%s") % _(
            "Chorus Pro status changed: %(old)s → %(new)s",
            old=self._status_label(previous) if previous else "–",
            new=self._status_label(new),
        )
        if comment:
            body += Markup("<br/>") + _("Comment: %(comment)s", comment=comment)
        self.message_post(body=body, subtype_xmlid="mail.mt_note")

    def _apply_history(self, history):
        """Store Chorus's status history (upsert) and the dates derived from it (Paris dates).

        An entry Odoo recorded itself (``is_local``: a status Chorus accepted, see
        ``chorus.pro.status.push``) is replaced by Chorus's own entry of the same status."""
        self.ensure_one()
        Status = self.env["chorus.pro.invoice.status"].sudo()
        stored = self.status_history_ids.filtered(lambda entry: not entry.is_local)
        known = {(entry.chorus_history_id, entry.code, entry.at) for entry in stored}
        known_ids = {entry.chorus_history_id for entry in stored if entry.chorus_history_id}
        to_create = []
        for event in history.events:
            at = to_utc_naive(event.at)
            if event.chorus_id and event.chorus_id in known_ids:
                continue
            if (event.chorus_id or 0, event.code, at) in known:
                continue
            # An entry listed twice in one answer is stored once.
            known.add((event.chorus_id or 0, event.code, at))
            if event.chorus_id:
                known_ids.add(event.chorus_id)
            to_create.append({
                "invoice_id": self.id,
                "code": event.code,
                "at": at,
                "comment": (event.comment or "")[:255] or False,
                "chorus_history_id": event.chorus_id or 0,
                "author": event.user_name or False,
            })
        if to_create:
            # Entries Odoo recorded itself when Chorus accepted a status (no history re-read
            # then) give way to Chorus's own entry of that status as soon as it arrives.
            arriving = {vals["code"] for vals in to_create}
            self.status_history_ids.filtered(
                lambda entry: entry.is_local and entry.code in arriving
            ).unlink()
            Status.create(to_create)
        vals = {}
        first = history.first(chorus_statuses.MISE_A_DISPOSITION)
        if first and first.at:
            vals.update(
                mise_a_disposition_at=to_utc_naive(first.at),
                mise_a_disposition_date=paris_date(first.at),
            )
        current = history.current_status or (history.events[-1].code if history.events else "")
        if current and current != self.chorus_status_code:
            previous = self.chorus_status_code
            last = history.last(current)
            vals.update(
                chorus_status=self._status_selection_value(current),
                chorus_status_code=current,
                chorus_status_comment=(last.comment or "")[:255] or False if last else False,
            )
            if last and last.at:
                vals["status_datetime"] = to_utc_naive(last.at)
            self.write(vals)
            self._post_status_change(previous, current, last.comment if last else "")
        elif vals:
            self.write(vals)

    def _chorus_record_values(self, record, service_for=None):
        """The values of this invoice (or of a new one) from what Chorus says of it: a search
        item, a PIVOT invoice or a consult answer, mapped by ``chorus_pro.mapping``; what only
        Odoo knows is resolved here: the currency, the service (``service_for(chorus id, code,
        name)`` gives it, a search item only), the status shown, the VAT recap and the lines."""
        known = {name: self[name] for name in KNOWN_FIELDS} if len(self) == 1 else {}
        vals = invoice_values(record, known)
        currency_id = self._chorus_currency_id(vals.pop("currency_code", None))
        if currency_id:
            vals["currency_id"] = currency_id
        if "service_chorus_id" in vals:
            chorus_id = vals.pop("service_chorus_id")
            service = service_for(chorus_id, vals["service_code"], vals["service_name"]) if (
                chorus_id and service_for) else None
            vals.update(
                service_id=service.id if service else False,
                service_code=vals["service_code"] or (service.code if service else False),
                service_name=vals["service_name"] or (service.name if service else False),
            )
        if "chorus_status_code" in vals:
            vals["chorus_status"] = self._status_selection_value(vals["chorus_status_code"])
        if "taxes" in vals:
            vals["tax_ids"] = [Command.clear()] + [Command.create(tax) for tax in vals.pop("taxes")]
        if "lines" in vals:
            vals["line_ids"] = [Command.clear()] + [Command.create(line)
                                                    for line in vals.pop("lines")]
        return vals

    @api.model
    @tools.ormcache("code")
    def _chorus_currency_id(self, code):
        """The currency of an ISO code (Odoo has them all, active or not), or False."""
        if not code:
            return False
        return self.env["res.currency"].with_context(active_test=False).search(
            [("name", "=", code)], limit=1
        ).id or False

    def _store_pivot_attachments(self, pivot):
        """Attach the PIVOT's files: the invoice PDF flagged as main document, each complementary
        attachment under its original name. A file already attached (same content) is kept.
        A main document that is not a PDF (the supplier's UBL, CII or PIVOT XML) is kept as
        another file: the PDF shown is then Chorus's rendering (``_store_pdf_rendering``)."""
        self.ensure_one()
        self._chorus_store_pivot_files([(self, pivot)])

    @api.model
    def _chorus_store_pivot_files(self, pairs):
        """``_store_pivot_attachments`` of several invoices at once: ``pairs`` of (invoice, PIVOT
        invoice). One search for the files they already have, one ``create`` for the new ones
        (a retrieval stores a whole download bundle this way)."""
        if not pairs:
            return
        Attachment = self.env["ir.attachment"].sudo()
        invoice_ids = [invoice.id for invoice, _pivot in pairs]
        existing_by_invoice = {invoice_id: {} for invoice_id in invoice_ids}
        for att in Attachment.search([("res_model", "=", self._name),
                                      ("res_id", "in", invoice_ids)]):
            existing_by_invoice[att.res_id].setdefault(att.checksum, att)
        to_create = []  # values of the new files
        plans = []  # (invoice, existing files, main: an attachment or an index in to_create)
        for invoice, pivot in pairs:
            existing = existing_by_invoice[invoice.id]
            # Files of this invoice created in this call, by checksum: their index in to_create.
            created = {}
            main = pivot.main_pdf
            main_attachment = None
            for document in pivot.attachments:
                if not document.content:
                    continue
                checksum = hashlib.sha1(document.content).hexdigest()
                attachment = existing.get(checksum)
                if attachment is None and checksum not in created:
                    # A name from outside: no folders, no invisible or control characters.
                    name = chorus_text.clean_file_name(
                        document.original_name or document.name, default=_("attachment"))
                    created[checksum] = len(to_create)
                    to_create.append({
                        "name": name,
                        "raw": document.content,
                        "mimetype": document.mime_type or None,
                        "res_model": self._name,
                        "res_id": invoice.id,
                        "company_id": invoice.company_id.id,
                        "chorus_pro_original_name": name,
                        "chorus_pro_type_code": document.type_code or False,
                    })
                if document is main:
                    main_attachment = attachment if attachment is not None else created[checksum]
            plans.append((invoice, existing, main_attachment))
        for _invoice, _existing, main_attachment in plans:
            if isinstance(main_attachment, int):
                to_create[main_attachment]["chorus_pro_is_main"] = True
        new_files = Attachment.create(to_create) if to_create else Attachment
        for invoice, existing, main_attachment in plans:
            if main_attachment is None:
                continue
            if isinstance(main_attachment, int):
                main_attachment = new_files[main_attachment]
            else:
                main_attachment.chorus_pro_is_main = True
            # The main document is one file: the others of the invoice are not.
            Attachment.browse([att.id for att in existing.values()
                               if att != main_attachment and att.chorus_pro_is_main]).write(
                {"chorus_pro_is_main": False})
            invoice.write({
                "main_attachment_pdf_id": main_attachment.id,
                "message_main_attachment_id": main_attachment.id,
            })

    def _store_pdf_rendering(self, content):
        """Chorus's PDF rendering of an invoice deposited as structured data becomes its main
        document (shown, attached to the mandate); the supplier's XML stays among its files."""
        self.ensure_one()
        # The client hands over PDFs only (chorus_pro.client.download_invoice_pdf(s)).
        Attachment = self.env["ir.attachment"].sudo()
        checksum = hashlib.sha1(content).hexdigest()
        files = Attachment.search([("res_model", "=", self._name), ("res_id", "=", self.id)])
        rendering = files.filtered(lambda att: att.checksum == checksum)[:1]
        if not rendering:
            # The supplier's number may hold slashes: a label, never a path.
            name = chorus_text.clean_file_name(
                "%s.pdf" % (self.number or "").replace("/", "-"), default=f"{self.chorus_id}.pdf")
            rendering = Attachment.create({
                "name": name,
                "raw": content,
                "mimetype": "application/pdf",
                "res_model": self._name,
                "res_id": self.id,
                "company_id": self.company_id.id,
                "chorus_pro_original_name": name,
                "chorus_pro_type_code": "01",
            })
        (files - rendering).filtered("chorus_pro_is_main").write({"chorus_pro_is_main": False})
        rendering.chorus_pro_is_main = True
        self.write({
            "main_attachment_pdf_id": rendering.id,
            "message_main_attachment_id": rendering.id,
            # Nothing is missing any more (the message said the PDF was).
            "rendering_pending": False,
            "sync_error": False,
        })
        return rendering

    @api.model
    def _files_missing_domain(self):
        """Invoices whose files, or Chorus's PDF, are not in Odoo (the screen's "Files missing";
        the search filter of the same name says the same)."""
        return ["|", ("files_state", "in", ("error", "unavailable")),
                ("rendering_pending", "=", True)]


class ChorusProInvoiceTax(models.Model):
    _name = "chorus.pro.invoice.tax"
    _description = "Chorus Pro invoice VAT line"
    _order = "rate desc"

    invoice_id = fields.Many2one("chorus.pro.invoice", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="invoice_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="invoice_id.currency_id")
    rate = fields.Float(string="VAT rate (%)", digits=(5, 3))
    base = fields.Monetary(string="Base")
    amount = fields.Monetary(string="VAT")


class ChorusProInvoiceLine(models.Model):
    _name = "chorus.pro.invoice.line"
    _description = "Chorus Pro invoice line"
    _order = "invoice_id, sequence, id"

    invoice_id = fields.Many2one("chorus.pro.invoice", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="invoice_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="invoice_id.currency_id")
    sequence = fields.Integer()
    reference = fields.Char()
    name = fields.Char(string="Description")
    quantity = fields.Float(digits="Product Unit of Measure")
    unit_code = fields.Char(string="Unit")
    price_unit = fields.Float(string="Unit price", digits="Product Price")
    discount_amount = fields.Monetary(string="Discount")
    tax_rate = fields.Float(string="VAT rate (%)", digits=(5, 3))
    amount_untaxed = fields.Monetary(string="Untaxed amount")
    amount_tax = fields.Monetary(string="VAT")
    amount_total = fields.Monetary(string="Total")


class ChorusProInvoiceStatus(models.Model):
    """One step of an invoice's status history, as Chorus reports it (or as we pushed it)."""

    _name = "chorus.pro.invoice.status"
    _description = "Chorus Pro invoice status history"
    _order = "at desc, id desc"

    invoice_id = fields.Many2one("chorus.pro.invoice", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="invoice_id.company_id", store=True, index=True)
    code = fields.Char(string="Status", required=True)
    label = fields.Char(compute="_compute_label")
    at = fields.Datetime(string="Date")
    comment = fields.Char(string="Comment / motif")
    chorus_history_id = fields.Integer(string="Chorus history ID")
    author = fields.Char(string="By (in Chorus)")
    is_local = fields.Boolean(
        string="Recorded by Odoo",
        readonly=True,
        help="Recorded by Odoo from Chorus Pro's answer when it accepted a status; replaced by "
        "Chorus Pro's own history entry at the next retrieval.",
    )

    def init(self):
        super().init()
        # Chorus's history entries are stored once per invoice, whoever stores them (a sync and
        # a status push reading the history at the same time): a second copy of a suspension
        # would count as a second interruption of the payment delay.
        self.env.cr.execute(
            """CREATE UNIQUE INDEX IF NOT EXISTS chorus_pro_invoice_status_one_chorus_entry
                   ON chorus_pro_invoice_status (invoice_id, chorus_history_id)
                WHERE chorus_history_id > 0 AND is_local IS NOT TRUE"""
        )

    def _compute_label(self):
        labels = selection_labels(self.env["chorus.pro.invoice"], "chorus_status")
        for entry in self:
            entry.label = labels.get(entry.code, entry.code)
