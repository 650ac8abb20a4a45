"""Alerts end to end: `/news subscribe` over signed HTTP, a real articles folder whose file
events drive the index, the runtime `serve` runs, and the Slack look-alike. A file written
into the folder becomes a message in the subscribed channel, decided like any other."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from conftest import CHANNEL, CHIEF, EDITOR, Newsroom, private_answer, start_newsroom, texts
from conftest import write_article as write_file
from newsbot.bot.app.slack_client import web_client
from newsbot.bot.config.settings import Config
from newsbot.bot.newsroom.alerts import collect, plan_alerts
from newsbot.bot.newsroom.digest import load_digest
from newsbot.bot.newsroom.subscription_filters import Filters
from newsbot.bot.newsroom.subscriptions import SubscriptionSpec, add_subscription
from newsbot.handlers.blocks import PUBLISH_ACTION, SKIP_ACTION
from newsbot.handlers.listeners.home import UNFOLLOW_ACTION
from newsbot.handlers.posting.alert_post import AlertPoster, ChannelPace
from newsbot.handlers.posting.digest_post import ARTICLE_EVENT, PROCESS, claim_holder_died
from newsbot.sandbox import SlackLookalike
from newsbot.sandbox.alert_site import serve_environment
from newsbot.sandbox.serve_process import ServeProcess
from newsbot.sandbox.workspace import dm_channel_id
from newsbot.storage.db import Store
from newsbot.storage.index import refresh

pytestmark = pytest.mark.usefixtures("no_proxy")
WAIT = 15.0  # seconds a file may take to become a message on a loaded machine


def write_article(folder: Path, name: str, **fields) -> Path:
    """A new story: its own address and words (no other article clusters with it)."""
    seed = zlib.crc32(name.encode())
    fields.setdefault("webUrl", f"https://news.example.org/{name}")
    fields.setdefault("title", f"Alert {name} number {seed}")
    fields.setdefault("excerpt", f"Only {name} says {seed % 9973} and {seed % 7919}.")
    fields.setdefault("topics", ["AI"])
    return write_file(folder, name, **fields)


def recorded(newsroom: Newsroom, channel: str, ts: str) -> bool:
    """The poster has stored the message's ts (it does so just after Slack answers): from
    then on a reaction on it maps to its article."""
    return bool(newsroom.store.query(
        "SELECT 1 FROM digest_messages WHERE channel = ? AND ts = ?", [channel, ts]))


def subscribe(newsroom: Newsroom, text: str) -> None:
    post = private_answer(newsroom, f"subscribe {text}", CHIEF)
    assert "Subscribed sub" in texts(post.payload["blocks"])


def alerts_in(newsroom: Newsroom, channel: str = CHANNEL) -> dict[str, dict]:
    """The channel's article messages by article id (top level and in threads)."""
    found = {}
    for message in newsroom.slack.workspace.messages(channel):
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") == ARTICLE_EVENT:
            found.setdefault(metadata["event_payload"]["article_id"], message)
    return found


