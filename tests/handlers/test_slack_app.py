"""End to end: the real newsbot Bolt app over real HTTP, signed requests, the Slack look-alike.

The app runs as `newsbot serve --http` does (listeners after the ack), so each test waits
for the effect it expects on the look-alike or in the database.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from conftest import (
    CHANNEL,
    CHIEF,
    EDITOR,
    Newsroom,
    digest_message,
    parsed,
    private_answer,
    run_cli,
    start_newsroom,
    texts,
    wait_for_log,
)
from newsbot.bot.app.slack_client import web_client
from newsbot.bot.newsroom.decisions import PUBLISH, SKIP, UNDO, decide
from newsbot.bot.newsroom.digest import DigestOptions, load_digest, plan_digest
from newsbot.handlers.blocks import PUBLISH_ACTION, SKIP_ACTION, UNDO_ACTION
from newsbot.handlers.posting.digest_post import DigestPostError, post_digest
from newsbot.handlers.posting.redrawer import show_decision
from newsbot.sandbox import Delivery
from newsbot.storage.index import refresh

pytestmark = pytest.mark.usefixtures("no_proxy")


# --- basics


def test_url_verification_answers_the_challenge(newsroom: Newsroom):
    answer = newsroom.client.url_verification("abc123")
    assert answer.status == 200
    assert "abc123" in json.dumps(answer.body)


def test_healthz_reports_the_database(newsroom: Newsroom):
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{newsroom.server.url}/healthz") as response:
        assert response.status == 200
        assert json.loads(response.read()) == {"ok": True, "articles": 39,
                                                  "index": {"follows": "file events"}}


# --- /news


def test_news_topic_answers_privately_in_digest_order(newsroom: Newsroom):
    answer = newsroom.client.slash_command("/news", "topic computer VISION", user_id=EDITOR,
                                           channel_id=CHANNEL)
    assert answer.status == 200
    newsroom.slack.wait_until(lambda: newsroom.slack.response_posts())
    [post] = newsroom.slack.response_posts()
    assert post.response_type == "ephemeral"
    rendered = texts(post.payload["blocks"])
    expected = newsroom.store.query(
        "SELECT a.title FROM articles a JOIN article_topics t ON t.article_id = a.id"
        " WHERE t.topic_key = 'computer vision' AND a.published = 0"
        " ORDER BY a.quality DESC, a.heat DESC, a.published_at DESC, a.id")
    positions = [rendered.index(row["title"]) for row in expected]
    assert positions == sorted(positions) and len(positions) >= 2
    assert "Computer Vision" in post.payload["text"]


def test_news_unknown_topic_suggests_close_matches(newsroom: Newsroom):
    newsroom.client.slash_command("/news", "topic climat", user_id=EDITOR, channel_id=CHANNEL)
    newsroom.slack.wait_until(lambda: newsroom.slack.response_posts())
    payload = newsroom.slack.response_posts()[0].payload
    assert "No topic named" in texts(payload["blocks"])
    assert "`Climate`" in texts(payload["blocks"])


@pytest.mark.parametrize("text", ["", "help", "frobnicate now",
                                  "<!channel> & <@U1>", "ʕ•ᴥ•ʔ " * 50])
def test_news_odd_text_answers_with_help(newsroom: Newsroom, text: str):
    answer = newsroom.client.slash_command("/news", text, user_id=EDITOR, channel_id=CHANNEL)
    assert answer.status == 200
    newsroom.slack.wait_until(lambda: newsroom.slack.response_posts())
    rendered = texts(newsroom.slack.response_posts()[0].payload["blocks"])
    assert "/news topic" in rendered
    assert "<!channel>" not in rendered


def test_news_search_topics_and_digest_preview(newsroom: Newsroom):
    for text in ("search battery storage", "topics", "digest"):
        newsroom.client.slash_command("/news", text, user_id=EDITOR, channel_id=CHANNEL)
    newsroom.slack.wait_until(lambda: len(newsroom.slack.response_posts()) == 3)
    answers = {p.payload["text"]: texts(p.payload["blocks"])
               for p in newsroom.slack.response_posts()}
    search = next(v for k, v in answers.items() if "battery storage" in k)
    assert "Battery Storage" in search
    topics = next(v for k, v in answers.items() if k.endswith("topics"))
    assert "*Climate*: 9 unpublished of 11" in topics
    preview = next(v for k, v in answers.items() if "Preview" in k)
    assert "Password Manager Vendor Discloses Breach" in preview
    assert not newsroom.slack.calls("chat.postMessage"), "a preview posts nothing"


def test_news_search_results_have_publish_and_skip_buttons(newsroom: Newsroom):
    newsroom.client.slash_command("/news", "search battery storage", user_id=EDITOR,
                                  channel_id=CHANNEL)
    newsroom.slack.wait_until(lambda: newsroom.slack.response_posts())
    answer = newsroom.slack.response_posts()[0].payload
    article_id = first_button(answer, PUBLISH_ACTION)
    assert first_button(answer, SKIP_ACTION) == article_id
    assert "Battery Storage" in newsroom.store.query(
        "SELECT title FROM articles WHERE id = ?", [article_id])[0]["title"]


# --- digest posting


def test_digest_posts_header_and_articles_in_its_thread(newsroom: Newsroom):
    plan = newsroom.post_digest(top=3)
    posts = newsroom.slack.calls("chat.postMessage")
    assert len(posts) == 4
    header, *articles = posts
    assert header.params["text"].startswith("Top 3 unpublished articles, ")
    assert all(call.params["thread_ts"] == header.response["ts"] for call in articles)
    assert [m.ts for m in plan.messages] == [call.response["ts"] for call in articles]
    first = parsed(articles[0].params["blocks"])
    assert "Password Manager Vendor Discloses Breach" in texts(first)
    assert articles[0].params["text"].startswith("Password Manager Vendor")  # fallback text


def test_an_undecided_article_is_not_posted_to_the_same_channel_again(newsroom: Newsroom):
    first = newsroom.post_digest(top=3)
    second = newsroom.post_digest(top=3)
    first_ids = {m.article.id for m in first.messages}
    second_ids = {m.article.id for m in second.messages}
    assert len(second_ids) == 3 and not first_ids & second_ids


def test_repost_after_days_allows_an_old_post_again(newsroom: Newsroom):
    import datetime as dt

    first = newsroom.post_digest(top=2)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    again = plan_digest(newsroom.store, CHANNEL, DigestOptions(top=2), repost_after_days=2,
                        now=later)
    assert [m.article.id for m in again.messages] == [m.article.id for m in first.messages]


def test_interrupted_digest_resumes_without_duplicates(newsroom: Newsroom):
    slack = newsroom.slack
    posted = []

    def fail_after_two_articles(change) -> None:
        posted.append(change)
        if len(slack.calls("chat.postMessage")) == 3:  # header + 2 articles
            slack.fail_next("chat.postMessage", error="not_in_channel")

    unsubscribe = slack.subscribe(fail_after_two_articles)
    with pytest.raises(DigestPostError):
        newsroom.post_digest(top=4)
    unsubscribe()
    [digest] = newsroom.store.query("SELECT id, status FROM digests")
    assert digest["status"] == "failed"
    resumed = newsroom.post_digest(top=4)
    assert resumed.id == digest["id"] and resumed.status == "done"
    good_posts = [c for c in slack.calls("chat.postMessage") if c.ok]
    article_posts = [c for c in good_posts if c.params.get("thread_ts")]
    assert len(good_posts) == 5 and len(article_posts) == 4
    assert len({parsed(c.params["metadata"])["event_payload"]["position"]
                for c in article_posts}) == 4


def test_a_message_slack_has_but_the_database_lost_is_adopted_not_reposted(newsroom: Newsroom):
    plan = newsroom.post_digest(top=3)
    lost = plan.messages[1]
    # The state a crash between Slack's answer and our write leaves behind:
    with newsroom.store.write() as db:
        db.execute("UPDATE digest_messages SET ts = NULL, posted_at = NULL"
                   " WHERE digest_id = ? AND position = ?", [plan.id, lost.position])
        db.execute("UPDATE digests SET status = 'failed' WHERE id = ?", [plan.id])
    before = len(newsroom.slack.calls("chat.postMessage"))
    resumed = newsroom.post_digest(top=3)
    assert len(newsroom.slack.calls("chat.postMessage")) == before
    assert resumed.messages[1].ts == lost.ts and resumed.status == "done"


def test_rate_limited_posts_are_retried(newsroom: Newsroom):
    newsroom.slack.fail_next("chat.postMessage", status=429, retry_after=0)
    plan = newsroom.post_digest(top=1)
    statuses = [c.status for c in newsroom.slack.calls("chat.postMessage")]
    assert statuses[0] == 429 and statuses.count(200) == 2
    assert plan.status == "done"


def test_empty_digest_posts_one_nothing_new_line(tmp_path: Path):
    with start_newsroom(tmp_path) as newsroom:
        plan = newsroom.post_digest(top=5)
        nothing = plan_digest(newsroom.store, CHANNEL, DigestOptions(top=5, topics=("Nope",)))
        post_digest(web_client(newsroom.slack.bot_token, newsroom.slack.base_url),
                    newsroom.store, nothing)
        last = newsroom.slack.calls("chat.postMessage")[-1]
        assert last.params["text"].startswith("Nothing new to review")
        assert plan.status == "done"


# --- decisions by reaction


def test_publish_reaction_records_a_decision_and_updates_the_message(newsroom: Newsroom):
    message = digest_message(newsroom)
    answer = newsroom.client.reaction_added(user_id=EDITOR, reaction="white_check_mark",
                                            channel_id=CHANNEL, ts=message.ts, event_id="Ev1")
    assert answer.status == 200
    newsroom.slack.wait_until(lambda: newsroom.slack.calls("chat.update"))
    [row] = newsroom.log_rows()
    assert (row["article_id"], row["action"], row["user_id"], row["event_key"],
            row["outcome"]) == (message.article.id, "publish", EDITOR, "Ev1", "recorded")
    update = newsroom.slack.calls("chat.update")[0]
    assert update.params["ts"] == message.ts
    assert "*Published* by <@U0EDITOR>" in texts(update.params["blocks"])
    assert newsroom.votes() == [{"article_id": message.article.id, "user_id": EDITOR,
                                 "decision": "publish"}]


def test_retries_and_duplicates_of_an_event_record_nothing_new(tmp_path: Path):
    with start_newsroom(tmp_path, manual_redraw=True) as newsroom:
        check_retries_and_duplicates(newsroom)


def check_retries_and_duplicates(newsroom: Newsroom) -> None:
    message = digest_message(newsroom)
    event = dict(user_id=EDITOR, reaction="x", channel_id=CHANNEL, ts=message.ts,
                 event_id="EvSame")
    newsroom.client.reaction_added(**event)
    wait_for_log(newsroom, 1)
    newsroom.client.reaction_added(**event, delivery=Delivery(retry_num=1,
                                                              retry_reason="http_timeout"))
    newsroom.client.reaction_added(**event)  # a duplicate without retry headers
    newsroom.client.reaction_added(user_id=CHIEF, reaction="white_check_mark",
                                   channel_id=CHANNEL, ts=message.ts, event_id="EvNext")
    rows = wait_for_log(newsroom, 2)
    assert [r["event_key"] for r in rows] == ["EvSame", "EvNext"]
    wait_for_queued_duplicates(newsroom, 2)
    # every delivery queues a redraw (a redelivery repairs a failed one); the queue holds
    # one row per article, so one pass draws the message once, with the standing decision
    assert newsroom.redrawer.redraw_now() == 1
    [update] = newsroom.slack.calls("chat.update")
    assert update.params["ts"] == message.ts
    assert "*Published* by <@U0CHIEF>" in texts(
        newsroom.slack.workspace.message(CHANNEL, message.ts)["blocks"])
    assert newsroom.redrawer.redraw_now() == 0


def wait_for_queued_duplicates(newsroom: Newsroom, count: int) -> None:
    """Wait until `count` duplicate deliveries have been handled (each logs its outcome)."""
    newsroom.slack.wait_until(lambda: len(DUPLICATES.seen) >= count)


class _Duplicates(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "outcome", None) == "duplicate":
            self.seen.append(record.getMessage())


DUPLICATES = _Duplicates()


@pytest.fixture(autouse=True)
def _count_duplicates():
    logger = logging.getLogger("newsbot.handlers.listeners.reactions")
    DUPLICATES.seen.clear()
    logger.addHandler(DUPLICATES)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.removeHandler(DUPLICATES)
    logger.setLevel(level)


def test_a_redelivered_event_repairs_a_redraw_that_failed(tmp_path: Path):
    with start_newsroom(tmp_path, manual_redraw=True) as newsroom:
        check_redelivery_repairs(newsroom)


def check_redelivery_repairs(newsroom: Newsroom) -> None:
    message = digest_message(newsroom)
    event = dict(user_id=EDITOR, reaction="white_check_mark", channel_id=CHANNEL, ts=message.ts,
                 event_id="EvFlaky")
    newsroom.slack.fail_next("chat.update", error="internal_error")
    newsroom.client.reaction_added(**event)
    wait_for_log(newsroom, 1)
    assert newsroom.redrawer.redraw_now() == 1
    assert "*Published* by" not in texts(
        newsroom.slack.workspace.message(CHANNEL, message.ts)["blocks"])
    assert newsroom.redrawer.redraw_now() == 0  # a failed redraw is not retried on its own
    newsroom.client.reaction_added(**event, delivery=Delivery(retry_num=1,
                                                              retry_reason="http_timeout"))
    wait_for_queued_duplicates(newsroom, 1)
    assert newsroom.redrawer.redraw_now() == 1
    assert [c.ok for c in newsroom.slack.calls("chat.update")] == [False, True]
    assert "*Published* by <@U0EDITOR>" in texts(
        newsroom.slack.workspace.message(CHANNEL, message.ts)["blocks"])
    assert len(newsroom.log_rows()) == 1


def test_a_late_redraw_shows_the_decision_standing_now(newsroom: Newsroom):
    """The redraw of an earlier vote that runs after a later vote's must not undo it."""
    message = digest_message(newsroom)
    article_id = message.article.id
    decide(newsroom.store, article_id, SKIP, EDITOR, source="reaction", event_key="EvEarly")
    decide(newsroom.store, article_id, PUBLISH, CHIEF, source="reaction", event_key="EvLate")
    client = web_client(newsroom.slack.bot_token, newsroom.slack.base_url)
    show_decision(client, newsroom.store, CHANNEL, message.ts, article_id)  # EvLate's redraw
    show_decision(client, newsroom.store, CHANNEL, message.ts, article_id)  # EvEarly's, late
    shown = texts(newsroom.slack.workspace.message(CHANNEL, message.ts)["blocks"])
    assert "*Published* by <@U0CHIEF>" in shown and "*Skipped* by" not in shown


