"""PES V2 dépense: mandates to the public accountant (DGFiP Hélios), signed, and its answers.

Plain Python (no Odoo). The addon turns its records into the neutral dataclasses below, asks
:func:`validate` for every problem, writes the file with :func:`write_pes_file` (signed by the
RGS** token, or unsigned for a parapheur), and reads the answers with
:func:`parse_acquittement` / :func:`parse_pes_retour`.

Records (:mod:`chorus_pro.pes.records`; amounts :class:`~decimal.Decimal`, dates
:class:`~datetime.date`, codes as in :mod:`chorus_pro.pes.codes`)::

    PesFlow(header: PesHeader, bordereaux: list[Bordereau], dematerialised=True)
    PesHeader(id_post, id_coll, cod_col, cod_bud, nomenclature="M57", vote="nature",
              libelle_col_bud="", libelle_poste="", fin_jur="", file_name="",
              structure_date=None, issuer_sigle="ODOO",
              issuer_application="chorus_pro_liaison 18.0", receiver_sigle="HELIOS")
    Bordereau(exercice, number, issue_date, pieces: list[Piece], kind="01",
              previous_cumul=Decimal(0), xml_id="")         # .totals() -> BordereauTotals
    Piece(number, lines: list[Line], object="", piece_type="01", nature="01", due_date=None,
          dgp: DgpBlock | None = None, files: list[PesFile] = [], service_code="",
          origin: OriginRef | None = None)
    Line(nature, amount_ht, tiers: Tiers, amount_vat=None, function="", operation="",
         payment_mode="03", intra_community_vat=False, invoice_number="",
         transfer_label_1="", transfer_label_2="", invoice_amount_ht=None, market_id="",
         origin: OriginRef | None = None, files: list[PesFile] = [], number=None)
    Tiers(name, identifier="", identifier_type="01", category="60", legal_nature="03",
          reference="", civility="", first_name="", complement_name="",
          address: Address | None = None, bank_account: BankAccount | None = None)
    Address(street, postal_code, city, complement="", locality="", resident=True,
            country_code="", kind="0")
    BankAccount(iban, bic="", holder="", bank_name="")
    PesFile(id_unique, name, source=None, mime_type="application/pdf", description="",
            type_pj="003", support="01")    # source: path | callable -> file/bytes/chunks
    DgpBlock(start, end, duration, eligible=True, interest_code=None, interest_rate=None)
    DgpBlock.from_dgp(chorus_pro.dgp.DgpResult, rates=None)
    OriginRef(exercice, piece_number, line_number=None, nature="01")   # TypBord 02

Checks and writing::

    validate(flow, check_files=True) -> list[Problem]      # every problem at once
    has_errors(problems) -> bool
    Problem(code, message, severity "error"|"warning", bordereau, piece, line, field, params)
    write_pes(flow, out: BinaryIO, *, signer=None, signature_options=None, now=None,
              check=True, check_files=True, compresslevel=6, chunk_size=64512)
        -> PesWriteResult
    write_pes_file(flow, path, **same) -> PesWriteResult     # atomic (temp file + rename)
    PesWriteResult: file_name, bordereaux: list[BordereauResult], pieces, lines, files,
                    file_bytes, bytes_written, generate_seconds, sign_seconds, warnings,
                    .signed
    BordereauResult: exercice, number, kind, element_id, totals: BordereauTotals (pieces,
                     lines, amount_ht, amount_vat, previous_cumul, cumul, .total), signed,
                     signing_time, certificate_der, digest
        -> store totals.cumul: it is the next bordereau's previous_cumul (same budget/year)
    PesValidationError(problems)  # raised by write_pes when validate() finds an error
    PesWriteError                 # a file unreadable or empty while writing

Signature (:mod:`chorus_pro.pes.signature`)::

    TokenSigner(chorus_pro.token.RgsToken(TokenConfig(..., pin=<asked, never stored>)))
    SignatureOptions(claimed_role="Ordonnateur", city="", postal_code="", country="France")
    sign_pes(source, out, signer, options=None, *, signing_time=None) -> SignResult
        # sign the unsigned bordereaux of an existing file, stream in, stream out

    One login per bordereau; the bordereau is digested while it is streamed and its signature
    written after its last Piece (see the docstring of chorus_pro.pes.signature).

    Token errors (chorus_pro.token.TokenError: PinIncorrect, PinRetryBlocked, TokenAbsent,
    CertificateExpired...) propagate with their plain message; a refused PIN is never retried.

Answers (:mod:`chorus_pro.pes.acquit`)::

    parse_acquittement(source) -> Acquittement(header, version, elements: list[AckElement])
        .accepted, .bordereaux() -> list[BordereauAck], .bordereau(number, exercice),
        .rejected_files(), .flow_errors
    parse_pes_retour(source) -> PesRetour(header, kind, pieces: list[RetourPiece])
    iter_pes_retour_pieces(source) -> Iterator[RetourPiece]
    PesAnswerError  # not XML / not an acquittement

Problems carry a stable ``code`` (templates in :data:`chorus_pro.pes.problems.MESSAGES`, with
``%(name)s`` placeholders filled from ``problem.params``): the addon maps codes to its own
translated strings, or shows the English ``problem.message``.

Benchmark hook: :func:`chorus_pro.pes.bench.measure` (figures of one write);
:mod:`chorus_pro.pes.testing` builds plausible flows for tests.
"""

from .acquit import (
    AckElement,
    AckError,
    Acquittement,
    BordereauAck,
    PesAnswerError,
    PesRetour,
    RetourPiece,
    iter_pes_retour_pieces,
    parse_acquittement,
    parse_pes_retour,
)
from .problems import ERROR, WARNING, PesValidationError, Problem
from .records import (
    Address,
    BankAccount,
    Bordereau,
    BordereauTotals,
    DgpBlock,
    Line,
    OriginRef,
    PesFile,
    PesFlow,
    PesHeader,
    Piece,
    Tiers,
)
from .signature import (
    BordereauSigner,
    PesSignatureError,
    SignatureOptions,
    SignResult,
    TokenSigner,
    sign_pes,
)
from .validation import has_errors, validate
from .writer import BordereauResult, PesWriteError, PesWriteResult, write_pes, write_pes_file

__all__ = [
    "AckElement", "AckError", "Acquittement", "Address", "BankAccount", "Bordereau",
    "BordereauAck", "BordereauResult", "BordereauSigner", "BordereauTotals", "DgpBlock",
    "ERROR", "Line", "OriginRef", "PesAnswerError", "PesFile", "PesFlow", "PesHeader",
    "PesRetour", "PesSignatureError", "PesValidationError", "PesWriteError", "PesWriteResult",
    "Piece", "Problem", "RetourPiece", "SignResult", "SignatureOptions", "Tiers", "TokenSigner",
    "WARNING", "has_errors", "iter_pes_retour_pieces", "parse_acquittement", "parse_pes_retour",
    "sign_pes", "validate", "write_pes", "write_pes_file",
]
