"""SIRET / SIREN / IBAN / BIC helpers (python-stdnum underneath)."""

import pytest

from chorus_pro import identifiers as ids

VALID_SIRET = "55208131700018"
LA_POSTE_SIRET = "35600000049837"  # La Poste: digit sum multiple of 5, Luhn does not hold
VALID_IBAN = "FR7630001007941234567890185"


@pytest.mark.parametrize(
    "raw",
    ["55208131700018", "552 081 317 00018", "552.081.317.00018", "552-081-317-00018",
     "552\u00a0081\u00a0317\u202f00018", " 55208131700018\n"],
)
def test_compact_siret_strips_every_separator(raw):
    assert ids.compact_siret(raw) == VALID_SIRET
    assert ids.is_valid_siret(raw)


@pytest.mark.parametrize(
    "raw",
    ["55208131700019",  # checksum
     "5520813170001",  # 13 digits
     "552081317000180",  # 15 digits
     "5520813170001A",  # letter
     "", None],
)
def test_invalid_sirets(raw):
    assert not ids.is_valid_siret(raw)


def test_la_poste_siret_exception():
    from stdnum import luhn

    assert not luhn.is_valid(LA_POSTE_SIRET)  # a plain Luhn check would refuse it
    assert ids.is_valid_siret(LA_POSTE_SIRET)
    assert not ids.is_valid_siret("35600000049838")  # digit sum no longer a multiple of 5


def test_siren_from_siret():
    assert ids.siren_from_siret("552 081 317 00018") == "552081317"
    assert ids.is_valid_siren("552081317")
    assert ids.is_valid_siren("552 081 317")
    assert not ids.is_valid_siren("552081318")
    assert not ids.is_valid_siren(None)
    with pytest.raises(ValueError):
        ids.siren_from_siret("55208131700019")


def test_iban_compact_validate_format():
    assert ids.compact_iban("fr76 3000-1007 9412 3456 7890 185") == VALID_IBAN
    assert ids.is_valid_iban("FR76 3000 1007 9412 3456 7890 185")
    assert ids.is_valid_iban("fr1420041010050500013m02606")
    assert ids.is_valid_iban("BE71 0961 2345 6769")
    assert not ids.is_valid_iban("FR7630001007941234567890186")  # check digits
    assert not ids.is_valid_iban("FR763000100794123456789018")  # too short for France
    assert not ids.is_valid_iban("")
    assert not ids.is_valid_iban(None)
    assert ids.format_iban("fr7630001007941234567890185") == "FR76 3000 1007 9412 3456 7890 185"


def test_mask_iban_hides_everything_but_country_and_last_four():
    masked = ids.mask_iban("FR76 3000 1007 9412 3456 7890 185")
    assert masked == "FR76 •••• •••• 0185"
    assert "3000" not in masked and "1007" not in masked
    # Same shape whatever the length: the mask does not tell the country's IBAN length.
    assert ids.mask_iban("BE71096123456769") == "BE71 •••• •••• 6769"
    assert ids.mask_iban("FR76") == "••••"
    assert ids.mask_iban("") == ""
    assert ids.mask_iban(None) == ""


def test_bic():
    assert ids.is_valid_bic("BNPAFRPPXXX")
    assert ids.is_valid_bic("bnpa fr pp")
    assert ids.is_valid_bic("PSSTFRPPLYO")
    assert not ids.is_valid_bic("BNPAFRP")
    assert not ids.is_valid_bic("BNPA1RPP")  # digit where the country code goes
    assert not ids.is_valid_bic("BNPAFRPPXX")  # 10 characters
    assert not ids.is_valid_bic(None)


def test_check_identifier_siret_reasons():
    ok = ids.check_identifier("552 081 317 00018", "SIRET")
    assert ok.valid and bool(ok) and ok.reason == "" and ok.value == VALID_SIRET
    assert ids.check_identifier(VALID_SIRET, "1").valid  # PIVOT digit for SIRET
    bad_checksum = ids.check_identifier("55208131700019", "SIRET")
    assert not bad_checksum and "checksum" in bad_checksum.reason
    assert "14 digits" in ids.check_identifier("5520813170001", "SIRET").reason
    assert "digits only" in ids.check_identifier("5520813170001A", "SIRET").reason
    assert "empty" in ids.check_identifier("  ", "SIRET").reason
    assert ids.check_identifier(LA_POSTE_SIRET, "SIRET").valid


@pytest.mark.parametrize("kind", ["UE_HORS_FRANCE", "HORS_UE", "RIDET", "TAHITI", "PARTICULIER", "2", "7"])
def test_check_identifier_other_types_accept_non_empty(kind):
    result = ids.check_identifier(" BE0403170701 ", kind)
    assert result.valid and result.value == "BE0403170701"
    assert result.identifier_type in ("UE_HORS_FRANCE", "HORS_UE", "RIDET", "TAHITI", "PARTICULIER")
    empty = ids.check_identifier("", kind)
    assert not empty.valid and empty.reason == "empty identifier"


# -- one separator rule for every identifier ------------------------------------------------------
@pytest.mark.parametrize("raw", [
    "552 081 317 00018", "552.081.317.00018", "552-081-317-00018", "552\u00a0081\u202f317 00018",
    " 55208131700018 ",
])
def test_compact_identifier_is_the_one_separator_rule(raw):
    assert ids.compact_identifier(raw) == "55208131700018"
    assert ids.compact_identifier(raw) == ids.compact_siret(raw)


