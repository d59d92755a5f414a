# Copyright 2026 chorus_pro_liaison contributors
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Shared test tools: the Chorus Pro simulator started by the tests, and ready-made accounts.

The simulator is a real HTTP server on loopback (``python -m chorus_pro.simulator``), started per
test class and stopped by PID; nothing is mocked between the addon and it.
"""

from odoo.tests import new_test_user

from chorus_pro.simulator.testing import SimulatorProcess

GROUPS = {
    "user": "chorus_pro_liaison.group_chorus_pro_user",
    "processor": "chorus_pro_liaison.group_chorus_pro_processor",
    "validator": "chorus_pro_liaison.group_chorus_pro_validator",
    "mandating": "chorus_pro_liaison.group_chorus_pro_mandating",
    "manager": "chorus_pro_liaison.group_chorus_pro_manager",
}


class ChorusSimulatorMixin:
    """Starts one simulator per test class; ``cls.sim`` and ``cls.sim.admin`` drive it."""

    simulator_options = {}

    @classmethod
    def start_simulator(cls, **options):
        opts = dict(cls.simulator_options, **options)
        simulator = SimulatorProcess(**opts)
        simulator.start()
        cls.addClassCleanup(simulator.stop)
        return simulator

    @classmethod
    def account_values(cls, simulator, company=None, **overrides):
        info = simulator.info
        values = {
            "company_id": (company or cls.env.company).id,
            "enabled": True,
            "environment": "custom",
            "custom_api_url": info["base_url"],
            "custom_token_url": info["token_url"],
            "technical_login": info["login"],
            "technical_password": info["password"],
            "piste_client_id": info["client_id"],
            "piste_client_secret": info["client_secret"],
            "structure_chorus_id": info["structure_id"],
            "structure_identifier": info.get("structure_siret", ""),
        }
        values.update(overrides)
        return values

    @classmethod
    def create_chorus_account(cls, simulator, company=None, **overrides):
        return cls.env["chorus.pro.account"].create(
            cls.account_values(simulator, company=company, **overrides)
        )

    @classmethod
    def chorus_user(cls, login, *roles, company=None, **kwargs):
        groups = ",".join(["base.group_user"] + [GROUPS[role] for role in roles])
        company = company or cls.env.company
        return new_test_user(
            cls.env,
            login=login,
            groups=groups,
            company_id=company.id,
            company_ids=[(6, 0, company.ids)],
            **kwargs,
        )