def test_removing_the_reaction_retracts_and_the_message_says_so(newsroom: Newsroom):
    message = digest_message(newsroom)
    def shown() -> str:
        return texts(newsroom.slack.workspace.message(CHANNEL, message.ts)["blocks"])

    newsroom.client.reaction_added(user_id=EDITOR, reaction="x", channel_id=CHANNEL,
                                   ts=message.ts, event_id="Ev1")
    newsroom.slack.wait_until(lambda: "*Skipped* by" in shown())
    newsroom.client.reaction_removed(user_id=EDITOR, reaction="x", channel_id=CHANNEL,
                                     ts=message.ts, event_id="Ev2")
    rows = wait_for_log(newsroom, 2)
    assert [r["outcome"] for r in rows] == ["recorded", "retracted"]
    newsroom.slack.wait_until(lambda: len(newsroom.slack.calls("chat.update")) == 2)
    assert "*Skipped* by" not in texts(newsroom.slack.calls("chat.update")[-1].params["blocks"])
    assert newsroom.votes() == []


def test_removing_another_emoji_does_not_retract_a_later_decision(newsroom: Newsroom):
    message = digest_message(newsroom)
    for n, (kind, reaction) in enumerate([("added", "white_check_mark"), ("added", "x"),
                                          ("removed", "white_check_mark")]):
        send = newsroom.client.reaction_added if kind == "added" else \
            newsroom.client.reaction_removed
        send(user_id=EDITOR, reaction=reaction, channel_id=CHANNEL, ts=message.ts,
             event_id=f"Ev{n}")
        wait_for_log(newsroom, n + 1)
    assert newsroom.votes()[0]["decision"] == "skip"


