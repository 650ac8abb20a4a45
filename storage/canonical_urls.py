"""A URL as copies of one page agree on it: the key that story clusters (storage/story_clusters.py)
and link previews (`articles.canonical_url`, bot/newsroom/lookup.article_by_url) share."""

from __future__ import annotations

import re

# Tracking parameters: utm_*, click ids of ad networks, mail campaign ids and the like.
_TRACKING = re.compile(
    r"(utm_[a-z0-9_]*|fbclid|gclid|gclsrc|dclid|gbraid|wbraid|msclkid|yclid|twclid|ttclid|"
    r"li_fat_id|mc_cid|mc_eid|igshid|_ga|_gl|_hsenc|_hsmi|mkt_tok|oly_anon_id|oly_enc_id|"
    r"vero_id|rb_clickid|s_cid|ocid|cmpid|smid|ref_src)\Z",
    re.IGNORECASE,
)
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://(?:[^/?#@]*@)?([^/?#]+)([^?#]*)(?:\?([^#]*))?")


def canonical_url(url: str | None) -> str | None:
    """The URL as two copies of one page agree on it: scheme and host lower-cased, a
    leading `www.` or `m.` dropped, no fragment, no tracking parameters, no trailing
    slash. None for anything that is not an absolute URL."""
    match = _URL.match(url.strip()) if url else None
    if match is None:
        return None
    scheme, host, path, query = match.groups()
    host = host.lower()
    for prefix in ("www.", "m."):
        if host.startswith(prefix):
            host = host[len(prefix):]
    if query:
        query = "&".join(pair for pair in query.split("&")
                         if pair and not _TRACKING.match(pair.split("=", 1)[0]))
    return f"{scheme.lower()}://{host}{path.rstrip('/')}" + (f"?{query}" if query else "")
