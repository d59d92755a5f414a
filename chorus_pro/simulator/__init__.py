"""Local Chorus Pro (PISTE) simulator: develop, test, demo and benchmark without the real portal.

``python -m chorus_pro.simulator --port 0`` serves, on loopback, the recipient-side operations of
the PISTE gateway (OAuth2 token, ``/cpro/factures/...``, ``/cpro/facturesTravaux/...``,
``/cpro/structures/...``, ``/cpro/transverses/...``) over a deterministic, seeded world of
French public-procurement invoices, plus a JSON admin interface under ``/_admin`` to drive it
(deposits, Hélios moves, faults, corruption, credentials...).

**Documentation: the section "The simulator" of the repository's ``README.md``** — command line,
the first-line JSON, the data set and its tags, the admin interface with examples, and, in one
place, the choices the simulator makes on the points ``chorus-pro-api.md`` leaves
[unconfirmed].

Modules: :mod:`.world` (typed data, tags), :mod:`.generator` (seeded world), :mod:`.documents`
(PDF / PIVOT / ZIP, rendered lazily), :mod:`.server` (protocol + HTTP), :mod:`.testing`
(``SimulatorProcess``, ``SimulatorAdmin``).
"""

from .server import Simulator, SimulatorCore, check_bind_host  # noqa: F401
from .world import TAGS, World  # noqa: F401

__all__ = ["Simulator", "SimulatorCore", "World", "TAGS", "check_bind_host"]
