"""Chorus Pro invoice statuses as the recipient (ordonnateur) sees them, and the rules around them.

One place for the catalogue, the recipient's transition matrix (used by the simulator and, as a
first local check, by the addon before it calls Chorus) and the motif rules. The authoritative
answer on transitions remains Chorus itself (``recuperer/etats/traitement`` and the
``traiter/recue`` refusal 20002): code that pushes a status must handle a refusal even when the
local matrix allowed it.
"""

from __future__ import annotations

DEPOSEE = "DEPOSEE"
EN_COURS_ACHEMINEMENT = "EN_COURS_ACHEMINEMENT"
MISE_A_DISPOSITION = "MISE_A_DISPOSITION"
A_RECYCLER = "A_RECYCLER"
REJETEE = "REJETEE"
SUSPENDUE = "SUSPENDUE"
SERVICE_FAIT = "SERVICE_FAIT"
MANDATEE = "MANDATEE"
MISE_A_DISPOSITION_COMPTABLE = "MISE_A_DISPOSITION_COMPTABLE"
COMPTABILISEE = "COMPTABILISEE"
MISE_EN_PAIEMENT = "MISE_EN_PAIEMENT"
COMPLETEE = "COMPLETEE"

# (code, English label, French label). English is the source language of the addon; French is
# what users read (the addon's fr.po carries the same French labels).
CATALOGUE = [
    (DEPOSEE, "Deposited", "Déposée"),
    (EN_COURS_ACHEMINEMENT, "Being routed", "En cours d'acheminement"),
    (MISE_A_DISPOSITION, "Made available", "Mise à disposition"),
    (COMPLETEE, "Completed", "Complétée"),
    (SUSPENDUE, "Suspended", "Suspendue"),
    (A_RECYCLER, "To recycle", "À recycler"),
    (REJETEE, "Rejected", "Rejetée"),
    (SERVICE_FAIT, "Service done", "Service fait"),
    (MANDATEE, "Mandated", "Mandatée"),
    (MISE_A_DISPOSITION_COMPTABLE, "Made available to the accountant", "Mise à disposition comptable"),
    (COMPTABILISEE, "Accounted", "Comptabilisée"),
    (MISE_EN_PAIEMENT, "Payment issued", "Mise en paiement"),
]
CODES = [code for code, _en, _fr in CATALOGUE]
LABELS_EN = {code: en for code, en, _fr in CATALOGUE}
LABELS_FR = {code: fr for code, _en, fr in CATALOGUE}

# Statuses in which the body still has to decide (its payment delay is running).
AWAITING_DECISION = frozenset({MISE_A_DISPOSITION, COMPLETEE})
# Decisions the processing screen offers.
PROCESSING_TARGETS = (SERVICE_FAIT, REJETEE, SUSPENDUE, A_RECYCLER)
# Statuses Chorus requires a motif for.
MOTIF_REQUIRED = frozenset({REJETEE, SUSPENDUE})
MOTIF_MAX_LENGTH = 255
# Statuses only the comptable side (Hélios) sets for a collectivité: never pushed by the addon.
COMPTABLE_STATUSES = frozenset({MISE_A_DISPOSITION_COMPTABLE, COMPTABILISEE, MISE_EN_PAIEMENT})
# Final for the recipient: nothing more can be pushed.
FINAL = frozenset({REJETEE, A_RECYCLER, MISE_EN_PAIEMENT})
# The invoice left the recipient's hands (returned to the supplier).
RETURNED = frozenset({REJETEE, A_RECYCLER, SUSPENDUE})

# Recipient transition matrix: current status -> statuses the recipient may set.
# Chorus documents no full matrix [unconfirmed]; this follows the documented lifecycle
# (chorus-pro-api.md §4.2) and what Pastell does in production.
RECIPIENT_TRANSITIONS = {
    MISE_A_DISPOSITION: (
        SERVICE_FAIT, SUSPENDUE, REJETEE, A_RECYCLER, MANDATEE,
        MISE_A_DISPOSITION_COMPTABLE, COMPTABILISEE, MISE_EN_PAIEMENT,
    ),
    COMPLETEE: (
        SERVICE_FAIT, SUSPENDUE, REJETEE, A_RECYCLER, MANDATEE,
        MISE_A_DISPOSITION_COMPTABLE, COMPTABILISEE, MISE_EN_PAIEMENT,
    ),
    SERVICE_FAIT: (
        MANDATEE, SUSPENDUE, REJETEE, A_RECYCLER,
        MISE_A_DISPOSITION_COMPTABLE, COMPTABILISEE, MISE_EN_PAIEMENT,
    ),
    MANDATEE: (MISE_A_DISPOSITION_COMPTABLE, COMPTABILISEE, MISE_EN_PAIEMENT),
    MISE_A_DISPOSITION_COMPTABLE: (COMPTABILISEE, MISE_EN_PAIEMENT),
    COMPTABILISEE: (MISE_EN_PAIEMENT,),
}


def label(code: str, lang: str = "fr") -> str:
    """Human label of a status code (falls back to the code for unknown statuses)."""
    table = LABELS_FR if lang.startswith("fr") else LABELS_EN
    return table.get(code, code or "")


def possible_targets(current: str) -> tuple:
    """Statuses the recipient may set from ``current`` (empty when none)."""
    return RECIPIENT_TRANSITIONS.get(current, ())


def is_allowed(current: str, target: str) -> bool:
    return target in possible_targets(current)


def motif_required(target: str) -> bool:
    return target in MOTIF_REQUIRED


def clean_motif(motif) -> str:
    """Normalise a motif the way Chorus accepts it: stripped, at most 255 characters."""
    text = " ".join(str(motif or "").split())
    return text[:MOTIF_MAX_LENGTH]
