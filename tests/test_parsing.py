"""Unit tests of :mod:`chorus_pro.parsing`: the illustrative payloads of ``chorus-pro-api.md`` and
the tolerance rules (unknown / missing fields, single object for a list, floats and strings)."""

from __future__ import annotations

import json
from pathlib import Path
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from chorus_pro import parsing
from chorus_pro.records import Page
from chorus_pro.timeutil import PARIS

IBAN = "FR7630001007941234567890185"

# chorus-pro-api.md §2.1, illustrative response.
SEARCH_ANSWER = """
{
  "codeRetour": 0,
  "libelle": "TRA_MSG_00.000",
  "pageCourante": 1,
  "pages": 1,
  "nbResultatsParPage": 100,
  "total": 1,
  "listeFactures": [
    {
      "idFacture": 98765432,
      "numeroFacture": "FA-2025-0042",
      "typeDemandePaiement": "FACTURE",
      "typeFacture": "FACTURE",
      "statut": "MISE_A_DISPOSITION",
      "dateHeureEtatCourant": "2025-01-15T09:12:44.000+01:00",
      "dateFacture": "2025-01-13",
      "dateDepot": "2025-01-15",
      "devise": "EUR",
      "montantHT": 1000.0,
      "montantTTC": 1200.0,
      "montantAPayer": 1200.0,
      "idDestinataire": 25123456,
      "codeDestinataire": "21730123400017",
      "designationDestinataire": "COMMUNE DE EXEMPLE",
      "idServiceExecutant": 1234567,
      "codeServiceExecutant": "SERV_TECH",
      "nomServiceExecutant": "Services techniques",
      "codeFournisseur": "55208131766522",
      "typeIdentifiantFournisseur": "SIRET",
      "designationFournisseur": "ENTREPRISE DUPONT SAS",
      "numeroBonCommande": "EJ2025-000118",
      "numeroMarche": "M2024-07",
      "factureTelechargeeParDestinataire": false
    }
  ]
}
"""

# chorus-pro-api.md §2.3, illustrative response (trimmed); the client tests answer with it too.
CONSULT_ANSWER = (Path(__file__).parent / "data" / "consult_answer.json").read_text("utf-8")

# chorus-pro-api.md §2.6, illustrative response (newest first, Chorus's default order).
HISTORY_ANSWER = """
{
  "codeRetour": 0, "libelle": "TRA_MSG_00.000",
  "idFacture": 98765432, "numeroFacture": "FA-2025-0042",
  "statutCourantCode": "MISE_A_DISPOSITION",
  "historiquesDesStatuts": {
    "histoStatut": [
      {"histoStatutId": 6, "histoStatutCode": "MISE_A_DISPOSITION", "histoStatutDatePassage": "2025-01-22 10:36", "histoStatutCommentaire": ""},
      {"histoStatutId": 5, "histoStatutCode": "COMPLETEE", "histoStatutDatePassage": "2025-01-21 16:02", "histoStatutCommentaire": "BL ajouté"},
      {"histoStatutId": 4, "histoStatutCode": "SUSPENDUE", "histoStatutDatePassage": "2025-01-20 09:15", "histoStatutCommentaire": "Bon de livraison manquant"},
      {"histoStatutId": 2, "histoStatutCode": "MISE_A_DISPOSITION", "histoStatutDatePassage": "2025-01-15 09:12", "histoStatutCommentaire": ""}
    ],
    "pageCouranteHistoStatut": 1, "pagesHistoStatut": 1, "totalHistoStatut": 4
  }
}
"""

# chorus-pro-api.md §2.5, illustrative OK response.
PROCESS_ANSWER = """
{"codeRetour": 0, "libelle": "TRA_MSG_00.000", "idFacture": 98765432,
 "numeroFacture": "FA-2025-0042", "dateTraitement": "2025-01-20", "nouveauStatut": "MANDATEE"}
"""

