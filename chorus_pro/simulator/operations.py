"""The Chorus Pro operations of the simulator (``/cpro/...``): searches, consult, download, status
changes, history, transverses and structures.

:class:`ChorusOperations` is a part of :class:`.core.SimulatorCore` (it reads the world, the lock
and the configuration the core holds); :data:`ROUTES` maps each operation path to its method.
"""

from __future__ import annotations

import base64
import threading
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Optional

from chorus_pro import statuses as st
from chorus_pro.timeutil import PARIS

from . import documents
from .checks import (
    MAX_PAGE_SIZE, BadRequest, Forbidden, _as_bool, _as_decimal, _as_int, _date_bound, _page_of,
    _paging, _status_period, _str_list,
)
from .protocol import (
    CODE_DOWNLOAD_REFUSED, CODE_MOTIF_MISSING, CODE_MOTIF_TOO_LONG, CODE_NO_RESULT,
    CODE_NO_WORKS_RESULT, CODE_TRANSITION, CODE_UNKNOWN, LABEL_NO_RESULT, LABEL_NO_WORKS_RESULT,
    LABEL_TRANSITION, LABEL_UNKNOWN_INVOICE, Response, _functional, _json, _ok,
)
from .runtime import SimulatorConfig
from .world import (
    CORRUPT_NO_RENDERING, HIDDEN_FROM_RECIPIENT, SimHistoryEntry, SimInvoice, World,
)


def _iso(moment: datetime) -> str:
    return moment.astimezone(PARIS).isoformat(timespec="milliseconds")


# The real portal sends identifiers and amounts as JSON strings ("12345", "1200.50") as often
# as numbers; the simulator always sends strings, so that every client test meets that shape.
def _money(value: Decimal) -> str:
    return f"{Decimal(value):.2f}"


def _number(value) -> str:
    return f"{Decimal(value).normalize():f}"


def _id(value) -> Optional[str]:
    return None if value is None else str(value)


def _amounts(invoice: SimInvoice) -> dict:
    """HT, TTC and to pay, as a search item gives them."""
    return {"montantHT": _money(invoice.amount_ht), "montantTTC": _money(invoice.amount_ttc),
            "montantAPayer": _money(invoice.amount_to_pay)}


def _service_fields(service, name_key: str = "nomServiceExecutant") -> dict:
    """The executing service of an invoice (``None``: no service)."""
    return {"idServiceExecutant": _id(service.id) if service else None,
            "codeServiceExecutant": service.code if service else "",
            name_key: service.name if service else ""}


def _works_service_fields(service) -> dict:
    """A works invoice names its service ``identifiantServiceExecutant`` (real answers), not
    ``codeServiceExecutant``."""
    fields = _service_fields(service)
    fields["identifiantServiceExecutant"] = fields.pop("codeServiceExecutant")
    return fields


def _rate_code(rate: Decimal) -> str:
    return "TVA" + _number(rate).replace(".", "_")