def test_latest_standing_decision_wins_and_withdrawal_restores_the_earlier(newsroom: Newsroom):
    message = digest_message(newsroom)
    newsroom.client.reaction_added(user_id=EDITOR, reaction="x", channel_id=CHANNEL,
                                   ts=message.ts, event_id="Ev1")
    wait_for_log(newsroom, 1)
    newsroom.client.reaction_added(user_id=CHIEF, reaction="white_check_mark",
                                   channel_id=CHANNEL, ts=message.ts, event_id="Ev2")
    wait_for_log(newsroom, 2)
    [standing] = newsroom.store.query("SELECT decision, user_id FROM decisions")
    assert standing == {"decision": "publish", "user_id": CHIEF}
    newsroom.client.reaction_removed(user_id=CHIEF, reaction="white_check_mark",
                                     channel_id=CHANNEL, ts=message.ts, event_id="Ev3")
    wait_for_log(newsroom, 3)
    [standing] = newsroom.store.query("SELECT decision, user_id FROM decisions")
    assert standing == {"decision": "skip", "user_id": EDITOR}


def test_ignored_reactions_leave_no_trace(newsroom: Newsroom, caplog: pytest.LogCaptureFixture):
    plan = newsroom.post_digest(top=2)
    article_ts = plan.messages[0].ts
    header_ts = plan.header_ts
    send = newsroom.client.reaction_added
    ignored = {
        "EvBot": dict(user_id="U0NEWSBOT", reaction="white_check_mark", ts=article_ts),
        "EvTada": dict(user_id=EDITOR, reaction="tada", ts=article_ts),
        "EvHeader": dict(user_id=EDITOR, reaction="white_check_mark", ts=header_ts),
        "EvNowhere": dict(user_id=EDITOR, reaction="white_check_mark", ts="1.000001"),
    }
    with caplog.at_level(logging.DEBUG, logger="newsbot.handlers.listeners.reactions"):
        # the one that counts first: an ignored event handled after it must change nothing
        send(user_id=EDITOR, reaction="white_check_mark::skin-tone-3", channel_id=CHANNEL,
             ts=article_ts, event_id="EvReal")
        for event_id, event in ignored.items():
            send(channel_id=CHANNEL, event_id=event_id, **event)
        # wait until every event was handled, in whatever order the app's threads ran them
        # (Bolt drops the bot's own event in its middleware, before it answers the request)
        newsroom.slack.wait_until(lambda: set(ignored) - {"EvBot"} <= {
            getattr(r, "event_id", None) for r in caplog.records
            if r.getMessage().startswith("reaction ignored")})
        rows = wait_for_log(newsroom, 1)
    assert [r["event_key"] for r in rows] == ["EvReal"]
    assert newsroom.votes() == [{"article_id": plan.messages[0].article.id, "user_id": EDITOR,
                                 "decision": "publish"}]