def test_compact_identifier_is_upper_case_and_tolerates_nothing():
    assert ids.compact_identifier(" be 0403.170.701 ") == "BE0403170701"
    assert ids.compact_identifier("fr76 3000-6000") == "FR7630006000"
    assert ids.compact_identifier(None) == ids.compact_identifier("") == ""
    assert ids.compact_identifier(" - . ") == ""


def test_every_compact_form_strips_the_same_separators():
    separators = " .-\u00a0\u202f"
    for compact, value in ((ids.compact_siret, "55208131700018"),
                           (ids.compact_siren, "552081317"),
                           (ids.compact_iban, "FR7630006000011234567890189"),
                           (ids.compact_bic, "BNPAFRPPXXX"),
                           (ids.compact_vat, "FR40303265045"),
                           (ids.compact_identifier, "BE0403170701")):
        spaced = separators.join(value[i:i + 3] for i in range(0, len(value), 3))
        assert compact(spaced) == value, compact.__name__
        assert compact(spaced.lower()) == value, compact.__name__


# -- EU VAT numbers ----------------------------------------------------------------------------------
def test_eu_vat_numbers():
    assert ids.is_valid_eu_vat("FR 40 303 265 045")
    assert ids.is_valid_eu_vat("be0403.170.701")
    assert not ids.is_valid_eu_vat("FR41303265045")  # wrong key
    assert not ids.is_valid_eu_vat("XX123456789")
    assert not ids.is_valid_eu_vat("")
    assert not ids.is_valid_eu_vat(None)
    assert ids.compact_vat("fr 40-303.265.045") == "FR40303265045"


def test_check_identifier_checks_eu_vat_numbers():
    ok = ids.check_identifier("be 0403 170 701", "UE_HORS_FRANCE")
    assert ok.valid and ok.value == "BE0403170701"
    assert ids.check_identifier("BE0403170701", "2").valid  # PIVOT digit of UE_HORS_FRANCE
    bad = ids.check_identifier("BE0403170702", "UE_HORS_FRANCE")
    assert not bad.valid and bad.reason == "invalid EU VAT number"
    # Other types need a value only; separators alone are no value.
    assert ids.check_identifier("RIDET 123.456", "RIDET").value == "RIDET123456"
    assert not ids.check_identifier(" - ", "HORS_UE").valid


# -- French RIB -> IBAN ------------------------------------------------------------------------------
RIB = "30006 00001 12345678901 89"
RIB_IBAN = "FR7630006000011234567890189"


def test_rib_key():
    assert ids.rib_key("30006", "00001", "12345678901") == "89"
    # Letters of the account number count as digits (La Banque Postale's example).
    assert ids.rib_key("20041", "01005", "0500013M026") == "06"
    assert ids.rib_key("20041", "01005", "0500013m026") == "06"


def test_rib_key_agrees_with_the_iban_check_digits():
    # Every RIB with the right key makes a valid IBAN, and a wrong key a different RIB.
    for account in ("00000000001", "12345678901", "99999999999", "0500013M026"):
        key = ids.rib_key("30004", "01234", account)
        assert ids.is_valid_rib(f"3000401234{account}{key}")
        assert ids.is_valid_iban(ids.rib_to_iban(f"3000401234{account}{key}"))
        wrong = f"{(int(key) + 1) % 100:02d}"
        assert not ids.is_valid_rib(f"3000401234{account}{wrong}")


def test_rib_to_iban():
    assert ids.rib_to_iban(RIB) == RIB_IBAN
    assert ids.rib_to_iban("30006000011234567890188") == ""  # wrong RIB key
    assert ids.rib_to_iban("3000600001123456789018") == ""  # too short
    assert ids.rib_to_iban(None) == ""


def test_payment_iban():
    assert ids.payment_iban(RIB, "RIB") == RIB_IBAN
    assert ids.payment_iban(RIB, "") == RIB_IBAN  # 23 characters starting with digits
    assert ids.payment_iban("FR76 3000 6000 0112 3456 7890 189", "IBAN") == RIB_IBAN
    assert ids.payment_iban("de89 3704 0044 0532 0130 00") == "DE89370400440532013000"
    assert ids.payment_iban("", "RIB") == ids.payment_iban(None) == ""
    # A RIB whose key is wrong is not dressed up as a valid IBAN.
    wrong = ids.payment_iban("30006000011234567890188", "RIB")
    assert wrong == "30006000011234567890188" and not ids.is_valid_iban(wrong)


def test_siren_from_vat():
    assert ids.siren_from_vat("FR 40 303 265 045") == "303265045"
    assert ids.siren_from_vat("fr40303265045") == "303265045"
    assert ids.siren_from_vat("FR40303265046") == ""  # not a valid SIREN inside
    assert ids.siren_from_vat("BE0403170701") == ""
    assert ids.siren_from_vat(None) == ""


def test_siret_and_siren_of_registration_fields():
    assert ids.siret_and_siren(VALID_SIRET, "", "") == (VALID_SIRET, VALID_SIRET[:9])
    # The registry may hold the SIRET, or only the SIREN.
    assert ids.siret_and_siren("", "552 081 317 00018", "") == (VALID_SIRET, "552081317")
    assert ids.siret_and_siren("", "552 081 317", "") == ("", "552081317")
    # Nothing valid there: the SIREN of a French VAT number.
    assert ids.siret_and_siren("123", "", "FR 40 303 265 045") == ("", "303265045")
    assert ids.siret_and_siren(None, None, None) == ("", "")


def test_separators_pattern_is_the_compaction_rule():
    import re

    assert re.sub(ids.SEPARATORS_PATTERN, "", "552 081.317-00\u00a0018\u202f") == "55208131700018"
