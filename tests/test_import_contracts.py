"""The import contracts in pyproject.toml hold, and each one fails when broken on purpose.

`lint-imports` (run by .ci/run) checks the code as it is. This test checks the contracts
themselves: on the real import graph plus one import that breaks the rule, each contract must
report itself broken, so that a contract that can no longer fail (a layer renamed, a module
moved out of its source list) is noticed.
"""

from __future__ import annotations

import copy

import grimp
import pytest
from conftest import REPO_ROOT
from importlinter.api import read_configuration
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract

KINDS = {"layers": LayersContract, "forbidden": ForbiddenContract}


@pytest.fixture(scope="module")
def contracts() -> tuple[dict, list[dict], grimp.ImportGraph]:
    configuration = read_configuration(str(REPO_ROOT / "pyproject.toml"))
    session = configuration["session_options"]
    graph = grimp.build_graph(*session["root_packages"], include_external_packages=True,
                              cache_dir=None)
    return session, configuration["contracts_options"], graph


def kept(contracts, name: str, extra_import: tuple[str, str] | None = None) -> bool:
    session, options, graph = contracts
    chosen = next(o for o in options if o["name"].startswith(name))
    graph = copy.deepcopy(graph)
    if extra_import is not None:
        graph.add_import(importer=extra_import[0], imported=extra_import[1])
    contract = KINDS[chosen["type"]](name=chosen["name"], session_options=session,
                                     contract_options=chosen)
    return contract.check(graph, verbose=False).kept


def test_the_code_keeps_every_contract(contracts):
    assert kept(contracts, "Layers")
    assert kept(contracts, "The newsroom's rules and the services know nothing of Slack")
    # and an import downwards stays allowed: the checks below fail for their import alone
    assert kept(contracts, "Layers", ("newsbot.bot.cli.main", "newsbot.storage.db"))
    assert kept(contracts, "The newsroom's rules and the services know nothing of Slack",
                ("newsbot.handlers.blocks", "slack_sdk"))
    assert kept(contracts, "The newsroom's rules run on the caller's thread")
    assert kept(contracts, "The newsroom's rules run on the caller's thread",
                ("newsbot.bot.services.intake", "concurrent"))


@pytest.mark.parametrize(("importer", "imported"), [
    ("newsbot.bot.newsroom.digest", "newsbot.bot.app.serve"),  # rules reaching for the wiring
    ("newsbot.bot.newsroom.digest", "newsbot.bot.app.slack_client"),  # the web_client
    ("newsbot.bot.newsroom.digest", "newsbot.bot.services.sync"),  # rules above services
    ("newsbot.bot.newsroom.digest", "newsbot.bot.config.settings"),  # rules reading settings
    ("newsbot.bot.services.sync", "newsbot.bot.app.serve"),
    ("newsbot.bot.app.serve", "newsbot.bot.cli.main"),
    ("newsbot.bot.app.serve", "newsbot.sandbox.lookalike"),  # production wired to the fake
    ("newsbot.handlers.blocks", "newsbot.bot.app.serve"),
    ("newsbot.storage.db", "newsbot.bot.newsroom.digest"),
])
def test_the_layers_fail_when_a_lower_layer_imports_a_higher_one(contracts, importer, imported):
    assert not kept(contracts, "Layers", (importer, imported))


@pytest.mark.parametrize(("importer", "imported"), [
    ("newsbot.bot.newsroom.digest", "slack_sdk"),
    ("newsbot.bot.services.health", "slack_bolt"),
    ("newsbot.bot.services.intake", "newsbot.handlers.blocks"),
    ("newsbot.bot.newsroom.lookup", "newsbot.sandbox.lookalike"),
])
def test_the_rules_and_services_may_not_import_slack(contracts, importer, imported):
    assert not kept(contracts, "The newsroom's rules and the services know nothing of Slack",
                    (importer, imported))


@pytest.mark.parametrize(("importer", "imported"), [
    ("newsbot.bot.newsroom.digest", "threading"),
    ("newsbot.bot.newsroom.schedules", "concurrent")  # external: by top-level name,
])
def test_the_rules_may_not_start_threads(contracts, importer, imported):
    assert not kept(contracts, "The newsroom's rules run on the caller's thread",
                    (importer, imported))
