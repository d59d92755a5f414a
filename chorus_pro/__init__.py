"""Chorus Pro, recipient side, in plain Python (no Odoo import anywhere in this package).

- :mod:`chorus_pro.client`: the PISTE / Chorus Pro REST client;
- :mod:`chorus_pro.records`: the typed records every answer is turned into;
- :mod:`chorus_pro.parsing`: tolerant parsing of the JSON answers into those records;
- :mod:`chorus_pro.errors`: the typed exceptions of the client;
- :mod:`chorus_pro.pivot`: the PIVOT XML parser;
- :mod:`chorus_pro.statuses`: status catalogue, transitions, motif rules, the named status sets;
- :mod:`chorus_pro.billing`: billing frames, payment request and invoice types, the factoring
  guess;
- :mod:`chorus_pro.account`: the technical account's password lifetime;
- :mod:`chorus_pro.timeutil`: Paris-time parsing and formatting (a naive datetime is Paris time
  throughout the library);
- :mod:`chorus_pro.dgp`: délai global de paiement, the one interruption, late-payment interest;
- :mod:`chorus_pro.identifiers`: SIRET / SIREN / IBAN / RIB / BIC / EU VAT checks and the one
  separator rule (python-stdnum);
- :mod:`chorus_pro.token`: the RGS** key on a PKCS#11 token (optional);
- :mod:`chorus_pro.evidence`: evidence of an exchange with Chorus, signed with that key;
- :mod:`chorus_pro.testing_softhsm`: SoftHSM2 test tokens shaped like an RGS** token (tests only);
- :mod:`chorus_pro.simulator`: a local Chorus Pro simulator (``python -m chorus_pro.simulator``,
  documented in the README section "The simulator").
"""

__version__ = "18.0.1.0.0"
