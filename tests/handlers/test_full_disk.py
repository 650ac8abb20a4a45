"""An acknowledgement is a promise: on a full disk (the database and its spool on a small
tmpfs the test mounts) a reaction Slack sends is answered 500, never 200, and Slack's
redelivery is recorded once the disk has room again."""

from __future__ import annotations

from pathlib import Path

from conftest import (
    CHANNEL,
    EDITOR,
    digest_message,
    fill,
    small_filesystem,
    start_newsroom,
    wait_for_log,
)
from newsbot.sandbox import Delivery


def test_a_reaction_on_a_full_disk_is_answered_500_and_its_redelivery_recorded(tmp_path: Path):
    with small_filesystem(tmp_path / "disk", "8m") as disk, \
            start_newsroom(tmp_path, db=disk / "newsbot.db") as newsroom:
        message = digest_message(newsroom)
        filler = fill(disk)
        event = dict(user_id=EDITOR, reaction="white_check_mark", channel_id=CHANNEL,
                     ts=message.ts, event_id="EvFull")
        answer = newsroom.client.reaction_added(**event)
        assert answer.status == 500  # neither the database nor the spool could keep it
        assert newsroom.runtime is not None and newsroom.runtime.spool is not None
        assert newsroom.runtime.spool.pending() == []  # and nothing half-written is left
        filler.unlink()
        retry = newsroom.client.reaction_added(**event, delivery=Delivery(
            retry_num=1, retry_reason="http_error"))
        assert retry.status == 200
        assert [row["event_key"] for row in wait_for_log(newsroom, 1)] == ["EvFull"]
