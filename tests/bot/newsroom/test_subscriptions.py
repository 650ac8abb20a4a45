"""Channel subscriptions: the table, the checks, the matching rule and quiet hours,
against a real SQLite file and real article files."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import Raw, write_article
from newsbot.bot.newsroom.alerts import collect
from newsbot.bot.newsroom.decisions import decide
from newsbot.bot.newsroom.subscription_command import parse_follow, parse_subscribe
from newsbot.bot.newsroom.subscription_filters import (
    Filters,
    SubscriptionError,
    parse_quiet_hours,
)
from newsbot.bot.newsroom.subscriptions import (
    SubscriptionSpec,
    UnknownSubscription,
    add_subscription,
    get_subscription,
    list_subscriptions,
    matches,
    remove_subscription,
    update_subscription,
)
from newsbot.storage.index import refresh
from newsbot.storage.story_clusters import ClusterSettings

CHANNEL = "C0NEWSDESK"
NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


def subscribe(store, **filters):
    return add_subscription(store, SubscriptionSpec(CHANNEL, Filters(**filters)), now=NOW)


# --- the table


def test_add_list_remove_with_ids_never_reused(store):
    first = subscribe(store, topics=("AI",))
    second = add_subscription(store, SubscriptionSpec("<#C0OTHER|other>", quiet="22:00-07:00",
                                                      tz="Europe/Paris"), created_by="U1",
                              now=NOW)
    assert (first.id, second.id) == ("sub1", "sub2")
    assert second.channel == "C0OTHER" and second.created_by == "U1"
    assert second.active_since == "2026-12-02T12:00:00.000Z" == second.created_at
    assert [s.id for s in list_subscriptions(store)] == ["sub1", "sub2"]
    assert remove_subscription(store, "SUB2").id == "sub2"
    assert subscribe(store, topics=("Space",)).id == "sub3"  # sub2 stays gone
    assert [s.id for s in list_subscriptions(store)] == ["sub1", "sub3"]


def test_the_stored_row_and_its_json(store):
    added = add_subscription(store, SubscriptionSpec(
        CHANNEL, Filters(topics="AI, ai ,Climate", providers=("Reuters",), words="heat wave",
                         min_quality="3"), quiet="22:00-07:00"), default_tz="Europe/London",
        created_by="U1", now=NOW)
    [row] = store.query("SELECT * FROM subscriptions")
    assert (row["id"], row["channel"], row["quiet"], row["tz"]) == (
        "sub1", CHANNEL, "22:00-07:00", "Europe/London")
    assert json.loads(row["filters"]) == {
        "topics": ["AI", "Climate"], "providers": ["Reuters"], "words": "heat wave",
        "exclude_topics": [], "exclude_words": None, "min_quality": 3.0, "min_heat": None}
    assert added.to_json() == {"id": "sub1", "channel": CHANNEL,
                               "filters": json.loads(row["filters"]), "quiet": "22:00-07:00",
                               "tz": "Europe/London", "created_by": "U1"}
    assert get_subscription(store, "sub1") == added


def test_no_filter_is_allowed_and_the_same_filters_twice_are_refused(store):
    everything = subscribe(store)
    assert everything.filters == Filters() and "every article" in everything.describe()
    with pytest.raises(SubscriptionError, match="already subscribed to the same articles as sub1"):
        subscribe(store)
    assert subscribe(store, min_heat=5).id == "sub2"


@pytest.mark.parametrize("spec,message", [
    (SubscriptionSpec(CHANNEL, tz="Mars/Olympus"), "Mars/Olympus"),
    (SubscriptionSpec(CHANNEL, quiet="25:00-07:00"),
     "quiet hours '25:00-07:00': must be HH:MM-HH:MM in 24-hour time, e.g. 22:00-07:00 "
     "(hours 00-23, minutes 00-59)"),
    (SubscriptionSpec(CHANNEL, quiet="10pm-7am"), "quiet hours '10pm-7am': must be HH:MM-HH:MM"),
    (SubscriptionSpec(CHANNEL, quiet="07:00-07:00"), "start and end are the same time"),
    (SubscriptionSpec("#news"), "channel '#news' is a name, not an id"),
    (SubscriptionSpec(CHANNEL, Filters(min_quality="high")),
     "min_quality 'high': must be a number"),
    (SubscriptionSpec(CHANNEL, Filters(min_heat="nan")), "min_heat 'nan': must be a finite"),
    (SubscriptionSpec(CHANNEL, Filters(words="!!")), "words '!!': no word to search for"),
    (SubscriptionSpec(CHANNEL, Filters(topics=[3])), "topics [3]: must be a list"),
])
def test_bad_input_is_one_clear_line(store, spec, message):
    with pytest.raises(SubscriptionError) as raised:
        add_subscription(store, spec)
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert store.query("SELECT * FROM subscriptions") == []


def test_an_unknown_id_names_the_ids_there_are(store):
    with pytest.raises(UnknownSubscription, match=r"no subscription with id 'sub9' \(there are no"):
        remove_subscription(store, "sub9")
    subscribe(store)
    with pytest.raises(UnknownSubscription, match=r"'sub9' \(subscriptions: sub1\)"):
        remove_subscription(store, "sub9")


def test_an_update_keeps_the_id_and_replays_nothing(store, articles):
    write_article(articles, "ai.md", topics=["AI"], title="Models")
    write_article(articles, "climate.md", topics=["Climate"], title="Floods")
    refresh(store, articles)
    first = add_subscription(store, SubscriptionSpec(CHANNEL, Filters(topics=("Climate",))),
                             created_by="U1", now=NOW)
    write_article(articles, "storm.md", topics=["Climate"], title="Storm")
    refresh(store, articles)
    collect(store, NOW, clustered=False)
    assert alert_states(store) == {"climate.md": "backlog", "storm.md": "held"}
    updated = update_subscription(store, "SUB1", SubscriptionSpec(
        "<#C0OTHER|other>", Filters(topics=("AI",)), quiet="22:00-07:00", tz="Europe/Paris"),
        now=NOW)
    assert (updated.id, updated.created_by, updated.created_at) == (
        first.id, "U1", first.created_at)
    assert (updated.channel, updated.filters.topics, updated.tz) == ("C0OTHER", ("AI",),
                                                                     "Europe/Paris")
    assert [s.id for s in list_subscriptions(store)] == ["sub1"]
    # what it matches now is backlog, as for a new one; a held alert it no longer wants goes
    assert alert_states(store) == {"climate.md": "backlog", "ai.md": "backlog"}
    assert collect(store, NOW, clustered=False) == 0


def test_an_update_is_refused_what_an_add_would_be(store):
    subscribe(store, topics=("AI",))
    other = subscribe(store, topics=("Space",))
    with pytest.raises(SubscriptionError, match="same articles as sub1"):
        update_subscription(store, other.id, SubscriptionSpec(CHANNEL, Filters(topics="ai")))
    with pytest.raises(SubscriptionError, match="min_heat 'hot'"):
        update_subscription(store, other.id, SubscriptionSpec(CHANNEL, Filters(min_heat="hot")))
    assert update_subscription(store, other.id, SubscriptionSpec(
        CHANNEL, Filters(topics=("Space",), min_heat=3))).filters.min_heat == 3
    assert update_subscription(store, other.id, SubscriptionSpec(  # its own filters again
        CHANNEL, Filters(topics=("Space",), min_heat=3), quiet="22:00-07:00")).quiet
    follow = add_subscription(store, SubscriptionSpec("D0ANA", member="U0ANA"), now=NOW)
    with pytest.raises(UnknownSubscription):  # not someone else's follow
        update_subscription(store, follow.id, SubscriptionSpec("", member="U0BOB"),
                            member="U0BOB")
    edited = update_subscription(store, follow.id, SubscriptionSpec(
        "", Filters(topics=("AI",)), member="pending", until="2027-01-01"), member="U0ANA")
    assert (edited.id, edited.channel, edited.member, edited.until) == (
        follow.id, "D0ANA", "U0ANA", "2027-01-01")


def alert_states(store) -> dict[str, str]:
    return {row["article_id"]: row["state"] for row in store.query(
        "SELECT article_id, state FROM alerts")}


# --- matching


@pytest.fixture
def newsroom_articles(store, articles):
    write_article(articles, "ai.md", topics=["AI", "Health"], quality=80, heat=10,
                  provider={"name": Raw("Reuters"), "domain": Raw("reuters.com")},
                  title="Hospitals adopt diagnostic models", excerpt="Radiology gets faster.")
    write_article(articles, "climate.md", topics=["climate"], quality=40, heat=90,
                  provider={"name": Raw("Grist"), "domain": Raw("grist.org")},
                  title="Heat wave grips the coast", excerpt="Records fall in summer.")
    write_article(articles, "published.md", topics=["AI"], published=True, title="Out already")
    write_article(articles, "embargoed.md", topics=["AI"],
                  publishedDateTime=Raw("2027-01-01T00:00:00Z"), title="Not yet")
    write_article(articles, "broken.md", topics=["AI"], quality=Raw("high"))
    write_article(articles, "decided.md", topics=["AI"], title="Decided upon")
    refresh(store, articles)
    decide(store, "decided.md", "skip", "U1", source="test")
    return store


def matching(store, **filters) -> list[str]:
    subscription = subscribe(store, **filters)
    remove_subscription(store, subscription.id)
    ids = ["ai.md", "climate.md", "published.md", "embargoed.md", "broken.md", "decided.md",
           "gone.md"]
    return [i for i in ids if matches(store, subscription, i, NOW)]


def test_no_filter_matches_only_articles_still_to_review(newsroom_articles):
    assert matching(newsroom_articles) == ["ai.md", "climate.md"]


def test_a_file_skipped_article_or_a_copy_of_a_decided_story_does_not_match(store, articles):
    write_article(articles, "skipped.md", skipped=True, title="Skipped in the file",
                  excerpt="Nobody wants it.", webUrl="https://example.com/skipped")
    write_article(articles, "lead.md", title="One story", excerpt="Told first.",
                  webUrl="https://example.com/story")
    write_article(articles, "copy.md", title="The same story, syndicated",
                  excerpt="Told again elsewhere.", webUrl="https://example.com/story")
    write_article(articles, "other.md", title="Harbour cranes replaced",
                  excerpt="Dockers retrain.", webUrl="https://example.com/b")
    refresh(store, articles, clusters=ClusterSettings())
    everything = subscribe(store)
    assert [i for i in ("skipped.md", "lead.md", "copy.md", "other.md")
            if matches(store, everything, i, NOW)] == ["lead.md", "copy.md", "other.md"]
    decide(store, "lead.md", "publish", "U1", source="test")
    assert not matches(store, everything, "copy.md", NOW)  # its story is decided
    assert matches(store, everything, "other.md", NOW)


def test_an_embargoed_article_matches_once_its_embargo_lifts(newsroom_articles):
    subscription = subscribe(newsroom_articles, topics=("AI",))
    later = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    assert matches(newsroom_articles, subscription, "embargoed.md", later)
    assert not matches(newsroom_articles, subscription, "embargoed.md", NOW)


def test_topics_and_providers_case_insensitively_or_within_a_kind(newsroom_articles):
    assert matching(newsroom_articles, topics=("ai",)) == ["ai.md"]
    assert matching(newsroom_articles, topics=("Climate", "HEALTH")) == ["ai.md", "climate.md"]
    assert matching(newsroom_articles, providers=("REUTERS",)) == ["ai.md"]
    assert matching(newsroom_articles, providers=("grist.org", "Nobody")) == ["climate.md"]


def test_kinds_and_together(newsroom_articles):
    assert matching(newsroom_articles, topics=("climate",), providers=("Reuters",)) == []
    assert matching(newsroom_articles, topics=("AI", "climate"),
                    providers=("Grist",)) == ["climate.md"]
    assert matching(newsroom_articles, topics=("climate",), min_quality=50) == []


def test_words_match_as_search_does(newsroom_articles):
    assert matching(newsroom_articles, words="heat wave") == ["climate.md"]
    assert matching(newsroom_articles, words="Hospital radiolog") == ["ai.md"]  # prefixes
    assert matching(newsroom_articles, words="heat hospitals") == []  # every word
    assert matching(newsroom_articles, words='AND "NEAR') == []  # syntax is searched for


def test_exclusions_leave_out_any_of_theirs(newsroom_articles):
    assert matching(newsroom_articles, exclude_topics=("health", "Space")) == ["climate.md"]
    assert matching(newsroom_articles, exclude_words="records radiology") == []
    assert matching(newsroom_articles, exclude_words="coast") == ["ai.md"]


def test_quality_and_heat_thresholds_are_inclusive(newsroom_articles):
    assert matching(newsroom_articles, min_quality=80) == ["ai.md"]
    assert matching(newsroom_articles, min_quality=80.5) == []
    assert matching(newsroom_articles, min_heat=90) == ["climate.md"]
    assert matching(newsroom_articles, min_heat=10) == ["ai.md", "climate.md"]


# --- quiet hours


def quiet_subscription(store, quiet: str, tz: str):
    return add_subscription(store, SubscriptionSpec(CHANNEL, quiet=quiet, tz=tz))


def test_quiet_hours_that_wrap_midnight_in_the_subscriptions_zone(store):
    night = quiet_subscription(store, "22:00-07:00", "Europe/Paris")  # UTC+1 in December
    assert night.in_quiet_hours(dt.datetime(2026, 12, 2, 21, 0, tzinfo=dt.UTC))  # 22:00
    assert night.in_quiet_hours(dt.datetime(2026, 12, 2, 5, 59, tzinfo=dt.UTC))  # 06:59
    assert not night.in_quiet_hours(dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC))  # 07:00
    assert not night.in_quiet_hours(dt.datetime(2026, 12, 2, 20, 59, tzinfo=dt.UTC))


def test_quiet_hours_within_one_day_and_none(store):
    lunch = quiet_subscription(store, "12:00-13:30", "UTC")
    assert lunch.in_quiet_hours(dt.datetime(2026, 12, 2, 13, 29, 59, tzinfo=dt.UTC))
    assert not lunch.in_quiet_hours(dt.datetime(2026, 12, 2, 13, 30, tzinfo=dt.UTC))
    assert not lunch.in_quiet_hours(dt.datetime(2026, 12, 2, 11, 59, tzinfo=dt.UTC))
    always = subscribe(store, min_heat=1)
    assert not always.in_quiet_hours(NOW)


def test_quiet_hours_text():
    assert parse_quiet_hours(" 7:05-9:00 ").text == "07:05-09:00"
    assert parse_quiet_hours(None) is None


# --- the Slack command's text


def test_parse_subscribe_reads_key_value_options_and_the_current_channel():
    spec = parse_subscribe('topics=AI,Climate words="heat wave" min_quality=3 '
                           "quiet=22:00-07:00 exclude_words=opinion", "C0HERE")
    assert spec.channel == "C0HERE" and spec.tz is None
    assert spec.filters == Filters(topics=("AI", "Climate"), words="heat wave",
                                   exclude_words="opinion", min_quality=3.0)
    assert spec.quiet == "22:00-07:00"
    named = parse_subscribe("<#C0THERE|there> tz=Europe/Paris providers=Reuters", "C0HERE")
    assert (named.channel, named.tz, named.filters.providers) == (
        "C0THERE", "Europe/Paris", ("Reuters",))


def test_subscribe_and_follow_read_text_as_typed():
    """Plain text, not Slack's: an `&amp;` or `&lt;` here was typed so."""
    spec = parse_subscribe('words="&lt;b&gt; &amp; co" topics=R&amp;D', "C0HERE")
    assert (spec.filters.words, spec.filters.topics) == ("&lt;b&gt; &amp; co", ("R&amp;D",))
    assert parse_follow("exclude_words=&lt;ad&gt;").filters.exclude_words == "&lt;ad&gt;"


@pytest.mark.parametrize("text,message", [
    ("colour=red", "unknown option 'colour=': use topics=, providers=, words="),
    ("topics=A topics=B", "option 'topics=' given twice"),
    ('words="heat', "unbalanced quotes"),
    ("C0ONE C0TWO", "one channel at most"),
    ("tz=Mars/Olympus", "Mars/Olympus"),
    ("quiet=22-07", "quiet hours '22-07'"),
])
def test_parse_subscribe_mistakes(text, message):
    with pytest.raises(SubscriptionError, match=message):
        parse_subscribe(text, "C0HERE")
