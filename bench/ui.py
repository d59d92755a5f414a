#!/usr/bin/env python3
"""What the user waits for on two screens, measured against a real Odoo server over HTTP.

A database built like the demo (``make demo``: the addon, the French chart of accounts, French
loaded and the admin reading French, the commune's budgets, the first retrieval from the
simulator), then a real Odoo HTTP server; this script then calls it over JSON-RPC as the web
client does (the same routes, in the same order, with the fields the views ask for):

* **files viewer**: the eye (``action_preview_files``, ``/web/dataset/call_button``), then the
  first file in the viewer (``/web/content/<id>`` for a PDF, read through pdf.js; the pdf.js
  viewer's own static files are fetched once, the first time, as a browser would);
* **Mandater on one invoice**: "Mandater" on the invoice's form (``action_mandate_selection``),
  the mandating screen loaded (``get_views`` + ``web_read`` of the form as its arch asks), the
  budget article chosen (``onchange`` + ``web_save``), "Mandater" clicked (``action_mandate``:
  the mandate created, validated, numbered and Mandatée told to the simulator), then the screen
  it opens loaded (the mandate's form).

Each is measured on several invoices: the first on a cold server (what the first user after a
restart meets), then warm. Prints progress on stderr and, on its LAST line:
``viewer_cold_s=… viewer_s=… files_list_s=… mandate_cold_s=… mandate_s=…`` (warm figures: the
median; files_list_s: the invoice's "Files" button, the list of its attachments).
Goals (issue 14): the viewer under 1 s, one mandate under 1.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import requests
from lxml import etree

from _common import CONFIGURE_ACCOUNT, OdooDatabase, SimulatorProcess, log, odoo_env  # noqa: F401

sys.path.insert(0, str(odoo_env.REPO / "tools"))
import demo  # noqa: E402  (the demo's own setup script)

from mandate import MATCH, SYNC  # noqa: E402

# Like the demo, plus what a mandating officer needs (the demo's admin is one once given the
# groups) — French for the admin, as in the demo.
GROUPS = r"""
admin = env.ref("base.user_admin")
admin.groups_id |= (env.ref("chorus_pro_liaison.group_chorus_pro_mandating")
                    | env.ref("chorus_pro_liaison.group_chorus_pro_processor")
                    | env.ref("account.group_validate_bank_account"))
admin.password = "admin"
admin.lang = "fr_FR"
env.cr.commit()
print("RESULT {}")
"""

ARTICLE = r"""
import json
budget = env["chorus.pro.budget"].search([("company_id", "=", env.ref("base.main_company").id)],
                                         limit=1)
article = env["chorus.pro.budget.article"].search([("budget_id", "=", budget.id)], limit=1)
invoices = env["chorus.pro.invoice"].search([("chorus_id", "in", json.loads({chorus_ids!r}))])
print("RESULT " + json.dumps({{"article": article.id, "budget": budget.id,
      "invoices": invoices.filtered("mandate_ready").ids,
      "with_files": env["chorus.pro.invoice"].search([("main_attachment_pdf_id", "!=", False)],
                                                    limit=6, order="id").ids}}))