def test_malformed_events_do_not_crash_the_app(newsroom: Newsroom):
    client = newsroom.client
    assert client.send_event({"type": "reaction_added"}).status == 200
    assert client.send_event({"type": "reaction_added", "user": EDITOR, "reaction": "x",
                              "item": {"type": "file", "file": "F1"}}).status == 200
    assert client.post("this is not json", "application/json").status == 200  # nothing done
    assert client.post("payload=%7Bbroken", "application/x-www-form-urlencoded").status == 200
    message = digest_message(newsroom)
    client.reaction_added(user_id=EDITOR, reaction="x", channel_id=CHANNEL, ts=message.ts,
                          event_id="EvAfter")
    assert wait_for_log(newsroom, 1)[0]["event_key"] == "EvAfter"


def test_bad_signature_and_old_timestamp_get_401_and_record_nothing(newsroom: Newsroom):
    message = digest_message(newsroom)
    for delivery in (Delivery(bad_signature=True), Delivery(age_seconds=6 * 60)):
        answer = newsroom.client.reaction_added(
            user_id=EDITOR, reaction="x", channel_id=CHANNEL, ts=message.ts, delivery=delivery)
        assert answer.status == 401
        answer = newsroom.client.slash_command("/news", "topics", user_id=EDITOR,
                                               channel_id=CHANNEL, delivery=delivery)
        assert answer.status == 401
    assert newsroom.log_rows() == []
    assert newsroom.slack.response_posts() == []


def test_only_editors_may_decide_when_a_list_is_set(tmp_path: Path):
    with start_newsroom(tmp_path, editors=(CHIEF,)) as newsroom:
        message = digest_message(newsroom)
        newsroom.client.reaction_added(user_id=EDITOR, reaction="x", channel_id=CHANNEL,
                                       ts=message.ts, event_id="EvNo")
        newsroom.slack.wait_until(lambda: newsroom.slack.calls("chat.postEphemeral"))
        note = newsroom.slack.calls("chat.postEphemeral")[0]
        assert note.params["user"] == EDITOR and "editors" in note.params["text"]
        newsroom.client.reaction_added(user_id=CHIEF, reaction="x", channel_id=CHANNEL,
                                       ts=message.ts, event_id="EvYes")
        assert [r["event_key"] for r in wait_for_log(newsroom, 1)] == ["EvYes"]


