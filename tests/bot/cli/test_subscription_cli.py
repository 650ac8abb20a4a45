"""`newsbot subscribe|subscriptions|unsubscribe`: the command line writes the same table
`/news subscribe` does, and every mistake is one line with exit 2."""

from __future__ import annotations

import json

import pytest
from newsbot.storage.db import Store


def test_subscribe_list_as_json_and_unsubscribe(newsbot, workdir):
    db = str(workdir / "n.db")
    added = newsbot("subscribe", "C0NEWSDESK", "--topic", "AI", "--topic", "Climate",
                    "--provider", "reuters.com", "--words", "heat wave", "--exclude-topic",
                    "Opinion", "--exclude-words", "obituary", "--min-quality", "3",
                    "--min-heat", "50", "--quiet", "22:00-07:00", "--tz", "Europe/Paris",
                    "--db", db, "--json")
    assert (added.code, added.stderr) == (0, "")
    expected = {"id": "sub1", "channel": "C0NEWSDESK", "filters": {
        "topics": ["AI", "Climate"], "providers": ["reuters.com"], "words": "heat wave",
        "exclude_topics": ["Opinion"], "exclude_words": "obituary", "min_quality": 3.0,
        "min_heat": 50.0}, "quiet": "22:00-07:00", "tz": "Europe/Paris", "created_by": None}
    assert json.loads(added.stdout) == {"subscription": expected}
    everything = newsbot("subscribe", "<#C0OTHER|other>", "--db", db)
    assert everything.code == 0
    assert everything.stdout.startswith("Subscribed sub2: C0OTHER every article")
    assert "Not checked whether newsbot can post there" in everything.stdout
    listed = newsbot("subscriptions", "--json", "--db", db)
    assert listed.code == 0
    document = json.loads(listed.stdout)
    assert document["subscriptions"][0] == expected
    assert [s["id"] for s in document["subscriptions"]] == ["sub1", "sub2"]
    assert document["subscriptions"][1]["tz"] == "UTC"  # no scheduler.timezone: UTC
    text = newsbot("subscriptions", "--db", db)
    assert text.stdout.splitlines()[0].startswith('sub1: C0NEWSDESK topics AI,Climate, providers '
                                               'reuters.com, words "heat wave"')
    removed = newsbot("unsubscribe", "sub1", "--db", db)
    assert (removed.code, removed.stdout.startswith("Removed sub1: C0NEWSDESK")) == (0, True)
    store = Store(db)
    assert [row["id"] for row in store.query("SELECT id FROM subscriptions")] == ["sub2"]
    store.close()


def test_the_default_zone_is_the_configured_one(newsbot, workdir, monkeypatch):
    monkeypatch.setenv("NEWSBOT_TIMEZONE", "America/Chicago")
    added = newsbot("subscribe", "C0NEWSDESK", "--db", str(workdir / "n.db"), "--json")
    assert json.loads(added.stdout)["subscription"]["tz"] == "America/Chicago"


def test_an_empty_list(newsbot, workdir):
    listed = newsbot("subscriptions", "--db", str(workdir / "n.db"))
    assert listed.code == 0 and listed.stdout.startswith("No channel subscriptions yet.")
    assert json.loads(newsbot("subscriptions", "--json", "--db",
                              str(workdir / "n.db")).stdout) == {"subscriptions": []}


@pytest.mark.parametrize("args,message", [
    (["subscribe", "C0NEWSDESK", "--tz", "Mars/Olympus"],
     "argument --tz: unknown time zone 'Mars/Olympus'"),
    (["subscribe", "C0NEWSDESK", "--quiet", "22:00-31:00"],
     "quiet hours '22:00-31:00': must be HH:MM-HH:MM in 24-hour time"),
    (["subscribe", "C0NEWSDESK", "--min-heat", "hot"], "argument --min-heat: not a number"),
    (["subscribe", "news"], "CHANNEL: channel 'news' is not a channel id"),
    (["subscribe", "#news"], "set SLACK_BOT_TOKEN and newsbot looks the name up"),
    (["unsubscribe", "sub7"], "no subscription with id 'sub7' (there are no subscriptions)"),
])
def test_mistakes_are_one_line_and_exit_2(newsbot, workdir, args, message):
    result = newsbot(*args, "--db", str(workdir / "n.db"))
    assert (result.code, result.stdout) == (2, "")
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert result.stderr.startswith("newsbot: error: ")


def test_the_same_subscription_twice_is_refused_whatever_its_spelling(newsbot, workdir):
    db = str(workdir / "n.db")
    assert newsbot("subscribe", "C0NEWSDESK", "--topic", "AI", "--topic", "Space",
                   "--words", "heat wave", "--db", db).code == 0
    again = newsbot("subscribe", "C0NEWSDESK", "--topic", "space", "--topic", "ai",
                    "--words", "Heat, wave!", "--quiet", "01:00-02:00", "--db", db)
    assert again.code == 2 and "already subscribed to the same articles as sub1" in again.stderr
    assert newsbot("subscribe", "C0OTHER", "--topic", "AI", "--topic", "Space",
                   "--words", "heat wave", "--db", db).code == 0  # another channel
