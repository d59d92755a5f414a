"""What kind of payment request an invoice is, and who gets the money.

* billing frames (*cadres de facturation*, ``codeCadreFacturation``): the JSON answers give the
  full code (``A2_FACTURE_FOURNISSEUR_DEJA_PAYEE``), the PIVOT the short one (``A2``); what a frame
  implies: A2 is already paid (never mandated again), the works frames go through the
  ``facturesTravaux`` API (``chorus-pro-api.md`` §4.5);
* payment request types (``typeDemandePaiement``) and invoice types (``typeFacture``, PIVOT
  ``Type`` 380 / 381), with the neutral kind each one is (``invoice``, ``credit_note``,
  ``advance``);
* the factoring guess: paid to an account held by someone other than the supplier.
"""

from __future__ import annotations

from typing import Optional

# -- billing frames --------------------------------------------------------------------------
FRAMES = {
    "A1": "A1_FACTURE_FOURNISSEUR",
    "A2": "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE",
    "A3": "A3_MEMOIRE_JUSTICE",
    "A4": "A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR",
    "A5": "A5_ETAT_ACOMPTE_FOURNISSEUR",
    "A6": "A6_ETAT_ACOMPTE_VALIDE_FOURNISSEUR",
    "A7": "A7_PROJET_DECOMPTE_FINAL_FOURNISSEUR",
    "A8": "A8_DECOMPTE_GENERAL_DEFINITIF_FOURNISSEUR",
    "A9": "A9_FACTURE_SOUSTRAITANT",
    "A10": "A10_PROJET_DECOMPTE_MENSUEL_SOUSTRAITANT",
    "A11": "A11_PROJET_DECOMPTE_FINAL_SOUSTRAITANT",
    "A12": "A12_FACTURE_COTRAITANT",
    "A13": "A13_PROJET_DECOMPTE_MENSUEL_COTRAITANT",
    "A14": "A14_PROJET_DECOMPTE_FINAL_COTRAITANT",
    "A15": "A15_ETAT_ACOMPTE_MOE",
    "A16": "A16_ETAT_ACOMPTE_VALIDE_MOE",
    "A17": "A17_PROJET_DECOMPTE_GENERAL_MOE",
    "A18": "A18_DECOMPTE_GENERAL_MOE",
    "A19": "A19_ETAT_ACOMPTE_VALIDE_MOA",
    "A20": "A20_DECOMPTE_GENERAL_MOA",
    "A21": "A21_DEMANDE_REMBOURSEMENT_TIC",
    "A22": "A22_PROJET_DECOMPTE_GENERAL_FOURNISSEUR_PROCEDURE_TACITE",
    "A23": "A23_DECOMPTE_GENERAL_DEFINITIF_TACITE_FOURNISSEUR",
    "A24": "A24_DECOMPTE_GENERAL_DEFINITIF_TACITE_MOE",
    "A25": "A25_DECOMPTE_GENERAL_DEFINITIF_MOE_PROCEDURE_TACITE",
}
A1_SUPPLIER_INVOICE = FRAMES["A1"]
A2_ALREADY_PAID = FRAMES["A2"]
# Already paid (e.g. by purchase card): there is nothing to mandate.
ALREADY_PAID_FRAMES = frozenset({A2_ALREADY_PAID})
# Works-contract documents, handled by the facturesTravaux API (chorus-pro-api.md §4.5).
WORKS_FRAMES = frozenset(
    FRAMES[f"A{number}"] for number in (4, 5, 6, 7, 8, *range(13, 26))
)


def full_frame_code(code) -> str:
    """``A2`` (PIVOT) or ``A2_FACTURE_FOURNISSEUR_DEJA_PAYEE`` (JSON) → the JSON form; an unknown
    code is returned as given, an empty one as ``""``."""
    if not code:
        return ""
    return FRAMES.get(code, code)


def short_frame_code(frame) -> str:
    """``A2_FACTURE_FOURNISSEUR_DEJA_PAYEE`` (or ``A2``) → ``A2``, the PIVOT ``Cadre``."""
    return str(frame or "").split("_", 1)[0]


def is_already_paid(frame) -> bool:
    """True for frame A2 (short or full code): the invoice must not be mandated again."""
    return full_frame_code(frame) in ALREADY_PAID_FRAMES


def is_works_frame(frame) -> bool:
    return full_frame_code(frame) in WORKS_FRAMES


# -- payment request and invoice types ---------------------------------------------------------
FACTURE = "FACTURE"
FACTURE_TRAVAUX = "FACTURE_TRAVAUX"
PAYMENT_REQUEST_TYPES = (FACTURE, FACTURE_TRAVAUX)  # typeDemandePaiement

KIND_INVOICE = "invoice"
KIND_CREDIT_NOTE = "credit_note"
KIND_ADVANCE = "advance"
# typeFacture (JSON) -> kind.
INVOICE_TYPES = {"FACTURE": KIND_INVOICE, "AVOIR": KIND_CREDIT_NOTE, "ACOMPTE": KIND_ADVANCE}
# PIVOT Type (UNTDID 1001) -> kind.
PIVOT_INVOICE_TYPES = {"380": KIND_INVOICE, "381": KIND_CREDIT_NOTE}


def invoice_kind(invoice_type) -> Optional[str]:
    """The kind of a Chorus ``typeFacture`` (``AVOIR`` → ``credit_note``); ``None`` when
    unknown (the caller keeps what it had)."""
    return INVOICE_TYPES.get(str(invoice_type or "").strip().upper())


def pivot_invoice_kind(type_code) -> Optional[str]:
    """The kind of a PIVOT ``Type`` (``381`` → ``credit_note``); ``None`` when unknown."""
    return PIVOT_INVOICE_TYPES.get(str(type_code or "").strip())


# -- factoring ---------------------------------------------------------------------------------
def looks_factored(account_holder, supplier_name) -> bool:
    """The factoring guess: the bank account's holder is not the supplier (names compared
    without case or surrounding spaces), so the invoice is probably paid to a factor. Without
    both names there is nothing to compare: not factored."""
    holder = str(account_holder or "").strip().upper()
    supplier = str(supplier_name or "").strip().upper()
    return bool(holder) and bool(supplier) and holder != supplier