def test_a_decision_on_an_article_gone_from_the_index_is_refused_privately(
        newsroom: Newsroom, caplog: pytest.LogCaptureFixture):
    message = digest_message(newsroom)
    path = newsroom.config.articles / message.article.id
    path.rename(path.with_name(path.name + ".renamed.md"))
    refresh(newsroom.store, newsroom.config.articles)
    stored = newsroom.slack.workspace.message(CHANNEL, message.ts)
    with caplog.at_level(logging.INFO):
        assert newsroom.client.reaction_added(user_id=EDITOR, reaction="white_check_mark",
                                              channel_id=CHANNEL, ts=message.ts,
                                              event_id="EvGone").status == 200
        newsroom.slack.wait_until(lambda: newsroom.slack.calls("chat.postEphemeral"))
        newsroom.client.block_action(user_id=EDITOR, action_id=PUBLISH_ACTION,
                                     value=message.article.id, channel_id=CHANNEL,
                                     message=stored)
        newsroom.slack.wait_until(lambda: newsroom.slack.response_posts())
    note = newsroom.slack.calls("chat.postEphemeral")[0].params
    assert note["user"] == EDITOR and "no longer in the index" in note["text"]
    reply = newsroom.slack.response_posts()[0]
    assert reply.response_type == "ephemeral" and "no longer in the index" in reply.payload[
        "text"]
    assert newsroom.log_rows() == [] and newsroom.votes() == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(r.getMessage() == "reaction ignored: the article is no longer indexed"
               for r in caplog.records)


def test_a_reaction_on_an_article_whose_file_broke_is_refused_privately(newsroom: Newsroom):
    message = digest_message(newsroom)
    path = newsroom.config.articles / message.article.id
    path.write_text(path.read_text(encoding="utf-8").replace("\nquality: ", "\nquality: high #", 1),
                    encoding="utf-8")
    refresh(newsroom.store, newsroom.config.articles)
    newsroom.client.reaction_added(user_id=EDITOR, reaction="x", channel_id=CHANNEL,
                                   ts=message.ts, event_id="EvBroken")
    newsroom.slack.wait_until(lambda: newsroom.slack.calls("chat.postEphemeral"))
    note = newsroom.slack.calls("chat.postEphemeral")[0].params["text"]
    assert "cannot be used" in note and "not recorded" in note
    assert newsroom.log_rows() == [] and newsroom.votes() == []


# --- decisions by button


def test_buttons_show_the_decision_a_second_click_changes_nothing_and_undo_withdraws(
        newsroom: Newsroom):
    message = digest_message(newsroom)
    stored = newsroom.slack.workspace.message(CHANNEL, message.ts)
    click = dict(user_id=EDITOR, value=message.article.id, channel_id=CHANNEL)
    assert newsroom.client.block_action(action_id=PUBLISH_ACTION, message=stored,
                                        **click).status == 200
    wait_for_log(newsroom, 1)
    newsroom.slack.wait_until(lambda: newsroom.slack.calls("chat.update"))
    redrawn = newsroom.slack.workspace.message(CHANNEL, message.ts)
    labels = [e["text"]["text"] for e in redrawn["blocks"][-1]["elements"]]
    assert labels == ["Published \u2713", "Skip", "Undo"]
    assert "*Published* by <@U0EDITOR>" in texts(redrawn["blocks"])

    newsroom.client.block_action(action_id=PUBLISH_ACTION, message=stored, **click)  # stale
    newsroom.slack.wait_until(lambda: newsroom.slack.response_posts())
    assert "already chose publish" in newsroom.slack.response_posts()[0].payload["text"]
    # the stale click is in the log (clicks are replayed in action time), the vote unchanged
    assert newsroom.votes()[0]["decision"] == "publish" and len(newsroom.log_rows()) == 2

    newsroom.client.block_action(action_id=UNDO_ACTION, message=redrawn, **click)
    rows = wait_for_log(newsroom, 3)
    assert [(r["action"], r["source"]) for r in rows] == [
        ("publish", "button"), ("publish", "button"), ("undo", "button")]
    assert rows[-1]["outcome"] == "retracted"
    assert newsroom.votes() == []
    newsroom.slack.wait_until(lambda: "Published" not in texts(
        newsroom.slack.workspace.message(CHANNEL, message.ts)["blocks"]))
    newsroom.client.block_action(action_id=SKIP_ACTION, message=stored, **click)
    wait_for_log(newsroom, 4)
    assert newsroom.votes()[0]["decision"] == "skip"


def test_undo_of_a_colleagues_decision_is_explained_and_changes_nothing(newsroom: Newsroom):
    message = digest_message(newsroom)
    decide(newsroom.store, message.article.id, PUBLISH, CHIEF, source="cli")
    stored = newsroom.slack.workspace.message(CHANNEL, message.ts)
    newsroom.client.block_action(user_id=EDITOR, action_id=UNDO_ACTION,
                                 value=message.article.id, channel_id=CHANNEL, message=stored)
    newsroom.slack.wait_until(lambda: newsroom.slack.response_posts())
    reply = newsroom.slack.response_posts()[0].payload["text"]
    assert "<@U0CHIEF>'s: only they can undo it" in reply
    rows = newsroom.log_rows()  # the click is logged, and changed nothing
    assert [(r["user_id"], r["action"], r["outcome"]) for r in rows[1:]] == [
        (EDITOR, "undo", "no-op")]
    assert [(v["user_id"], v["decision"]) for v in newsroom.votes()] == [(CHIEF, "publish")]


