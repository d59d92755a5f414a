#!/usr/bin/env python3
"""PES V2 benchmark: N mandates in one bordereau, its PES file generated (and signed) in Odoo.

In a fresh Odoo database with the addon, against the simulator, through the real addon code:

1. the steps of ``bench/mandate.py`` (``mandate_invoices``): the real retrieval, N invoices
   certified Service fait in Chorus and retrieved again, suppliers matched and IBANs trusted
   (step 3), then one "Mandater" click (run executed as the job cron would);
2. in a NEW ``odoo shell`` process (so that its peak memory is the PES work's): the budget gets
   the accountant's identifiers, the creditors an address (the accountant's register), the
   bordereau holding the N mandates is validated, then *Générer le flux PES*
   (``action_pes_generate``: the mandates read, every problem checked, the file streamed to the
   filestore with every invoice PDF and attachment read from it) and, with ``--sign``, *Signer*
   (the signature window with the PIN, on a throw-away SoftHSM2 RSA token: one XAdES signature
   for the bordereau, made on the token while the file is streamed again);
3. the file is copied to ``--out`` and checked (size, pièces, PJ, signature present).

The simulator's invoice PDFs weigh a few KiB; ``--extra-kb K`` also attaches a K KiB scanned
document to each mandate (written before the measure), to see the file and memory with large
attachments.

Prints progress on stderr and, on its LAST line: ``mandates=… pj=… generate_s=… sign_s=…
per_mandate_ms=… peak_rss_mb=… bytes=…`` where ``per_mandate_ms`` is (generation + signature)
per mandate and ``peak_rss_mb`` the peak resident memory of the Odoo process that generated and
signed (Odoo itself included). Goals: per_mandate_ms ≤ 40 with the signature, memory flat in N.
"""

from __future__ import annotations

import argparse
import os
import shutil

from _common import OdooDatabase, SimulatorProcess, log
from mandate import mandate_invoices

PIN = "2580"

PES = r"""
import json, resource, time
from chorus_pro import testing_softhsm
from chorus_pro.testing_softhsm import TokenSpec

sign = {sign!r}
extra_kb = {extra_kb!r}
admin = env.ref("base.user_admin")
company = env.ref("base.main_company")
company.write({{"city": "Saint-Exemple", "zip": "34000", "siret": "21739012900013"}})
budget = env["chorus.pro.budget"].search([("code", "=", "00")], limit=1)
budget.write({{"poste_comptable": "034000", "pes_id_coll": "21739012900013", "pes_cod_col": "123"}})
mandates = env["account.move"].search([("chorus_pro_budget_id", "=", budget.id),
                                       ("state", "=", "posted")])
for partner in mandates.partner_id.filtered(lambda p: not p.street):
    partner.write({{"street": "%d avenue des Fournisseurs" % partner.id, "zip": "34000",
                    "city": "MONTPELLIER"}})
if sign:
    fixture = testing_softhsm.shared_softhsm_tokens(
        [TokenSpec("bench-pes", pin={pin!r}, key_type="rsa", common_name="Jeanne Ordonnatrice")]
    )["bench-pes"]
    account = env["chorus.pro.account"]._for_company(company)
    account.write({{"token_module_path": fixture.module_path, "token_label": "bench-pes",
                    "token_key_label": fixture.key_label}})
if extra_kb:
    # A scanned document of extra_kb KiB on each mandate, written to the filestore one at a time.
    import os
    for mandate in mandates:
        env["ir.attachment"].create({{
            "name": "scan-%d.pdf" % mandate.id, "res_model": "account.move", "res_id": mandate.id,
            "raw": b"%PDF-1.4\n" + os.urandom(extra_kb * 1024), "mimetype": "application/pdf",
        }})
        env.cr.commit()
        env.invalidate_all()
bordereau = mandates.chorus_pro_bordereau_id
assert len(bordereau) == 1, bordereau
bordereau.with_user(admin).action_validate()
env.cr.commit()
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
bordereau = bordereau.with_user(admin)
started = time.monotonic()
bordereau.action_pes_generate()
env.cr.commit()
generate_s = time.monotonic() - started
sign_s = 0.0
if sign:
    wizard = env["chorus.pro.pes.sign"].with_user(admin).create({{"bordereau_id": bordereau.id}})
    env.cr.commit()
    started = time.monotonic()
    wizard.with_context(chorus_pro_pes_pin={pin!r}).action_sign()
    env.cr.commit()
    sign_s = time.monotonic() - started
attachment = bordereau.pes_attachment_id.sudo()
print("RESULT " + json.dumps({{
    "state": bordereau.state, "mandates": len(bordereau.pes_piece_ids),
    "pj": sum(bordereau.pes_piece_ids.mapped("attachment_count")),
    "generate_s": generate_s, "sign_s": sign_s,
    "path": attachment._full_path(attachment.store_fname) if attachment.store_fname else "",
    "bytes": attachment.file_size, "warnings": bordereau.pes_warnings or "",
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    "rss_before_mb": rss_before, "signer": bordereau.pes_signer or "",
}}))
"""


