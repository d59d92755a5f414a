"""Compatibility name: the simulator's server, split by concern into

:mod:`.protocol` (codes, paths, ``Response``), :mod:`.checks` (request checks),
:mod:`.runtime` (knobs, faults), :mod:`.operations` (Chorus operations), :mod:`.admin` (admin
interface), :mod:`.core` (``SimulatorCore``) and :mod:`.http_server` (``Simulator``). Import from
those modules (or from :mod:`chorus_pro.simulator`) in new code.
"""

from .core import SimulatorCore  # noqa: F401
from .http_server import Simulator, check_bind_host  # noqa: F401
from .operations import ROUTES  # noqa: F401
from .protocol import Response  # noqa: F401

__all__ = ["ROUTES", "Response", "Simulator", "SimulatorCore", "check_bind_host"]