def first_button(view: dict, action_id: str) -> str:
    """The article id on the first `action_id` button of a view or message."""
    for block in view["blocks"]:
        for element in block.get("elements", []) + [block.get("accessory") or {}]:
            if element.get("action_id") == action_id:
                return element["value"]
    raise AssertionError(f"no {action_id} button")


def open_home(newsroom: Newsroom, user: str) -> dict:
    """The Home tab as Slack stores it for `user` after they open it."""
    before = len(newsroom.slack.calls("views.publish"))
    newsroom.client.app_home_opened(user_id=user)
    newsroom.slack.wait_until(lambda: len(newsroom.slack.calls("views.publish")) > before)
    return newsroom.slack.workspace.home_view(user)


def next_home_publish(newsroom: Newsroom, before: int) -> dict:
    newsroom.slack.wait_until(lambda: len(newsroom.slack.calls("views.publish")) > before)
    call = newsroom.slack.calls("views.publish")[before]
    assert call.ok, call.response
    return call


def test_a_click_in_the_home_tab_decides_and_the_home_tab_shows_it(
        newsroom: Newsroom, caplog: pytest.LogCaptureFixture):
    view = open_home(newsroom, EDITOR)
    article_id = first_button(view, PUBLISH_ACTION)
    before = len(newsroom.slack.calls("views.publish"))
    with caplog.at_level(logging.ERROR):
        answer = newsroom.client.block_action(user_id=EDITOR, action_id=PUBLISH_ACTION,
                                              value=article_id, view=view)
        call = next_home_publish(newsroom, before)
    assert answer.status == 200
    assert call.params["user_id"] == EDITOR
    republished = texts(parsed(call.params["view"])["blocks"])
    title = newsroom.store.query("SELECT title FROM articles WHERE id = ?", [article_id])[0]
    assert f"Recorded: publish *{title['title']}*" in republished
    blocks = parsed(call.params["view"])["blocks"]
    queue_values = [e.get("value") for b in blocks[1:] for e in b.get("elements", [])]
    assert article_id not in queue_values  # decided: out of the queue
    undo = blocks[0]["accessory"]  # Undo beside the note of the decision just recorded
    assert (undo["action_id"], undo["value"]) == (UNDO_ACTION, article_id)
    assert newsroom.votes() == [{"article_id": article_id, "user_id": EDITOR,
                                 "decision": "publish"}]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_non_editor_clicking_in_the_home_tab_is_told_and_nothing_is_recorded(
        tmp_path: Path, caplog: pytest.LogCaptureFixture):
    with start_newsroom(tmp_path, editors=(CHIEF,)) as newsroom:
        view = open_home(newsroom, EDITOR)
        before = len(newsroom.slack.calls("views.publish"))
        with caplog.at_level(logging.ERROR):
            newsroom.client.block_action(user_id=EDITOR, action_id=SKIP_ACTION,
                                         value=first_button(view, SKIP_ACTION), view=view)
            call = next_home_publish(newsroom, before)
        assert call.params["user_id"] == EDITOR
        assert "Only the newsroom's editors" in texts(parsed(call.params["view"])["blocks"])
        assert newsroom.log_rows() == []
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_click_in_a_news_answer_is_confirmed_privately(newsroom: Newsroom):
    newsroom.client.slash_command("/news", "digest", user_id=EDITOR, channel_id=CHANNEL)
    newsroom.slack.wait_until(lambda: newsroom.slack.response_posts())
    answer = newsroom.slack.response_posts()[0].payload
    article_id = first_button(answer, SKIP_ACTION)
    newsroom.client.block_action(user_id=EDITOR, action_id=SKIP_ACTION, value=article_id,
                                 channel_id=CHANNEL, message={"ts": "1700000000.000100",
                                                              "blocks": answer["blocks"]},
                                 ephemeral=True)
    newsroom.slack.wait_until(lambda: len(newsroom.slack.response_posts()) == 2)
    reply = newsroom.slack.response_posts()[1]
    assert reply.response_type == "ephemeral" and reply.payload["text"].startswith(
        "Recorded: skip *")
    assert newsroom.votes()[0]["article_id"] == article_id


def test_decided_articles_leave_the_digest(newsroom: Newsroom):
    message = digest_message(newsroom)
    newsroom.client.reaction_added(user_id=EDITOR, reaction="white_check_mark",
                                   channel_id=CHANNEL, ts=message.ts, event_id="Ev1")
    wait_for_log(newsroom, 1)
    again = plan_digest(newsroom.store, "C0OTHER", DigestOptions(top=10))
    assert message.article.id not in {m.article.id for m in again.messages}
    assert load_digest(newsroom.store, again.id).status == "planned"


# --- App Home