# chorus-pro-api.md §2.9, illustrative structure search response.
STRUCTURES_ANSWER = """
{"codeRetour": 0, "libelle": "GCU_MSG_01_000",
 "listeStructures": [{"idStructureCPP": 25123456, "identifiantStructure": "21730123400017",
   "typeIdentifiantStructure": "SIRET", "designationStructure": "COMMUNE DE EXEMPLE", "statut": "ACTIF"}],
 "parametresRetour": {"pageCourante": 1, "pages": 1, "nbResultatsParPage": 10, "total": 1}}
"""


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


# ---------------------------------------------------------------------------------------------
# The documentation's payloads


def test_search_answer_of_the_doc():
    data = json.loads(SEARCH_ANSWER)
    assert parsing.parse_page(data) == Page(current=1, pages=1, per_page=100, total=1)
    summary = parsing.parse_invoice_summary(data["listeFactures"][0])

    assert summary.chorus_id == 98765432
    assert summary.number == "FA-2025-0042"
    assert summary.payment_request_type == "FACTURE" and summary.invoice_type == "FACTURE"
    assert summary.status == "MISE_A_DISPOSITION"
    assert summary.status_datetime == datetime(2025, 1, 15, 8, 12, 44, tzinfo=timezone.utc)
    assert summary.status_datetime.tzinfo is not None
    assert summary.invoice_date == date(2025, 1, 13)
    assert summary.deposit_date == date(2025, 1, 15)
    assert (summary.amount_untaxed, summary.amount_total, summary.amount_to_pay) == (
        Decimal("1000.0"), Decimal("1200.0"), Decimal("1200.0"))
    assert isinstance(summary.amount_total, Decimal)
    assert (summary.recipient_id, summary.recipient_code, summary.recipient_name) == (
        25123456, "21730123400017", "COMMUNE DE EXEMPLE")
    assert (summary.service_id, summary.service_code, summary.service_name) == (
        1234567, "SERV_TECH", "Services techniques")
    assert (summary.supplier_code, summary.supplier_identifier_type, summary.supplier_name) == (
        "55208131766522", "SIRET", "ENTREPRISE DUPONT SAS")
    assert (summary.purchase_order, summary.contract) == ("EJ2025-000118", "M2024-07")
    assert summary.downloaded is False
    assert summary.size is None and summary.works_type == ""


def test_consult_answer_of_the_doc():
    detail = parsing.parse_invoice_detail(json.loads(CONSULT_ANSWER))

    assert (detail.chorus_id, detail.number, detail.status) == (
        98765432, "FA-2025-0042", "MISE_A_DISPOSITION")
    assert detail.deposit_mode == "DEPOT_PDF_API"
    assert detail.supplier_comment == "Intervention janvier"
    assert detail.frame == "A1_FACTURE_FOURNISSEUR"
    assert (detail.recipient_id, detail.recipient_code, detail.recipient_name) == (
        25123456, "21730123400017", "COMMUNE DE EXEMPLE")
    assert (detail.service_id, detail.service_code, detail.service_name) == (
        1234567, "SERV_TECH", "Services techniques")
    assert detail.recipient_is_state is False

    supplier = detail.supplier
    assert (supplier.identifier, supplier.identifier_type, supplier.name, supplier.chorus_id) == (
        "55208131766522", "SIRET", "ENTREPRISE DUPONT SAS", 26262962)
    assert supplier.rcs == "RCS Chambery 552 081 317"
    assert supplier.country_code == "FR"
    assert (supplier.address.street, supplier.address.zip, supplier.address.city) == (
        "12 rue des Artisans", "73100", "Aix-les-Bains")

    bank = detail.bank
    assert (bank.account_type, bank.account, bank.bic) == ("IBAN", IBAN, "BDFEFRPPCCT")
    assert (bank.label, bank.chorus_id) == ("Compte principal", 144050)
    assert detail.factor is None

    assert detail.currency == "EUR"
    assert (detail.invoice_date, detail.deposit_date, detail.due_date) == (
        date(2025, 1, 13), date(2025, 1, 15), date(2025, 2, 14))
    assert (detail.payment_mode, detail.invoice_type, detail.vat_type) == (
        "VIREMENT", "FACTURE", "TVA_SUR_DEBIT")
    assert (detail.purchase_order, detail.contract) == ("EJ2025-000118", "M2024-07")
    assert (detail.amount_untaxed, detail.amount_tax, detail.amount_total,
            detail.amount_to_pay) == (Decimal("1000"), Decimal("200"), Decimal("1200"),
                                      Decimal("1200"))
    assert len(detail.taxes) == 1
    tax = detail.taxes[0]
    assert (tax.rate, tax.base, tax.amount, tax.code) == (
        Decimal("20"), Decimal("1000"), Decimal("200"), "TVA20")
    assert detail.lines == []
    assert len(detail.attachments) == 1
    attachment = detail.attachments[0]
    assert (attachment.chorus_id, attachment.name, attachment.extension, attachment.type_code,
            attachment.type_label) == (7001, "FA-2025-0042", "PDF", "01", "Facture")


