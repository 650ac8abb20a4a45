"""The one runtime (bot/app/runtime.py) that serve, the sandbox and these fixtures run:
what it starts it stops, and its ordered stop sends what was promised before returning."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from conftest import CHANNEL, CHIEF, EDITOR, digest_message, start_newsroom, wait_for_log
from newsbot.bot.app.runtime import PeriodicSync
from newsbot.bot.config.settings import BUNDLED_ARTICLES, Config
from newsbot.storage.db import Store

OUTSIDER = EDITOR  # not on the editors list these tests set


def started_threads(before: set[threading.Thread]) -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t not in before and t.is_alive())


def test_stop_ends_every_thread_the_runtime_started(tmp_path: Path):
    before = set(threading.enumerate())
    with start_newsroom(tmp_path, editors=(CHIEF,)) as newsroom:
        message = digest_message(newsroom)
        for user, event_id in ((CHIEF, "Ev1"), (OUTSIDER, "Ev2")):  # a vote, a refusal
            newsroom.client.reaction_added(user_id=user, reaction="white_check_mark",
                                           channel_id=CHANNEL, ts=message.ts,
                                           event_id=event_id)
        wait_for_log(newsroom, 1)
        # /news runs as a lazy listener
        newsroom.client.slash_command("/news", "topics", user_id=CHIEF, channel_id=CHANNEL)
        newsroom.slack.wait_until(lambda: newsroom.slack.calls("chat.postEphemeral")
                                  and newsroom.slack.response_posts())
        running = started_threads(before)
        for prefix in ("after-ack", "decisions", "listener", "redraw", "scheduler", "http"):
            assert any(name.startswith(prefix) for name in running), (prefix, running)
    assert started_threads(before) == []


def test_a_reply_left_for_after_the_ack_goes_out_before_stop_returns(tmp_path: Path):
    """An outsider's reaction is refused privately after the 200; Slack holds that reply
    for a second (429, Retry-After: 1). Stopping right after the 200 still sends it."""
    with start_newsroom(tmp_path, editors=(CHIEF,)) as newsroom:
        message = digest_message(newsroom)
        newsroom.slack.fail_next("chat.postEphemeral", status=429, retry_after=1)
        answer = newsroom.client.reaction_added(user_id=OUTSIDER, reaction="white_check_mark",
                                                channel_id=CHANNEL, ts=message.ts,
                                                event_id="Ev1")
        assert answer.status == 200
        assert newsroom.runtime is not None
        newsroom.runtime.stop()
        assert [call.ok for call in newsroom.slack.calls("chat.postEphemeral")] == [False, True]


def test_a_file_dropped_into_the_folder_is_indexed_by_its_event_not_the_walk(tmp_path: Path):
    """serve, the sandbox and these fixtures follow the folder by file events; the full
    walk, a safety net every 300 s, stays out of the way while they work."""
    from conftest import write_article

    with start_newsroom(tmp_path) as newsroom:
        runtime = newsroom.runtime
        assert runtime is not None and runtime.watcher is not None and runtime.watcher.events
        assert runtime.health is not None and runtime.health.refresh_seconds == 300
        walked = runtime.refresher.seconds_since_success()
        write_article(newsroom.config.articles, "desk/breaking.md", title="Breaking",
                      webUrl="https://example.org/breaking")
        newsroom.slack.wait_until(lambda: newsroom.store.query(
            "SELECT id FROM articles WHERE id = 'desk/breaking.md'"))
        runtime.walk_folder()  # the scheduler's job, run now: too soon for a walk
        assert runtime.refresher.seconds_since_success() >= walked


def sync_refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [getattr(r, "reason", "") for r in caplog.records if r.getMessage() == "sync skipped"]


def test_the_periodic_sync_says_a_standing_refusal_once(store: Store,
                                                        caplog: pytest.LogCaptureFixture):
    """Every interval would hit the bundled examples again: one warning, not one a run."""
    caplog.set_level(logging.INFO, logger="newsbot.bot.app.runtime")
    periodic = PeriodicSync(store, Config(articles=BUNDLED_ARTICLES, db=store.path))
    for _ in range(3):
        periodic()
    assert len(sync_refusals(caplog)) == 1
    assert "bundled examples, which sync never writes" in sync_refusals(caplog)[0]


def test_the_periodic_sync_says_a_refusal_again_once_a_sync_ran_between(
        store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="newsbot.bot.app.runtime")
    folder = tmp_path / "gone"
    periodic = PeriodicSync(store, Config(articles=folder, db=store.path))
    periodic()
    periodic()
    folder.mkdir()
    periodic()  # runs: nothing to write
    folder.rmdir()
    periodic()
    assert len(sync_refusals(caplog)) == 2
    assert all("does not exist" in reason for reason in sync_refusals(caplog))
