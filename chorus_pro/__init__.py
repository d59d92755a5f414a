"""Chorus Pro, recipient side, in plain Python (no Odoo import anywhere in this package).

- :mod:`chorus_pro.client`: the PISTE / Chorus Pro REST client;
- :mod:`chorus_pro.records`: the typed records every answer is turned into;
- :mod:`chorus_pro.pivot`: the PIVOT XML parser;
- :mod:`chorus_pro.statuses`: status catalogue, transitions, motif rules;
- :mod:`chorus_pro.dgp`: délai global de paiement and late-payment interest;
- :mod:`chorus_pro.identifiers`: SIRET / SIREN / IBAN checks (python-stdnum);
- :mod:`chorus_pro.token`: the RGS** key on a PKCS#11 token (optional);
- :mod:`chorus_pro.simulator`: a local Chorus Pro simulator (``python -m chorus_pro.simulator``).
"""

__version__ = "18.0.1.0.0"