def test_history_answer_of_the_doc_is_sorted_oldest_first():
    history = parsing.parse_status_history(json.loads(HISTORY_ANSWER))

    assert (history.chorus_id, history.number, history.current_status) == (
        98765432, "FA-2025-0042", "MISE_A_DISPOSITION")
    assert [event.code for event in history.events] == [
        "MISE_A_DISPOSITION", "SUSPENDUE", "COMPLETEE", "MISE_A_DISPOSITION"]
    assert [event.chorus_id for event in history.events] == [2, 4, 5, 6]
    assert history.first("MISE_A_DISPOSITION").at == paris(2025, 1, 15, 9, 12)
    assert history.last("MISE_A_DISPOSITION").at == paris(2025, 1, 22, 10, 36)
    assert history.last("SUSPENDUE").comment == "Bon de livraison manquant"
    assert history.count("MISE_A_DISPOSITION") == 2


def test_status_change_answer_of_the_doc():
    result = parsing.parse_status_change(json.loads(PROCESS_ANSWER))
    assert (result.chorus_id, result.number, result.new_status) == (
        98765432, "FA-2025-0042", "MANDATEE")
    assert result.processing_date == date(2025, 1, 20)
    assert (result.return_code, result.label) == (0, "TRA_MSG_00.000")


def test_structures_answer_of_the_doc():
    data = json.loads(STRUCTURES_ANSWER)
    assert parsing.parse_page(data) == Page(current=1, pages=1, per_page=10, total=1)
    structure = parsing.parse_structure(data["listeStructures"][0])
    assert (structure.chorus_id, structure.identifier, structure.identifier_type,
            structure.name, structure.status) == (
        25123456, "21730123400017", "SIRET", "COMMUNE DE EXEMPLE", "ACTIF")


# ---------------------------------------------------------------------------------------------
# Tolerance


def test_unknown_fields_are_ignored_and_missing_ones_default():
    summary = parsing.parse_invoice_summary({"idFacture": "12", "champInconnu": {"x": 1}})
    assert summary.chorus_id == 12
    assert summary.number == "" and summary.status == "" and summary.currency == "EUR"
    assert summary.amount_total is None and summary.status_datetime is None
    assert summary.downloaded is None

    detail = parsing.parse_invoice_detail({"facture": {"nouveauBloc": [1, 2]}}, chorus_id=77)
    assert detail.chorus_id == 77
    assert detail.bank is None and detail.factor is None
    assert detail.taxes == [] and detail.lines == [] and detail.attachments == []
    assert detail.supplier.identifier == ""


