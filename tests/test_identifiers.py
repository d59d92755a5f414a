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
