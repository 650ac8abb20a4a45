"""Block Kit rendering: one look for an article everywhere (digests, /news answers, App Home).

Article text comes from files anyone in the newsroom can edit, and command text from
anyone in the workspace, so every piece of it is escaped for mrkdwn (`shown`, `escape`):
neither can ping `<!channel>` or forge a link. Texts are cut to Block Kit's limits after
escaping (`fit`), since `&` alone becomes five characters.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from urllib.parse import quote

from newsbot.bot.newsroom.article import Article
from newsbot.bot.newsroom.decisions import Decision

PUBLISH_ACTION = "newsbot_publish"
SKIP_ACTION = "newsbot_skip"
UNDO_ACTION = "newsbot_undo"
EXCERPT_LIMIT = 600  # characters shown of an excerpt
TITLE_LIMIT = 300
URL_LIMIT = 1_500  # a longer link or image URL is left out (Slack takes 3,000 at most)
SECTION_LIMIT = 3_000  # Slack's limit for a section's text
CONTEXT_LIMIT = 2_000  # a context element's text
FALLBACK_LIMIT = 3_000  # a message's `text` (notifications): Slack cuts at 40,000
ECHO_LIMIT = 200  # how much of what someone typed is repeated back to them
ACCESSIBILITY_LIMIT = 75  # a button's accessibility_label
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
DECISION_STATE = {  # decision -> (emoji, what the message says, the chosen button's label)
    "publish": (":white_check_mark:", "Published", "Published \u2713"),
    "skip": (":x:", "Skipped", "Skipped \u2713"),
}


def escape(text: str | None) -> str:
    """Slack's three control characters, as Slack asks apps to escape them."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(text: str, limit: int) -> str:
    """Escaped mrkdwn cut to `limit` characters, never inside an entity (`&amp;`) or an
    app-made `<...>` (link, mention)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    for opener, closer in (("&", ";"), ("<", ">")):
        start = cut.rfind(opener)
        if start != -1 and closer not in cut[start:]:
            cut = cut[:start]
    return cut.rstrip() + "…"


def shown(text: str | None, limit: int = ECHO_LIMIT) -> str:
    """Someone's text for mrkdwn: escaped, then cut to `limit` characters."""
    return fit(escape(text), limit)


def link(url: str | None, label: str) -> str:
    """A mrkdwn link, or the bare label when the URL is unusable."""
    if not url or not url.startswith(("http://", "https://")):
        return escape(label)
    safe_url = quote(url, safe=":/?#[]@!$&'()*+,;=%~-._")  # '|', '<', '>' and spaces encoded
    return f"<{safe_url.replace('&', '&amp;')}|{escape(label)}>"


def readable_time(iso: str | None) -> str:
    """`2020-07-02T19:21:00Z` as `2 Jul 2020, 19:21 UTC`, falling back to the raw text."""
    if not iso:
        return "date unknown"
    try:
        moment = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return escape(iso)
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC"


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def article_fallback(article: Article, decision: Decision | None = None) -> str:
    """The plain text of an article message: notifications and screen readers read this."""
    parts = [article.title]
    if article.provider_name:
        parts.append(f"from {article.provider_name}")
    parts.append(f"quality {_number(article.quality)}, heat {_number(article.heat)}")
    if decision:
        parts.append(f"{DECISION_STATE[decision.decision][1].lower()} by {decision.user_id}")
    return shown(" — ".join(parts), FALLBACK_LIMIT)


