"""PES V2 dépense code lists (DGFiP schemas 5.17) and the rules that go with them.

Every list is the enumeration of one 5.17 XSD type with the label of its annotation, read from
``chorus_pro/data/pes_code_lists.csv`` (``tests/test_pes_codes.py`` checks them against the
schemas when they are present).
Rules that the schema only states in words (which payment modes need a bank account, which
nomenclatures accept a ``Fonction``...) are here too, each with the field whose rule it is.
"""

from __future__ import annotations

from chorus_pro import data_files


def _code_list(schema_type: str) -> dict:
    """``{code: label}``: the enumeration of one 5.17 XSD type, as shipped in
    ``chorus_pro/data/pes_code_lists.csv`` (data, not code)."""
    return {row["code"]: row["label"] for row in data_files.rows("pes_code_lists.csv")
            if row["schema_type"] == schema_type}


# Namespaces -------------------------------------------------------------------------------
NS_PES_ALLER = "http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller"
NS_ACQUIT_V1 = "http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/retour"
NS_ACQUIT_V2 = "http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/retour/v2"
NS_PES_RETOUR = NS_ACQUIT_V1  # PES_Retour shares the Rev0/retour namespace with the V1 acquit

# Enveloppe/Parametres: Version "doit être valorisé à 2"; TypFic "PESALR1 pour le PES_Aller".
ENVELOPE_VERSION = "2"
FILE_TYPE_PES_ALLER = "PESALR1"
# EnTeteDepense/IdVer: "Mettre à 2. A défaut rejet du flux"; EnTetePES_PJ/IdVer: "Seule valeur
# possible = 1".
DEPENSE_VERSION = "2"
PJ_VERSION = "1"

# TTypBordAller (BlocBordereau/TypBord). "Seules les valeurs 01 et 02 et 03 sont possibles."
TYP_BORD = _code_list("TTypBordAller")
TYP_BORD_ORDINARY = "01"
TYP_BORD_REDUCTION = "02"
TYP_BORD_ALLOWED_ALLER = ("01", "02", "03")

# TTypPce (InfoPce/TypPce)
TYP_PCE = _code_list("TTypPce")

# TNatPce (InfoPce/NatPce)
NAT_PCE = _code_list("TNatPce")

# (TypBord, TypPce, NatPce) triplets named in the 5.17 annotations (InfoPce/TypPce,
# RattachPiece/NatPceOrig, LiensIdent/IdConv), plus the ordinary investment mandate. Hélios
# rejects a bordereau with a triplet it does not know; the complete table is an annex of the
# DGFiP specification that the schemas do not carry, so another triplet is only a warning.
KNOWN_TRIPLETS = {
    ("01", "01", "01"): "Mandat ordinaire de fonctionnement",
    ("01", "01", "02"): "Mandat ordinaire d'investissement",
    ("01", "09", "01"): "Mandat sur marché de fonctionnement",
    ("01", "09", "02"): "Mandat sur marché d'investissement",
    ("01", "06", "01"): "Mandat global de fonctionnement",
    ("01", "07", "01"): "Mandat d'admission en non-valeurs",
    ("01", "13", "01"): "Charges constatées d'avance",
    ("01", "02", "09"): "Mandat correctif annulant un titre",
    ("02", "02", "06"): "Mandat correctif d'annulation/réduction",
    ("02", "02", "10"): "Mandat correctif d'annulation du mandat de rattachement",
}
# Triplets whose lines must carry a complete RattachPiece (RattachPiece/NatPceOrig, rule 1/).
TRIPLETS_NEEDING_ORIGIN = {("02", "02", "06"), ("01", "02", "09"), ("01", "13", "01"),
                           ("02", "02", "10")}
REDUCTION_TRIPLET = ("02", "02", "06")

# TNatPceOrig (RattachPiece/NatPceOrig)
NAT_PCE_ORIG = _code_list("TNatPceOrig")

# TCodePaiement (InfoLignePce/ModRegl)
MOD_REGL = _code_list("TCodePaiement")
MOD_REGL_TRANSFER = "03"
# "Le mode 03 et le mode 05 nécessitent la présence du bloc CpteBancaire, à défaut rejet".
MOD_REGL_NEEDING_ACCOUNT = frozenset({"03", "05"})
# "Pour les valeurs 01, 02, 04, 07, 08, 09 ou 11, aucun RIB ou SEPA ne doit être porté sur le
# tiers ... rejet du bordereau": the writer leaves the account out for these modes.
MOD_REGL_FORBIDDING_ACCOUNT = frozenset({"01", "02", "04", "07", "08", "09", "11"})

# TCatTiers (InfoTiers/CatTiers)
CAT_TIERS = _code_list("TCatTiers")
CAT_TIERS_PERSON = "01"  # Civilite and Prenom required, forbidden for the other categories
CAT_TIERS_COMPANY = "60"

