"""Posting digests when things go wrong: concurrent posters, crashes, refusals, stale plans.

Against the Slack look-alike over real HTTP, with a real SQLite file; no app server needed.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
from pathlib import Path

import pytest
from newsbot.bot.app.slack_client import web_client
from newsbot.bot.config.settings import BUNDLED_ARTICLES
from newsbot.bot.newsroom.decisions import decide
from newsbot.bot.newsroom.digest import (
    DigestBusy,
    DigestOptions,
    claim_digest,
    load_digest,
    plan_digest,
    select_digest,
)
from newsbot.handlers.posting.digest_post import DIGEST_EVENT, post_digest
from newsbot.sandbox import SlackLookalike
from newsbot.storage.db import Store
from newsbot.storage.index import refresh

CHANNEL = "C0NEWSDESK"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    articles = tmp_path / "articles"
    shutil.copytree(BUNDLED_ARTICLES, articles)
    store = Store(tmp_path / "newsbot.db")
    refresh(store, articles)
    return store


@pytest.fixture
def slack():
    with SlackLookalike() as lookalike:
        yield lookalike


def client_for(slack: SlackLookalike):
    return web_client(slack.bot_token, slack.base_url)


def posts(slack: SlackLookalike) -> list:
    return [call for call in slack.calls("chat.postMessage") if call.ok]


def metadata(call) -> dict:
    value = call.params.get("metadata")
    return json.loads(value) if isinstance(value, str) else value


def test_two_posters_of_one_manual_digest_post_it_once(store: Store, slack: SlackLookalike):
    plan = plan_digest(store, CHANNEL, DigestOptions(top=3))
    results, errors = [], []

    def poster(name: str) -> None:
        same_plan = plan_digest(store, CHANNEL, DigestOptions(top=3))  # resumes the same one
        try:
            results.append(post_digest(client_for(slack), store, same_plan, owner=name))
        except DigestBusy as busy:
            errors.append(busy)

    threads = [threading.Thread(target=poster, args=(f"p{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(posts(slack)) == 4, "one header and three articles, once"
    final = load_digest(store, plan.id)
    assert final.status == "done" and all(m.ts for m in final.messages)
    assert len(results) + len(errors) == 2 and results


def test_a_live_claim_refuses_a_second_poster_and_a_lapsed_one_does_not(store, slack):
    plan = plan_digest(store, CHANNEL, DigestOptions(top=1))
    assert claim_digest(store, plan.id, "someone-else")
    with pytest.raises(DigestBusy):
        post_digest(client_for(slack), store, plan, owner="me")
    assert posts(slack) == []
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=11)  # the other poster died
    assert claim_digest(store, plan.id, "me", now=later)


def test_articles_waiting_in_a_failed_digest_are_not_taken_by_another(store, slack):
    slack.fail_next("chat.postMessage", error="not_in_channel")  # the header is refused
    plan = plan_digest(store, CHANNEL, DigestOptions(top=3), key="schedule:s1:2026-11-26T09Z")
    with pytest.raises(Exception):  # noqa: B017 - DigestPostError; what matters is below
        post_digest(client_for(slack), store, plan)
    other = plan_digest(store, CHANNEL, DigestOptions(top=3), key="schedule:s2:2026-11-26T09Z")
    assert not {m.article.id for m in plan.messages} & {m.article.id for m in other.messages}
    resumed = post_digest(client_for(slack), store,
                          plan_digest(store, CHANNEL, key="schedule:s1:2026-11-26T09Z"))
    assert resumed.status == "done" and len(resumed.posted) == 3


def test_a_stale_unfinished_digest_no_longer_holds_its_articles(store, slack):
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=7)
    stale = plan_digest(store, CHANNEL, DigestOptions(top=3), key="schedule:s1:old", now=old)
    fresh = plan_digest(store, CHANNEL, DigestOptions(top=3), key="schedule:s1:new")
    assert [m.article.id for m in fresh.messages] == [m.article.id for m in stale.messages]


def test_manual_rerun_with_other_options_abandons_the_unfinished_digest(store, slack):
    first = plan_digest(store, CHANNEL, DigestOptions(top=2))
    same = plan_digest(store, CHANNEL, DigestOptions(top=2))
    assert same.id == first.id
    other = plan_digest(store, CHANNEL, DigestOptions(top=2, topics=("Climate",)))
    assert other.id != first.id
    assert load_digest(store, first.id).status == "abandoned"
    assert all("Climate" in m.article.topics for m in other.messages)


def test_an_article_slack_refuses_is_left_out_and_the_digest_goes_on(store, slack):
    posted = []

    def refuse_second_article(change) -> None:
        if change.kind == "message_posted":
            posted.append(change)
            if len(posted) == 2:  # the header and the first article are in
                slack.fail_next("chat.postMessage", error="invalid_blocks")

    unsubscribe = slack.subscribe(refuse_second_article)
    try:
        plan = post_digest(client_for(slack), store,
                           plan_digest(store, CHANNEL, DigestOptions(top=3)))
    finally:
        unsubscribe()
    assert plan.status == "done"
    assert [bool(m.ts) for m in plan.messages] == [True, False, True]
    assert plan.messages[1].skipped == "Slack refused the message: invalid_blocks"


def test_an_article_decided_after_planning_is_not_posted(store, slack):
    plan = plan_digest(store, CHANNEL, DigestOptions(top=3))
    decide(store, plan.messages[0].article.id, "skip", "U0EDITOR", source="cli")
    posted = post_digest(client_for(slack), store, plan)
    assert posted.messages[0].ts is None
    assert posted.messages[0].skipped == "an editor decided meanwhile"
    assert len(posted.posted) == 2


def test_a_header_slack_has_but_the_database_lost_is_not_posted_again(store, slack):
    plan = plan_digest(store, CHANNEL, DigestOptions(top=2))
    # What a crash between Slack's answer and our write leaves: the header is in Slack,
    # the digest is marked as started, its header_ts is not recorded.
    client_for(slack).chat_postMessage(
        channel=CHANNEL, text=plan.title,
        metadata={"event_type": DIGEST_EVENT, "event_payload": {"digest_id": plan.id}})
    with store.write() as db:
        db.execute("UPDATE digests SET status = 'posting' WHERE id = ?", [plan.id])
    resumed = post_digest(client_for(slack), store, plan)
    headers = [c for c in posts(slack) if not c.params.get("thread_ts")]
    assert len(headers) == 1
    assert resumed.header_ts == headers[0].response["ts"] and len(resumed.posted) == 2


def test_posting_does_not_change_what_the_digest_would_select_elsewhere(store, slack):
    before = [a.id for a in select_digest(store, DigestOptions(top=5))]
    post_digest(client_for(slack), store, plan_digest(store, CHANNEL, DigestOptions(top=5)))
    assert [a.id for a in select_digest(store, DigestOptions(top=5))] == before
    other_channel = plan_digest(store, "C0OTHER", DigestOptions(top=5))
    assert [m.article.id for m in other_channel.messages] == before
