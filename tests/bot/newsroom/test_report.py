"""The editorial report: a decision history made through the command line and signed Slack
events, and every number of `newsbot report --json` checked against it."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from conftest import (
    CHANNEL,
    CHIEF,
    EDITOR,
    Raw,
    article_text,
    wait_for_log,
    write_article,
    write_raw,
)

ALICE, BOB = "U0ALICE", "U0BOB"


def noon(days_ago: int) -> dt.datetime:
    """Noon UTC `days_ago` days before today (today: half a minute after midnight)."""
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if days_ago == 0:
        return today + dt.timedelta(seconds=30)
    return today - dt.timedelta(days=days_ago) + dt.timedelta(hours=12)


def stamp(moment: dt.datetime) -> Raw:
    return Raw(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))


# id -> (topics, days ago, quality, extra front matter)
ARTICLES = {
    "ai/a1.md": (["AI", "Health"], 1, 90, {}),
    "ai/a2.md": (["AI"], 2, 80, {}),
    "ai/a3.md": (["AI"], 20, 70, {}),
    "space/a4.md": (["Space"], 3, 60, {}),
    "space/a5.md": (["Space"], 1, 95, {"published": True}),
    "health/a6.md": (["Health"], 5, 85, {"skipped": True}),
    "ai/a7.md": (["ai"], 10, 50, {}),
    "space/a8.md": (["Space"], 0, 40, {}),
    "ai/a9.md": (["AI", "Space"], 6, 30, {}),
    "health/a10.md": (["Health"], 4, 20, {}),
}


@pytest.fixture
def history(newsroom, newsbot, workdir):
    """The newsroom's folder holding ARTICLES (and one broken file), decided by:
    the command line (Alice, Bob) and reactions in Slack (Erin the editor, Carl the chief)."""
    folder = workdir / "articles"
    shutil.rmtree(folder)
    for rel, (topics, days, quality, extra) in ARTICLES.items():
        write_article(folder, rel, title=rel, topics=topics, quality=quality,
                      publishedDateTime=stamp(noon(days)), **extra)
    write_raw(folder, "broken/b.md", article_text(quality=Raw("high"), topics=["AI"],
                                                  publishedDateTime=stamp(noon(1))))
    # the articles share the default URL and excerpt: no story clusters in a report test
    (workdir / "newsbot.yaml").write_text(
        "articles: articles\ndb: newsbot.db\nclusters:\n  enabled: false\n")
    assert newsbot("index", "--json").json["failed"] == 1
    for args in (("ai/a1.md", "publish", ALICE), ("ai/a2.md", "skip", ALICE),
                 ("space/a4.md", "publish", BOB), ("space/a4.md", "undo", BOB),
                 ("ai/a7.md", "skip", BOB), ("ai/a7.md", "publish", ALICE),
                 ("ai/a3.md", "undo", ALICE)):  # the last one: nothing to withdraw
        article_id, action, user = args
        assert newsbot("decide", article_id, action, "--user", user).code == 0
    plan = newsroom.post_digest(top=5)
    ts = {m.article.id: m.ts for m in plan.messages}
    assert set(ts) == {"ai/a3.md", "space/a4.md", "space/a8.md", "ai/a9.md", "health/a10.md"}
    reactions = [("added", EDITOR, "white_check_mark", "ai/a9.md"),
                 ("added", CHIEF, "x", "ai/a9.md"),
                 ("added", EDITOR, "x", "health/a10.md"),
                 ("removed", EDITOR, "x", "health/a10.md"),
                 ("added", CHIEF, "white_check_mark", "ai/a3.md")]
    before = len(newsroom.log_rows())
    for n, (kind, user, reaction, article_id) in enumerate(reactions, start=1):
        send = getattr(newsroom.client, f"reaction_{kind}")
        send(user_id=user, reaction=reaction, channel_id=CHANNEL, ts=ts[article_id],
             event_id=f"EvReport{n}")
        wait_for_log(newsroom, before + n)
    return newsroom


def test_report_json_has_every_count_of_the_history(history, newsbot):
    result = newsbot("report", "--json")
    assert result.code == 0, result.stderr
    report = result.json
    assert list(report) == ["from", "to", "topics", "editors", "decided",
                            "medianHoursToDecision", "queue"]
    start, end = (dt.datetime.fromisoformat(report[k].replace("Z", "+00:00"))
                  for k in ("from", "to"))
    assert end - start == dt.timedelta(days=7)
    assert abs(dt.datetime.now(dt.UTC) - end) < dt.timedelta(minutes=5)

    # ordered by new; AI and Health tie on new, AI has more decisions
    assert report["topics"] == [
        {"topic": "Space", "new": 4, "published": 0, "skipped": 1, "pending": 2},
        {"topic": "AI", "new": 3, "published": 3, "skipped": 2, "pending": 0},
        {"topic": "Health", "new": 3, "published": 1, "skipped": 0, "pending": 1},
    ]
    assert report["editors"] == [
        {"user": ALICE, "publish": 2, "skip": 1, "withdrawn": 0},
        {"user": BOB, "publish": 1, "skip": 1, "withdrawn": 1},
        {"user": EDITOR, "publish": 1, "skip": 1, "withdrawn": 1},
        {"user": CHIEF, "publish": 1, "skip": 1, "withdrawn": 0},
    ]
    assert report["decided"] == 5

    # a3 and a9 were posted in the digest (minutes ago); a1, a2, a7 never were, so they
    # count from their publishedDateTime: 1, 2 and 10 days. The median is a1's.
    decided_at = {d["id"]: d["decidedAt"] for d in newsbot("decisions", "--json").json[
        "decisions"]}
    assert set(decided_at) == {"ai/a1.md", "ai/a2.md", "ai/a7.md", "ai/a9.md", "ai/a3.md"}
    a1 = dt.datetime.fromisoformat(decided_at["ai/a1.md"].replace("Z", "+00:00"))
    expected = (a1 - noon(1)).total_seconds() / 3600
    assert abs(report["medianHoursToDecision"] - expected) <= 0.005 + 1e-6  # rounded to 0.01

    today = dt.datetime.now(dt.UTC).date()
    dates = [(today - dt.timedelta(days=7 - n)).isoformat() for n in range(8)]
    # a5 (published) and a6 (skipped) in their files never wait; a3 and a7 are old
    assert report["queue"] == [
        {"date": dates[0], "pending": 2},  # a3, a7
        {"date": dates[1], "pending": 3},  # + a9
        {"date": dates[2], "pending": 3},
        {"date": dates[3], "pending": 4},  # + a10
        {"date": dates[4], "pending": 5},  # + a4
        {"date": dates[5], "pending": 6},  # + a2
        {"date": dates[6], "pending": 7},  # + a1
        {"date": dates[7], "pending": 3},  # + a8, minus the five decided today
    ]


def test_a_shorter_period_counts_only_its_articles_and_days(history, newsbot):
    report = newsbot("report", "--days", "2", "--json", "--no-refresh").json
    new = {t["topic"]: t["new"] for t in report["topics"]}
    assert (new["Space"], new["Health"]) == (2, 1)  # a5, a8; a1 (a2 sits on the boundary)
    assert report["decided"] == 5
    assert [q["pending"] for q in report["queue"]] == [6, 7, 3]


def test_report_text_and_bad_days(history, newsbot):
    result = newsbot("report", "--no-refresh")
    assert result.code == 0
    assert "5 decided (3 published, 2 skipped)" in result.stdout
    assert "3 waiting" in result.stdout
    bad = newsbot("report", "--days", "0")
    assert bad.code == 2 and "must be 1 or more" in bad.stderr
    post = newsbot("report", "--post")
    assert post.code == 2 and "--post needs --channel" in post.stderr


def test_an_empty_database_reports_zeros(newsbot, workdir):
    write_article(workdir / "articles", "old.md", publishedDateTime=stamp(noon(30)))
    (workdir / "newsbot.yaml").write_text("articles: articles\ndb: newsbot.db\n")
    report = newsbot("report", "--days", "1", "--json").json
    assert report["topics"] == [
        {"topic": t, "new": 0, "published": 0, "skipped": 0, "pending": 1}
        for t in ("AI", "Computer Vision")
    ]
    assert report["editors"] == [] and report["decided"] == 0
    assert report["medianHoursToDecision"] is None
    assert [q["pending"] for q in report["queue"]] == [1] * len(report["queue"])


# --- the chart


def test_chart_is_a_png_of_slack_preview_size(history, newsbot, workdir):
    from PIL import Image

    result = newsbot("report", "--no-refresh", "--chart", "report.png", "--json")
    assert result.code == 0, result.stderr
    assert result.json["decided"] == 5  # the chart does not change the answer
    with Image.open(workdir / "report.png") as image:
        assert image.format == "PNG"
        assert image.size == (1200, 675)
        image.verify()
    with Image.open(workdir / "report.png") as image:
        colours = {colour for _, colour in image.convert("RGB").getcolors(1_000_000)}
    # published (Okabe-Ito green), skipped (vermillion), new (sky blue), decided (orange)
    assert {(0x00, 0x9E, 0x73), (0xD5, 0x5E, 0x00), (0x56, 0xB4, 0xE9),
            (0xE6, 0x9F, 0x00)} <= colours


def test_chart_of_an_empty_report_and_an_unwritable_path(newsbot, workdir):
    write_article(workdir / "articles", "old.md", publishedDateTime=stamp(noon(30)))
    (workdir / "newsbot.yaml").write_text("articles: articles\ndb: newsbot.db\n")
    assert newsbot("report", "--chart", "empty.png").code == 0
    assert (workdir / "empty.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = newsbot("report", "--chart", "no/such/folder/x.png")
    assert result.code == 2 and "cannot write the chart" in result.stderr


def test_other_commands_do_not_import_matplotlib(workdir):
    import subprocess
    import sys

    from conftest import clean_env

    (workdir / "newsbot.yaml").write_text("articles: articles\ndb: newsbot.db\n")
    write_article(workdir / "articles", "a.md")
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "newsbot.bot", "index"],
                          cwd=workdir, env=clean_env(), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "newsbot.bot.cli" in done.stderr  # importtime did report the imports
    assert "matplotlib" not in done.stderr


# --- in Slack: --post and /news report upload the chart in three steps


def upload_sequence(slack) -> list[str]:
    wanted = ("files.getUploadURLExternal", "upload", "files.completeUploadExternal")
    return [call.method for call in slack.calls() if call.method in wanted]


def uploaded_png_size(slack, file_id: str) -> tuple[int, int]:
    import io
    import urllib.request

    from PIL import Image

    stored = slack.uploads.get(file_id)
    assert stored is not None and stored.completed
    with urllib.request.urlopen(f"{slack.url}/files/{file_id}/{stored.name}") as answer:
        data = answer.read()
    assert data == stored.data
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.size


def test_report_post_uploads_the_chart_with_a_summary(history, newsbot, monkeypatch):
    slack = history.slack
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack.bot_token)
    monkeypatch.setenv("SLACK_API_URL", slack.base_url)
    posts_before = len(slack.calls("chat.postMessage"))
    result = newsbot("report", "--no-refresh", "--post", "--channel", CHANNEL, "--json")
    assert result.code == 0, result.stderr
    assert upload_sequence(slack) == ["files.getUploadURLExternal", "upload",
                                      "files.completeUploadExternal"]
    [get_url] = slack.calls("files.getUploadURLExternal")
    [upload] = slack.calls("upload")
    [complete] = slack.calls("files.completeUploadExternal")
    file_id = get_url.response["file_id"]
    assert upload.params == {"file_id": file_id, "length": int(get_url.params["length"])}
    assert complete.params["channel_id"] == CHANNEL
    assert uploaded_png_size(slack, file_id) == (1200, 675)
    # the summary, then the chart shared right below it
    summary = slack.calls("chat.postMessage")[posts_before:]
    assert len(summary) == 1
    text = str(summary[0].params["blocks"])
    assert "5 decided (3 published, 2 skipped)" in text and "*Space*: 4 new" in text
    last = slack.workspace.messages(CHANNEL)[-1]
    assert [f["id"] for f in last["files"]] == [file_id]
    assert last["files"][0]["mimetype"] == "image/png"


def test_news_report_answers_privately_with_the_uploaded_chart(history):
    slack = history.slack
    history.client.slash_command("/news", "report 3", user_id=EDITOR, channel_id=CHANNEL)
    slack.wait_until(lambda: slack.response_posts())
    answer = slack.response_posts()[-1].payload
    assert answer["response_type"] == "ephemeral"
    assert upload_sequence(slack) == ["files.getUploadURLExternal", "upload",
                                      "files.completeUploadExternal"]
    [complete] = slack.calls("files.completeUploadExternal")
    assert not complete.params.get("channel_id"), "the chart is not shared to the channel"
    [image] = [b for b in answer["blocks"] if b["type"] == "image"]
    file_id = image["slack_file"]["id"]
    assert file_id == slack.calls("files.getUploadURLExternal")[0].response["file_id"]
    assert uploaded_png_size(slack, file_id) == (1200, 675)
    assert "last 3 days" in str(answer["blocks"])
    assert "5 decided" in answer["text"]
    assert not any("files" in m for m in slack.workspace.messages(CHANNEL))


def test_news_report_with_bad_days_says_how(history):
    history.client.slash_command("/news", "report lots", user_id=EDITOR, channel_id=CHANNEL)
    history.slack.wait_until(lambda: history.slack.response_posts())
    answer = history.slack.response_posts()[-1].payload
    assert "takes a number of days" in str(answer["blocks"])
    assert upload_sequence(history.slack) == []


def test_a_later_period_sees_the_same_queue_without_replaying(history):
    """Three days on, every decision lies before the period: the queue is counted from
    the votes as they stand instead of replayed, and must agree with the replay."""
    from newsbot.bot.newsroom.report import build_report

    later = build_report(history.store, 2, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=3))
    assert [day.pending for day in later.days] == [3, 3, 3]
    assert later.decided == 0 and later.editors == ()
    assert {t.topic: t.pending for t in later.topics} == {"Space": 2, "Health": 1}


def test_the_lookalike_refuses_an_upload_that_is_incomplete_or_of_another_length():
    import json as json_module
    import urllib.request

    from newsbot.sandbox import SlackLookalike

    with SlackLookalike() as slack:
        token = slack.bot_token
        first = slack.call("files.getUploadURLExternal", token, filename="a.png", length=4)
        assert first["ok"] and first["upload_url"].startswith(f"{slack.url}/upload/v1/")
        files = json_module.dumps([{"id": first["file_id"]}])
        early = slack.call("files.completeUploadExternal", token, files=files)
        assert early == {"ok": False, "error": "file_not_found"}
        request = urllib.request.Request(first["upload_url"], data=b"12345", method="POST")
        with urllib.request.urlopen(request) as answer:
            assert answer.read() == b"OK - 5"
        wrong = slack.call("files.completeUploadExternal", token, files=files)
        assert wrong == {"ok": False, "error": "invalid_file_length"}
        missing = slack.call("files.getUploadURLExternal", token, filename="a.png")
        assert missing["error"] == "invalid_arguments"
        unknown = slack.call("files.completeUploadExternal", token, files=files,
                             channel_id="C0NOSUCH")
        assert unknown["error"] == "channel_not_found"
        assert [c.method for c in slack.calls()] == [
            "files.getUploadURLExternal", "files.completeUploadExternal", "upload",
            "files.completeUploadExternal", "files.getUploadURLExternal",
            "files.completeUploadExternal"]