# TNatJur (InfoTiers/NatJur)
NAT_JUR = _code_list("TNatJur")
NAT_JUR_COMPANY = "03"

# TNatIdTiers (InfoTiers/NatIdTiers)
NAT_ID_TIERS = _code_list("TNatIdTiers")
NAT_ID_SIRET = "01"
NAT_ID_SIREN = "02"
NAT_ID_FINESS = "03"
NAT_ID_NIR = "04"
NAT_ID_VAT = "05"
NAT_ID_OUTSIDE_EU = "06"
NAT_ID_TAHITI = "07"
NAT_ID_RIDET = "08"
NAT_ID_PENDING = "09"
NAT_ID_FRWF = "10"
NAT_ID_IREP = "11"
NAT_ID_NFP = "12"

# TTypAdr (Adresse/TypAdr)
TYP_ADR = _code_list("TTypAdr")
# Adresse/CP: "Lorsque le tiers réside à l'étranger, mettre 99999 dans code postal".
FOREIGN_POSTAL_CODE = "99999"
# Adresse/CodPays: INSEE country code; "obligatoirement non valorisée ou valorisée à 100 si CodRes
# est à 0" (100 = France).
INSEE_FRANCE = "100"

# TSupport (PJRef/Support). "Les valeurs 02 ou 03 interdisent d'avoir un bloc PJ."
SUPPORT = _code_list("TSupport")
SUPPORT_ELECTRONIC = "01"

# TPJ (PJRef/TypePJ, PES_PJ/PJ/TypePJ)
TYPE_PJ = _code_list("TPJ")
TYPE_PJ_DEPENSE = "003"
# With a dépense RefCompta (Domaine 01) only 003, 004, 005 and 006 are coherent; we never write
# RefCompta (the files travel with their pièce) but keep to that set.
TYPE_PJ_DEPENSE_DOMAIN = ("003", "004", "005", "006")

# TCodIntMor (DGP/CodIntMor)
COD_INT_MOR = _code_list("TCodIntMor")
COD_INT_MOR_ECB = "02"  # R2192-31: ECB main refinancing rate + 8 points

# Nomenclatures (budgetary instructions) and the fields they allow --------------------------
NOMENCLATURES = {
    "M57": "M57 (référentiel budgétaire et comptable)",
    "M14": "M14 (communes et établissements publics communaux)",
    "M4": "M4 (services publics industriels et commerciaux)",
    "M41": "M41 (SPIC production et distribution d'énergie)",
    "M42": "M42 (SPIC abattoirs)",
    "M43": "M43 (SPIC transports de personnes)",
    "M44": "M44 (SPIC transports)",
    "M49": "M49 (SPIC eau et assainissement)",
    "M52": "M52 (départements)",
    "M71": "M71 (régions)",
    "M21": "M21 (établissements publics de santé)",
    "M22": "M22 (établissements sociaux et médico-sociaux)",
    "M31": "M31 (offices publics de l'habitat)",
    "M61": "M61 (services départementaux d'incendie et de secours)",
    "M832": "M832 (centres de gestion de la fonction publique territoriale)",
}
# InfoLignePce/Fonction: "seulement les collectivités utilisant les instructions M14, M52, M57
# et M71. Si présence dans d'autres nomenclatures, rejet du bordereau."
NOMENCLATURES_WITH_FUNCTION = frozenset({"M14", "M52", "M57", "M71"})
# InfoLignePce/Operation: "seulement ... M14, M4x, M52, M57, M61, M71 et M832".
NOMENCLATURES_WITH_OPERATION = frozenset(
    {"M14", "M4", "M41", "M42", "M43", "M44", "M49", "M52", "M57", "M61", "M71", "M832"}
)
# EnTetePES/FinJur: "Obligatoire si M21 ou M22 ... Interdit pour les autres nomenclatures".
NOMENCLATURES_WITH_FINESS = frozenset({"M21", "M22"})

# How the budget is voted (InfoLignePce/Fonction: required when voted by function; allowed by
# nature only with a functional presentation, otherwise "rejet du bordereau concerné").
VOTE_NATURE = "nature"
VOTE_NATURE_FUNCTIONAL = "nature_functional"  # by nature, with a functional presentation
VOTE_FUNCTION = "function"
VOTES = {
    VOTE_NATURE: "Voted by nature",
    VOTE_NATURE_FUNCTIONAL: "Voted by nature, with a functional presentation",
    VOTE_FUNCTION: "Voted by function",
}

# IBAN countries that are not "domiciliation à l'étranger" (CpteBancaire/BIC: "obligatoire pour
# toute domiciliation à l'étranger"): France, Monaco and the overseas territories with their own
# ISO code in the IBAN registry.
DOMESTIC_IBAN_COUNTRIES = frozenset(
    {"FR", "MC", "GF", "GP", "MQ", "RE", "YT", "PM", "BL", "MF", "NC", "PF", "WF", "TF"}
)

