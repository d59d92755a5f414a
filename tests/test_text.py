"""Text checked before it goes anywhere: motifs, file names, budget article numbers."""

import pytest

from chorus_pro import identifiers, text
from chorus_pro.text import TextRefused


@pytest.mark.parametrize("motif, expected", [
    ("Service fait conforme", "Service fait conforme"),
    ("  Livraison\tincomplète\n(2 cartons)  ", "Livraison incomplète (2 cartons)"),
    ("Prix\u00a0unitaire erroné", "Prix unitaire erroné"),
    ("x" * 255, "x" * 255),
])
def test_motifs_people_type_are_accepted_with_spaces_folded(motif, expected):
    assert text.check_motif(motif) == expected


@pytest.mark.parametrize("motif, char, position", [
    ("Doublon\x00", "U+0000", 8),
    ("Dou\x07blon", "U+0007", 4),
    ("Dou\u200bblon", "U+200B ZERO WIDTH SPACE", 4),
    ("\u202eDoublon", "U+202E RIGHT-TO-LEFT OVERRIDE", 1),
    ("Doublon\u2066", "U+2066 LEFT-TO-RIGHT ISOLATE", 8),
    ("Doublon\ufeff", "U+FEFF ZERO WIDTH NO-BREAK SPACE", 8),
    ("Doublon\x9b", "U+009B", 8),
])
def test_invisible_and_control_characters_are_refused_by_name_and_position(motif, char, position):
    with pytest.raises(TextRefused) as refused:
        text.check_motif(motif)
    assert refused.value.code == "character"
    assert refused.value.params["char"].startswith(char)
    assert refused.value.params["position"] == position


@pytest.mark.parametrize("typed, stored", [
    ("Commande non reçue", "Commande non reçue"),
    ("  Commande non\u00a0reçue \n", "Commande non reçue"),
    ("Commande\tnon  reçue", "Commande non reçue"),
])
def test_a_motif_typed_with_other_spaces_folds_like_the_usual_motif_stored(typed, stored):
    # The processing screen drops a usual motif's text left unedited: compared folded.
    assert text.fold_spaces(typed) == text.check_motif(stored) == stored
    assert text.fold_spaces(typed) == text.check_motif(typed)


def test_an_edited_motif_does_not_fold_like_the_usual_motif():
    assert text.fold_spaces("Commande non reçue (2 cartons)") != "Commande non reçue"
    assert text.fold_spaces(None) == text.fold_spaces("  ") == ""


def test_a_proposed_motif_is_folded_and_made_to_fit():
    duplicate = "Doublon   de la facture\nF-1 " + "x" * 300
    proposed = text.proposed_motif(duplicate)
    assert proposed.startswith("Doublon de la facture F-1 x")
    assert len(proposed) == 255
    assert text.check_motif(proposed) == proposed
    assert text.proposed_motif("Doublon\tde F-1") == "Doublon de F-1"


def test_a_motif_over_the_limit_is_refused_with_the_limit_not_cut():
    with pytest.raises(TextRefused) as refused:
        text.check_motif("a" * 300)
    assert refused.value.code == "too_long"
    assert refused.value.params == {"length": 300, "limit": 255}
    assert "255" in str(refused.value)


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system.ini", "system.ini"),
    ("/absolute/path/facture.pdf", "facture.pdf"),
    ("facture\x00.pdf", "facture.pdf"),
    ("facture\u202efdp.exe", "facturefdp.exe"),
    ("  Facture   mars.pdf ", "Facture mars.pdf"),
    (".htaccess", "htaccess"),
    ("..", "fichier"),
    ("", "fichier"),
    (None, "fichier"),
    ("Facture n°12 – Dupont & Fils.pdf", "Facture n°12 – Dupont & Fils.pdf"),
])
def test_file_names_lose_folders_and_invisible_characters(name, expected):
    assert text.clean_file_name(name) == expected


def test_a_long_file_name_keeps_its_extension():
    cleaned = text.clean_file_name("a" * 400 + ".pdf")
    assert len(cleaned) == 255 and cleaned.endswith(".pdf")


@pytest.mark.parametrize("code", ["6042", "60632", "2183", "65", " 6064 ", "123456789012"])
def test_natures_are_digits(code):
    assert text.check_nature_code(code) == code.strip()


@pytest.mark.parametrize("code", ["60A2", "", None, "6", "0604", "1" * 13, "9" * 300, "6042.1",
                                  "-604", "６０４２"])
def test_natures_of_another_shape_are_refused_with_the_expected_shape(code):
    with pytest.raises(TextRefused) as refused:
        text.check_nature_code(code)
    assert refused.value.code == "nature_shape"
    assert refused.value.params["min"] == 2 and refused.value.params["max"] == 12


@pytest.mark.parametrize("value, looks", [
    ("FR76 3000 1007 9412 3456 7890 185", True), ("FR7630001007941234567890100", True),
    ("fr7630001007941234567890185", True), ("30001007941234567890185", False), ("", False),
])
def test_iban_shaped_numbers(value, looks):
    assert identifiers.looks_like_iban(value) is looks