def test_item_without_identifier_is_refused():
    with pytest.raises(ValueError):
        parsing.parse_invoice_summary({"numeroFacture": "X"})
    with pytest.raises(ValueError):
        parsing.parse_invoice_detail({"facture": {}})
    items, skipped = parsing.parse_items(
        [{"idFacture": 1}, {"numeroFacture": "X"}, "garbage"], parsing.parse_invoice_summary)
    assert [item.chorus_id for item in items] == [1] and skipped == 2


@pytest.mark.parametrize(
    "raw, expected",
    [
        (1200.1, Decimal("1200.1")),
        (0.1, Decimal("0.1")),
        (1200, Decimal("1200")),
        ("1200.10", Decimal("1200.10")),
        ("1 200,50", Decimal("1200.50")),
        ("1\u00a0200,5", Decimal("1200.5")),
        (Decimal("3.33"), Decimal("3.33")),
        ("", None),
        (None, None),
        (True, None),
        ("abc", None),
        ("NaN", None),
    ],
)
def test_amounts_are_exact_decimals(raw, expected):
    value = parsing.to_decimal(raw)
    assert value == expected
    if expected is not None:
        assert str(value) == str(expected)  # no float noise such as 1200.09999999999990905052982


def test_float_amounts_in_records_have_no_binary_noise():
    summary = parsing.parse_invoice_summary({"idFacture": 1, "montantTTC": 1200.1,
                                             "montantHT": "1000.08", "montantAPayer": 0.3})
    assert str(summary.amount_total) == "1200.1"
    assert summary.amount_untaxed == Decimal("1000.08")
    assert str(summary.amount_to_pay) == "0.3"


def test_scalar_helpers():
    assert parsing.to_int("42") == 42 and parsing.to_int(42.0) == 42 and parsing.to_int(4.5) is None
    assert parsing.to_int(None) is None and parsing.to_int(True) is None
    assert parsing.to_bool("OUI") is True and parsing.to_bool("non") is False
    assert parsing.to_bool("false") is False and parsing.to_bool("peut-être") is None
    assert parsing.to_text(None) == "" and parsing.to_text(12) == "12"
    assert parsing.as_list({"a": 1}) == [{"a": 1}] and parsing.as_list(None) == []


def test_single_objects_where_lists_are_expected():
    detail = parsing.parse_invoice_detail({"facture": {
        "identifiantFactureCPP": 5,
        "recapitulatifDeTva": {"ligneTva": {"ligneTvaTauxManuel": "5,5",
                                            "ligneTvaMontantBaseHtParTaux": "100",
                                            "ligneTvaMontantTvaParTaux": "5.50"}},
        "listeDesPiecesJointes": {"pieceJointe": {"pieceJointeId": 9, "pieceJointeTypeCode": "02"}},
        "lignesDePoste": {"lignePoste": {"lignePosteNumero": 1, "lignePosteQuantite": "2.5",
                                         "lignePosteMontantUnitaireHT": 40,
                                         "lignePosteTauxTva": "20",
                                         "lignePosteMontantHtApresRemise": 100.0}},
    }})
    assert detail.taxes[0].rate == Decimal("5.5") and detail.taxes[0].amount == Decimal("5.50")
    assert [a.chorus_id for a in detail.attachments] == [9]
    line = detail.lines[0]
    assert (line.sequence, line.quantity, line.price_unit, line.tax_rate, line.amount_untaxed) == (
        1, Decimal("2.5"), Decimal("40"), Decimal("20"), Decimal("100.0"))
    assert line.discount_amount == Decimal("0") and line.amount_total is None


def test_lines_with_a_rate_code_fall_back_on_the_manual_rate():
    detail = parsing.parse_invoice_detail({"facture": {
        "identifiantFactureCPP": 5, "lignesDePoste": [
        {"lignePosteTauxTva": "TVA_REDUIT", "lignePosteTauxTvaManuel": 10.0},
        {"lignePosteDenomination": "Sans numéro"}]}})
    assert detail.lines[0].tax_rate == Decimal("10.0")
    assert detail.lines[1].sequence == 2 and detail.lines[1].quantity == Decimal("1")


