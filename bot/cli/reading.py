"""The commands that read the index: index, digest, lookup, topics, search, clusters."""

from __future__ import annotations

from typing import Any

from newsbot.bot.cli.context import Context
from newsbot.bot.cli.output import article_list, articles_json, decision_marks
from newsbot.bot.cli.slack_access import post_current_digest
from newsbot.bot.newsroom.decisions import standing_decisions_of
from newsbot.bot.newsroom.digest import DigestOptions, count_embargoed, select_digest
from newsbot.bot.newsroom.lookup import list_topics, lookup_topic, search
from newsbot.bot.newsroom.stories import also_covered, list_clusters
from newsbot.bot.newsroom.wording import plural
from newsbot.storage.index import failures


def cmd_index(ctx: Context) -> int:
    report = ctx.refresh(force=True)
    assert report is not None
    if ctx.args.failed:
        broken = failures(ctx.store)
        text = "\n".join(f"{row['id']}: {row['reason']}" for row in broken) or "No broken files."
        ctx.emit({"failed": broken}, text)
        return 0
    counts = report.as_dict()
    ctx.emit(
        counts,
        f"{counts['total']} files: {counts['indexed']} indexed, {counts['unchanged']} unchanged, "
        f"{counts['failed']} failed, {counts['removed']} removed"
        + ("\nSee the failures with: newsbot index --failed" if counts["failed"] else ""),
    )
    return 0


def cmd_digest(ctx: Context) -> int:
    ctx.refresh()
    args = ctx.args
    options = DigestOptions(
        top=args.top or ctx.config.digest_top,
        topics=tuple(args.topic or ()),
        min_quality=args.min_quality,
        max_age_days=args.max_age_days,
        include_embargoed=args.include_embargoed,
    )
    if args.post:
        return post_current_digest(ctx, options)
    articles = select_digest(ctx.store, options)
    heading = f"Top {plural(len(articles), 'unpublished article')}"
    also = also_covered(ctx.store, articles, include_embargoed=options.include_embargoed)
    text = article_list(heading, articles, "Nothing to review: no eligible articles.",
                         also=also)
    held_back = 0 if options.include_embargoed else count_embargoed(ctx.store)
    if held_back:
        many = held_back != 1
        text += (f"\n{plural(held_back, 'embargoed article')} held back until "
                 f"{'their' if many else 'its'} publishedDateTime (--include-embargoed shows "
                 f"{'them' if many else 'it'}).")
    document = [dict(a.to_json(), alsoCovered=[o.id for o in also.get(a.id, [])])
                for a in articles]
    ctx.emit({"articles": document, "embargoed": held_back}, text)
    return 0


def cmd_lookup(ctx: Context) -> int:
    ctx.refresh()
    result = lookup_topic(ctx.store, ctx.args.topic, include_published=ctx.args.all,
                          limit=ctx.args.limit, include_decided=ctx.args.decided,
                          include_embargoed=ctx.args.include_embargoed)
    decisions = standing_decisions_of(ctx.store, [a.id for a in result.articles])
    document: dict[str, Any] = {
        "topic": result.topic,
        "articles": articles_json(result.articles, decisions),
    }
    if not result.known:
        document["suggestions"] = result.suggestions
        hint = f" Did you mean: {', '.join(result.suggestions)}?" if result.suggestions else ""
        ctx.emit(document, f"No topic named '{result.topic}'.{hint}")
        return 1
    if result.waiting:
        document["waitingForSync"] = result.waiting
    kind = "article" if ctx.args.all else "unpublished article"
    waiting = (f"\n({plural(result.waiting, 'more article')} with a decision waiting for "
               f"sync: newsbot lookup '{result.topic}' --decided)" if result.waiting else "")
    also = also_covered(ctx.store, result.articles, include_embargoed=ctx.args.include_embargoed)
    ctx.emit(document, article_list(f"{result.topic}: {plural(len(result.articles), kind)}",
                                     result.articles, f"No {kind}s on {result.topic}.",
                                     decision_marks(ctx.store, decisions), also) + waiting)
    return 0


def cmd_topics(ctx: Context) -> int:
    ctx.refresh()
    topics = list_topics(ctx.store)
    width = max((len(t.topic) for t in topics), default=5)
    lines = [f"{'topic':<{width}}  unpublished  total"]
    lines += [f"{t.topic:<{width}}  {t.unpublished:>11}  {t.total:>5}" for t in topics]
    ctx.emit({"topics": [t.to_json() for t in topics]}, "\n".join(lines))
    return 0


def cmd_search(ctx: Context) -> int:
    ctx.refresh()
    words = " ".join(ctx.args.words)
    articles = search(ctx.store, words, limit=ctx.args.limit,
                      include_embargoed=ctx.args.include_embargoed)
    decisions = standing_decisions_of(ctx.store, [a.id for a in articles])
    also = also_covered(ctx.store, articles, include_embargoed=ctx.args.include_embargoed)
    ctx.emit(
        {"query": words, "articles": articles_json(articles, decisions)},
        article_list(f"{plural(len(articles), 'match', 'matches')} for '{words}'", articles,
                      f"No match for '{words}'.", decision_marks(ctx.store, decisions), also),
    )
    return 0


def cmd_clusters(ctx: Context) -> int:
    ctx.refresh()
    clusters = list_clusters(ctx.store)
    lines = [f"{len(c.members)} articles ({'same URL' if c.reason == 'url' else 'same text'}):"
             f" {c.lead} (lead), {', '.join(c.members[1:])}" for c in clusters]
    ctx.emit({"clusters": [c.to_json() for c in clusters]},
             "\n".join(lines) or "No story clusters: every article stands alone.")
    return 0
