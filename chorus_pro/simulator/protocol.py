"""What every part of the simulator answers with: return codes, paths and :class:`Response`.

The codes and labels are those of ``chorus-pro-api.md``; a handler returns a :class:`Response`
(built with :func:`_json`, :func:`_ok` or :func:`_functional`) and the HTTP layer
(:mod:`.http_server`) writes it back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# -- return codes and labels -------------------------------------------------------------------
OK_LABEL = "TRA_MSG_00.000"
CODE_NO_RESULT = 20000
LABEL_NO_RESULT = "TRA_MSG_00.015"
CODE_NO_WORKS_RESULT = 20007
LABEL_NO_WORKS_RESULT = "GFT_MSG_01.075"
CODE_UNKNOWN = 20001
LABEL_UNKNOWN_INVOICE = "GDP_MSG_11.008 La demande de paiement est inconnue du système"
CODE_TRANSITION = 20002
LABEL_TRANSITION = ("Incohérence au niveau du statut d'origine ou de destination de la "
                    "facture.")
CODE_DOWNLOAD_REFUSED = 20003  # also: motif missing on traiter/recue (per-operation codes)
CODE_MOTIF_MISSING = 20003
CODE_MOTIF_TOO_LONG = 20004
CODE_INVALID_REQUEST = 20099  # HTTP 400: malformed request (missing/ill-typed parameter)
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 10

API_PREFIX = "/cpro/"
TOKEN_PATH = "/api/oauth/token"
TOKEN_KEY = "api/oauth/token"
ADMIN_PREFIX = "/_admin"


@dataclass
class Response:
    """What the HTTP layer writes back."""

    status: int = 200
    payload: Any = None  # dict -> JSON; bytes -> raw body; None -> empty body
    headers: dict = field(default_factory=dict)
    reset: bool = False  # drop the connection without answering

    def body(self) -> bytes:
        if self.payload is None:
            return b""
        if isinstance(self.payload, bytes):
            return self.payload
        return json.dumps(self.payload, ensure_ascii=False).encode("utf-8")

    @property
    def code_retour(self):
        return self.payload.get("codeRetour") if isinstance(self.payload, dict) else None


def _json(payload: dict, status: int = 200, **headers) -> Response:
    return Response(status, payload, dict(headers))


def _ok(**fields) -> Response:
    return _json({"codeRetour": 0, "libelle": OK_LABEL, **fields})


def _functional(code: int, label: str, status: int = 200, **fields) -> Response:
    return _json({"codeRetour": code, "libelle": label, **fields}, status)
