"""Chorus Pro, recipient side, in plain Python (no Odoo import anywhere in this package).

- :mod:`chorus_pro.client`: the PISTE / Chorus Pro REST client;
- :mod:`chorus_pro.records`: the typed records every answer is turned into;
- :mod:`chorus_pro.parsing`: tolerant parsing of the JSON answers into those records;
- :mod:`chorus_pro.errors`: the typed exceptions of the client;
- :mod:`chorus_pro.pivot`: the PIVOT XML parser;
- :mod:`chorus_pro.statuses`: status catalogue, transitions, motif rules;
- :mod:`chorus_pro.timeutil`: Paris-time parsing and formatting;
- :mod:`chorus_pro.dgp`: délai global de paiement and late-payment interest;
- :mod:`chorus_pro.identifiers`: SIRET / SIREN / IBAN / BIC checks (python-stdnum);
- :mod:`chorus_pro.token`: the RGS** key on a PKCS#11 token (optional);
- :mod:`chorus_pro.evidence`: evidence of an exchange with Chorus, signed with that key;
- :mod:`chorus_pro.testing_softhsm`: SoftHSM2 test tokens shaped like an RGS** token (tests only);
- :mod:`chorus_pro.simulator`: a local Chorus Pro simulator (``python -m chorus_pro.simulator``,
  documented in the README section "The simulator").
"""

__version__ = "18.0.1.0.0"