def test_page_found_at_top_level_or_in_parametres_retour():
    assert parsing.parse_page({"pageCourante": "2", "pages": 3}) == Page(2, 3, 0, 0)
    nested = {"parametresRetour": {"pageCourante": 1, "pages": 4, "total": 31,
                                   "nbResultatsParPage": 10}}
    assert parsing.parse_page(nested) == Page(1, 4, 10, 31)
    assert parsing.parse_page({"total": 3}) is None


def test_works_invoice_items_with_either_set_of_names():
    works = parsing.parse_works_invoice_summary({
        "idFactureTravaux": 501, "numeroFactureTravaux": "DGD-1",
        "statutFactureTravaux": "MISE_A_DISPOSITION", "typeFactureTravaux": "ETAT_ACOMPTE",
        "identifiantFournisseur": "55208131766522", "typeIdentifiantFournisseur": "SIRET",
        "designationFournisseur": "BTP SA", "identifiantDestinataire": "21730123400017",
        "idDestinataire": 25123456, "dateFactureTravaux": "2025-02-01", "dateDepot": "2025-02-02",
        "montantHT": 10000, "montantTTC": 12000, "montantAPayer": "12000.00", "devise": "EUR",
        "idServiceExecutant": 3, "codeServiceExecutant": "ST", "nomServiceExecutant": "Tech",
        "numeroBonCommande": "EJ1", "numeroMarche": "M1", "taille": 20480.0})
    assert works.payment_request_type == "FACTURE_TRAVAUX"
    assert (works.chorus_id, works.number, works.status, works.works_type) == (
        501, "DGD-1", "MISE_A_DISPOSITION", "ETAT_ACOMPTE")
    assert works.invoice_type == "ETAT_ACOMPTE"
    assert (works.supplier_code, works.recipient_code, works.recipient_id) == (
        "55208131766522", "21730123400017", 25123456)
    assert works.invoice_date == date(2025, 2, 1) and works.size == 20480
    assert works.amount_to_pay == Decimal("12000.00")

    plain = parsing.parse_works_invoice_summary({"idFacture": 7, "numeroFacture": "N",
                                                 "statut": "MANDATEE", "typeFacture": "FACTURE"})
    assert (plain.chorus_id, plain.number, plain.status, plain.payment_request_type) == (
        7, "N", "MANDATEE", "FACTURE_TRAVAUX")


# ---------------------------------------------------------------------------------------------
# Bank details and factor


@pytest.mark.parametrize(
    "fields, account, account_type",
    [
        ({"coordBancairesFournisseurCompteBancaire": "fr76 3000 1007 9412 3456 7890 185"},
         IBAN, "IBAN"),
        ({"coordBancairesFournisseurCompteBancaire": "30001007941234567890185",
          "coordBancairesFournisseurCleIban": "FR76"}, IBAN, "IBAN"),
        ({"coordBancairesFournisseurCompteBancaire": "30001007941234567890185",
          "coordBancairesFournisseurCleIban": "76", "coordBancairesFournisseurCodePays": "FR"},
         IBAN, "IBAN"),
        ({"coordBancairesFournisseurCompteBancaire": "12345678901",
          "coordBancairesFournisseurCodeBanque": "30001", "coordBancairesCodeGuichet": "00794",
          "coordBancairesFournisseurCleRib": "85", "coordBancairesFournisseurCleIban": "76",
          "coordBancairesFournisseurCodePays": "FR", "coordBancairesFournisseurType": "IBAN"},
         "FR7630001007941234567890185", "IBAN"),
        ({"coordBancairesFournisseurCompteBancaire": "12345678901",
          "coordBancairesFournisseurCodeBanque": "30001", "coordBancairesCodeGuichet": "00794",
          "coordBancairesFournisseurCleRib": "85", "coordBancairesFournisseurType": "RIB"},
         "30001007941234567890185", "RIB"),
        # Unknown layout that never validates: kept compacted, the addon flags it.
        ({"coordBancairesFournisseurCompteBancaire": "de00 1234"}, "DE001234", "IBAN"),
    ],
)
def test_bank_details_are_normalised(fields, account, account_type):
    bank = parsing.parse_bank_details(fields)
    assert (bank.account, bank.account_type) == (account, account_type)


