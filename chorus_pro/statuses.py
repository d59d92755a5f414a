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
# The invoice left the recipient's hands (returned to the supplier). A return is no longer
# possible once the invoice is mandated (the délai can be interrupted only before the mandat).
RETURNED = frozenset({REJETEE, A_RECYCLER, SUSPENDUE})
# Returned for good: the supplier must deposit again (a suspension comes back completed).
RETURNED_FOR_GOOD = frozenset({REJETEE, A_RECYCLER})
# Mandated, or beyond (the comptable's side): the ordonnateur's part is done. The supplier's
# match is locked from then on, and no return can be pushed.
MANDATED = frozenset({MANDATEE}) | COMPTABLE_STATUSES
# Statuses from which the addon may push MANDATEE (those whose matrix row allows it).
MANDATE_FROM = frozenset({MISE_A_DISPOSITION, COMPLETEE, SERVICE_FAIT})
# What the addon ever sets in Chorus: the processing decisions and MANDATEE (mandating step).
PUSHABLE = frozenset(PROCESSING_TARGETS) | {MANDATEE}
# The invoice is still on its way to the recipient: Chorus has not made it available yet.
NOT_YET_AVAILABLE = frozenset({DEPOSEE, EN_COURS_ACHEMINEMENT})
# The ordonnateur's payment délai no longer runs: returned for good, or mandated (and beyond).
DELAY_STOPPED = RETURNED_FOR_GOOD | MANDATED
# Nobody needs to match the supplier of a rejected invoice.
NOT_TO_MATCH = frozenset({REJETEE})
# The statuses of an invoice's usual life (e.g. the columns a board always shows).
MAIN = frozenset({
    MISE_A_DISPOSITION, COMPLETEE, SUSPENDUE, SERVICE_FAIT, MANDATEE, MISE_EN_PAIEMENT, REJETEE,
    A_RECYCLER,
})

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


def is_mandated(codes) -> bool:
    """True when any of ``codes`` (the codes of a status history, or one status) is mandated or
    beyond."""
    if isinstance(codes, str):
        codes = (codes,)
    return not MANDATED.isdisjoint(codes)


def motif_required(target: str) -> bool:
    return target in MOTIF_REQUIRED
