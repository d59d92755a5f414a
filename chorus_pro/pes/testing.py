"""A plausible PES flow for tests and benchmarks (no Odoo): a commune's budget, suppliers with
valid SIRETs and IBANs, mandates with their invoice PDFs written to a folder.

Nothing here is needed in production.
"""

from __future__ import annotations

import os
import random
from datetime import date, timedelta
from decimal import Decimal
from typing import List, Optional

from . import codes
from . import records as pes

COMMUNE_CODIQUE = "034000"
NATURES = ("6064", "6068", "60632", "611", "6156", "6231", "2183", "2184")


def sample_header(**overrides) -> pes.PesHeader:
    """The header of the simulator's commune (its SIRET), budget 123/01 in M57 by nature."""
    from ..simulator.generator import COMMUNE_SIRET

    values = dict(
        id_post=COMMUNE_CODIQUE,
        id_coll=COMMUNE_SIRET,
        cod_col="123",
        cod_bud="01",
        libelle_col_bud="COMMUNE DE SAINT-EXEMPLE",
        nomenclature="M57",
        vote=codes.VOTE_NATURE,
    )
    values.update(overrides)
    return pes.PesHeader(**values)


def sample_suppliers(count: int = 10, seed: int = 7) -> List[pes.Tiers]:
    """``count`` companies with a valid SIRET, a French address and a valid IBAN + BIC."""
    from ..simulator.generator import make_fr_iban, make_siren, make_siret

    rng = random.Random(seed)
    banks = (("30004", "BNPAFRPPXXX"), ("30003", "SOGEFRPPXXX"), ("20041", "PSSTFRPPXXX"))
    suppliers = []
    for index in range(count):
        bank_code, bic = banks[index % len(banks)]
        name = "FOURNISSEUR %02d SAS" % (index + 1)
        suppliers.append(
            pes.Tiers(
                name=name,
                identifier=make_siret(make_siren(rng)),
                address=pes.Address(street="%d rue des Artisans" % (index + 1),
                                postal_code="34%03d" % (index * 7 % 1000), city="MONTPELLIER"),
                bank_account=pes.BankAccount(iban=make_fr_iban(rng, bank_code), bic=bic,
                                         holder=name),
            )
        )
    return suppliers


def write_sample_pdf(path: str, size: int, seed: int = 0) -> str:
    """A file that starts like a PDF, ``size`` bytes of poorly compressible content."""
    rng = random.Random(seed)
    head = b"%PDF-1.4\n% sample invoice " + str(seed).encode() + b"\n"
    with open(path, "wb") as handle:
        handle.write(head)
        remaining = max(size - len(head) - 6, 0)
        while remaining > 0:
            block = min(remaining, 65536)
            handle.write(rng.randbytes(block))
            remaining -= block
        handle.write(b"\n%%EOF")
    return path


def sample_flow(
    mandates: int = 3,
    *,
    pj_dir: Optional[str] = None,
    files_per_mandate: int = 1,
    file_size: int = 4096,
    exercice: int = 2026,
    bordereau_number: int = 1,
    first_mandate: int = 1,
    previous_cumul: Decimal = Decimal("0"),
    lines_per_mandate: int = 1,
    seed: int = 7,
    header: Optional[pes.PesHeader] = None,
) -> pes.PesFlow:
    """One ordinary bordereau of ``mandates`` mandates, each with ``files_per_mandate`` PDFs
    written in ``pj_dir`` (given as paths: read while the PES is written), or small in-memory
    files when ``pj_dir`` is ``None``. Amounts and suppliers vary, deterministically."""
    rng = random.Random(seed)
    suppliers = sample_suppliers(10, seed)
    issue = date(exercice, 3, 20)
    pieces = []
    for offset in range(mandates):
        number = first_mandate + offset
        supplier = suppliers[offset % len(suppliers)]
        files = []
        for rank in range(files_per_mandate):
            file_name = "FA-%s-%05d-%d.pdf" % (exercice, number, rank + 1)
            id_unique = "CPP%s%08dF%d" % (exercice, number, rank + 1)
            if pj_dir is not None:
                source = write_sample_pdf(os.path.join(pj_dir, file_name), file_size,
                                          seed=number * 10 + rank)
            else:
                source = b"%PDF-1.4\n% " + id_unique.encode() + b"\n%%EOF\n"
            files.append(pes.PesFile(id_unique=id_unique, name=file_name, source=source,
                                 description="Facture %s" % file_name))
        lines = []
        for rank in range(lines_per_mandate):
            amount = Decimal(rng.randint(1000, 500000)) / 100
            vat = (amount * Decimal("0.20")).quantize(Decimal("0.01"))
            lines.append(pes.Line(
                nature=NATURES[(offset + rank) % len(NATURES)],
                amount_ht=amount,
                amount_vat=vat,
                tiers=supplier,
                invoice_number="FA-%s-%05d" % (exercice, number),
                transfer_label_1="FACTURE FA-%s-%05d" % (exercice, number),
            ))
        start = issue - timedelta(days=rng.randint(1, 20))
        pieces.append(pes.Piece(
            number=number,
            object="FA-%s-%05d %s - Chorus %d" % (exercice, number, supplier.name,
                                                 90000000 + number),
            lines=lines,
            files=files,
            due_date=start + timedelta(days=30),
            dgp=pes.DgpBlock(start=start, end=start + timedelta(days=30), duration=30,
                         interest_code=codes.COD_INT_MOR_ECB, interest_rate=Decimal("10.15")),
        ))
    bordereau = pes.Bordereau(exercice=exercice, number=bordereau_number, issue_date=issue,
                          pieces=pieces, previous_cumul=previous_cumul)
    return pes.PesFlow(header=header or sample_header(), bordereaux=[bordereau])


def reduction_of(piece: pes.Piece, *, number: int, amount: Decimal, exercice: int = 2026,
                 bordereau_number: int = 1, issue_date: Optional[date] = None) -> pes.Bordereau:
    """A reduction bordereau (TypBord 02, pièce 02/06) that reduces ``piece``'s first line by
    ``amount`` (a positive amount: the bordereau's type says it is a reduction)."""
    line = piece.lines[0]
    reducing = pes.Line(nature=line.nature, amount_ht=amount, tiers=line.tiers,
                    payment_mode=line.payment_mode, invoice_number=line.invoice_number)
    return pes.Bordereau(
        exercice=exercice,
        number=bordereau_number,
        kind=codes.TYP_BORD_REDUCTION,
        issue_date=issue_date or date(exercice, 3, 25),
        pieces=[pes.Piece(number=number, lines=[reducing], piece_type="02", nature="06",
                      object="Reduction of mandate %s" % piece.number,
                      origin=pes.OriginRef(exercice=exercice, piece_number=piece.number,
                                       line_number=1))],
    )
