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

Modules, from the data up to the wire:

- :mod:`.world` (typed data, tags), :mod:`.generator` (seeded world), :mod:`.documents`
  (PDF / PIVOT / ZIP, rendered lazily);
- :mod:`.protocol` (return codes, paths, ``Response``), :mod:`.checks` (request checks),
  :mod:`.runtime` (knobs and queued faults);
- :mod:`.operations` (the ``/cpro`` Chorus operations), :mod:`.admin` (the ``/_admin``
  interface), :mod:`.core` (state, authentication, dispatch: ``SimulatorCore``);
- :mod:`.http_server` (HTTP plumbing: ``Simulator``);
- :mod:`.admin_client` (``SimulatorAdmin``), :mod:`.testing` (``SimulatorProcess``).
"""

from .core import SimulatorCore  # noqa: F401
from .http_server import Simulator, check_bind_host  # noqa: F401
from .world import TAGS, World  # noqa: F401

__all__ = ["Simulator", "SimulatorCore", "World", "TAGS", "check_bind_host"]