def test_app_home_shows_the_queue_and_recent_decisions(newsroom: Newsroom):
    message = digest_message(newsroom)
    newsroom.client.reaction_added(user_id=EDITOR, reaction="x", channel_id=CHANNEL,
                                   ts=message.ts, event_id="Ev1")
    wait_for_log(newsroom, 1)
    newsroom.client.app_home_opened(user_id=EDITOR)
    newsroom.slack.wait_until(lambda: newsroom.slack.calls("views.publish"))
    call = newsroom.slack.calls("views.publish")[0]
    assert call.ok, call.response
    view = texts(parsed(call.params["view"])["blocks"])
    assert "Newsroom queue" in view and "Recent decisions" in view
    assert f"<@{EDITOR}> skipped *{message.article.title}*" in view
    assert "No schedules yet" in view


def test_app_home_lists_the_schedules(newsroom: Newsroom):
    answer_text(newsroom, f'schedule add {CHANNEL} "30 8 * * mon-fri" tz=Europe/Paris', CHIEF)
    newsroom.client.app_home_opened(user_id=EDITOR)
    newsroom.slack.wait_until(lambda: newsroom.slack.calls("views.publish"))
    call = newsroom.slack.calls("views.publish")[0]
    assert call.ok, call.response
    view = texts(parsed(call.params["view"])["blocks"])
    assert '30 8 * * mon-fri' in view and "Europe/Paris" in view and "next " in view


# --- /news schedule and /news sync: admins only for changes


def answer_text(newsroom: Newsroom, text: str, user: str) -> str:
    return texts(private_answer(newsroom, text, user).payload["blocks"])


def test_schedule_changes_from_slack_are_for_admins_only(newsroom: Newsroom):
    refused = answer_text(newsroom, f'schedule add <#{CHANNEL}|newsdesk> "0 9 * * 1-5"', EDITOR)
    assert "Only newsbot admins" in refused
    assert newsroom.store.query("SELECT * FROM schedules") == []
    added = answer_text(newsroom, f'schedule add <#{CHANNEL}|newsdesk> "0 9 * * 1-5" top=5',
                        CHIEF)
    assert "Scheduled s1" in added and "America/New_York" in added  # the admin's own zone
    [row] = newsroom.store.query("SELECT id, channel, cron, tz, top FROM schedules")
    assert row == {"id": "s1", "channel": CHANNEL, "cron": "0 9 * * 1-5",
                   "tz": "America/New_York", "top": 5}
    listed = answer_text(newsroom, "schedule list", EDITOR)  # everyone may list
    assert "s1" in listed and "0 9 * * 1-5" in listed
    assert "Only newsbot admins" in answer_text(newsroom, "schedule pause s1", EDITOR)
    assert "paused" in answer_text(newsroom, "schedule pause s1", CHIEF).lower()
    assert newsroom.store.query("SELECT enabled FROM schedules") == [{"enabled": 0}]


def test_schedule_mistakes_are_explained(newsroom: Newsroom):
    bad_cron = answer_text(newsroom, f'schedule add {CHANNEL} "0 25 * * *"', CHIEF)
    assert "hour field '25'" in bad_cron
    bad_zone = answer_text(newsroom, f'schedule add {CHANNEL} "0 9 * * *" tz=Mars/Olympus',
                           CHIEF)
    assert "Mars/Olympus" in bad_zone
    no_channel = answer_text(newsroom, 'schedule add C0NOWHERE "0 9 * * *"', CHIEF)
    assert "unknown channel C0NOWHERE" in no_channel
    preview = answer_text(newsroom, 'schedule preview "0 9 * * 0" tz=Europe/London', EDITOR)
    assert "Sun" in preview or "Sunday" in preview or "+00:00" in preview
    assert newsroom.store.query("SELECT * FROM schedules") == []


def test_sync_from_slack_writes_one_line_for_an_admin_only(newsroom: Newsroom):
    message = digest_message(newsroom)
    newsroom.client.reaction_added(user_id=EDITOR, reaction="white_check_mark",
                                   channel_id=CHANNEL, ts=message.ts, event_id="Ev1")
    wait_for_log(newsroom, 1)
    path = newsroom.config.articles / message.article.id
    before = path.read_bytes()
    assert "Only newsbot admins" in answer_text(newsroom, "sync", EDITOR)
    assert path.read_bytes() == before
    summary = answer_text(newsroom, "sync", CHIEF)
    assert "Wrote 1 file(s)" in summary and message.article.id in summary
    after = path.read_bytes()
    assert after == before.replace(b"published: false", b"published: true", 1)


def test_a_burst_of_votes_is_one_redraw_showing_the_standing_decision(tmp_path: Path):
    with start_newsroom(tmp_path, manual_redraw=True) as newsroom:
        check_burst(newsroom)


def check_burst(newsroom: Newsroom) -> None:
    message = digest_message(newsroom)
    users = [f"U0ED{n:03d}" for n in range(20)]
    for n, user in enumerate(users):
        newsroom.client.reaction_added(user_id=user, reaction="x" if n % 2 else
                                       "white_check_mark", channel_id=CHANNEL, ts=message.ts,
                                       event_id=f"EvBurst{n}")
    wait_for_log(newsroom, 20)
    [standing] = newsroom.store.query("SELECT decision, user_id FROM decisions")
    label = "Published" if standing["decision"] == "publish" else "Skipped"
    assert newsroom.redrawer.redraw_now() == 1
    [update] = newsroom.slack.calls("chat.update")
    assert update.params["ts"] == message.ts
    assert f"*{label}* by <@{standing['user_id']}>" in texts(
        newsroom.slack.workspace.message(CHANNEL, message.ts)["blocks"])


