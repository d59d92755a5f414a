# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A retrieval killed half-way in a real Odoo process, then run again, ends with exactly the data
set: work is committed in batches and the next run completes it, without duplicates."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import psycopg2

from odoo.tests import tagged
from odoo.tests.common import BaseCase
from odoo.tools import config

from chorus_pro.simulator.testing import SimulatorProcess

SCRIPT = r"""
import json
info = json.loads(%(info)r)
company = env.ref("base.main_company")
env["ir.config_parameter"].sudo().set_param("chorus_pro_liaison.sync_batch_size", "10")
Account = env["chorus.pro.account"]
account = Account._for_company(company) or Account.create({"company_id": company.id})
account.write(dict(Account._simulator_values(info), sync_parallel_calls=1,
                   sync_cutoff_date="2000-01-01", sync_cutoff_mode="history"))
env.cr.commit()
run = env["chorus.pro.run"].create({"company_id": company.id, "account_id": account.id,
                                     "run_type": "sync", "trigger": "cron"})
env.cr.commit()
run._execute()
env.cr.commit()
print("RESULT " + json.dumps({"state": run.state, "new": run.count_new, "updated": run.count_updated}))
"""


@tagged("post_install", "-at_install", "chorus_pro", "chorus_pro_slow")
class TestSyncKilledHalfWay(BaseCase):
    """Runs real Odoo processes on a database of its own (not the test database)."""

    def setUp(self):
        super().setUp()
        self.database = f"chorus_kill_{os.getpid()}_{int(time.time())}"
        self.data_dir = tempfile.mkdtemp(prefix="chorus_kill_")
        self.simulator = SimulatorProcess(invoices=120, latency_ms=60)
        self.simulator.start()
        self.addCleanup(self.simulator.stop)
        self.addCleanup(self._drop_database)

    def _connect(self, dbname):
        return psycopg2.connect(
            dbname=dbname, host=config["db_host"] or None, port=config["db_port"] or None,
            user=config["db_user"] or None, password=config["db_password"] or None,
        )

    def _drop_database(self):
        connection = self._connect("postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        connection.close()
        subprocess.run(["rm", "-rf", self.data_dir])

    def _odoo(self, *args):
        command = [sys.executable, "-m", "odoo", *args[:1], "--addons-path", config["addons_path"],
                   "-d", self.database, "--data-dir", self.data_dir, "--log-level", "warn"]
        for option in ("db_host", "db_port", "db_user", "db_password"):
            if config[option]:
                command += [f"--{option}", str(config[option])]
        return command + list(args[1:])

    def _count(self, where=""):
        connection = self._connect(self.database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT count(*), count(DISTINCT chorus_id) FROM chorus_pro_invoice {where}")
                return cursor.fetchone()
        finally:
            connection.close()

    def test_killed_sync_resumes_to_exactly_the_data_set(self):
        install = subprocess.run(
            self._odoo("server", "-i", "chorus_pro_liaison", "--without-demo", "all",
                       "--stop-after-init", "--http-port", "0", "--no-http"),
            capture_output=True, text=True, timeout=600,
        )
        self.assertEqual(install.returncode, 0, install.stderr[-2000:])
        script = SCRIPT % {"info": json.dumps(self.simulator.info)}
        expected = {
            item["idFacture"] for item in self.simulator.admin.invoices()
            if item.get("idDestinataire") == self.simulator.info["structure_id"]
            and item.get("statut") not in ("BROUILLON", "DEPOSEE", "EN_COURS_ACHEMINEMENT")
        }

        # First run: killed (SIGKILL, no cleanup) once a few batches are committed.
        process = subprocess.Popen(
            self._odoo("shell", "--no-http"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        process.stdin.write(script)
        process.stdin.close()
        deadline = time.time() + 300
        committed = 0
        while time.time() < deadline and process.poll() is None:
            try:
                committed = self._count("WHERE files_state = 'done'")[0]
            except psycopg2.Error:
                committed = 0
            if committed >= 25:
                break
            time.sleep(0.2)
        self.assertIsNone(process.poll(), "the retrieval finished before it could be killed")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        rows, distinct = self._count()
        self.assertGreaterEqual(rows, 25)
        self.assertLess(rows, len(expected), "the kill happened half-way")
        self.assertEqual(rows, distinct)

        # Second run: completes the data set, nothing twice.
        result = subprocess.run(
            self._odoo("shell", "--no-http"), input=script, capture_output=True, text=True,
            timeout=600,
        )
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        outcome = json.loads(
            next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))[7:]
        )
        self.assertIn(outcome["state"], ("done", "warning"), outcome)
        connection = self._connect(self.database)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT chorus_id FROM chorus_pro_invoice")
                got = [row[0] for row in cursor.fetchall()]
                cursor.execute(
                    "SELECT count(*) FROM chorus_pro_invoice WHERE files_state NOT IN ('done', 'unavailable')"
                )
                unfinished = cursor.fetchone()[0]
        finally:
            connection.close()
        self.assertEqual(len(got), len(set(got)), "no duplicate")
        self.assertEqual(set(got), expected, "exactly the data set")
        self.assertEqual(unfinished, 0, "every invoice has its files")
