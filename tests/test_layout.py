"""The layout stays readable: no module in bot/ grows past about 400 lines, and no two
newsbot modules import each other, directly or round a longer loop."""

from __future__ import annotations

import grimp
from conftest import REPO_ROOT

MAX_LINES = 400
PACKAGES = ("newsbot.bot", "newsbot.handlers", "newsbot.sandbox", "newsbot.storage")


def long_modules(folder, limit: int = MAX_LINES) -> list[str]:
    return sorted(f"{path.relative_to(REPO_ROOT)}: {count} lines"
                  for path in folder.rglob("*.py")
                  if (count := len(path.read_text(encoding="utf-8").splitlines())) > limit)


def test_no_module_in_bot_is_over_400_lines():
    assert long_modules(REPO_ROOT / "bot") == []


def test_the_line_limit_notices_a_long_module():
    assert long_modules(REPO_ROOT / "bot", limit=100) != []


def cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """Each import cycle among newsbot's modules, as the modules on it."""
    modules = sorted(m for m in graph.modules if m.startswith(PACKAGES))
    found: set[tuple[str, ...]] = set()
    for module in modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if not imported.startswith(PACKAGES):
                continue
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                found.add(tuple(sorted(set(back))))
    return sorted(found)


def test_no_newsbot_module_is_part_of_an_import_cycle():
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    assert cycles(graph) == []
    graph.add_import(importer="newsbot.storage.db", imported="newsbot.storage.index")
    assert cycles(graph) != []  # the check sees a cycle when there is one