def test_no_bank_fields_means_no_bank_details():
    assert parsing.parse_bank_details({"codeFournisseur": "1"}) is None
    assert parsing.parse_bank_details(None) is None


def test_factor_is_read_from_the_supplier_block():
    detail = parsing.parse_invoice_detail({"facture": {
        "identifiantFactureCPP": 1,
        "fournisseur": {"affactureur": {"affactureurId": 880, "affactureurCode": "40483304800022",
                                        "affactureurTypeIdentifiant": "SIRET",
                                        "affactureurRaisonSociale": "FACTOR SA",
                                        "affactureurCodePays": "FR"}}}})
    factor = detail.factor
    assert (factor.chorus_id, factor.identifier, factor.identifier_type, factor.name,
            factor.country_code) == (880, "40483304800022", "SIRET", "FACTOR SA", "FR")
    empty = parsing.parse_invoice_detail({"facture": {"identifiantFactureCPP": 1,
                                                      "fournisseur": {"affactureur": {}}}})
    assert empty.factor is None


# ---------------------------------------------------------------------------------------------
# History order


def test_history_same_minute_changes_ordered_by_history_id():
    history = parsing.parse_status_history({"idFacture": 1, "historiquesDesStatuts": {
        "histoStatut": [
            {"histoStatutId": 11, "histoStatutCode": "MANDATEE",
             "histoStatutDatePassage": "2025-03-01 10:00"},
            {"histoStatutId": 10, "histoStatutCode": "SERVICE_FAIT",
             "histoStatutDatePassage": "2025-03-01 10:00"},
            {"histoStatutId": 9, "histoStatutCode": "MISE_A_DISPOSITION",
             "histoStatutDatePassage": "2025-02-01 08:00"}]}})
    assert [e.code for e in history.events] == ["MISE_A_DISPOSITION", "SERVICE_FAIT", "MANDATEE"]
    # No statutCourantCode: the latest event gives the current status.
    assert history.current_status == "MANDATEE"


def test_history_newest_first_without_ids_keeps_reversed_order_on_ties():
    history = parsing.parse_status_history({"historiquesDesStatuts": {"histoStatut": [
        {"histoStatutCode": "MANDATEE", "histoStatutDatePassage": "2025-03-01 10:00"},
        {"histoStatutCode": "SERVICE_FAIT", "histoStatutDatePassage": "2025-03-01 10:00"},
        {"histoStatutCode": "MISE_A_DISPOSITION", "histoStatutDatePassage": "2025-02-01 08:00"},
    ]}}, chorus_id=3)
    assert history.chorus_id == 3
    assert [e.code for e in history.events] == ["MISE_A_DISPOSITION", "SERVICE_FAIT", "MANDATEE"]


def test_history_in_ascending_order_and_as_single_object():
    ascending = parsing.parse_status_history({"idFacture": 1, "historiquesDesStatuts": {
        "histoStatut": [
            {"histoStatutCode": "MISE_A_DISPOSITION",
             "histoStatutDatePassage": "2025-02-01T08:00:00+01:00"},
            {"histoStatutCode": "SUSPENDUE", "histoStatutDatePassage": "2025-02-03T08:00:00+01:00",
             "histoStatutUtilisateurPrenom": "Anne", "histoStatutUtilisateurNom": "Martin"}]}})
    assert [e.code for e in ascending.events] == ["MISE_A_DISPOSITION", "SUSPENDUE"]
    assert ascending.events[1].user_name == "Anne Martin"
    assert ascending.events[1].at - ascending.events[0].at == timedelta(days=2)
    single = parsing.parse_status_history({"idFacture": 1, "historiquesDesStatuts": {
        "histoStatut": {"histoStatutCode": "MISE_A_DISPOSITION"}}})
    assert [e.code for e in single.events] == ["MISE_A_DISPOSITION"]


