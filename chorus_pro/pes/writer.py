"""Write a ``PES_Aller`` dépense file, streamed, optionally signed bordereau by bordereau.

:func:`write_pes` writes with :class:`lxml.etree.xmlfile` (incremental writing) to a binary
file object: the header, then each ``Bordereau`` element by element (``BlocBordereau``, then one
``Piece`` at a time: a small lxml element built, written, dropped), then ``PES_PJ`` where every
file is read, gzipped and base64-encoded chunk by chunk. Memory therefore does not grow with the
number of mandates nor with the size of the files (``tests/test_pes_writer.py`` measures it).

Signing (``signer=``, see :mod:`chorus_pro.pes.signature`): while a bordereau is streamed, the
exclusive canonical form of each of its children feeds a SHA-256; after its last ``Piece`` the
signature is built, signed on the token and written, then the bordereau is closed. So signing
needs no second pass and no bordereau held in memory.

The file is ISO-8859-1, as the DGFiP samples (:mod:`chorus_pro.pes.text` maps other characters).
Nothing is written when :func:`~chorus_pro.pes.validation.validate` finds an error
(:class:`~chorus_pro.pes.problems.PesValidationError` lists them all). A file that cannot be read
while it is being written raises :class:`PesWriteError` and leaves a partial output: use
:func:`write_pes_file`, which writes next to the target and renames only on success.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import BinaryIO, Iterator, List, Optional

from lxml import etree

from ..timeutil import paris_date
from . import codes
from .problems import PesValidationError, Problem
from .records import Bordereau, BordereauTotals, Line, PesFile, PesFlow, Piece, Tiers
from .signature import (
    BordereauSigner,
    SignatureOptions,
    _CountingWriter,
    bordereau_c14n_frame,
    c14n,
    sign_bordereau,
)
from .text import ENCODING, amount_text, compact, is_refused_text, latin1, pes_text
from .validation import has_errors, validate

CHUNK_SIZE = 63 * 1024  # bytes read at a time (any size: base64 is cut at multiples of 3)
DEFAULT_COMPRESSLEVEL = 6
_MAX = codes.MAX_LENGTH


class PesWriteError(Exception):
    """Writing stopped (a file could not be read, or was empty): the output is incomplete."""


@dataclass
class BordereauResult:
    """One written bordereau: its totals (to store: ``totals.cumul`` is the next
    ``previous_cumul``) and, when signed, the signing time and certificate."""

    exercice: int
    number: int
    kind: str
    element_id: str
    totals: BordereauTotals
    signed: bool = False
    signing_time: Optional[datetime] = None
    certificate_der: Optional[bytes] = field(default=None, repr=False)
    digest: Optional[bytes] = field(default=None, repr=False)


@dataclass
class PesWriteResult:
    """What :func:`write_pes` wrote, with figures for the benchmark."""

    file_name: str
    bordereaux: List[BordereauResult]
    pieces: int = 0
    lines: int = 0
    files: int = 0
    file_bytes: int = 0
    bytes_written: int = 0
    generate_seconds: float = 0.0
    sign_seconds: float = 0.0
    warnings: List[Problem] = field(default_factory=list)

    @property
    def signed(self) -> bool:
        return bool(self.bordereaux) and all(b.signed for b in self.bordereaux)


def write_pes(
    flow: PesFlow,
    out: BinaryIO,
    *,
    signer: Optional[BordereauSigner] = None,
    signature_options: Optional[SignatureOptions] = None,
    now: Optional[datetime] = None,
    check: bool = True,
    check_files: bool = True,
    compresslevel: int = DEFAULT_COMPRESSLEVEL,
    chunk_size: int = CHUNK_SIZE,
) -> PesWriteResult:
    """Write ``flow`` as a ``PES_Aller`` to the binary file object ``out``.

    ``signer`` (e.g. :class:`~chorus_pro.pes.signature.TokenSigner`) signs every bordereau;
    without it the file is unsigned (to be signed later by :func:`~chorus_pro.pes.signature.
    sign_pes` or a parapheur). ``now`` (aware, default now) gives ``DteStr`` and the signing
    time. ``check=False`` skips :func:`~chorus_pro.pes.validation.validate` (only when the
    caller has just run it). Raises :class:`PesValidationError` (nothing written),
    :class:`PesWriteError`, or a :class:`chorus_pro.token.TokenError` from the token.
    """
    started = time.perf_counter()
    warnings: List[Problem] = []
    if check:
        problems = validate(flow, check_files=check_files)
        if has_errors(problems):
            raise PesValidationError(problems)
        warnings = list(problems)
    now = (now or datetime.now(timezone.utc))
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    header = flow.header
    file_name = pes_text(header.file_name or flow.default_file_name(), _MAX["NomFic"])
    result = PesWriteResult(file_name=file_name, bordereaux=[], warnings=warnings)
    counter = _CountingWriter(out)
    with etree.xmlfile(counter, encoding=ENCODING) as xf:
        xf.write_declaration()
        with xf.element("{%s}PES_Aller" % codes.NS_PES_ALLER, nsmap={"n": codes.NS_PES_ALLER}):
            xf.write(_enveloppe(flow, file_name))
            xf.write(_en_tete_pes(flow, paris_date(now)))
            with xf.element("PES_DepenseAller"):
                xf.write(_en_tete_depense(flow))
                for bordereau in flow.bordereaux:
                    result.bordereaux.append(
                        _write_bordereau(xf, flow, bordereau, signer, signature_options, now,
                                         result)
                    )
            with xf.element("PES_PJ"):
                en_tete = etree.Element("EnTetePES_PJ")
                _v(en_tete, "IdVer", codes.PJ_VERSION)
                xf.write(en_tete)
                for pes_file in _unique_embedded_files(flow):
                    result.file_bytes += _write_pj(xf, pes_file, compresslevel, chunk_size)
                    result.files += 1
    result.bytes_written = counter.count
    result.generate_seconds = time.perf_counter() - started - result.sign_seconds
    return result


def write_pes_file(flow: PesFlow, path, **options) -> PesWriteResult:
    """:func:`write_pes` to ``path``, atomically: a temporary file in the same folder, renamed
    over ``path`` only when everything was written (nothing is left behind on failure)."""
    directory = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(prefix=".pes-", suffix=".part", dir=directory)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            result = write_pes(flow, handle, **options)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return result


# ------------------------------------------------------------------ elements
def _v(parent, tag: str, value) -> etree._Element:
    """``<tag V="value"/>`` under ``parent``."""
    return etree.SubElement(parent, tag, V=str(value))


def _v_text(parent, tag: str, value, max_length: int) -> None:
    """An optional text leaf: left out when empty or a value the PES refuses ("." or "nc")."""
    text = pes_text(value, max_length)
    if text and not is_refused_text(text):
        _v(parent, tag, text)


def _enveloppe(flow: PesFlow, file_name: str) -> etree._Element:
    header = flow.header
    enveloppe = etree.Element("Enveloppe")
    parametres = etree.SubElement(enveloppe, "Parametres")
    _v(parametres, "Version", codes.ENVELOPE_VERSION)
    _v(parametres, "TypFic", codes.FILE_TYPE_PES_ALLER)
    _v(parametres, "NomFic", file_name)
    emetteur = etree.SubElement(enveloppe, "Emetteur")
    _v(emetteur, "Sigle", pes_text(header.issuer_sigle, _MAX["Sigle"]) or "ODOO")
    _v(emetteur, "Adresse",
       pes_text(header.issuer_application, _MAX["EmetteurAdresse"]) or "chorus_pro_liaison")
    if header.receiver_sigle:
        recepteur = etree.SubElement(enveloppe, "Recepteur")
        _v_text(recepteur, "Sigle", header.receiver_sigle, _MAX["Sigle"])
    return enveloppe


def _en_tete_pes(flow: PesFlow, today: date) -> etree._Element:
    header = flow.header
    en_tete = etree.Element("EnTetePES")
    _v(en_tete, "DteStr", (header.structure_date or today).isoformat())
    _v(en_tete, "IdPost", header.id_post.strip())
    _v_text(en_tete, "LibellePoste", header.libelle_poste, _MAX["LibellePoste"])
    _v(en_tete, "IdColl", compact(header.id_coll))
    if header.nomenclature in codes.NOMENCLATURES_WITH_FINESS and header.fin_jur:
        _v(en_tete, "FinJur", header.fin_jur.strip())
    _v(en_tete, "CodCol", header.cod_col)
    _v(en_tete, "CodBud", header.cod_bud)
    _v_text(en_tete, "LibelleColBud", header.libelle_col_bud, _MAX["LibelleColBud"])
    return en_tete


def _en_tete_depense(flow: PesFlow) -> etree._Element:
    en_tete = etree.Element("EnTeteDepense")
    _v(en_tete, "IdVer", codes.DEPENSE_VERSION)
    _v(en_tete, "InfoDematerialisee", "1" if flow.dematerialised else "0")
    return en_tete


def _bloc_bordereau(bordereau: Bordereau, totals: BordereauTotals,
                    dematerialised: bool) -> etree._Element:
    bloc = etree.Element("BlocBordereau")
    _v(bloc, "Exer", "%04d" % int(bordereau.exercice))
    _v(bloc, "IdBord", int(bordereau.number))
    _v(bloc, "DteBordEm", bordereau.issue_date.isoformat())
    _v(bloc, "TypBord", bordereau.kind)
    _v(bloc, "NbrPce", totals.pieces)
    if totals.cumul > 0 or dematerialised:
        _v(bloc, "MtCumulAnnuel", amount_text(totals.cumul))
    _v(bloc, "MtBordHT", amount_text(totals.amount_ht))
    if totals.amount_vat > 0:
        _v(bloc, "MtBordTVA", amount_text(totals.amount_vat))
    return bloc


def _pj_ref(parent, pes_file: PesFile) -> None:
    ref = etree.SubElement(parent, "PJRef")
    _v(ref, "Support", pes_file.support)
    _v(ref, "IdUnique", pes_file.id_unique)
    _v_text(ref, "NomPJ", pes_file.name, _MAX["NomPJ"])
    if pes_file.type_pj:
        _v(ref, "TypePJ", pes_file.type_pj)


def _piece(bordereau: Bordereau, piece: Piece, header) -> etree._Element:
    element = etree.Element("Piece")
    bloc = etree.SubElement(element, "BlocPiece")
    info = etree.SubElement(bloc, "InfoPce")
    _v_text(info, "CodServ", piece.service_code, _MAX["CodServ"])
    _v(info, "IdPce", int(piece.number))
    _v(info, "TypPce", piece.piece_type)
    _v(info, "NatPce", piece.nature)
    _v_text(info, "Obj", piece.object, _MAX["Obj"])
    if piece.due_date:
        _v(info, "DteEch", piece.due_date.isoformat())
    for pes_file in piece.files:
        _pj_ref(info, pes_file)
    if piece.dgp is not None:
        dgp = piece.dgp
        block = etree.SubElement(bloc, "DGP")
        # DGP/Dgp (5.17 annotation): "0 ou FALSE = dépense éligible, 1 ou TRUE = dépense non
        # éligible. Par défaut sur 0" [unconfirmed: the element's name suggests the opposite].
        _v(block, "Dgp", "0" if dgp.eligible else "1")
        _v(block, "DteDebDgp", dgp.start.isoformat())
        _v(block, "DteFinDgp", dgp.end.isoformat())
        _v(block, "DureeDgp", int(dgp.duration))
        if dgp.interest_code:
            _v(block, "CodIntMor", dgp.interest_code)
        if dgp.interest_rate is not None:
            _v(block, "TxIntMor", amount_text(dgp.interest_rate))
    for index, line in enumerate(piece.lines, start=1):
        element.append(_ligne(bordereau, piece, line, index, header))
    return element


def _ligne(bordereau: Bordereau, piece: Piece, line: Line, index: int, header) -> etree._Element:
    number = int(line.number if line.number is not None else index)
    ligne = etree.Element("LigneDePiece")
    bloc = etree.SubElement(ligne, "BlocLignePiece")
    info = etree.SubElement(bloc, "InfoLignePce")
    _v(info, "IdLigne", number)
    _v(info, "Nature", str(line.nature).strip().lstrip("0"))
    if line.function and header.function_allowed:
        _v(info, "Fonction", str(line.function).strip())
    if line.operation:
        _v(info, "Operation", str(line.operation).strip())
    _v_text(info, "Facture", line.invoice_number, _MAX["Facture"])
    _v_text(info, "LibVir1", line.transfer_label_1, _MAX["LibVir"])
    _v_text(info, "LibVir2", line.transfer_label_2, _MAX["LibVir"])
    _v(info, "ModRegl", line.payment_mode)
    _v(info, "TVAIntraCom", "1" if line.intra_community_vat else "0")
    _v(info, "MtHT", amount_text(line.amount_ht))
    if line.amount_vat is not None and Decimal(line.amount_vat) > 0:
        _v(info, "MtTVA", amount_text(line.amount_vat))
    if line.invoice_amount_ht is not None:
        _v(info, "MtFactHT", amount_text(line.invoice_amount_ht))
    for pes_file in line.files:
        _pj_ref(info, pes_file)
    origin = line.origin or piece.origin
    if origin is not None:
        attach = etree.SubElement(bloc, "RattachPiece")
        _v(attach, "NatPceOrig", origin.nature)
        _v(attach, "ExerRat", "%04d" % int(origin.exercice))
        _v(attach, "IdPceOrig", int(origin.piece_number))
        _v(attach, "IdLigneOrig", int(origin.line_number or number))
    if line.market_id:
        liens = etree.SubElement(bloc, "LiensIdent")
        _v_text(liens, "IdMarche", line.market_id, _MAX["IdMarche"])
    if line.tiers is not None:
        ligne.append(_tiers(line.tiers, line.payment_mode))
    return ligne


def _tiers(tiers: Tiers, payment_mode: str) -> etree._Element:
    element = etree.Element("Tiers")
    info = etree.SubElement(element, "InfoTiers")
    identifier = compact(tiers.identifier)
    if identifier:
        _v(info, "IdTiers", identifier.upper() if tiers.identifier_type == codes.NAT_ID_VAT
           else identifier)
        _v(info, "NatIdTiers", tiers.identifier_type)
    _v_text(info, "RefTiers", tiers.reference, _MAX["RefTiers"])
    _v(info, "CatTiers", tiers.category)
    _v(info, "NatJur", tiers.legal_nature)
    person = tiers.category == codes.CAT_TIERS_PERSON
    if person:
        _v_text(info, "Civilite", tiers.civility, _MAX["Civilite"])
    _v(info, "Nom", pes_text(tiers.name, _MAX["Nom"]))
    _v_text(info, "ComplNom", tiers.complement_name, _MAX["ComplNom"])
    if person:
        _v_text(info, "Prenom", tiers.first_name, _MAX["Prenom"])
    address = tiers.address
    if address is not None:
        adresse = etree.SubElement(element, "Adresse")
        _v(adresse, "TypAdr", address.kind)
        _v_text(adresse, "Adr1", address.complement, _MAX["Adr"])
        _v(adresse, "Adr2", pes_text(address.street, _MAX["Adr"]))
        _v_text(adresse, "Adr3", address.locality, _MAX["Adr"])
        _v(adresse, "CP", str(address.postal_code).strip())
        _v(adresse, "Ville", pes_text(address.city, _MAX["Ville"]))
        _v(adresse, "CodRes", "0" if address.resident else "1")
        country = str(address.country_code or "").strip().lstrip("0")
        if country and (not address.resident or country == codes.INSEE_FRANCE):
            _v(adresse, "CodPays", country)
    account = tiers.bank_account
    if (
        account is not None
        and compact(account.iban)
        and payment_mode not in codes.MOD_REGL_FORBIDDING_ACCOUNT
    ):
        from ..identifiers import compact_bic, compact_iban

        bank = etree.SubElement(element, "CpteBancaire")
        if account.bic:
            _v(bank, "BIC", compact_bic(account.bic))
        _v(bank, "IBAN", compact_iban(account.iban))
        _v_text(bank, "LibBanc", account.bank_name, _MAX["LibBanc"])
        _v(bank, "TitCpte", pes_text(account.holder or tiers.name, _MAX["TitCpte"]))
    return element


def _write_bordereau(xf, flow: PesFlow, bordereau: Bordereau, signer, options, now,
                     result: PesWriteResult) -> BordereauResult:
    totals = bordereau.totals()
    element_id = bordereau.element_id
    outcome = BordereauResult(
        exercice=bordereau.exercice, number=bordereau.number, kind=bordereau.kind,
        element_id=element_id, totals=totals,
    )
    digest = hashlib.sha256() if signer is not None else None
    if digest is not None:
        start, end = bordereau_c14n_frame(element_id)
        digest.update(start)
    with xf.element("Bordereau", Id=element_id):
        for element in _bordereau_children(flow, bordereau, totals):
            if digest is not None:
                digest.update(c14n(element))
            xf.write(element)
        if digest is not None:
            digest.update(end)
            signature = sign_bordereau(
                element_id, digest.digest(), signer, options, signing_time=now
            )
            result.sign_seconds += signature.seconds
            xf.write(signature.element)
            outcome.signed = True
            outcome.signing_time = signature.signing_time
            outcome.certificate_der = signature.certificate_der
            outcome.digest = digest.digest()
    result.pieces += totals.pieces
    result.lines += totals.lines
    return outcome


def _bordereau_children(flow: PesFlow, bordereau: Bordereau,
                        totals: BordereauTotals) -> Iterator[etree._Element]:
    yield _bloc_bordereau(bordereau, totals, flow.dematerialised)
    for piece in bordereau.pieces:
        yield _piece(bordereau, piece, flow.header)


# ------------------------------------------------------------------ PES_PJ
def _unique_embedded_files(flow: PesFlow) -> Iterator[PesFile]:
    seen = set()
    for pes_file in flow.iter_files():
        if pes_file.embedded and pes_file.id_unique not in seen:
            seen.add(pes_file.id_unique)
            yield pes_file


def _write_pj(xf, pes_file: PesFile, compresslevel: int, chunk_size: int) -> int:
    """Write one ``PJ``; returns the size of the original file."""
    name = pes_text(pes_file.name, _MAX["NomPJ"])
    if len(latin1(pes_file.name)) > _MAX["NomPJ"]:
        stem, dot, extension = latin1(pes_file.name).rpartition(".")
        name = stem[: _MAX["NomPJ"] - len(extension) - 1].rstrip() + dot + extension
    size = 0
    with xf.element("PJ"):
        with xf.element("Contenu"):
            with xf.element("Fichier", MIMEType=str(pes_file.mime_type).strip()):
                for text, read in gzip_base64_chunks(pes_file, compresslevel, chunk_size):
                    size += read
                    if text:
                        xf.write(text)
        if size == 0:
            raise PesWriteError("The attachment %r is empty: Hélios rejects empty attachments."
                                % name)
        meta = etree.Element("PJ")
        _v(meta, "IdUnique", pes_file.id_unique)
        _v(meta, "NomPJ", name)
        if pes_file.type_pj:
            _v(meta, "TypePJ", pes_file.type_pj)
        description = pes_text(pes_file.description, _MAX["Description"])
        if not description or is_refused_text(description):
            description = name
        _v(meta, "Description", description)
        for child in meta:
            xf.write(child)
    return size


def gzip_base64_chunks(pes_file: PesFile, compresslevel: int = DEFAULT_COMPRESSLEVEL,
                       chunk_size: int = CHUNK_SIZE) -> Iterator[tuple]:
    """``(base64_text, bytes_read)`` pieces of the gzip of ``pes_file``'s bytes, read lazily.

    The concatenated texts are the base64 of one gzip member (RFC 1952), as ``PES_PJ/Fichier``
    wants ("compressés avec Gzip puis convertis en Base64").
    """
    compressor = zlib.compressobj(compresslevel, zlib.DEFLATED, 31)  # 31: gzip container
    pending = b""
    for chunk in _read_chunks(pes_file, chunk_size):
        compressed = compressor.compress(chunk)
        pending = pending + compressed if pending else compressed
        usable = len(pending) - len(pending) % 3
        text = base64.b64encode(memoryview(pending)[:usable]).decode("ascii")
        pending = pending[usable:]
        yield text, len(chunk)
    pending += compressor.flush()
    yield base64.b64encode(pending).decode("ascii"), 0


def _read_chunks(pes_file: PesFile, chunk_size: int) -> Iterator[bytes]:
    source = pes_file.source
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            for offset in range(0, len(data), chunk_size):
                yield data[offset:offset + chunk_size]
            return
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as handle:
                yield from _file_chunks(handle, chunk_size)
            return
        produced = source()
        if isinstance(produced, (bytes, bytearray, memoryview)):
            data = bytes(produced)
            for offset in range(0, len(data), chunk_size):
                yield data[offset:offset + chunk_size]
        elif hasattr(produced, "read"):
            try:
                yield from _file_chunks(produced, chunk_size)
            finally:
                close = getattr(produced, "close", None)
                if close:
                    close()
        else:
            for chunk in produced:
                if chunk:
                    yield bytes(chunk)
    except OSError as exc:
        raise PesWriteError(
            "The attachment %r could not be read: %s."
            % (latin1(pes_file.name), (exc.strerror or type(exc).__name__).lower())
        ) from exc


def _file_chunks(handle, chunk_size: int) -> Iterator[bytes]:
    while True:
        chunk = handle.read(chunk_size)
        if not chunk:
            return
        yield chunk


def pes_bytes(flow: PesFlow, **options) -> bytes:
    """The whole file in memory (small flows and tests only: use :func:`write_pes`)."""
    buffer = io.BytesIO()
    write_pes(flow, buffer, **options)
    return buffer.getvalue()
