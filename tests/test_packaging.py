"""The wheel installs one import package, `newsbot`, whose subpackages are the folders."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from conftest import REPO_ROOT

FOLDERS = ("bot", "handlers", "sandbox", "storage")


def pyproject() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_folder_with_an_init_is_a_listed_package():
    """The package list is explicit (the folders map to other names), so a new subpackage
    missing from it would be left out of the wheel without a word."""
    found = {"newsbot." + ".".join(init.parent.relative_to(REPO_ROOT).parts)
             for folder in FOLDERS for init in (REPO_ROOT / folder).rglob("__init__.py")
             if "examples" not in init.parts}
    assert set(pyproject()["tool"]["setuptools"]["packages"]) == found


def test_each_folder_maps_to_a_subpackage_of_newsbot():
    assert pyproject()["tool"]["setuptools"]["package-dir"] == {
        f"newsbot.{folder}": folder for folder in FOLDERS}
    assert pyproject()["project"]["scripts"]["newsbot"] == "newsbot.bot.cli.main:main"


def test_no_module_is_loaded_under_a_second_name(tmp_path):
    """Importing the whole program loads nothing as bare `bot`, `storage`, ...: one name each."""
    script = ("import sys, newsbot.bot.cli.main, newsbot.bot.app.serve, newsbot.sandbox.runner\n"
              f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FOLDERS!r}))")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    bare = subprocess.run([sys.executable, "-c", "import storage.db"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert bare.returncode != 0 and "No module named 'storage'" in bare.stderr
