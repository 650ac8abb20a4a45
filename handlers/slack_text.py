"""Text as Slack sends it: a typed `&`, `<` or `>` arrives as `&amp;`, `&lt;`, `&gt;`, while
markup Slack writes itself (`<#C123|name>`, `<@U123>`, `<https://...>`) arrives as is.

Undone here, at the Slack edge, so the newsroom's rules read plain text: text from the
command line, which nobody escaped, is never unescaped.
"""

from __future__ import annotations


def slack_unescape(text: str) -> str:
    """What was typed (a topic such as "Arts & Culture"); `&amp;` last, so a typed `&lt;`
    (sent as `&amp;lt;`) stays `&lt;`."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
