"""The example articles' images, bundled with newsbot and served by the sandbox's page.

The example articles name images on made-up hosts (`cdn.example-news.org`), which no
browser can load. Slack shows an article's image from its own cache; the sandbox does
the same with the copies in `examples/images/`: `images.json` maps each image URL to its
file there, and the page shows `/images/<file>` in place of the URL. An image that is
not bundled is loaded from its URL as Slack would, or shown as a labelled placeholder.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from newsbot.bot.config.settings import BUNDLED_ARTICLES

log = logging.getLogger(__name__)

FOLDER = BUNDLED_ARTICLES.parent / "images"
CONTENT_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg",
                 ".jpeg": "image/jpeg", ".webp": "image/webp"}


class BundledImages:
    """Image URL -> bundled file; only files listed in the index are ever served."""

    def __init__(self, folder: Path = FOLDER) -> None:
        self.folder = folder
        self.by_url: dict[str, str] = {}
        self._names: set[str] = set()
        try:
            index = json.loads((folder / "images.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            log.info("no bundled images", extra={"folder": str(folder), "error": str(error)})
            return
        for url, name in index.items():
            if Path(name).suffix in CONTENT_TYPES and Path(name).name == name:
                self.by_url[url] = name
        self._names = set(self.by_url.values())

    def page_urls(self) -> dict[str, str]:
        """What the page loads instead of each bundled image URL."""
        return {url: f"/images/{name}" for url, name in self.by_url.items()}

    def file(self, name: str) -> tuple[bytes, str] | None:
        """The bytes and content type of a bundled file, or None if it is not one."""
        if name not in self._names:
            return None
        try:
            return (self.folder / name).read_bytes(), CONTENT_TYPES[Path(name).suffix]
        except OSError:
            return None