# Acquittement (CommunAck.xsd) ------------------------------------------------------------------
# TDomaineAck (ElementACQUIT/DomaineAck)
ACK_DOMAINS = _code_list("TDomaineAck")
ACK_DOMAIN_PJ = "4"
ACK_DOMAIN_DEPENSE = "5"
ACK_DOMAIN_SIGNATURE_BORDEREAU = "3"

# TNumAnoAck (Erreur/NumAnoAck), explained for the accountant (the schema has no labels).
ACK_ANOMALIES = {
    "ERREUR_CONNECTION_IMPOSSIBLE_A_LA_BASE": "Hélios could not reach its database",
    "ERREUR_ENCODING": "The file's character encoding is wrong",
    "ERREUR_FLUX_VIDE": "The file is empty",
    "ERREUR_SCHEMA_INCOMPLET": "The file does not follow the PES schema",
    "ERREUR_CODIFICATION": "A code in the file is unknown",
    "ERREUR_CODIQUE": "The accounting office number (codique) is unknown",
    "ERREUR_SIRET": "The SIRET of the public body is unknown",
    "ERREUR_CODE_COLLECTIVITE_BUDGET": "The public body or budget code is unknown",
    "ERREUR_VERSION_PES": "Wrong PES version",
    "ERREUR_VERSION_PJ": "Wrong version of the attachment block",
    "ERREUR_SIGNATURE_INVALIDE": "The signature is invalid",
    "ERREUR_SIGNATURE_ILLISIBLE": "The signature cannot be read",
    "ERREUR_SIGNATURE_INCOMPLETE": "The signature is incomplete",
    "ERREUR_DOUBLON_BORDEREAU": "This bordereau number was already received",
    "ERREUR_DOUBLON_PIECE": "This mandate number was already received",
    "ERREUR_DOUBLON_LIGNE": "This mandate line was already received",
    "ERREUR_DOUBLON_PJ": "This attachment was already received",
    "ERREUR_PES_PARAM": "The public body's PES settings refuse this file",
    "ERREUR_PES_SIGNATURE": "The signature does not meet the PES rules",
    "ERREUR_PES_PARAM_SIGNATURE": "The public body's signature settings refuse this signature",
    "ERREUR_CERTIFICAT": "The signing certificate is not accepted",
    "ERREUR_TIMEOUT": "Hélios timed out",
    "ERREUR_TAILLE_BORDEREAUX": "Too many or too large bordereaux",
    "ERREUR_TAILLE_PIECE": "Too many or too large mandates",
    "ERREUR_TAILLE_LIGNE": "Too many or too large mandate lines",
    "ERREUR_PJ_SIGNEE": "A signed attachment is refused",
    "ERREUR_SIGNATURE_EXTERNE": "External signature refused",
    "ERREUR_AUTRE": "Other error",
    "ERREUR_SIGNATURE_BORDEREAU_INVALIDE": "The bordereau's signature is invalid",
    "ERREUR_MONTANT_TVA_ZERO_NEGATIF": "A VAT amount is zero or negative",
    "ERREUR_PJ": "An attachment is refused",
    "ERREUR_CUMUL_MONTANTS": "The yearly cumulative amount is wrong",
    "ERREUR_SIGNATURE_BORDEREAU_ILLISIBLE": "The bordereau's signature cannot be read",
    "ERREUR_SIGNATURE_BORDEREAU_INCOMPLETE": "The bordereau's signature is incomplete",
}

# PES_Retour dépense (RETOUR/NS_Depense/r0/CommunDepense_Retour.xsd) ---------------------------
# TEtatPce (InfoPiece/EtatPce)
ETAT_PCE = _code_list("TEtatPce")
ETAT_PCE_PENDING = "01"
ETAT_PCE_ACCEPTED = "02"
ETAT_PCE_REJECTED = "04"
ETAT_PCE_SETTLED = "05"
# TEtatLigPce (InfoLignePiece/EtatLigPce)
ETAT_LIG_PCE = _code_list("TEtatLigPce")
# TTypRestit (EnTeteDepense/TypRestit of a PES_Retour)
TYP_RESTIT = _code_list("TTypRestit")

# Lengths of the text fields we write (5.17 facets) --------------------------------------------
MAX_LENGTH = {
    "NomFic": 100,
    "Sigle": 32,
    "EmetteurAdresse": 38,
    "LibellePoste": 38,
    "LibelleColBud": 38,
    "FinJur": 20,
    "CodServ": 10,
    "Obj": 100,
    "Facture": 20,
    "LibVir": 70,
    "IdMarche": 30,
    "IdTiers": 80,
    "RefTiers": 30,
    "Civilite": 10,
    "Nom": 38,
    "ComplNom": 38,
    "Prenom": 38,
    "Adr": 38,
    "Ville": 38,
    "LibBanc": 24,
    "TitCpte": 32,
    "IdUnique": 50,
    "NomPJ": 100,
    "Description": 250,
}
