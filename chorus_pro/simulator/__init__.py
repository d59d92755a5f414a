"""Local Chorus Pro (PISTE) simulator: develop, test, demo and benchmark without the real portal.

``python -m chorus_pro.simulator --port 0`` serves, on loopback, the recipient-side operations of
the PISTE gateway (OAuth2 token, ``/cpro/factures/...``, ``/cpro/facturesTravaux/...``,
``/cpro/structures/...``, ``/cpro/transverses/...``) over a deterministic, seeded world of
French public-procurement invoices, plus a JSON admin interface under ``/_admin`` to drive it
(deposits, Hélios moves, faults, corruption, credentials...). See ``README.md`` next to this file
for the command line and the admin interface.

Modules: :mod:`.world` (typed data, tags), :mod:`.generator` (seeded world), :mod:`.documents`
(PDF / PIVOT / ZIP, rendered lazily), :mod:`.server` (protocol + HTTP), :mod:`.testing`
(``SimulatorProcess``, ``SimulatorAdmin``).

Choices made on the points ``chorus-pro-api.md`` leaves open
----------------------------------------------------------------
The simulator behaves one way on each of them; client code must still cope with the other
answers (the real platform may differ). Numbers refer to chorus-pro-api.md §10.

* §10.1 ``statutCourant`` in ``rechercher/recipiendaire``: a string and an array of strings are
  both accepted.
* §10.2 ``rechercher/atraiter/recipiendaire`` is not implemented (HTTP 404).
* §10.3 Transitions: ``chorus_pro.statuses.RECIPIENT_TRANSITIONS`` is the matrix (used by
  ``traiter/recue`` and ``recuperer/etats/traitement``). Anything else — the same status, an
  unknown status, ``COMPLETEE`` — answers ``codeRetour 20002`` "Incohérence au niveau du statut
  d'origine ou de destination de la facture.". Works invoices follow the same matrix.
* §10.4 A successful ``telecharger/groupe`` sets ``factureTelechargeeParDestinataire = true`` on
  every invoice of the bundle (a refused or too large bundle sets nothing).
* §10.5 Formats are ``PDF`` and ``PIVOT`` only (no original UBL/CII).
  ``avecPiecesJointesComplementaires`` accepts ``Oui``/``OUI``/``Non``/``NON``/``true``/
  ``false`` (any case; default no); PIVOT always embeds every attachment (type 01 invoice,
  02 complementary). PDF with one invoice and only its main document -> that PDF; one invoice
  with complementary documents -> flat ZIP; several invoices -> ZIP with one
  ``<idFacture>_<numero>/`` directory each.
* §10.6 Bank details in ``consulter/recipiendaire``: ``coordBancairesFournisseurCompteBancaire``
  holds the full IBAN; ``…CleIban`` its two check digits; ``…CodeBanque``,
  ``coordBancairesCodeGuichet``, ``…CleRib`` the RIB parts of the French IBAN;
  ``coordBancairesBicSwift`` the BIC. For a factored invoice these are the factor's, and
  ``fournisseur.affactureur`` describes the factor. PIVOT ``ReferenceBancaire``: ``Compte`` =
  IBAN, ``Etablissement`` = BIC, ``RaisonSocialeEncaisseur`` = account holder (the factor when
  factored).
* §10.7 ``dateExpirationMotPasseCompteTech`` is filled (``YYYY-MM-DD``) for the structures the
  technical account is attached to, ``null`` for the others. The default expiry is 300 days
  after the anchor date, or after today when the anchor lies in the past (a world anchored on a
  fixed date never sees its password expire); ``/_admin/credentials`` with a new password and no date sets today + 424 days. An
  expired password (expiry before today, Paris) gives HTTP 401 with
  ``error_description="password expired: …"``.
* §10.8 ``structures/v1/consulter`` accepts ``idStructureCPP`` and ``idStructure``;
  ``rechercher/services`` accepts ``idStructure`` and ``idStructureCPP``.
* §10.9 Codes: 20000 ``TRA_MSG_00.015`` (empty recipient search), 20007 ``GFT_MSG_01.075``
  (empty works search), 20001 (unknown invoice ``GDP_MSG_11.008 La demande de paiement est
  inconnue du système``, unknown structure/service ``GCU_MSG_05.00x``), 20002 (transition),
  20003 (``telecharger/groupe``: file unavailable, admin "download refused"; ``traiter/recue``:
  motif missing for REJETEE/SUSPENDUE — codes are per operation), 20004 (motif over 255
  characters), 20099 with HTTP 400 (malformed request: missing/ill-typed parameter, body not a
  JSON object). No quota: 429 (with ``Retry-After``) only through ``/_admin/faults``.
* §10.10 ``idFacture`` is kept when a suspended invoice is completed; the PIVOT then says
  ``<Renvoi>Complétée</Renvoi>``. ``COMPLETEE`` stays the current status (``/_admin/complete``
  with ``then_available: true`` appends a ``MISE_A_DISPOSITION``, as in the doc's §2.6 example).
* §10.11 Dates: search ``dateHeureEtatCourant`` = ISO 8601 with milliseconds and Paris offset
  (``2026-03-09T10:12:44.000+01:00``); history ``histoStatutDatePassage`` = ``YYYY-MM-DD HH:MM``
  (Paris); plain dates ``YYYY-MM-DD``. Period filters accept ``YYYY-MM-DD``,
  ``YYYY-MM-DDTHH:MM:SS`` with or without milliseconds / ``Z`` / offset (naive = Paris); a bare
  date as upper bound (``…Au``) covers the whole day.
* §10.12 ``recuperer/coordbanc/valides`` is not implemented (404).
* §10.13 Functional errors come back with HTTP 200; only malformed requests get HTTP 400.
  A structure the technical account is not attached to gives HTTP 403 with an empty body; an
  oversized bundle HTTP 413 with a small JSON body.

Other choices
-------------
* A2 (``A2_FACTURE_FOURNISSEUR_DEJA_PAYEE``): ``montantAPayer`` = 0.00 (already paid by purchase
  card), ``modePaiement`` ``AUTRE``, PIVOT ``ModePaiement`` 48 "Carte d'achat".
* Credit notes: ``typeFacture`` ``AVOIR`` with positive amounts, PIVOT ``Type`` 381,
  ``IdFactureOrigine`` / ``numeroFactureOrigine`` = number of an invoice of the same supplier.
* Works invoices (``FACTURE_TRAVAUX``, frames A5/A8): only in ``facturesTravaux/v1/rechercher``
  (``roleUtilisateur`` absent, MOA or DESTINATAIRE; other roles get 20007), or in
  ``rechercher/recipiendaire`` when ``typeDemandePaiement`` is explicitly ``FACTURE_TRAVAUX``;
  they use the ordinary statuses (no ``A_ASSOCIER_MOA``-style works statuses).
* Searches only show what a recipient sees (not ``DEPOSEE`` / ``EN_COURS_ACHEMINEMENT``).
  Default page size 10; ``nbResultatsParPage`` above 1000 is clamped to 1000 (and reported);
  a page past the last answers 20000 with the real ``total``. Without ``triColonne`` results are
  sorted by ``idFacture``; sort keys ``DateDepot``, ``NumeroFacture``, ``DateHeureEtatCourant``,
  ``DateFacture``, ``MontantTTC``, ``MontantHT``, ``MontantAPayer``, ``IdFacture``, ``Statut``,
  ``FactureTelechargeeParDestinataire`` (ties broken by id), ``triSens`` ``Ascendant`` /
  ``Descendant``.
* ``taille`` (and ``tailleTotalePiecesJointes``) = estimated bytes of the invoice's PDFs (close to
  the real size); 200 MB for an invoice corrupted as ``too_large``. The 413 limit applies to
  the announced sizes and to the decoded file.
* Token endpoint: client credentials in the form or in HTTP Basic; ``scope`` answered is always
  ``openid``; tokens live in memory (not kept across restarts). Errors on ``/cpro``: missing,
  unknown or expired token -> 401 ``WWW-Authenticate: Bearer realm="PISTE",error="invalid_token",
  error_description="…"``; wrong ``cpro-account`` -> 401 with ``error="Unauthorized",
  error_description="login or password incorrects"``. ``GET transverses/v1/health-check`` needs
  the bearer token only.
* History entries of recipient actions are signed by the technical account
  (``histoStatutUtilisateurNom`` "COMPTE TECHNIQUE", ``…Prenom`` "Simulateur", ``…Email`` = login);
  the motif is the ``histoStatutCommentaire``; entries are newest first. A status pushed within
  the same second as the previous one keeps that second (ids order them).
* VAT codes in ``lignePosteTauxTva`` / ``ligneTvaTauxRefCode`` are ``TVA20``, ``TVA10``,
  ``TVA5_5``… (invented; the numeric rate is in ``…TauxTvaManuel`` / ``…TauxRefValeur``).
* PIVOT envelope: ``Recepteur/Id`` = the recipient's ``idStructureCPP``, ``Emetteur/Id`` ``CPP``,
  ``ParametreIndiv`` ``DtPrd`` (``YYYY-MM-DD HH:MM:SS``, Paris) and ``IdFlx``.
"""

from .server import Simulator, SimulatorCore, check_bind_host  # noqa: F401
from .world import TAGS, World  # noqa: F401

__all__ = ["Simulator", "SimulatorCore", "World", "TAGS", "check_bind_host"]
