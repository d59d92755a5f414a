"""Runtime knobs and queued faults: what the command line and the admin interface set, and what
every request reads (:class:`SimulatorConfig`, :class:`Fault`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# "no_code": the operation is carried out, but its HTTP 200 answer lacks codeRetour and libelle
# (seen on the real portal: the outcome of a status change is then unknown).
FAULT_KINDS = frozenset({"500", "503", "429", "timeout", "malformed", "reset", "401", "no_code"})


@dataclass
class SimulatorConfig:
    """Runtime knobs (command line, then ``POST /_admin/config``)."""

    latency_ms: float = 0.0
    fail_rate: float = 0.0
    token_ttl: int = 3600
    max_download_mb: float = 120.0

    def update(self, values: dict) -> None:
        for key in ("latency_ms", "fail_rate", "max_download_mb"):
            if values.get(key) is not None:
                value = float(values[key])
                if value < 0 or (key == "fail_rate" and value > 1):
                    raise ValueError(f"{key} out of range")
                setattr(self, key, value)
        if values.get("token_ttl") is not None:
            ttl = int(values["token_ttl"])
            if ttl < 0:
                raise ValueError("token_ttl out of range")
            self.token_ttl = ttl

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Fault:
    path: str  # operation path without "/cpro/" ("*" = any /cpro call), or "api/oauth/token"
    kind: str
    remaining: int
    retry_after: Optional[int] = None
    delay_s: float = 10.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)