def check_file(path: str, signed: bool) -> dict:
    """Stream through the written file: pièces, PJ and signatures (nothing kept in memory)."""
    from lxml import etree

    counts = {"Piece": 0, "PJ": 0, "Signature": 0}
    for _event, element in etree.iterparse(path, events=("end",), huge_tree=True):
        name = etree.QName(element).localname
        if name in counts and (name != "Piece" or element.getparent().tag == "Bordereau"):
            counts[name] += 1
            element.clear()
    if signed and not counts["Signature"]:
        raise SystemExit("the file is not signed")
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mandates", type=int, default=50, help="mandates in the bordereau")
    parser.add_argument("--sign", action="store_true", help="sign with a SoftHSM2 token")
    parser.add_argument("--out", required=True, help="where to write the PES file")
    parser.add_argument("--extra-kb", type=int, default=0,
                        help="also attach a scanned document of this size (KiB) to each mandate "
                        "(the simulator's invoice PDFs weigh a few KiB)")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    wanted = args.mandates

    database = OdooDatabase(name=f"chorus_bench_pes_{os.getpid()}", keep=args.keep_db)
    database.create()
    simulator = SimulatorProcess(invoices=int(wanted / 0.5) + 80)
    simulator.start()
    try:
        _chosen, mandated = mandate_invoices(database, simulator, wanted)
        log(f"mandated: {mandated['mandates']} in {mandated['mandate_s']:.1f} s "
            f"({mandated['pushed']} Mandatée accepted by Chorus Pro)")
        if mandated["mandates"] != wanted or mandated["pushed"] != wanted:
            raise SystemExit(f"mandating failed: {mandated['summary']}")
        result = database.shell(PES.format(sign=args.sign, pin=PIN, extra_kb=args.extra_kb))[-1]
        log(f"PES: {result['state']}, {result['mandates']} mandates, {result['pj']} files, "
            f"{result['bytes']} bytes; generated in {result['generate_s']:.2f} s, signed in "
            f"{result['sign_s']:.2f} s by {result['signer'] or '-'}; RSS before "
            f"{result['rss_before_mb']:.0f} MB, peak {result['peak_rss_mb']:.0f} MB")
        if result["warnings"]:
            log(f"points to check: {result['warnings']}")
        shutil.copyfile(result["path"], args.out)
        counts = check_file(args.out, args.sign)
        log(f"{args.out}: {counts['Piece']} pièces, {counts['PJ']} PJ, "
            f"{counts['Signature']} signature(s)")
    finally:
        simulator.stop()
        database.drop()
    mandates = result["mandates"]
    total = result["generate_s"] + result["sign_s"]
    figures = {
        "mandates": mandates,
        "pj": result["pj"],
        "generate_s": round(result["generate_s"], 2),
        "sign_s": round(result["sign_s"], 2),
        "per_mandate_ms": round(1000 * total / max(1, mandates), 1),
        "peak_rss_mb": round(result["peak_rss_mb"], 1),
        "bytes": os.path.getsize(args.out),
    }
    print(" ".join(f"{key}={value}" for key, value in figures.items()), flush=True)
    expected_state = "signed" if args.sign else "generated"
    ok = (mandates == wanted and result["state"] == expected_state
          and counts["Piece"] == wanted and counts["PJ"] == result["pj"])
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