class ChorusOperations:
    """The ``/cpro`` operations; mixed into :class:`.core.SimulatorCore`."""

    # Held by SimulatorCore.
    lock: threading.RLock
    world: World
    config: SimulatorConfig
    cache: documents.DocumentCache
    downloads_asked: dict
    _flow_counter: int

    # -- shared look-ups (call with the lock held) ------------------------------------------------
    def _scope(self, id_destinataire) -> list[int]:
        world = self.world
        attached = [s.id for s in world.attached_structures()]
        structure_id = _as_int(id_destinataire, "idDestinataire")
        if structure_id is None:
            return attached
        if structure_id not in attached:
            raise Forbidden()
        return [structure_id]

    def _service_of(self, invoice: SimInvoice):
        return self.world.structures[invoice.structure_id].service_by_code(invoice.service_code)

    def _search_item(self, invoice: SimInvoice, with_size: bool) -> dict:
        world = self.world
        structure = world.structures[invoice.structure_id]
        service = self._service_of(invoice)
        supplier = world.supplier_of(invoice)
        item = {
            "idFacture": _id(invoice.id),
            "numeroFacture": invoice.number,
            "typeDemandePaiement": invoice.payment_request_type,
            "typeFacture": invoice.invoice_type,
            "statut": invoice.status,
            "dateHeureEtatCourant": _iso(invoice.status_at),
            "commentaireEtatCourant": invoice.status_comment,
            "dateFacture": invoice.invoice_date.isoformat(),
            "dateDepot": invoice.deposit_date.isoformat(),
            "devise": invoice.currency,
            **_amounts(invoice),
            "idDestinataire": _id(structure.id),
            "codeDestinataire": structure.siret,
            "designationDestinataire": structure.name,
            **_service_fields(service),
            "codeFournisseur": supplier.siret,
            "typeIdentifiantFournisseur": "SIRET",
            "designationFournisseur": supplier.name,
            "codeServiceFournisseur": "",
            "nomServiceFournisseur": "",
            "numeroBonCommande": invoice.purchase_order,
            "numeroMarche": invoice.contract,
            "factureTelechargeeParDestinataire": invoice.downloaded,
        }
        if invoice.is_works:
            item["typeFactureTravaux"] = invoice.works_type
        if with_size:
            item["taille"] = invoice.size
        return item

    def _invoice(self, value, name: str) -> Optional[SimInvoice]:
        invoice_id = _as_int(value, name, required=True)
        invoice = self.world.invoices.get(invoice_id)
        if invoice is None or not self.world.structures[invoice.structure_id].attached:
            return None
        return invoice

    # -- factures/v1/rechercher/recipiendaire -----------------------------------------------------
    SORT_KEYS: dict[str, Callable[[SimInvoice], Any]] = {
        "datedepot": lambda inv: inv.deposit_date,
        "numerofacture": lambda inv: inv.number,
        "dateheureetatcourant": lambda inv: inv.status_at,
        "datefacture": lambda inv: inv.invoice_date,
        "montantttc": lambda inv: inv.amount_ttc,
        "montantht": lambda inv: inv.amount_ht,
        "montantapayer": lambda inv: inv.amount_to_pay,
        "idfacture": lambda inv: inv.id,
        "statut": lambda inv: inv.status,
        "facturetelechargeepardestinataire": lambda inv: inv.downloaded,
    }

    def _sorted(self, invoices: list, column, direction) -> list:
        key = self.SORT_KEYS.get(str(column or "").lower())
        reverse = str(direction or "").strip().lower().startswith("desc")
        if key is None:
            return sorted(invoices, key=lambda inv: inv.id, reverse=reverse)
        return sorted(invoices, key=lambda inv: (key(inv), inv.id), reverse=reverse)

    def op_search_recipient(self, body: dict) -> Response:
        request_type = body.get("typeDemandePaiement") or "FACTURE"
        if request_type not in ("FACTURE", "FACTURE_TRAVAUX"):
            raise BadRequest("typeDemandePaiement doit valoir FACTURE ou FACTURE_TRAVAUX")
        statuses = _str_list(body.get("statutCourant"), "statutCourant")
        invoice_types = _str_list(body.get("listeTypeFacture"), "listeTypeFacture")
        frame = body.get("cadreFacturation") or None
        status_from, status_to = _status_period(body)
        deposit_from = _date_bound(body.get("periodeDateDepotDu"), "periodeDateDepotDu")
        deposit_to = _date_bound(body.get("periodeDateDepotAu"), "periodeDateDepotAu")
        invoice_from = _date_bound(body.get("periodeDateFactureDu"), "periodeDateFactureDu")
        invoice_to = _date_bound(body.get("periodeDateFactureAu"), "periodeDateFactureAu")
        downloaded = _as_bool(body.get("factureTelechargeeParDestinataire"),
                              "factureTelechargeeParDestinataire")
        with_size = bool(_as_bool(body.get("recupererTaille"), "recupererTaille"))
        service_id = _as_int(body.get("idServiceExecutant"), "idServiceExecutant")
        amounts = {
            name: _as_decimal(body.get(name), name)
            for name in ("montantHTMin", "montantHTMax", "montantTTCMin", "montantTTCMax",
                         "montantApayerMin", "montantApayerMax")
        }
        supplier_ids = None
        if body.get("listeFournisseurs"):
            entries = body["listeFournisseurs"]
            if not isinstance(entries, list):
                raise BadRequest("listeFournisseurs doit être une liste")
            supplier_ids = {_as_int((e or {}).get("idFournisseur"), "idFournisseur")
                            for e in entries if isinstance(e, dict)}
        page, size = _paging(body.get("paramRecherche"), "pageResultatDemandee",
                             "nbResultatsParPage")
        sort = body.get("paramRecherche") or {}

        with self.lock:
            scope = set(self._scope(body.get("idDestinataire")))
            world = self.world

            def matches(inv: SimInvoice) -> bool:
                if inv.structure_id not in scope or inv.payment_request_type != request_type:
                    return False
                if inv.status in HIDDEN_FROM_RECIPIENT:
                    return False
                if statuses and inv.status not in statuses:
                    return False
                if invoice_types and inv.invoice_type not in invoice_types:
                    return False
                if frame and frame not in (inv.frame, inv.frame.split("_", 1)[0]):
                    return False
                if status_from and inv.status_at < status_from:
                    return False
                if status_to and inv.status_at > status_to:
                    return False
                if deposit_from and inv.deposit_date < deposit_from:
                    return False
                if deposit_to and inv.deposit_date > deposit_to:
                    return False
                if invoice_from and inv.invoice_date < invoice_from:
                    return False
                if invoice_to and inv.invoice_date > invoice_to:
                    return False
                if downloaded is not None and inv.downloaded != downloaded:
                    return False
                if body.get("numeroFacture") and inv.number != body["numeroFacture"]:
                    return False
                purchase_order = body.get("numeroBonCommande")
                if purchase_order and inv.purchase_order != purchase_order:
                    return False
                if body.get("numeroMarche") and inv.contract != body["numeroMarche"]:
                    return False
                if service_id is not None:
                    service = self._service_of(inv)
                    if service is None or service.id != service_id:
                        return False
                if supplier_ids is not None and world.supplier_of(inv).id not in supplier_ids:
                    return False
                for name, limit in amounts.items():
                    if limit is None:
                        continue
                    value = {"montantHT": inv.amount_ht, "montantTTC": inv.amount_ttc,
                             "montantApayer": inv.amount_to_pay}[name[:-3]]
                    if (name.endswith("Min") and value < limit) or (
                            name.endswith("Max") and value > limit):
                        return False
                return True

            found = self._sorted([inv for inv in world.invoices.values() if matches(inv)],
                                 sort.get("triColonne"), sort.get("triSens"))
            chunk, pages, total = _page_of(found, page, size)
            items = [self._search_item(inv, with_size) for inv in chunk]
        pagination = {"pageCourante": page, "pages": pages, "nbResultatsParPage": size,
                      "total": total}
        if not items:
            return _functional(CODE_NO_RESULT, LABEL_NO_RESULT, **pagination, listeFactures=[])
        return _ok(**pagination, listeFactures=items)

    # -- facturesTravaux/v1/rechercher ------------------------------------------------------------
    def _works_item(self, invoice: SimInvoice) -> dict:
        world = self.world
        structure = world.structures[invoice.structure_id]
        service = self._service_of(invoice)
        supplier = world.supplier_of(invoice)
        return {
            "idFactureTravaux": _id(invoice.id),
            "numeroFactureTravaux": invoice.number,
            "statutFactureTravaux": invoice.status,
            "typeFactureTravaux": invoice.works_type,
            "typeDemandePaiement": invoice.payment_request_type,
            "identifiantFournisseur": supplier.siret,
            "typeIdentifiantFournisseur": "SIRET",
            "designationFournisseur": supplier.name,
            "idDestinataire": _id(structure.id),
            "identifiantDestinataire": structure.siret,
            "designationDestinataire": structure.name,
            "dateDepot": invoice.deposit_date.isoformat(),
            "dateFacture": invoice.invoice_date.isoformat(),
            "dateFactureTravaux": invoice.invoice_date.isoformat(),
            "dateHeureEtatCourant": _iso(invoice.status_at),
            **_amounts(invoice),
            "devise": invoice.currency,
            **_works_service_fields(service),
            "numeroBonCommande": invoice.purchase_order,
            "numeroMarche": invoice.contract,
            "factureTelechargeeParDestinataire": invoice.downloaded,
            "taille": invoice.size,
        }

    def op_search_works(self, body: dict) -> Response:
        role = str(body.get("roleUtilisateur") or "").upper()
        status_from, status_to = _status_period(body)
        downloaded = _as_bool(body.get("flagTelecharge"), "flagTelecharge")
        service_id = _as_int(body.get("idServiceExecutant"), "idServiceExecutant")
        statuses = _str_list(body.get("statutFactureTravaux") or body.get("statutCourant"),
                             "statutFactureTravaux")
        params = body.get("rechercheFactureTravaux") or {}
        page, size = _paging(params, "pageResultatDemandee", "nbResultatsParPage")
        with self.lock:
            scope = set(self._scope(body.get("idDestinataire")))
            found = []
            # We are the contracting authority: a search as supplier / MOE / validator is empty.
            if role in ("", "MOA", "DESTINATAIRE"):
                for inv in self.world.invoices.values():
                    if not inv.is_works or inv.structure_id not in scope:
                        continue
                    if inv.status in HIDDEN_FROM_RECIPIENT:
                        continue
                    if statuses and inv.status not in statuses:
                        continue
                    if status_from and inv.status_at < status_from:
                        continue
                    if status_to and inv.status_at > status_to:
                        continue
                    if downloaded is not None and inv.downloaded != downloaded:
                        continue
                    if service_id is not None:
                        service = self._service_of(inv)
                        if service is None or service.id != service_id:
                            continue
                    found.append(inv)
            found = self._sorted(found, params.get("triColonne"), params.get("triSens"))
            chunk, pages, total = _page_of(found, page, size)
            items = [self._works_item(inv) for inv in chunk]
        returned = {"pageCourante": page, "pages": pages, "nbResultatsParPage": size,
                    "total": total}
        if not items:
            return _functional(CODE_NO_WORKS_RESULT, LABEL_NO_WORKS_RESULT,
                               listeFacturesTravaux=[], parametresRetour=returned)
        return _ok(listeFacturesTravaux=items, parametresRetour=returned)

    # -- factures/v1/consulter/recipiendaire ------------------------------------------------------
    @staticmethod
    def _sub_page(rows: list, params, suffix_page: str, suffix_size: str, names: tuple) -> dict:
        """Paging of the consult sub-lists (lines, VAT recap, attachments)."""
        page, size = 1, max(len(rows), 1)
        if isinstance(params, dict):
            page = _as_int(params.get(f"pageResultatDemandee{suffix_page}"), "page") or 1
            size = min(_as_int(params.get(f"nbResultatsParPage{suffix_size}"), "size") or size,
                       MAX_PAGE_SIZE)
        chunk, pages, total = _page_of(rows, page, max(size, 1))
        list_name, page_name, pages_name, size_name, total_name = names
        return {list_name: chunk, page_name: page, pages_name: pages, size_name: size,
                total_name: total}

    def _consult_payload(self, invoice: SimInvoice, body: dict) -> dict:
        world = self.world
        structure = world.structures[invoice.structure_id]
        service = self._service_of(invoice)
        supplier = world.supplier_of(invoice)
        payee = world.payee_of(invoice)
        factor = world.factor_of(invoice)
        iban = payee.iban
        fournisseur = {
            "idFournisseur": _id(supplier.id),
            "codeFournisseur": supplier.siret,
            "typeIdentifiantFournisseur": "SIRET",
            "designationFournisseur": supplier.name,
            "idServiceFournisseur": None,
            "codeServiceFournisseur": "",
            "libelleServiceFournisseur": "",
            "numeroRcsFournisseur": supplier.rcs,
            "adresseFournisseurId": _id(supplier.id * 10 + 1),
            "adresseFournisseurDetail": supplier.address.street,
            "adresseFournisseurComplement1": supplier.address.street2,
            "adresseFournisseurComplement2": "",
            "adresseFournisseurCodePostal": supplier.address.zip,
            "adresseFournisseurVille": supplier.address.city,
            "adresseFournisseurCodePays": supplier.address.country_code,
            "adresseFournisseurLibellePays": supplier.address.country_name,
            "coordBancairesFournisseurId": _id(payee.bank_account_id),
            "coordBancairesFournisseurType": "IBAN",
            "coordBancairesFournisseurLibelle": (
                f"Compte {payee.name} (affacturage)" if factor else "Compte principal"),
            "coordBancairesFournisseurCodePays": iban[:2],
            # Full IBAN here; the RIB pieces below are derived from it (doc §10.6).
            "coordBancairesFournisseurCompteBancaire": iban,
            "coordBancairesFournisseurCleIban": iban[2:4],
            "coordBancairesFournisseurCodeBanque": iban[4:9],
            "coordBancairesCodeGuichet": iban[9:14],
            "coordBancairesFournisseurCleRib": iban[-2:],
            "coordBancairesBicSwift": payee.bic,
        }
        if factor is not None:
            fournisseur["affactureur"] = {
                "affactureurId": _id(factor.id),
                "affactureurCode": factor.siret,
                "affactureurTypeIdentifiant": "SIRET",
                "affactureurRaisonSociale": factor.name,
                "affactureurCodePays": "FR",
            }
        lines = [{
            "lignePosteNumero": line.number,
            "lignePosteReference": line.reference,
            "lignePosteDenomination": line.name,
            "lignePosteQuantite": _number(line.quantity),
            "lignePosteUniteCode": line.unit_code,
            "lignePosteUniteLibelle": line.unit_label,
            "lignePosteMontantUnitaireHT": _money(line.unit_price),
            "lignePosteMontantRemiseHT": _money(line.discount),
            "lignePosteTauxTva": _rate_code(line.vat_rate),
            "lignePosteTauxTvaManuel": _number(line.vat_rate),
            "lignePosteMontantTva": _money(line.amount_vat),
            "lignePosteMontantHtApresRemise": _money(line.amount_ht),
            "lignePosteMontantTtcApresRemise": _money(line.amount_ht + line.amount_vat),
        } for line in invoice.lines]
        vat_rows = [{
            "ligneTvaTauxRefCode": _rate_code(vat.rate),
            "ligneTvaTauxRefValeur": _number(vat.rate),
            "ligneTvaTauxRefLibelle": f"{documents.format_rate(vat.rate)}",
            "ligneTvaTauxManuel": None,
            "ligneTvaMontantBaseHtParTaux": _money(vat.base),
            "ligneTvaMontantTvaParTaux": _money(vat.amount),
        } for vat in invoice.vat]
        attachments = [{
            "pieceJointeId": _id(a.id),
            "pieceJointeDesignation": a.name.rsplit(".", 1)[0],
            "pieceJointeExtension": "XML" if a.is_xml else "PDF",
            "pieceJointeTypeCode": a.type_code,
            "pieceJointeTypeLibelle": a.type_label,
            "pieceJointeIdLiaison": a.id + 500000,
            "pieceJointeNumeroLigneFacture": None,
        } for a in invoice.attachments]
        main = invoice.main_attachment
        return {
            "identifiantFactureCPP": _id(invoice.id),
            "numeroFacture": invoice.number,
            "statutFacture": invoice.status,
            "modeDepot": invoice.deposit_mode,
            "commentaire": invoice.comment,
            "cadreDeFacturation": {"codeCadreFacturation": invoice.frame},
            "destinataire": {
                "idDestinataire": _id(structure.id),
                "codeDestinataire": structure.siret,
                "libelleDestinataire": structure.name,
                **_service_fields(service, name_key="libelleServiceExecutant"),
                "destinataireEtat": "NON",
                "adresseDestinataireId": _id(structure.id * 10 + 1),
                "adresseDestinataireDetail": structure.address.street,
                "adresseDestinataireComplement1": structure.address.street2,
                "adresseDestinataireCodePostal": structure.address.zip,
                "adresseDestinataireVille": structure.address.city,
                "adresseDestinataireCodePays": structure.address.country_code,
                "adresseDestinataireLibellePays": structure.address.country_name,
            },
            "fournisseur": fournisseur,
            "references": {
                "codeDeviseFacture": invoice.currency,
                "libelleDeviseFacture": "Euro",
                "dateFacture": invoice.invoice_date.isoformat(),
                "dateDepot": invoice.deposit_date.isoformat(),
                "dateCreationFacture": _iso(invoice.history[0].at),
                "dateEcheancePaiement": invoice.due_date.isoformat(),
                "modePaiement": invoice.payment_mode,
                "typeFacture": invoice.invoice_type,
                "typeTva": invoice.vat_type,
                "motifExonerationTva": "",
                "libelleMotifExonerationTva": "",
                "numeroBonCommande": invoice.purchase_order,
                "numeroMarche": invoice.contract,
                "numeroFactureOrigine": invoice.origin_invoice_number,
                "numeroDpMandat": invoice.mandate_number,
                "typeFactureTravaux": invoice.works_type,
                "tailleTotalePiecesJointes": invoice.size,
            },
            "montantTotal": {
                "montantHtTotal": _money(invoice.amount_ht),
                "montantTVA": _money(invoice.amount_vat),
                "montantTtcTotal": _money(invoice.amount_ttc),
                "montantTtcAvantRemiseGlobalTTC": _money(invoice.amount_ttc),
                "montantRemiseGlobaleTTC": 0.0,
                "motifRemiseGlobaleTTC": "",
                "montantAPayer": _money(invoice.amount_to_pay),
            },
            "lignesDePoste": self._sub_page(
                lines, body.get("rechercheLignePoste"), "LignesPoste", "LignesPoste",
                ("lignePoste", "pageCouranteLignesPoste", "pagesLignesPoste",
                 "nbResultatsParPageLignesPoste", "totalLignesPoste")),
            "recapitulatifDeTva": self._sub_page(
                vat_rows, body.get("rechercheligneTvaRecap"), "ListeRecapitulatifTVA",
                "ListeRecapitulatifTVA",
                ("ligneTva", "pageCouranteLignesRecapitulativesTVA",
                 "pagesLignesRecapitulativesTVA", "nbResultatsParPageLignesRecapitulativesTVA",
                 "totalLignesRecapitulativesTVA")),
            "listeDesPiecesJointes": self._sub_page(
                attachments, body.get("recherchePj"), "ListePieceJointe", "ListePieceJointe",
                ("pieceJointe", "pageCouranteListePiecesJointe", "pagesListePiecesJointe",
                 "nbResultatsParPageListePiecesJointe", "totalListePiecesJointe")),
            "pieceJointePrincipale": {"idPieceJointePrincipale": _id(main.id),
                                      "idLiaisonPieceJointePrincipale": _id(main.id + 500000)},
        }

    def op_consult(self, body: dict) -> Response:
        with self.lock:
            invoice = self._invoice(body.get("identifiantFactureCPP"), "identifiantFactureCPP")
            if invoice is None:
                return _functional(CODE_UNKNOWN, LABEL_UNKNOWN_INVOICE)
            return _ok(facture=self._consult_payload(invoice, body))

    # -- factures/v1/telecharger/groupe -----------------------------------------------------------
    def op_download(self, body: dict) -> Response:
        entries = body.get("listeFacture")
        if not isinstance(entries, list) or not entries:
            raise BadRequest("listeFacture doit être une liste non vide de {idFacture}")
        ids = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise BadRequest("listeFacture doit contenir des objets {idFacture}")
            ids.append(_as_int(entry.get("idFacture"), "idFacture", required=True))
        file_format = str(body.get("format") or "").upper()
        if file_format not in ("PDF", "PIVOT"):
            raise BadRequest("format doit valoir PDF ou PIVOT")
        with_complementary = bool(_as_bool(body.get("avecPiecesJointesComplementaires"),
                                           "avecPiecesJointesComplementaires"))
        limit = int(self.config.max_download_mb * 1024 * 1024)
        with self.lock:
            for invoice_id in dict.fromkeys(ids):
                key = (file_format, invoice_id)
                self.downloads_asked[key] = self.downloads_asked.get(key, 0) + 1
            invoices = []
            for invoice_id in dict.fromkeys(ids):
                invoice = self.world.invoices.get(invoice_id)
                if invoice is None or not self.world.structures[invoice.structure_id].attached:
                    return _functional(CODE_UNKNOWN, f"{LABEL_UNKNOWN_INVOICE} ({invoice_id})")
                if invoice.download_refused or (
                        file_format == "PDF" and invoice.corruption == CORRUPT_NO_RENDERING):
                    return _functional(
                        CODE_DOWNLOAD_REFUSED,
                        f"GDP_MSG_11.017 Le fichier de la facture {invoice.number} "
                        f"({invoice.id}) n'est pas disponible au téléchargement",
                    )
                invoices.append(invoice)
            announced = sum(inv.size for inv in invoices)
            world = self.world
            self._flow_counter += 1
            flow_id = f"CPP{self.now():%Y%m%d%H%M%S}{self._flow_counter:06d}"
        if announced > limit:
            return self._too_large(announced, limit)
        # Rendering happens outside the lock (documents only depend on immutable fields).
        if file_format == "PIVOT":
            content = documents.build_pivot(world, invoices, produced_at=self.now(),
                                            flow_id=flow_id, cache=self.cache)
        else:
            content, _kind = documents.build_pdf_bundle(world, invoices, with_complementary,
                                                        self.cache)
        if len(content) > limit:
            return self._too_large(len(content), limit)
        with self.lock:
            for invoice in invoices:
                invoice.downloaded = True  # our choice on doc §10.4
            self.mark_dirty()
        return _ok(fichierResultat=base64.b64encode(content).decode("ascii"))

    @staticmethod
    def _too_large(size: int, limit: int) -> Response:
        return _json({"error": "payload_too_large",
                      "error_description": f"Download bundle of {size} bytes exceeds the limit of "
                                           f"{limit} bytes"}, 413)

    # -- factures/v1/traiter/recue ----------------------------------------------------------------
    def op_process(self, body: dict) -> Response:
        target = body.get("nouveauStatut")
        if not isinstance(target, str) or not target:
            raise BadRequest("paramètre obligatoire manquant : nouveauStatut")
        motif = body.get("motif")
        if motif is not None and not isinstance(motif, str):
            raise BadRequest("motif doit être une chaîne")
        motif = (motif or "").strip()
        mandate = body.get("numeroDPMandat")
        with self.lock:
            invoice = self._invoice(body.get("idFacture"), "idFacture")
            if invoice is None:
                return _functional(CODE_UNKNOWN, LABEL_UNKNOWN_INVOICE)
            if not st.is_allowed(invoice.status, target):
                return _functional(CODE_TRANSITION, LABEL_TRANSITION)
            if len(motif) > st.MOTIF_MAX_LENGTH:
                return _functional(
                    CODE_MOTIF_TOO_LONG,
                    f"Le motif ne doit pas dépasser {st.MOTIF_MAX_LENGTH} caractères.")
            if st.motif_required(target) and not motif:
                return _functional(
                    CODE_MOTIF_MISSING,
                    f"Le motif est obligatoire pour passer la facture au statut {target}.")
            now = self.now()
            account = self.world.account
            self._add_history(invoice, target, now, motif, (
                account.login, account.last_name, account.first_name, account.login))
            if target == st.MANDATEE and mandate not in (None, ""):
                invoice.mandate_number = str(mandate)
            self.mark_dirty()
            return _ok(idFacture=_id(invoice.id), numeroFacture=invoice.number,
                       dateTraitement=now.date().isoformat(), nouveauStatut=target)

    def _add_history(self, invoice: SimInvoice, code: str, at: datetime, comment: str,
                     actor: tuple) -> SimHistoryEntry:
        # Never before the current event (same second allowed: the history id breaks ties), and
        # never in the future, so that a search with "...Au = now" sees the change at once.
        at = max(at, invoice.status_at)
        user, last_name, first_name, email = actor
        entry = SimHistoryEntry(
            id=self.world.allocate_history_id(), code=code, at=at.replace(microsecond=0),
            comment=comment, user=user, user_last_name=last_name, user_first_name=first_name,
            user_email=email,
        )
        invoice.history.append(entry)
        return entry

    # -- factures/v1/consulter/historique ---------------------------------------------------------
    def op_history(self, body: dict) -> Response:
        params = body.get("paramRechercheHistoStatuts") or {}
        with self.lock:
            invoice = self._invoice(body.get("idFacture"), "idFacture")
            if invoice is None:
                return _functional(CODE_UNKNOWN, LABEL_UNKNOWN_INVOICE)
            entries = invoice.history_newest_first()
            if str(params.get("triSensListeHistoStatut") or "").lower().startswith("asc"):
                entries.reverse()
            page, size = _paging(params, "pageResultatDemandeeListeHistoStatut",
                                 "nbResultatsParPageListeHistoStatut",
                                 default_size=max(len(entries), 1))
            chunk, pages, total = _page_of(entries, page, size)
            rows = [{
                "histoStatutId": _id(entry.id),
                "histoStatutCode": entry.code,
                "histoStatutDatePassage": entry.at.astimezone(PARIS).strftime("%Y-%m-%d %H:%M"),
                "histoStatutCommentaire": entry.comment,
                "histoStatutUtilisateurNom": entry.user_last_name,
                "histoStatutUtilisateurPrenom": entry.user_first_name,
                "histoStatutUtilisateurEmail": entry.user_email,
                "histoStatutUtilisateurTelephone": "",
            } for entry in chunk]
            current = invoice.current
            return _ok(
                idFacture=_id(invoice.id), numeroFacture=invoice.number,
                modeDepot=invoice.deposit_mode, statutCourantCode=invoice.status,
                derniereAction={"derniereActionId": current.id,
                                "derniereActionCode": current.code},
                historiquesDesStatuts={
                    "histoStatut": rows, "pageCouranteHistoStatut": page,
                    "pagesHistoStatut": pages, "nbResultatsParPageHistoStatut": size,
                    "totalHistoStatut": total,
                },
                historiquesDesActionsUtilisateurs={
                    "histoAction": [], "pageCouranteHistoAction": 1, "pagesHistoAction": 0,
                    "nbResultatsParPageHistoAction": size, "totalHistoAction": 0,
                },
                historiquesDesEvenementsComplementaires={
                    "evenement": [], "pageCouranteEvenement": 1, "pagesEvenement": 0,
                    "nbResultatsParPageEvenement": size, "totalEvenement": 0,
                },
            )

    # -- transverses ------------------------------------------------------------------------------
    def op_possible_states(self, body: dict) -> Response:
        current = body.get("statutCourant")
        if not isinstance(current, str) or not current:
            raise BadRequest("paramètre obligatoire manquant : statutCourant")
        return _ok(listeStatutsPossiblesPourTraitement=[
            {"statutPossiblePourTraitement": code} for code in st.possible_targets(current)
        ])

    def op_states_by_type(self, body: dict) -> Response:
        return _ok(listeEtatDemandePaiement=[{"etatDemandePaiement": code} for code in st.CODES])

    def op_active_structures(self, body: dict) -> Response:
        with self.lock:
            structures = [
                {"idStructureCPP": _id(s.id), "identifiant": s.siret,
                 "designationStructure": s.name, "statut": "ACTIVE"}
                for s in self.world.attached_structures()
            ]
        # A single structure comes as an object, not as a list of one (real answers).
        return _ok(listeStructures=structures[0] if len(structures) == 1 else structures)

    def op_vat_rates(self, body: dict) -> Response:
        rates = [("TVA20", 20.0), ("TVA10", 10.0), ("TVA5_5", 5.5), ("TVA2_1", 2.1),
                 ("TVA0", 0.0)]
        return _ok(listeTauxTva=[
            {"codeTauxTva": code, "libelleTauxTva": f"{value:g} %".replace(".", ","),
             "valeurTauxTva": value} for code, value in rates
        ])

    def op_health(self, body: dict) -> Response:
        return _json({"body": "OK", "statusCode": "OK", "statusCodeValue": 200})

    # -- structures -------------------------------------------------------------------------------
    def _all_parties(self) -> list[dict]:
        """Every structure a search can find: public bodies, then suppliers and factors."""
        world = self.world
        parties = [{"id": s.id, "siret": s.siret, "name": s.name, "public": True,
                    "attached": s.attached} for s in world.structures.values()]
        parties += [{"id": s.id, "siret": s.siret, "name": s.name, "public": False,
                     "attached": False} for s in world.suppliers + world.factors]
        return parties

    def op_search_structures(self, body: dict) -> Response:
        criteria = body.get("structure") or {}
        if not isinstance(criteria, dict):
            raise BadRequest("structure doit être un objet")
        identifier = str(criteria.get("identifiantStructure") or "").replace(" ", "")
        identifier_type = criteria.get("typeIdentifiantStructure")
        name = str(criteria.get("raisonSocialeStructure") or criteria.get("libelleStructure")
                   or "").lower()
        restrict = _as_bool(body.get("restreindreStructuresPrivees"),
                            "restreindreStructuresPrivees")
        restrict = True if restrict is None else restrict
        page, size = _paging(body.get("parametres"), "pageResultatDemandee", "nbResultatsParPage")
        if identifier_type not in (None, "", "SIRET"):
            found = []
        else:
            with self.lock:
                found = [
                    p for p in self._all_parties()
                    if (not identifier or p["siret"] == identifier)
                    and (not name or name in p["name"].lower())
                    and (p["public"] or p["attached"] or not restrict)
                ]
        chunk, pages, total = _page_of(found, page, size)
        rows = [{
            "idStructureCPP": _id(p["id"]), "identifiantStructure": p["siret"],
            "typeIdentifiantStructure": "SIRET", "designationStructure": p["name"],
            "statut": "ACTIVE" if p["public"] else "ACTIF",
        } for p in chunk]
        return _json({
            "codeRetour": 0, "libelle": "GCU_MSG_01_000",
            # One structure found: an object rather than a list of one (real answers).
            "listeStructures": rows[0] if len(rows) == 1 else rows,
            "parametresRetour": {"pageCourante": page, "pages": pages, "nbResultatsParPage": size,
                                 "total": total},
        })

    def op_consult_structure(self, body: dict) -> Response:
        value = body.get("idStructureCPP", body.get("idStructure"))
        structure_id = _as_int(value, "idStructureCPP", required=True)
        with self.lock:
            world = self.world
            structure = world.structures.get(structure_id)
            if structure is not None:
                info = {
                    "idStructureCPP": _id(structure.id), "identifiantStructure": structure.siret,
                    "typeIdentifiantStructure": "SIRET", "raisonSocialeStructure": structure.name,
                    "libelleStructure": structure.name, "nomStructure": "", "prenomStructure": "",
                    "emailStructure": structure.email, "numeroTVA": structure.vat_number,
                    "numeroRcsStructure": "", "structurePriveePublique": "PUBLIQUE",
                    "estValideurDeleguee": False,
                    "dateExpirationMotPasseCompteTech": (
                        world.account.password_expiry.isoformat() if structure.attached
                        else None),
                }
                address = structure.address
                parameters = {
                    "codeServiceDoitEtreRenseigne": structure.service_code_required,
                    "numeroEJDoitEtreRenseigne": structure.ej_required,
                    "gestionNumeroEJOuCodeService": False,
                    "statutMiseEnPaiementNestPasRemonte": False,
                    "connexionEDI": False, "recevoirDonneesViaEDI": False,
                    "estMoaUniquement": False, "estValideurDelegue": False, "getaMoa": False,
                    "nonDiffusibleInsee": False,
                }
            else:
                company = world.supplier_by_id(structure_id)
                if company is None:
                    return _functional(CODE_UNKNOWN, "GCU_MSG_05.001 La structure est inconnue")
                info = {
                    "idStructureCPP": _id(company.id), "identifiantStructure": company.siret,
                    "typeIdentifiantStructure": "SIRET", "raisonSocialeStructure": company.name,
                    "libelleStructure": company.name, "nomStructure": "", "prenomStructure": "",
                    "emailStructure": company.email, "numeroTVA": company.vat_number,
                    "numeroRcsStructure": company.rcs, "structurePriveePublique": "PRIVEE",
                    "estValideurDeleguee": False, "dateExpirationMotPasseCompteTech": None,
                }
                address = company.address
                parameters = {
                    "codeServiceDoitEtreRenseigne": False, "numeroEJDoitEtreRenseigne": False,
                    "gestionNumeroEJOuCodeService": False,
                    "statutMiseEnPaiementNestPasRemonte": False, "connexionEDI": False,
                    "recevoirDonneesViaEDI": False, "estMoaUniquement": False,
                    "estValideurDelegue": False, "getaMoa": False, "nonDiffusibleInsee": False,
                }
            return _json({
                "codeRetour": 0, "libelle": "GCU_MSG_01_000",
                "informationGenerales": info,
                "adressePostaleDuSiege": {
                    "adresse": address.street, "complementAdresse1": address.street2,
                    "complementAdresse2": "", "codePostal": address.zip, "ville": address.city,
                    "pays": address.country_code, "telephone": "", "indicatifTelephone": "",
                    "fax": "", "indicatifFax": "",
                },
                "parametres": parameters,
            })

    def op_search_services(self, body: dict) -> Response:
        value = body.get("idStructure", body.get("idStructureCPP"))
        structure_id = _as_int(value, "idStructure", required=True)
        page, size = _paging(body.get("parametresRechercherServicesStructure"),
                             "pageResultatDemandee", "nbResultatsParPage")
        with self.lock:
            structure = self.world.structures.get(structure_id)
            if structure is None:
                if self.world.supplier_by_id(structure_id) is None:
                    return _functional(CODE_UNKNOWN, "GCU_MSG_05.001 La structure est inconnue")
                services = []
            else:
                services = list(structure.services)
        chunk, pages, total = _page_of(services, page, size)
        return _json({
            "codeRetour": 0, "libelle": "GCU_MSG_01_000",
            "listeServices": [{
                "idService": _id(s.id), "codeService": s.code, "libelleService": s.name,
                "estActif": s.active, "statutService": "ACTIF" if s.active else "INACTIF",
            } for s in chunk],
            "parametresRetour": {"pageCourante": page, "pages": pages, "nbResultatsParPage": size,
                                 "total": total},
        })

    def op_consult_service(self, body: dict) -> Response:
        structure_id = _as_int(body.get("idStructure"), "idStructure", required=True)
        service_id = _as_int(body.get("idService"), "idService", required=True)
        with self.lock:
            structure = self.world.structures.get(structure_id)
            service = structure.service_by_id(service_id) if structure else None
            if service is None:
                return _functional(CODE_UNKNOWN, "GCU_MSG_05.002 Le service est inconnu")
            address = structure.address
            return _json({
                "codeRetour": 0, "libelle": "GCU_MSG_01_000",
                "informationsGenerales": {"codeService": service.code, "nomService": service.name,
                                          "descriptionService": service.name},
                "parametres": {"numeroEngagement": service.ej_required, "miseEnPaiement": False,
                               "dateDebutValidite": None, "dateFinValidite": None,
                               "dateCreation": None, "dateModification": None},
                "adressePostale": {"adresse": address.street, "codePostal": address.zip,
                                   "ville": address.city, "pays": address.country_code},
            })


# operation path -> (HTTP method, SimulatorCore method)
ROUTES = {
    "factures/v1/rechercher/recipiendaire": ("POST", "op_search_recipient"),
    "facturesTravaux/v1/rechercher": ("POST", "op_search_works"),
    "factures/v1/consulter/recipiendaire": ("POST", "op_consult"),
    "factures/v1/telecharger/groupe": ("POST", "op_download"),
    "factures/v1/traiter/recue": ("POST", "op_process"),
    "factures/v1/consulter/historique": ("POST", "op_history"),
    "transverses/v1/recuperer/etats/traitement": ("POST", "op_possible_states"),
    "transverses/v1/recuperer/etat/typedp": ("POST", "op_states_by_type"),
    "transverses/v1/recuperer/structures/actives/destinataire": ("POST", "op_active_structures"),
    "transverses/v1/recuperer/tauxtva": ("POST", "op_vat_rates"),
    "transverses/v1/health-check": ("GET", "op_health"),
    "structures/v1/rechercher": ("POST", "op_search_structures"),
    "structures/v1/consulter": ("POST", "op_consult_structure"),
    "structures/v1/rechercher/services": ("POST", "op_search_services"),
    "structures/v1/consulter/service": ("POST", "op_consult_service"),
}