"""


class WebClient:
    """The calls the web client makes, over JSON-RPC, in one session."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.context = {}
        self.calls = 0

    def rpc(self, route: str, params: dict):
        self.calls += 1
        answer = self.session.post(
            self.base_url + route,
            json={"jsonrpc": "2.0", "method": "call", "id": self.calls, "params": params},
            timeout=300,
        )
        answer.raise_for_status()
        body = answer.json()
        if body.get("error"):
            raise SystemExit(f"{route}: {json.dumps(body['error'])[:3000]}")
        return body.get("result")

    def login(self, database: str, login: str, password: str) -> None:
        info = self.rpc("/web/session/authenticate",
                        {"db": database, "login": login, "password": password})
        self.context = info["user_context"]

    def call_kw(self, model: str, method: str, args: list, kwargs: dict | None = None):
        kwargs = dict(kwargs or {})
        kwargs["context"] = {**self.context, **kwargs.get("context", {})}
        return self.rpc(f"/web/dataset/call_kw/{model}/{method}",
                        {"model": model, "method": method, "args": args, "kwargs": kwargs})

    def call_button(self, model: str, method: str, ids: list, context: dict | None = None):
        return self.rpc(f"/web/dataset/call_button/{model}/{method}", {
            "model": model, "method": method, "args": [ids],
            "kwargs": {"context": {**self.context, **(context or {})}},
        })

    def get(self, path: str) -> bytes:
        self.calls += 1
        answer = self.session.get(self.base_url + path, timeout=300)
        answer.raise_for_status()
        return answer.content

    # ------------------------------------------------------------------ views
    def load_views(self, model: str, views: list, context: dict | None = None) -> dict:
        return self.call_kw(model, "get_views", [], {
            "views": views, "options": {"load_filters": True, "toolbar": True},
            "context": context or {},
        })

    def open_window_action(self, action: dict) -> dict:
        """What the web client does with an ``ir.actions.act_window``: its views, then the
        record (form) or the first page of records (list)."""
        model = action["res_model"]
        context = action.get("context") or {}
        if isinstance(context, str):
            context = {}
        modes = (action.get("view_mode") or "list,form").split(",")
        views = action.get("views") or [(False, mode) for mode in modes]
        views = [[view_id, mode] for view_id, mode in views]
        if "search" not in [mode for _v, mode in views]:
            views.append([False, "search"])
        loaded = self.load_views(model, views, context)
        first = views[0][1]
        arch = loaded["views"][first]["arch"]
        fields = loaded["models"][model]["fields"]
        spec = field_spec(arch, fields, loaded["models"])
        if first == "form":
            if action.get("res_id"):
                return self.call_kw(model, "web_read", [[action["res_id"]]],
                                    {"specification": spec, "context": context})[0]
            return self.call_kw(model, "onchange", [[], {}, [], spec], {"context": context})
        return self.call_kw(model, "web_search_read", [], {
            "domain": action.get("domain") or [], "specification": spec, "limit": 80,
            "offset": 0, "order": "", "count_limit": 10001, "context": context,
        })


def _relational_spec(node, field, models):
    comodel = field.get("relation")
    if field["type"] == "many2one":
        return {"fields": {"display_name": {}}}
    subview = next((child for child in node if child.tag in ("list", "kanban", "form")), None)
    if subview is None:
        return {"fields": {"display_name": {}}}
    sub_fields = models.get(comodel, {}).get("fields", {})
    spec = {"fields": field_spec_of(subview, sub_fields, models)}
    if subview.tag in ("list", "kanban"):
        spec["limit"] = 40
    return spec


def field_spec_of(root, fields: dict, models: dict) -> dict:
    spec = {}
    stack = list(root)
    while stack:
        node = stack.pop(0)
        if not isinstance(node.tag, str):
            continue
        if node.tag == "field":
            name = node.get("name")
            field = fields.get(name)
            if field is None:
                continue
            if field["type"] in ("many2one", "one2many", "many2many"):
                spec[name] = _relational_spec(node, field, models)
            else:
                spec[name] = {}
            continue  # what is under a field belongs to its own view
        stack.extend(node)
    spec.setdefault("display_name", {})
    return spec


def field_spec(arch: str, fields: dict, models: dict) -> dict:
    root = etree.fromstring(arch.encode())
    return field_spec_of(root, fields, models)


# ------------------------------------------------------------------ the two screens
PDFJS_STATIC = [
    "/web/static/lib/pdfjs/web/viewer.html",
    "/web/static/lib/pdfjs/web/viewer.css",
    "/web/static/lib/pdfjs/web/viewer.js",
    "/web/static/lib/pdfjs/build/pdf.js",
    "/web/static/lib/pdfjs/build/pdf.worker.js",
]