def _section_text(article: Article) -> str:
    """Linked title and excerpt within Slack's 3,000 characters, counted after escaping
    (one `&` becomes five characters): the excerpt gives way first, then the link."""
    title = _truncate(article.title, TITLE_LIMIT)
    url = article.web_url if article.web_url and len(article.web_url) <= URL_LIMIT else None
    head = f"*{link(url, title)}*"
    if len(head) > SECTION_LIMIT // 2:  # a URL full of `&`: the title goes unlinked
        head = f"*{link(None, title)}*"
    excerpt = _truncate(article.excerpt or "", EXCERPT_LIMIT)
    room = SECTION_LIMIT - len(head) - 1
    escaped = escape(excerpt)
    while len(escaped) > room and len(excerpt) > 1:
        excerpt = _truncate(excerpt, max(1, len(excerpt) * room // len(escaped) - 1))
        escaped = escape(excerpt)
    return f"{head}\n{escaped}" if escaped else head


def mention(user_id: str) -> str:
    """A Slack user id as a mention; anything else (a name from the command line) as text."""
    return f"<@{user_id}>" if USER_ID.fullmatch(user_id) else escape(user_id)


# Around the ids of channels and users that newsbot itself names in a text that repeats
# what people typed: the text is escaped as a whole, then these become mentions (linked).
# A moment is marked the same way, and becomes a <!date> token.
CHANNEL_MARK, USER_MARK, TIME_MARK = "\x1f", "\x1e", "\x1d"
_MARKED_TIME = re.compile(f"{TIME_MARK}([0-9]+)\\|([^{TIME_MARK}]*){TIME_MARK}")


def marked_channel(channel: str) -> str:
    return f"{CHANNEL_MARK}{channel}{CHANNEL_MARK}"


def marked_user(user: str) -> str:
    return f"{USER_MARK}{user}{USER_MARK}"


def marked_time(moment: dt.datetime) -> str:
    """A moment in a text to be `linked`: each reader sees it in their own zone."""
    return f"{TIME_MARK}{int(moment.timestamp())}|{zoned_fallback(moment)}{TIME_MARK}"


def unmarked(text: str) -> str:
    """Typed text with any marks taken out, so nobody can fake a mention with them (and
    newsbot's own text as plain text: a marked moment becomes its fallback)."""
    text = _MARKED_TIME.sub(lambda m: m[2], text)
    return text.replace(CHANNEL_MARK, "").replace(USER_MARK, "").replace(TIME_MARK, "")


def linked(text: str) -> str:
    """Escape `text`, then turn the marked channels and users into Slack mentions (a user
    that is not a Slack id, a name from the command line, stays text) and the marked
    moments into <!date> tokens."""
    text = re.sub(f"{CHANNEL_MARK}([^{CHANNEL_MARK}]*){CHANNEL_MARK}", r"<#\1>", escape(text))
    text = _MARKED_TIME.sub(lambda m: date_token(int(m[1]), m[2]), text)
    return re.sub(f"{USER_MARK}([^{USER_MARK}]*){USER_MARK}",
                  lambda m: f"<@{m[1]}>" if USER_ID.fullmatch(m[1]) else m[1], text)


def date_token(epoch: int, fallback: str) -> str:
    """Slack's <!date>: the reader's own zone; `fallback` (naming its zone) elsewhere."""
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{fallback}>"


def zoned_fallback(moment: dt.datetime) -> str:
    """`Mon 7 Dec 2026, 09:00 Europe/London`: the moment in its own zone, named."""
    zone = getattr(moment.tzinfo, "key", None) or moment.tzname() or "UTC"
    return f"{moment:%a} {moment.day} {moment:%b %Y, %H:%M} {zone}"


def slack_moment(moment: dt.datetime) -> str:
    """A moment for mrkdwn, shown in each reader's zone (the fallback in the moment's)."""
    return date_token(int(moment.timestamp()), escape(zoned_fallback(moment)))


def slack_date(iso: str) -> str:
    """A moment Slack shows in each reader's own time zone (the fallback in UTC)."""
    try:
        moment = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return escape(iso)
    return date_token(int(moment.timestamp()), readable_time(iso))


def decision_line(decision: Decision, written_at: str | None = None) -> str:
    """Who decided what and when, and whether the file shows it yet:
    `:white_check_mark: *Published* by <@U1> · 2 Jul 2026, 14:02 UTC · written to the file`."""
    emoji, state, _ = DECISION_STATE[decision.decision]
    file_note = "written to the file" if written_at else "not in the file yet (next sync)"
    return (f"{emoji} *{state}* by {mention(decision.user_id)} · "
            f"{slack_date(decision.decided_at)} · {file_note}")


def decision_buttons(article_id: str, decision: Decision | None, title: str = "") -> dict:
    """Publish / Skip, showing the standing decision on its button, plus Undo once decided.
    Each button names its article for screen readers (`accessibility_label`): a list of
    articles is otherwise a column of identical "Publish" buttons."""
    def button(label: str, action_id: str, style: str | None, spoken: str) -> dict:
        return _button(label, action_id, article_id, style,
                       _truncate(f"{spoken} {title}".strip(), ACCESSIBILITY_LIMIT))

    publish = button("Publish", PUBLISH_ACTION, "primary", "Publish")
    skip = button("Skip", SKIP_ACTION, "danger", "Skip")
    if decision is None:
        elements = [publish, skip]
    else:
        chosen = DECISION_STATE[decision.decision][2]
        state = DECISION_STATE[decision.decision][1]
        if decision.decision == "publish":
            publish = button(chosen, PUBLISH_ACTION, None, f"{state}:")
        else:
            skip = button(chosen, SKIP_ACTION, None, f"{state}:")
        elements = [publish, skip, button("Undo", UNDO_ACTION, None, "Undo the decision on")]
    # no block_id: ids must be unique within a message or view
    return {"type": "actions", "elements": elements}


def article_blocks(
    article: Article, decision: Decision | None = None, buttons: bool = True,
    written_at: str | None = None,
) -> list[dict]:
    """An article as a section (linked title, excerpt, thumbnail), a context line of
    facts, the standing decision if any (who, what, when, in the file yet), and the
    Publish / Skip buttons showing it."""
    section: dict = {"type": "section", "text": {"type": "mrkdwn", "text": _section_text(article)}}
    image = article.image_url
    if image and image.startswith(("http://", "https://")) and len(image) <= URL_LIMIT:
        section["accessory"] = {
            "type": "image",
            "image_url": image,
            "alt_text": _truncate(article.title, 200),
        }
    facts = [
        shown(article.provider_name or "unknown provider", 200),
        readable_time(article.published_at),
        f"quality *{_number(article.quality)}*",
        f"heat *{_number(article.heat)}*",
    ]
    if article.topics:
        facts.append(shown(", ".join(article.topics), 1000))
    if article.published:
        facts.append("already published")
    context = {"type": "context",
               "elements": [{"type": "mrkdwn", "text": fit(" · ".join(facts), CONTEXT_LIMIT)}]}
    blocks = [section, context]
    if decision:
        blocks.append({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": decision_line(decision, written_at)}],
        })
    if buttons:
        blocks.append(decision_buttons(article.id, decision, article.title))
    return blocks


ALSO_SHOWN = 8  # other members of a story named on its entry; the rest are counted


def with_also_covered(blocks: list[dict], others: Sequence[Article]) -> list[dict]:
    """An article's blocks with the other members of its story cluster on its context line:
    "Also: Provider B (quality 71), Provider C (quality 64)", each linked to its article."""
    if not others:
        return blocks
    names = []
    for other in others[:ALSO_SHOWN]:
        url = other.web_url if other.web_url and len(other.web_url) <= URL_LIMIT else None
        name = other.provider_name or other.provider_domain or "unknown provider"
        names.append(f"{link(url, _truncate(name, 100))} (quality {_number(other.quality)})")
    more = f" and {len(others) - ALSO_SHOWN} more" if len(others) > ALSO_SHOWN else ""
    element = {"type": "mrkdwn", "text": "Also: " + ", ".join(names) + more}
    return [dict(block, elements=[*block["elements"], element]) if n == 1 else block
            for n, block in enumerate(blocks)]


def _button(label: str, action_id: str, value: str, style: str | None,
            accessibility_label: str | None = None) -> dict:
    button = {
        "type": "button", "action_id": action_id, "value": value,
        "text": {"type": "plain_text", "text": label},
    }
    if style:
        button["style"] = style
    if accessibility_label:
        button["accessibility_label"] = accessibility_label
    return button


def control(label: str, action_id: str, value: str, accessible: str,
            style: str | None = None) -> dict:
    """A control button (App Home's Pause, Edit, Add ...), with its accessibility label."""
    return _button(label, action_id, value, style, accessible)


def removal(action_id: str, value: str, accessible: str, what: str) -> dict:
    """A Remove button that Slack confirms first (`confirm`), saying `what` (mrkdwn) goes."""
    remove = control("Remove", action_id, value, accessible, "danger")
    remove["confirm"] = {
        "title": {"type": "plain_text", "text": _truncate(f"Remove {value}?", 100)},
        "text": {"type": "mrkdwn", "text": fit(what, 300)},
        "confirm": {"type": "plain_text", "text": "Remove"},
        "deny": {"type": "plain_text", "text": "Keep it"}, "style": "danger"}
    return remove


def header_blocks(title: str) -> list[dict]:
    return [{"type": "header", "text": {"type": "plain_text", "text": _truncate(title, 150)}}]


def article_list_blocks(
    heading: str, articles: Sequence[Article], empty: str, buttons: bool = False,
    decisions: Mapping[str, Decision] | None = None,
    also: Mapping[str, Sequence[Article]] | None = None,
) -> list[dict]:
    """Several articles under a heading, for /news answers and App Home (at most 50 blocks);
    an article with a standing decision (in `decisions`) shows it; `also`: the other
    members of each article's story cluster, by article id."""
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": heading}}]
    if not articles:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": empty}})
        return blocks
    for article in articles[:12]:
        shown = [{"type": "divider"}, *with_also_covered(
            article_blocks(article, (decisions or {}).get(article.id), buttons=buttons),
            (also or {}).get(article.id, ()))]
        if len(blocks) + len(shown) > 50:  # Slack's limit: a decided article takes 5 blocks
            break
        blocks.extend(shown)
    return blocks


def text_blocks(text: str) -> list[dict]:
    """One section of mrkdwn (already escaped), cut to Slack's limit."""
    return [{"type": "section", "text": {"type": "mrkdwn", "text": fit(text, SECTION_LIMIT)}}]
