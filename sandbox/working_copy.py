"""Where the sandbox works when it runs on the bundled example articles.

The sandbox's "Run sync" writes decisions into the article files. Run on the bundled
examples, that would edit files shipped with newsbot (and that the test suite reads),
so the sandbox works on a copy instead, in `newsbot-sandbox/` of the working folder,
with its own database: trying newsbot changes neither the examples nor `newsbot.db`.
The copy is made once and kept, so decisions and synced files survive a restart;
deleting the folder starts over. Any other articles folder is used as configured.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from newsbot.bot.config.settings import BUNDLED_ARTICLES, Config

FOLDER = "newsbot-sandbox"


def working_copy(config: Config, workdir: Path) -> Config:
    """`config`, moved to a copy of the bundled examples when it points at them."""
    if not _same_folder(config.articles, BUNDLED_ARTICLES):
        return config
    home = workdir / FOLDER
    articles = home / "articles"
    if not articles.exists():
        home.mkdir(parents=True, exist_ok=True)
        partial = home / "articles.partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(BUNDLED_ARTICLES, partial)
        partial.rename(articles)  # a copy interrupted half way is never taken for a whole one
    db = home / "newsbot.db" if config.db == Config().db else config.db
    return dataclasses.replace(config, articles=articles, db=db)


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