def open_viewer(client: WebClient, invoice_id: int, first: bool) -> dict:
    """The eye of the worklist: the files, then the first one shown."""
    timings = {}
    started = time.monotonic()
    action = client.call_button("chorus.pro.invoice", "action_preview_files", [invoice_id])
    timings["action_s"] = time.monotonic() - started
    files = action["params"]["files"]
    shown = files[0]
    step = time.monotonic()
    if first:
        for path in PDFJS_STATIC:
            client.get(path)
    timings["pdfjs_static_s"] = time.monotonic() - step
    step = time.monotonic()
    route = "image" if (shown["mimetype"] or "").startswith("image/") else "content"
    content = client.get(f"/web/{route}/{shown['id']}?filename={requests.utils.quote(shown['name'])}"
                         f"&unique={shown['checksum']}")
    timings["file_s"] = time.monotonic() - step
    timings["file_kb"] = round(len(content) / 1024, 1)
    timings["files"] = len(files)
    timings["total_s"] = time.monotonic() - started
    # The "Files" button of the invoice (and of the supplier-matching screen): the list of
    # its attachments.
    step = time.monotonic()
    action = client.call_button("chorus.pro.invoice", "action_open_files", [invoice_id])
    client.open_window_action(action)
    timings["files_list_s"] = time.monotonic() - step
    return timings


def mandate_one(client: WebClient, invoice_id: int, article_id: int) -> dict:
    """"Mandater" on the invoice's form, the article chosen, "Mandater" clicked, the mandate
    shown."""
    timings = {}
    started = time.monotonic()
    action = client.call_button("chorus.pro.invoice", "action_mandate_selection", [invoice_id])
    timings["open_action_s"] = time.monotonic() - started
    step = time.monotonic()
    loaded = client.load_views(action["res_model"], [[False, "form"], [False, "search"]])
    fields = loaded["models"][action["res_model"]]["fields"]
    spec = field_spec(loaded["views"]["form"]["arch"], fields, loaded["models"])
    wizard = client.call_kw(action["res_model"], "web_read", [[action["res_id"]]],
                            {"specification": spec})[0]
    timings["screen_s"] = time.monotonic() - step
    step = time.monotonic()
    # The article chosen in the field: its onchange, then the save before the button.
    changes = {"article_id": article_id}
    client.call_kw(action["res_model"], "onchange",
                   [[action["res_id"]], changes, ["article_id"], spec])
    client.call_kw(action["res_model"], "web_save", [[action["res_id"]], changes],
                   {"specification": spec})
    timings["article_s"] = time.monotonic() - step
    step = time.monotonic()
    result = client.call_button(action["res_model"], "action_mandate", [action["res_id"]])
    timings["mandate_click_s"] = time.monotonic() - step
    step = time.monotonic()
    record = client.open_window_action(result)
    timings["result_screen_s"] = time.monotonic() - step
    timings["total_s"] = time.monotonic() - started
    timings["selected"] = wizard.get("selected_count")
    timings["result"] = result.get("res_model")
    timings["mandate_number"] = record.get("chorus_pro_mandate_number")
    timings["push_state"] = record.get("chorus_pro_push_state")
    return timings