# ---------------------------------------------------------------------------------------------
# Structures, services, reference data


def test_active_structure_uses_identifiant_and_defaults_to_siret():
    structure = parsing.parse_structure({"idStructureCPP": "25123456", "identifiant": "217301234",
                                         "designationStructure": "CCAS"})
    assert (structure.chorus_id, structure.identifier, structure.identifier_type) == (
        25123456, "217301234", "SIRET")


def test_structure_detail_with_password_expiry_and_address():
    detail = parsing.parse_structure_detail({
        "codeRetour": 0,
        "informationGenerales": {
            "idStructureCPP": 25123456, "identifiantStructure": "21730123400017",
            "typeIdentifiantStructure": "SIRET", "raisonSocialeStructure": "COMMUNE DE EXEMPLE",
            "libelleStructure": "Mairie", "emailStructure": "compta@exemple.fr",
            "numeroTVA": "FR00217301234", "structurePriveePublique": "PUBLIQUE",
            "dateExpirationMotPasseCompteTech": "2026-03-31T23:00:00.000+0000"},
        "adressePostaleDuSiege": {"adresse": "1 place de la Mairie", "codePostal": "73000",
                                  "ville": "Exemple", "pays": "FR",
                                  "complementAdresse1": "BP 12"},
        "parametres": {"numeroEJDoitEtreRenseigne": False,
                       "statutMiseEnPaiementNestPasRemonte": True}})
    assert detail.chorus_id == 25123456 and detail.name == "COMMUNE DE EXEMPLE"
    # 23:00 UTC on 31 March 2026 is already 1 April in Paris.
    assert detail.password_expiry_date == date(2026, 4, 1)
    assert (detail.address.street, detail.address.street2, detail.address.zip,
            detail.address.city, detail.address.country_code) == (
        "1 place de la Mairie", "BP 12", "73000", "Exemple", "FR")
    assert detail.parameters["statutMiseEnPaiementNestPasRemonte"] is True
    assert (detail.email, detail.vat_number, detail.public_or_private, detail.label) == (
        "compta@exemple.fr", "FR00217301234", "PUBLIQUE", "Mairie")

    bare = parsing.parse_structure_detail({"codeRetour": 0}, chorus_id=9)
    assert bare.chorus_id == 9 and bare.password_expiry_date is None and bare.parameters == {}


def test_services():
    active = parsing.parse_service({"idService": 1, "codeService": "A", "libelleService": "Achats",
                                    "estActif": "false", "statutService": "INACTIF"})
    default = parsing.parse_service({"idService": "2"})
    assert (active.chorus_id, active.code, active.name, active.active, active.status) == (
        1, "A", "Achats", False, "INACTIF")
    assert default.chorus_id == 2 and default.active is True


def test_possible_statuses_accept_objects_strings_and_a_single_object():
    assert parsing.parse_possible_statuses({"listeStatutsPossiblesPourTraitement": [
        {"statutPossiblePourTraitement": "SUSPENDUE"}, "REJETEE",
        {"statutPossiblePourTraitement": "SUSPENDUE"}]}) == ["SUSPENDUE", "REJETEE"]
    assert parsing.parse_possible_statuses({"listeStatutsPossiblesPourTraitement": {
        "statutPossiblePourTraitement": "MANDATEE"}}) == ["MANDATEE"]
    assert parsing.parse_possible_statuses({}) == []


def test_vat_rates():
    assert parsing.parse_vat_rates({"listeTauxTva": [
        {"codeTauxTva": "TVA5_5", "libelleTauxTva": "5,5 %", "valeurTauxTva": 5.5}]}) == [
        {"code": "TVA5_5", "label": "5,5 %", "rate": Decimal("5.5")}]