# --- one truth on every surface: every decision redraws its article's message


def test_a_decision_on_each_surface_causes_exactly_one_update_of_its_message(tmp_path: Path):
    with start_newsroom(tmp_path, manual_redraw=True) as newsroom:
        plan = newsroom.post_digest(top=3)
        message_of = {m.article.id: m.ts for m in plan.messages}

        def exactly_one_update(article_id: str, shown: str) -> None:
            before = len(newsroom.slack.calls("chat.update"))
            assert newsroom.redrawer.redraw_now() == 1
            updates = newsroom.slack.calls("chat.update")[before:]
            assert [u.params["ts"] for u in updates] == [message_of[article_id]]
            assert shown in texts(newsroom.slack.workspace.message(
                CHANNEL, message_of[article_id])["blocks"])
            assert newsroom.redrawer.redraw_now() == 0

        # Skip from App Home
        view = open_home(newsroom, EDITOR)
        skipped = first_button(view, SKIP_ACTION)
        assert skipped in message_of
        newsroom.client.block_action(user_id=EDITOR, action_id=SKIP_ACTION, value=skipped,
                                     view=view)
        wait_for_log(newsroom, 1)
        exactly_one_update(skipped, "*Skipped* by <@U0EDITOR>")

        # Publish from a /news answer
        newsroom.client.slash_command("/news", "digest", user_id=CHIEF, channel_id=CHANNEL)
        newsroom.slack.wait_until(lambda: newsroom.slack.response_posts())
        answer = newsroom.slack.response_posts()[0].payload
        published = first_button(answer, PUBLISH_ACTION)
        assert published in message_of and published != skipped
        newsroom.client.block_action(user_id=CHIEF, action_id=PUBLISH_ACTION, value=published,
                                     channel_id=CHANNEL, ephemeral=True,
                                     message={"ts": "1700000000.000100",
                                              "blocks": answer["blocks"]})
        wait_for_log(newsroom, 2)
        exactly_one_update(published, "*Published* by <@U0CHIEF>")

        # `newsbot decide` in another process
        [third] = set(message_of) - {skipped, published}
        done = run_cli("decide", third, "publish", "--user", "U0ANA", "--db",
                       str(newsroom.config.db), "--articles", str(newsroom.config.articles),
                       cwd=tmp_path)
        assert done.code == 0, done.stderr
        exactly_one_update(third, "*Published* by <@U0ANA>")

        # `newsbot sync` writing the files: each message says its decision is in the file
        done = run_cli("sync", "--db", str(newsroom.config.db), "--articles",
                       str(newsroom.config.articles), cwd=tmp_path)
        assert done.code == 0, done.stderr
        before = len(newsroom.slack.calls("chat.update"))
        assert newsroom.redrawer.redraw_now() == 3
        updated = {u.params["ts"] for u in newsroom.slack.calls("chat.update")[before:]}
        assert updated == set(message_of.values())
        assert "written to the file" in texts(newsroom.slack.workspace.message(
            CHANNEL, message_of[third])["blocks"])


def test_the_running_bot_redraws_a_decision_made_in_another_process(newsroom: Newsroom):
    message = digest_message(newsroom)
    done = run_cli("decide", message.article.id, "skip", "--user", "U0ANA", "--db",
                   str(newsroom.config.db), "--articles", str(newsroom.config.articles),
                   cwd=newsroom.config.db.parent)
    assert done.code == 0, done.stderr
    newsroom.slack.wait_until(lambda: "*Skipped* by <@U0ANA>" in texts(
        newsroom.slack.workspace.message(CHANNEL, message.ts)["blocks"]))
    [update] = newsroom.slack.calls("chat.update")
    assert update.params["ts"] == message.ts


def test_app_home_shows_outcomes_and_mentions(newsroom: Newsroom):
    message = digest_message(newsroom)
    title = message.article.title
    decide(newsroom.store, message.article.id, PUBLISH, EDITOR, source="button")
    decide(newsroom.store, message.article.id, UNDO, EDITOR, source="button")
    decide(newsroom.store, message.article.id, SKIP, CHIEF, source="reaction")
    answer_text(newsroom, f'schedule add <#{CHANNEL}|newsdesk> "0 9 * * 1-5"', CHIEF)
    view = texts(open_home(newsroom, EDITOR)["blocks"])
    assert f"<@{EDITOR}>'s vote on *{title}* withdrawn" in view
    assert f"<@{EDITOR}> published *{title}* — withdrawn" in view
    assert f"<@{CHIEF}> skipped *{title}* (reaction" in view  # standing: no outcome note
    assert f's1: <#{CHANNEL}> \\"0 9 * * 1-5\\"' in view and f"by <@{CHIEF}>" in view
    assert f" {CHANNEL} " not in view and "U0CHIEF," not in view
    assert "next digest <!date^" in view and " UTC>" in view  # each reader's own zone


def test_news_topic_reads_text_as_slack_escapes_it(newsroom: Newsroom):
    from conftest import write_article

    write_article(newsroom.config.articles, "arts/one.md", title="Gallery reopens",
                  topics=["Arts & Culture"])
    refresh(newsroom.store, newsroom.config.articles)
    shown = answer_text(newsroom, "topic arts &amp; culture", EDITOR)  # as Slack sends "&"
    assert "Gallery reopens" in shown and "Arts &amp; Culture" in shown