def test_a_file_written_into_the_folder_is_alerted_and_decided_like_any_article(
        tmp_path: Path):
    with start_newsroom(tmp_path) as newsroom:
        subscribe(newsroom, "topics=AI min_quality=50")
        before = len(newsroom.slack.calls("chat.postMessage"))
        write_article(newsroom.config.articles, "landed.md", quality=80)
        write_article(newsroom.config.articles, "too-weak.md", quality=20)
        newsroom.slack.wait_until(lambda: "landed.md" in alerts_in(newsroom), timeout=WAIT)
        message = alerts_in(newsroom)["landed.md"]
        assert "thread_ts" not in message  # one article: a message of its own
        [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
        assert [e["action_id"] for e in actions["elements"]] == [PUBLISH_ACTION, SKIP_ACTION]
        assert "Alert landed.md" in message["text"]
        posts = newsroom.slack.calls("chat.postMessage")[before:]
        assert len(posts) == 1 and "too-weak.md" not in alerts_in(newsroom)
        assert [m for m in newsroom.slack.workspace.messages(CHANNEL)
                if (m.get("metadata") or {}).get("event_type") == ARTICLE_EVENT
                and m["metadata"]["event_payload"]["article_id"] != "landed.md"] == []
        newsroom.slack.wait_until(lambda: recorded(newsroom, CHANNEL, message["ts"]))
        answer = newsroom.client.reaction_added(user_id=EDITOR, reaction="white_check_mark",
                                                channel_id=CHANNEL, ts=message["ts"])
        assert answer.status == 200
        [vote] = newsroom.votes()
        assert vote == {"article_id": "landed.md", "user_id": EDITOR, "decision": "publish"}
        newsroom.slack.wait_until(lambda: "Published" in texts(
            newsroom.slack.workspace.message(CHANNEL, message["ts"])["blocks"]), timeout=WAIT)


def test_a_later_copy_of_the_story_joins_the_also_line_and_posts_nothing(tmp_path: Path):
    with start_newsroom(tmp_path, clusters_enabled=True) as newsroom:
        subscribe(newsroom, "topics=AI")
        write_article(newsroom.config.articles, "lead.md", quality=90,
                      webUrl="https://www.wire.example/story-1?utm_source=feed")
        newsroom.slack.wait_until(lambda: "lead.md" in alerts_in(newsroom), timeout=WAIT)
        ts = alerts_in(newsroom)["lead.md"]["ts"]
        posts = len(newsroom.slack.calls("chat.postMessage"))
        write_article(newsroom.config.articles, "copy.md", quality=70,
                      webUrl="https://wire.example/story-1",
                      provider={"name": "Syndicator", "domain": "syndicator.example"})
        newsroom.slack.wait_until(lambda: "Syndicator" in texts(
            newsroom.slack.workspace.message(CHANNEL, ts)["blocks"]), timeout=WAIT)
        assert "Also:" in texts(newsroom.slack.workspace.message(CHANNEL, ts)["blocks"])
        assert len(newsroom.slack.calls("chat.postMessage")) == posts
        assert "copy.md" not in alerts_in(newsroom)


def test_a_burst_is_one_message_with_the_articles_in_its_thread_one_post_a_second(
        tmp_path: Path):
    with start_newsroom(tmp_path) as newsroom:
        subscribe(newsroom, "topics=AI")
        folder = newsroom.config.articles
        staging = tmp_path / "staging"
        for n in range(7):  # written elsewhere, then moved in at once: one burst
            write_article(staging, f"burst{n}.md", quality=50 + n)
        for n in range(7):
            (staging / f"burst{n}.md").rename(folder / f"burst{n}.md")
        newsroom.slack.wait_until(lambda: len(alerts_in(newsroom)) == 7, timeout=WAIT + 10)
        top_level = [m for m in newsroom.slack.workspace.messages(CHANNEL)
                     if "thread_ts" not in m or m["thread_ts"] == m["ts"]]
        [header] = [m for m in top_level if m["text"].startswith("7 new articles")]
        assert header["text"] == "7 new articles on AI"
        thread = sorted(alerts_in(newsroom).values(), key=lambda m: float(m["ts"]))
        assert all(m.get("thread_ts") == header["ts"] for m in thread)
        gaps = [float(b["ts"]) - float(a["ts"]) for a, b in zip(thread, thread[1:],
                                                                strict=False)]
        # Slack's one post a second per channel, as Slack sees them arrive: paced at the
        # sender, so one gap may shrink by the loopback's jitter, never the rate
        assert float(thread[-1]["ts"]) - float(thread[0]["ts"]) >= 0.95 * len(gaps)
        assert min(gaps) >= 0.5


def test_the_backlog_is_never_replayed(tmp_path: Path):
    with start_newsroom(tmp_path) as newsroom:
        before = len(newsroom.slack.calls("chat.postMessage"))
        subscribe(newsroom, CHANNEL)  # every article: the whole bundled folder matches
        write_article(newsroom.config.articles, "after.md")
        newsroom.slack.wait_until(lambda: "after.md" in alerts_in(newsroom), timeout=WAIT)
        assert list(alerts_in(newsroom)) == ["after.md"]
        assert len(newsroom.slack.calls("chat.postMessage")) == before + 1


# --- the poster on its own: a real folder, database and look-alike, no runtime


@pytest.fixture
def poster_site(tmp_path: Path):
    articles = tmp_path / "articles"
    articles.mkdir()
    config = Config(articles=articles, db=tmp_path / "newsbot.db", clusters_enabled=False)
    store = Store(config.db)
    with SlackLookalike() as slack:
        poster = AlertPoster(web_client(slack.bot_token, slack.base_url), store, config,
                             pace=ChannelPace(0))
        yield articles, store, slack, poster
    store.close()


def test_a_file_deleted_before_its_alert_is_posted_is_not_posted(poster_site):
    articles, store, slack, poster = poster_site
    add_subscription(store, SubscriptionSpec(CHANNEL, Filters()))
    write_article(articles, "gone.md")
    write_article(articles, "kept.md")
    refresh(store, articles)
    collect(store, clustered=False)
    [first, second] = plan_alerts(store)
    (articles / "gone.md").unlink()  # deleted after it was planned, before it was posted
    assert poster.one_pass() == 1
    posted = [c.params for c in slack.calls("chat.postMessage")]
    assert len(posted) == 1 and "kept.md" in texts(posted[0]["blocks"])
    skipped = [m.skipped for d in (first, second) for m in load_digest(store, d).messages]
    assert "the article's file was deleted" in skipped


def test_an_alert_stored_then_answered_500_is_read_back_not_posted_twice(poster_site):
    articles, store, slack, poster = poster_site
    add_subscription(store, SubscriptionSpec(CHANNEL, Filters()))
    write_article(articles, "once.md")
    refresh(store, articles)
    slack.fail_next("chat.postMessage", status=500, stored=True)
    assert poster.one_pass() == 1
    assert [c.status for c in slack.calls("chat.postMessage")] == [500]
    assert len(slack.workspace.messages(CHANNEL)) == 1
    assert poster.one_pass() == 0


def test_an_alert_interrupted_before_posting_is_posted_by_the_next_pass(poster_site):
    articles, store, slack, poster = poster_site
    add_subscription(store, SubscriptionSpec(CHANNEL, Filters()))
    write_article(articles, "planned.md")
    refresh(store, articles)
    collect(store, clustered=False)
    plan_alerts(store, dt.datetime.now(dt.UTC))  # then the process died: nothing posted
    assert slack.calls("chat.postMessage") == []
    assert poster.one_pass() == 1
    assert len(slack.workspace.messages(CHANNEL)) == 1


# --- personal follows: any member, alerts by direct message


def follow_answer(newsroom: Newsroom, text: str, user: str) -> str:
    post = private_answer(newsroom, text, user)
    return "\n".join(block["text"]["text"] for block in post.payload["blocks"])


def test_a_member_follows_and_an_editor_decides_in_the_direct_message(tmp_path: Path):
    with start_newsroom(tmp_path, editors=(EDITOR,)) as newsroom:
        answer = follow_answer(newsroom, "follow topics=AI min_quality=60", EDITOR)
        assert answer.startswith("Following follow1:") and "direct message" in answer
        follow_answer(newsroom, "follow topics=AI", CHIEF)  # an admin, but not an editor
        write_article(newsroom.config.articles, "beat.md", quality=75)
        dm, chiefs = dm_channel_id(EDITOR), dm_channel_id(CHIEF)
        newsroom.slack.wait_until(lambda: "beat.md" in alerts_in(newsroom, dm)
                                  and "beat.md" in alerts_in(newsroom, chiefs), timeout=WAIT)
        message = alerts_in(newsroom, dm)["beat.md"]
        assert any(b["type"] == "actions" for b in message["blocks"])
        assert not any(b["type"] == "actions"
                       for b in alerts_in(newsroom, chiefs)["beat.md"]["blocks"])
        assert alerts_in(newsroom) == {}  # no channel subscribed
        newsroom.slack.wait_until(lambda: recorded(newsroom, dm, message["ts"]))
        assert newsroom.client.reaction_added(user_id=EDITOR, reaction="x", channel_id=dm,
                                              ts=message["ts"]).status == 200
        assert newsroom.votes() == [{"article_id": "beat.md", "user_id": EDITOR,
                                     "decision": "skip"}]


def test_a_follow_is_confirmed_as_coming_here_only_in_the_direct_message(tmp_path: Path):
    """The answer to `/news follow` is shown where it was typed: in a channel the alerts
    do not come "here", they come to the member's DM with newsbot."""
    with start_newsroom(tmp_path) as newsroom:
        in_channel = follow_answer(newsroom, "follow topics=AI", EDITOR)
        assert in_channel.startswith("Following follow1:") and "here" not in in_channel
        assert in_channel.endswith("alerts come to you alone, by direct message from newsbot")
        post = private_answer(newsroom, "follow topics=Climate", EDITOR,
                              channel=dm_channel_id(EDITOR))
        in_dm = "\n".join(block["text"]["text"] for block in post.payload["blocks"])
        assert in_dm.startswith("Following follow2:")
        assert in_dm.endswith("alerts come here, by direct message")


def test_a_follow_slack_cannot_open_a_direct_message_for_is_not_stored(tmp_path: Path):
    """The alerts would have nowhere to go: the member is told, and nothing is followed."""
    with start_newsroom(tmp_path) as newsroom:
        newsroom.slack.fail_next("conversations.open", error="user_not_found")
        answer = follow_answer(newsroom, "follow topics=AI", EDITOR)
        assert answer == ("newsbot could not open a direct message with you, so nothing was"
                          " followed (Slack said user_not_found).")
        assert [c.params.get("users") for c in newsroom.slack.calls("conversations.open")] \
            == [EDITOR]
        assert newsroom.store.query("SELECT id FROM subscriptions") == []


def test_following_lists_own_follows_app_home_removes_them_and_twenty_is_the_most(
        tmp_path: Path):
    with start_newsroom(tmp_path) as newsroom:
        for n in range(20):
            assert follow_answer(newsroom, f"follow min_quality={n}",
                                 EDITOR).startswith("Following")
        refused = follow_answer(newsroom, "follow min_quality=99", EDITOR)
        assert "you already have 20 follows" in refused
        bad = follow_answer(newsroom, "follow #desk topics=AI", CHIEF)
        assert "a follow comes to you by DM: no channel" in bad
        assert follow_answer(newsroom, "following", CHIEF).startswith("You follow nothing")
        listed = follow_answer(newsroom, "following", EDITOR)
        assert listed.startswith("Your follows (20 of 20)") and "follow20" in listed
        assert "no follow with id 'follow1'" in follow_answer(newsroom, "unfollow follow1",
                                                              CHIEF)  # not theirs
        newsroom.client.app_home_opened(user_id=EDITOR)
        newsroom.slack.wait_until(lambda: newsroom.slack.workspace.home_view(EDITOR))
        home = newsroom.slack.workspace.home_view(EDITOR)
        removes = [e["value"] for b in home["blocks"] for e in b.get("elements", [])
                   if e.get("action_id") == UNFOLLOW_ACTION]
        assert removes[:2] == ["follow1", "follow2"] and len(removes) == 20
        newsroom.client.block_action(user_id=EDITOR, action_id=UNFOLLOW_ACTION,
                                     value="follow1", view=home)
        newsroom.slack.wait_until(lambda: "Removed follow1" in texts(
            newsroom.slack.workspace.home_view(EDITOR)["blocks"]))
        assert "follow1:" not in follow_answer(newsroom, "following", EDITOR)
        assert follow_answer(newsroom, "unfollow follow2", EDITOR).startswith("Removed follow2")


# --- a poster killed while it held an alert: the restarted serve posts it at once

CLAIM_AND_DIE = """
import os, signal, sys
from newsbot.bot.newsroom.digest import claim_digest
from newsbot.handlers.posting.digest_post import PROCESS
from newsbot.storage.db import Store
assert claim_digest(Store(sys.argv[1]), int(sys.argv[2]), PROCESS + ":1")
os.kill(os.getpid(), signal.SIGKILL)  # as kill -9 between claiming and posting
"""


def test_an_alert_claimed_by_a_killed_serve_is_posted_on_restart_not_after_the_lease(
        tmp_path: Path):
    """The claim's lease is 10 minutes; a restarted serve on the same host sees that its
    holder is dead and posts the alert within seconds."""
    articles = tmp_path / "articles"
    articles.mkdir()
    db = tmp_path / "newsbot.db"
    store = Store(db)
    add_subscription(store, SubscriptionSpec(CHANNEL, Filters()))
    write_article(articles, "claimed.md")
    refresh(store, articles)
    collect(store, clustered=False)
    [digest_id] = plan_alerts(store)
    store.close()
    died = subprocess.run([sys.executable, "-c", CLAIM_AND_DIE, str(db), str(digest_id)],
                          capture_output=True, text=True)
    assert died.returncode == -signal.SIGKILL, died.stderr
    with SlackLookalike() as slack:
        serve = ServeProcess(serve_environment(slack, articles, db), tmp_path).start()
        try:
            slack.wait_until(lambda: len(slack.workspace.messages(CHANNEL)) == 1,
                             timeout=WAIT)
        finally:
            serve.stop()
    assert [m["metadata"]["event_payload"]["article_id"]
            for m in slack.workspace.messages(CHANNEL)] == ["claimed.md"]


def test_only_a_claim_whose_process_is_gone_counts_as_dead():
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    host, pid, token = PROCESS.split(":")
    assert claim_holder_died(f"{host}:{gone}:abcd:1")  # its process has exited
    assert claim_holder_died(f"{host}:{pid}:{token}x:1")  # our pid, an earlier process
    assert not claim_holder_died(f"{PROCESS}:1")  # ourselves, another thread
    assert not claim_holder_died(f"{host}:1:abcd:1")  # pid 1 runs
    assert not claim_holder_died(f"other-host:{gone}:abcd:1")  # cannot tell: the lease


def test_one_channels_paced_burst_does_not_hold_up_another_channels_alert(tmp_path: Path):
    """Each channel keeps to its post a second; another channel's alert goes out beside
    the burst, not after it (serially, a 300-post burst delayed other channels 5 min)."""
    articles = tmp_path / "articles"
    articles.mkdir()
    config = Config(articles=articles, db=tmp_path / "newsbot.db", clusters_enabled=False)
    store = Store(config.db)
    channels = {CHANNEL: "newsdesk", "C0SCIENCE": "science"}
    with SlackLookalike(channels=channels) as slack:
        poster = AlertPoster(web_client(slack.bot_token, slack.base_url), store, config,
                             pace=ChannelPace(0.3))
        add_subscription(store, SubscriptionSpec(CHANNEL, Filters(topics=("AI",))))
        add_subscription(store, SubscriptionSpec("C0SCIENCE", Filters(topics=("Space",))))
        for number in range(8):
            write_article(articles, f"burst-{number}.md")
        refresh(store, articles)
        collect(store, clustered=False)
        plan_alerts(store)  # the burst is planned first
        write_article(articles, "lone.md", topics=["Space"])
        refresh(store, articles)
        assert poster.one_pass() == 9
    store.close()
    burst = [float(m["ts"]) for m in slack.workspace.messages(CHANNEL)]
    [lone] = [float(m["ts"]) for m in slack.workspace.messages("C0SCIENCE")]
    assert len(burst) == 9 and lone < max(burst)  # header + 8 in its thread, 0.3 s apart