# ------------------------------------------------------------------ setup
def build_demo_database(database: OdooDatabase, simulator: SimulatorProcess) -> None:
    odoo_env.drop_database(database.name)
    started = time.time()
    log(f"creating database {database.name} like the demo (French chart, French loaded)")
    result = subprocess.run(
        [*database.base_command(), "-i", f"{odoo_env.ADDON},l10n_fr_account",
         "--load-language", "fr_FR", "--without-demo", "all", "--stop-after-init",
         "--log-level", "warn", "--http-port", str(odoo_env.free_port())],
        cwd=odoo_env.REPO, capture_output=True, text=True,
    )
    if result.returncode:
        raise SystemExit(f"installing failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    log(f"database created in {time.time() - started:.0f} s; the demo's setup now")
    setup = demo.SETUP_SCRIPT % {"info": json.dumps(simulator.info)}
    database.shell(setup + GROUPS)


def prepare_invoices(database: OdooDatabase, simulator: SimulatorProcess, wanted: int) -> list:
    """``wanted`` invoices certified Service fait in Chorus, retrieved, matched and trusted."""
    first = database.shell(SYNC)[-1]
    chosen = first["candidates"][:wanted]
    for chorus_id in chosen:
        simulator.admin.move(chorus_id, "SERVICE_FAIT", user="AGENT")
    database.shell(SYNC)
    matched = database.shell(MATCH.format(chorus_ids=json.dumps(chosen)))[-1]
    log(f"{matched['ready']} invoices ready to mandate")
    return chosen


def start_server(database: OdooDatabase) -> tuple[subprocess.Popen, str]:
    port = odoo_env.free_port()
    log_file = open(f"/tmp/{database.name}_server.log", "w")
    process = subprocess.Popen(
        [*database.base_command(), "--http-interface", "127.0.0.1", "--http-port", str(port),
         "--max-cron-threads", "0", "--log-level", "warn", "--db-filter", f"^{database.name}$"],
        cwd=odoo_env.REPO, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(base_url + "/web/webclient/version_info", timeout=2).status_code < 500:
                break
        except requests.RequestException:
            pass
        if process.poll() is not None:
            raise SystemExit(f"Odoo stopped; see {log_file.name}")
        time.sleep(0.5)
    return process, base_url


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=4,
                        help="invoices measured per screen (the first on a cold server)")
    parser.add_argument("--invoices", type=int, default=120, help="invoices in the simulator")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="each measure's steps")
    args = parser.parse_args()

    database = OdooDatabase(name=f"chorus_bench_ui_{os.getpid()}", keep=args.keep_db)
    simulator = SimulatorProcess(invoices=args.invoices)
    simulator.start()
    server = None
    try:
        build_demo_database(database, simulator)
        chosen = prepare_invoices(database, simulator, args.repeat)
        found = database.shell(ARTICLE.format(chorus_ids=json.dumps(chosen)))[-1]
        if len(found["invoices"]) < args.repeat:
            raise SystemExit(f"only {len(found['invoices'])} invoices are ready to mandate")
        server, base_url = start_server(database)
        client = WebClient(base_url)
        client.login(database.name, "admin", "admin")
        log(f"Odoo serving {database.name} at {base_url}; user language {client.context.get('lang')}")

        viewer = []
        for index, invoice_id in enumerate(found["with_files"][:args.repeat]):
            timings = open_viewer(client, invoice_id, first=index == 0)
            viewer.append(timings)
            log(f"files viewer, invoice {invoice_id}: {timings['total_s']:.2f} s "
                + (json.dumps({k: round(v, 3) if isinstance(v, float) else v
                               for k, v in timings.items()}) if args.verbose else ""))
        mandates = []
        for invoice_id in found["invoices"][:args.repeat]:
            timings = mandate_one(client, invoice_id, found["article"])
            mandates.append(timings)
            log(f"Mandater, invoice {invoice_id}: {timings['total_s']:.2f} s, mandate "
                f"n° {timings['mandate_number']}, Mandatée {timings['push_state']} "
                + (json.dumps({k: round(v, 3) if isinstance(v, float) else v
                               for k, v in timings.items()}) if args.verbose else ""))
    finally:
        if server:
            stop_server(server)
        simulator.stop()
        database.drop()

    ok = all(m["mandate_number"] and m["push_state"] in ("sent", "already") for m in mandates)
    figures = {
        "viewer_cold_s": round(viewer[0]["total_s"], 2),
        "viewer_s": round(statistics.median(v["total_s"] for v in viewer[1:] or viewer), 2),
        "files_list_s": round(statistics.median(v["files_list_s"] for v in viewer[1:] or viewer), 2),
        "mandate_cold_s": round(mandates[0]["total_s"], 2),
        "mandate_s": round(statistics.median(m["total_s"] for m in mandates[1:] or mandates), 2),
    }
    print(" ".join(f"{key}={value}" for key, value in figures.items()), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
