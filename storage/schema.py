"""The database schema, as an append-only list of migrations.

Never edit a step that has shipped: add a new one at the end. `Store` applies the
missing steps at open and records the version in `PRAGMA user_version`.
"""

from __future__ import annotations

from newsbot.storage.lean_sqlite_utils import sqlite_utils


def articles(db: sqlite_utils.Database) -> None:
    """v1: the article index, its topics and full-text search over title and excerpt."""
    db.executescript(
        """
        CREATE TABLE articles (
            id TEXT PRIMARY KEY,          -- POSIX path relative to the articles folder
            title TEXT,
            excerpt TEXT,
            web_url TEXT,
            provider_name TEXT,
            provider_domain TEXT,
            topics TEXT NOT NULL DEFAULT '[]',   -- JSON list, as written in the file
            quality NUMERIC,
            heat NUMERIC,
            published INTEGER NOT NULL DEFAULT 0,
            published_at TEXT,            -- publishedDateTime, ISO 8601 UTC with Z
            category TEXT,
            type TEXT,
            image_url TEXT,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            error TEXT,                   -- why the file cannot be used; NULL when usable
            indexed_at TEXT NOT NULL
        );
        -- The digest queue: usable, unpublished, in digest order.
        CREATE INDEX articles_queue ON articles (quality DESC, heat DESC, published_at DESC, id)
            WHERE error IS NULL AND published = 0;
        CREATE INDEX articles_failed ON articles (id) WHERE error IS NOT NULL;

        CREATE TABLE article_topics (
            article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
            topic TEXT NOT NULL,          -- as written
            topic_key TEXT NOT NULL,      -- casefolded, for case-insensitive look-ups
            PRIMARY KEY (article_id, topic_key)
        ) WITHOUT ROWID;
        CREATE INDEX article_topics_key ON article_topics (topic_key, article_id);

        CREATE VIRTUAL TABLE articles_fts USING fts5 (
            title, excerpt, content='articles', content_rowid='rowid', tokenize='unicode61'
        );
        CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
            INSERT INTO articles_fts (rowid, title, excerpt)
            VALUES (new.rowid, new.title, new.excerpt);
        END;
        CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
            INSERT INTO articles_fts (articles_fts, rowid, title, excerpt)
            VALUES ('delete', old.rowid, old.title, old.excerpt);
        END;
        CREATE TRIGGER articles_au AFTER UPDATE OF title, excerpt ON articles BEGIN
            INSERT INTO articles_fts (articles_fts, rowid, title, excerpt)
            VALUES ('delete', old.rowid, old.title, old.excerpt);
            INSERT INTO articles_fts (rowid, title, excerpt)
            VALUES (new.rowid, new.title, new.excerpt);
        END;
        """
    )


def decisions(db: sqlite_utils.Database) -> None:
    """v2: editors' publish/skip votes and the append-only audit log of every event.

    Each editor holds at most one vote per article; the article's standing decision
    is the most recent vote still standing (view `decisions`).
    """
    db.executescript(
        """
        CREATE TABLE votes (
            article_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            decision TEXT NOT NULL CHECK (decision IN ('publish', 'skip')),
            decided_at TEXT NOT NULL,
            seq INTEGER NOT NULL,         -- decision_log.id that cast it: orders ties
            source TEXT NOT NULL,
            channel TEXT,
            message_ts TEXT,
            PRIMARY KEY (article_id, user_id)
        );
        CREATE VIEW decisions AS
            SELECT article_id, user_id, decision, decided_at, source, channel, message_ts
            FROM (
                SELECT *, row_number() OVER (
                    PARTITION BY article_id ORDER BY seq DESC
                ) AS rank
                FROM votes
            )
            WHERE rank = 1;

        CREATE TABLE decision_log (
            id INTEGER PRIMARY KEY,
            event_key TEXT UNIQUE,        -- Slack event_id or action key: makes retries no-ops
            article_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            action TEXT NOT NULL CHECK (action IN ('publish', 'skip', 'undo')),
            source TEXT NOT NULL,         -- reaction, button, cli
            channel TEXT,
            message_ts TEXT,
            outcome TEXT NOT NULL,        -- what it changed: recorded, retracted, no-op
            created_at TEXT NOT NULL
        );
        CREATE INDEX decision_log_article ON decision_log (article_id, id);
        """
    )


def digests(db: sqlite_utils.Database) -> None:
    """v3: digests posted to Slack and their article messages.

    A digest is planned (its articles fixed) before anything is posted, claimed by one
    process while it posts, and each message's ts is stored as soon as Slack returns it,
    so an interrupted digest resumes where it stopped and a reaction maps back to exactly
    one article.
    """
    db.executescript(
        """
        CREATE TABLE digests (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,     -- 'manual:<channel>:<n>' or 'schedule:<id>:<fire time>'
            channel TEXT NOT NULL,
            title TEXT NOT NULL,          -- the header line
            options TEXT NOT NULL,        -- JSON: the selection it was planned with
            header_ts TEXT,               -- NULL until the header is posted
            in_thread INTEGER NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('planned', 'posting', 'done', 'failed', 'abandoned')),
            error TEXT,
            claimed_by TEXT,              -- the process posting it now, until claimed_until
            claimed_until TEXT,
            created_at TEXT NOT NULL,
            finished_at TEXT
        );
        CREATE INDEX digests_channel ON digests (channel, status);

        CREATE TABLE digest_messages (
            digest_id INTEGER NOT NULL REFERENCES digests (id),
            position INTEGER NOT NULL,
            article_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            ts TEXT,                      -- NULL until posted
            posted_at TEXT,
            skipped TEXT,                 -- why it was not posted after all (decided meanwhile,
                                          -- posted by another digest, refused by Slack)
            PRIMARY KEY (digest_id, position)
        );
        CREATE UNIQUE INDEX digest_messages_ts ON digest_messages (channel, ts)
            WHERE ts IS NOT NULL;
        CREATE INDEX digest_messages_article ON digest_messages (channel, article_id);
        """
    )


def sync(db: sqlite_utils.Database) -> None:
    """What `newsbot sync` wrote into the article files, and the conflicts it left alone.

    `sync_state` lets a later sync revert exactly its own edit (the former lines) and tell
    its own lines from someone else's. A write is recorded as pending before the file is
    replaced and confirmed after, so a sync killed in between is finished by the next one.
    Line columns hold a front matter line without its ending; NULL means no such line.
    `articles.skipped` mirrors `skipped: true` in the file; every file is parsed again
    once (size and content_hash reset) so existing rows learn it.
    """
    db.executescript(
        """
        CREATE TABLE sync_state (
            article_id TEXT PRIMARY KEY,
            decision TEXT NOT NULL CHECK (decision IN ('publish', 'skip')),
            decided_by TEXT,
            former_published TEXT,        -- the lines before newsbot's first edit
            former_skipped TEXT,
            written_published TEXT,       -- the lines newsbot last wrote (confirmed)
            written_skipped TEXT,
            pending INTEGER NOT NULL DEFAULT 0,  -- 1: a write was started, not yet confirmed
            pending_published TEXT,
            pending_skipped TEXT,
            written_at TEXT NOT NULL
        );
        CREATE TABLE sync_conflicts (
            article_id TEXT PRIMARY KEY,
            reason TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL
        );
        ALTER TABLE articles ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0;
        UPDATE articles SET size = -1, content_hash = '';
        """
    )


def schedules(db: sqlite_utils.Database) -> None:
    """v5: digest schedules and their runs.

    `schedule_runs` has one row per (schedule, fire time): inserting it is how a process
    claims the right to post that digest, so it is posted at most once however many
    `newsbot serve` processes share the file and however often they restart.
    """
    db.executescript(
        """
        CREATE TABLE schedules (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: 's3' names one schedule
            id TEXT NOT NULL UNIQUE COLLATE NOCASE,  -- what admins type: 's3' or a config `id:`
            channel TEXT NOT NULL,        -- Slack channel id
            cron TEXT NOT NULL,           -- Unix cron expression, as typed
            tz TEXT NOT NULL,             -- IANA time zone
            top INTEGER,                  -- NULL: the configured digest.top
            topics TEXT NOT NULL DEFAULT '[]',    -- JSON list; empty: every topic
            min_quality REAL,
            enabled INTEGER NOT NULL DEFAULT 1,
            created_by TEXT,
            created_at TEXT NOT NULL,
            origin TEXT NOT NULL CHECK (origin IN ('config', 'slack', 'cli')),
            config_key TEXT UNIQUE,       -- config entries: 'id:NAME' or 'content:HASH'
            config_enabled INTEGER,       -- the file's `enabled` when last applied
            active_since TEXT NOT NULL,   -- fire times before this are never due
            updated_at TEXT NOT NULL
        );

        CREATE TABLE schedule_runs (
            schedule_id TEXT NOT NULL,
            fire_time TEXT NOT NULL,      -- UTC, 'YYYY-MM-DDTHH:MM:SSZ'
            status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'missed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            claimed_by TEXT,              -- host:pid of the process posting it
            claimed_at TEXT,
            finished_at TEXT,
            error TEXT,
            PRIMARY KEY (schedule_id, fire_time)
        ) WITHOUT ROWID;
        CREATE INDEX schedule_runs_failed ON schedule_runs (fire_time) WHERE status = 'failed';
        """
    )


def topic_order(db: sqlite_utils.Database) -> None:
    """v6: topic look-ups and topic counts that stay fast at 100,000 articles.

    Topic rows exist only for usable articles (the index deletes them when a file breaks)
    and are rewritten whenever their article is, so they can carry copies of the
    article's digest-order keys: an index then yields a topic's articles already in
    digest order. `topic_counts` keeps, per spelling, how many usable articles carry the
    topic and how many of them are still to review, so listing topics reads a few dozen rows
    instead of joining them all. storage/index.py, the only writer of article_topics, keeps
    both in step within its write transactions (a trigger per row cost seconds).
    """
    db.executescript(
        """
        ALTER TABLE article_topics ADD COLUMN published INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE article_topics ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE article_topics ADD COLUMN quality NUMERIC;
        ALTER TABLE article_topics ADD COLUMN heat NUMERIC;
        ALTER TABLE article_topics ADD COLUMN published_at TEXT;
        UPDATE article_topics SET (published, skipped, quality, heat, published_at) = (
            SELECT a.published, a.skipped, a.quality, a.heat, a.published_at
            FROM articles a WHERE a.id = article_topics.article_id
        );
        CREATE INDEX article_topics_digest ON article_topics
            (topic_key, quality DESC, heat DESC, published_at DESC, article_id, published);

        CREATE TABLE topic_counts (
            topic_key TEXT NOT NULL,
            topic TEXT NOT NULL,          -- one row per spelling; lists show the smallest
            to_review INTEGER NOT NULL,   -- neither published nor skipped
            total INTEGER NOT NULL,
            PRIMARY KEY (topic_key, topic)
        ) WITHOUT ROWID;
        INSERT INTO topic_counts (topic_key, topic, to_review, total)
            SELECT t.topic_key, t.topic, sum(a.published = 0 AND a.skipped = 0), count(*)
            FROM article_topics t JOIN articles a ON a.id = t.article_id
            WHERE a.error IS NULL
            GROUP BY t.topic_key, t.topic;
        """
    )


# Queue one article's redraw, coalescing with what is queued (bot/newsroom/redraw_queue.py).
# An article queued already keeps its `queued_at`, its place in the queue (redraw_waiting_since).
QUEUE_REDRAW = """
    INSERT INTO redraw_queue (article_id, seq, queued_at)
    VALUES ({article}, (SELECT coalesce(max(seq), 0) + 1 FROM redraw_queue),
            strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    ON CONFLICT (article_id) DO UPDATE SET seq = excluded.seq;
"""
# From redraw_queue until redraw_waiting_since (but for redraw_claims's statement): each
# change set `queued_at` anew, so an article that kept changing went to the back each time.
QUEUE_REDRAW_REQUEUED = """
    INSERT INTO redraw_queue (article_id, seq, queued_at)
    VALUES ({article}, (SELECT coalesce(max(seq), 0) + 1 FROM redraw_queue),
            strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    ON CONFLICT (article_id) DO UPDATE SET seq = excluded.seq, queued_at = excluded.queued_at;
"""
_REDRAW_TRIGGERS = [  # (name, when it fires, the article it queues)
    ("redraw_vote_cast", "AFTER INSERT ON votes", "new.article_id"),
    ("redraw_vote_changed", "AFTER UPDATE ON votes", "new.article_id"),
    ("redraw_vote_withdrawn", "AFTER DELETE ON votes", "old.article_id"),
    ("redraw_sync_settled", "AFTER UPDATE OF pending ON sync_state"
     " WHEN old.pending = 1 AND new.pending = 0", "new.article_id"),
    ("redraw_sync_forgotten", "AFTER DELETE ON sync_state", "old.article_id"),
    ("redraw_file_changed", "AFTER UPDATE OF published, skipped ON articles"
     " WHEN old.published IS NOT new.published OR old.skipped IS NOT new.skipped", "new.id"),
]


def redraw_queue(db: sqlite_utils.Database) -> None:
    """Articles whose Slack messages must be redrawn: a durable signal across processes.

    Triggers queue an article whenever its standing decision can have changed (a vote cast,
    changed or withdrawn, by any process: `newsbot decide` too), when a sync confirms or
    reverts a write into its file, and when the index sees its file's `published` or
    `skipped` change. One row per article coalesces a burst; `seq` grows on every change,
    so a serving process deletes only what it has drawn (bot/newsroom/redraw_queue.py).
    """
    db.executescript(
        """
        CREATE TABLE redraw_queue (
            article_id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL,         -- bumped by each change: drawn rows are deleted by seq
            queued_at TEXT NOT NULL
        );
        """
        + _redraw_triggers(QUEUE_REDRAW_REQUEUED)
    )


def _redraw_triggers(statement: str) -> str:
    """The script that creates the redraw triggers, each running `statement` for its
    article."""
    return "".join(f"CREATE TRIGGER {name} {when} BEGIN{statement.format(article=article)}END;\n"
                   for name, when, article in _REDRAW_TRIGGERS)


def _redraw_triggers_again(statement: str) -> str:
    """The script that replaces the redraw triggers by ones running `statement`."""
    return ("".join(f"DROP TRIGGER {name};\n" for name, _, _ in _REDRAW_TRIGGERS)
            + _redraw_triggers(statement))


def clusters(db: sqlite_utils.Database) -> None:
    """Story clusters (storage/story_clusters.py): which version of each usable article was last
    clustered, the pairs found to be one story, and each cluster's members in digest
    order. Only storage/story_clusters.py writes them, from the index's refresh."""
    db.executescript(
        """
        CREATE TABLE cluster_items (
            article_id TEXT PRIMARY KEY,
            content_hash TEXT NOT NULL,   -- the article's, when clustered: a change re-clusters
            moment REAL                   -- publishedDateTime, seconds since the epoch
        ) WITHOUT ROWID;
        CREATE INDEX cluster_items_moment ON cluster_items (moment);
        CREATE TABLE cluster_links (
            a TEXT NOT NULL,              -- a < b
            b TEXT NOT NULL,
            reason TEXT NOT NULL CHECK (reason IN ('url', 'text')),
            PRIMARY KEY (a, b)
        ) WITHOUT ROWID;
        CREATE INDEX cluster_links_b ON cluster_links (b, a);
        CREATE TABLE cluster_members (
            article_id TEXT PRIMARY KEY,
            cluster_id TEXT NOT NULL,     -- the lead's article id
            rank INTEGER NOT NULL,        -- digest order within the cluster; 0: the lead
            reason TEXT NOT NULL CHECK (reason IN ('url', 'text'))
        ) WITHOUT ROWID;
        CREATE INDEX cluster_members_cluster ON cluster_members (cluster_id, rank);
        CREATE TABLE cluster_settings (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            settings TEXT NOT NULL,       -- JSON: other settings re-cluster everything
            fingerprint TEXT              -- the index as last clustered (articles, broken
                                          -- ones, latest write): unchanged, nothing to do
        );
        """
    )


def report_schedules(db: sqlite_utils.Database) -> None:
    """Schedules of other kinds than the digest, and the claims of coverage-gap alerts.

    `schedules.kind` says what a schedule posts: the digest, the editorial report or
    coverage-gap alerts. A row of `gap_alerts` is inserted before a gap alert is posted:
    the claim that keeps a topic to one alert per channel and day, however many
    schedules, processes and retries there are.
    """
    db.executescript(
        """
        ALTER TABLE schedules ADD COLUMN kind TEXT NOT NULL DEFAULT 'digest'
            CHECK (kind IN ('digest', 'report', 'gaps'));
        CREATE TABLE gap_alerts (
            channel TEXT NOT NULL,
            topic_key TEXT NOT NULL,      -- casefolded topic
            day TEXT NOT NULL,            -- YYYY-MM-DD in the schedule's time zone
            topic TEXT NOT NULL,          -- as shown in the alert
            opened_at TEXT,               -- when the gap opened (NULL: no article on record)
            schedule_id TEXT,
            claimed_at TEXT NOT NULL,
            PRIMARY KEY (channel, topic_key, day)
        ) WITHOUT ROWID;
        """
    )


def decision_event_time(db: sqlite_utils.Database) -> None:
    """Decisions follow Slack's event time, not the order deliveries are processed in.

    Each log row keeps its event time (`event_us`: Slack's event_ts or action_ts, in
    microseconds since the epoch), its arrival time, and what the replay needs (`only_if`
    for a reaction's removal, `toggle` for a button). An editor's vote on an article is the
    replay of their events in event-time order (bot/newsroom/decisions.py), so a removal processed
    before its addition still wins; the standing decision is the vote cast latest in
    event time. Existing rows get their recording time as event time, and each undo that
    did nothing gets the `only_if` that keeps it doing nothing when replayed.
    """
    for statement in (
        "ALTER TABLE decision_log ADD COLUMN event_us INTEGER",
        "ALTER TABLE decision_log ADD COLUMN received_at TEXT",
        "ALTER TABLE decision_log ADD COLUMN only_if TEXT"
        " CHECK (only_if IN ('publish', 'skip'))",
        "ALTER TABLE decision_log ADD COLUMN toggle INTEGER NOT NULL DEFAULT 0",
        "UPDATE decision_log SET received_at = created_at, toggle = (source = 'button'),"
        " event_us = CAST(round((julianday(created_at) - 2440587.5) * 86400000000) AS INTEGER)",
        "CREATE INDEX decision_log_replay ON decision_log (article_id, user_id, event_us, id)",
        "ALTER TABLE votes ADD COLUMN event_us INTEGER",
        "UPDATE votes SET event_us = (SELECT event_us FROM decision_log l WHERE l.id = votes.seq)",
        "DROP VIEW decisions",
        """CREATE VIEW decisions AS
            SELECT article_id, user_id, decision, decided_at, source, channel, message_ts
            FROM (
                SELECT *, row_number() OVER (
                    PARTITION BY article_id ORDER BY event_us DESC, seq DESC
                ) AS rank
                FROM votes
            )
            WHERE rank = 1""",
    ):
        db.execute(statement)
    votes: dict[tuple[str, str], str | None] = {}
    rows = db.execute("SELECT id, article_id, user_id, action, outcome FROM decision_log"
                      " ORDER BY id").fetchall()
    for log_id, article_id, user_id, action, outcome in rows:
        key = (article_id, user_id)
        if outcome == "retracted":
            votes[key] = None
        elif outcome == "recorded":
            votes[key] = action
        elif action == "undo" and votes.get(key) is not None:  # a no-op withdrawal
            other = "skip" if votes[key] == "publish" else "publish"
            db.execute("UPDATE decision_log SET only_if = ? WHERE id = ?", [other, log_id])


# From redraw_claims until redraw_claims_kept: a change to an article already queued freed
# its claim (so the change was drawn even while another process drew the one before).
QUEUE_REDRAW_CLAIMABLE = """
    INSERT INTO redraw_queue (article_id, seq, queued_at)
    VALUES ({article}, (SELECT coalesce(max(seq), 0) + 1 FROM redraw_queue),
            strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    ON CONFLICT (article_id) DO UPDATE SET seq = excluded.seq, queued_at = excluded.queued_at,
        claimed_by = NULL, claimed_at = NULL;
"""


def redraw_claims(db: sqlite_utils.Database) -> None:
    """A queued redraw is claimed by the process that draws it (`claimed_by`, `claimed_at`),
    so two servers on one database (a rolling deploy, a second replica) draw each change
    once, not once each. A claim older than a minute is taken over: its process died."""
    db.executescript(
        """
        ALTER TABLE redraw_queue ADD COLUMN claimed_by TEXT;
        ALTER TABLE redraw_queue ADD COLUMN claimed_at TEXT;
        """
        + _redraw_triggers_again(QUEUE_REDRAW_CLAIMABLE)
    )


def subscriptions(db: sqlite_utils.Database) -> None:
    """v12: channel subscriptions: which new articles a channel is alerted to.

    `filters` is one JSON object (topics, providers, words, exclude_topics, exclude_words,
    min_quality, min_heat), so a new filter kind needs no migration. `active_since`
    keeps a new subscription from replaying the backlog: only articles indexed, or first
    matching, after it are alerted. `seq` is never reused (AUTOINCREMENT), so neither is
    an id `sub<seq>` of a removed subscription.
    """
    db.executescript(
        """
        CREATE TABLE subscriptions (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,      -- sub1, sub2, ...
            channel TEXT NOT NULL,
            filters TEXT NOT NULL DEFAULT '{}',
            quiet TEXT,                   -- "HH:MM-HH:MM" in tz, may wrap midnight; NULL: none
            tz TEXT NOT NULL,
            created_by TEXT,
            created_at TEXT NOT NULL,
            active_since TEXT NOT NULL    -- UTC, ISO 8601 with Z
        );
        CREATE INDEX subscriptions_channel ON subscriptions (channel);
        """
    )


# The article columns that can change what a subscription matches (subscription_filters)
_MATCHED_COLUMNS = ("title", "excerpt", "provider_name", "provider_domain", "topics", "quality",
                    "heat", "published", "skipped", "published_at", "error")
_QUEUE_CANDIDATE = ("INSERT INTO alert_candidates (article_id) VALUES (new.id)"
                    " ON CONFLICT (article_id) DO NOTHING;")


def alerts(db: sqlite_utils.Database) -> None:
    """v13: alerts, as articles land: what each subscription was told, and what waits.

    - `alert_candidates`: articles whose matching may have changed, queued by triggers on
      `articles` (any process that indexes: `serve`, `newsbot index`), only while there is
      a subscription, so an index without any pays nothing. The alert pass drains it.
    - `alerts`: one row per (subscription, article) that matched: 'backlog' (it matched
      when the subscription was made: never posted), 'copy' (another copy of its story
      was alerted: never posted), 'held' (waiting: quiet hours, a burst), 'planned' (in the
      alert digest `digest_id`, posted as digests are). The row is the claim that makes an
      alert at most once per (subscription, story), across restarts and processes.
    - `alert_state`: how far embargo lifts have been looked at.
    - `subscriptions.member`/`until`: a personal follow (its channel is the DM) and when it
      ends; `digests.header`/`buttons`: an alert of one article has no header, and a
      follower who is not an editor gets no buttons.
    """
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in _MATCHED_COLUMNS)
    db.executescript(
        f"""
        CREATE TABLE alert_candidates (article_id TEXT PRIMARY KEY) WITHOUT ROWID;
        CREATE TRIGGER alert_article_indexed AFTER INSERT ON articles
            WHEN EXISTS (SELECT 1 FROM subscriptions) BEGIN {_QUEUE_CANDIDATE} END;
        CREATE TRIGGER alert_article_changed AFTER UPDATE ON articles
            WHEN EXISTS (SELECT 1 FROM subscriptions) AND ({changed})
            BEGIN {_QUEUE_CANDIDATE} END;
        CREATE TABLE alerts (
            subscription_id TEXT NOT NULL,
            article_id TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('backlog', 'copy', 'held', 'planned')),
            digest_id INTEGER,            -- the alert digest that posts it, once planned
            quiet INTEGER NOT NULL DEFAULT 0,  -- matched during the quiet hours
            matched_at TEXT NOT NULL,
            PRIMARY KEY (subscription_id, article_id)
        ) WITHOUT ROWID;
        CREATE INDEX alerts_waiting ON alerts (state, subscription_id) WHERE state = 'held';
        CREATE TABLE alert_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            embargo_checked_until TEXT NOT NULL
        );
        CREATE INDEX articles_embargo ON articles (published_at)
            WHERE error IS NULL AND published = 0;
        ALTER TABLE subscriptions ADD COLUMN member TEXT;
        ALTER TABLE subscriptions ADD COLUMN until TEXT;
        CREATE INDEX subscriptions_member ON subscriptions (member) WHERE member IS NOT NULL;
        ALTER TABLE digests ADD COLUMN header INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE digests ADD COLUMN buttons INTEGER NOT NULL DEFAULT 1;
        CREATE INDEX digest_messages_posted ON digest_messages (article_id) WHERE ts IS NOT NULL;
        """
    )


def job_leases(db: sqlite_utils.Database) -> None:
    """v14: one lease per interval job that must not run twice when several `serve`
    processes share the database (bot/newsroom/job_leases.py). `expires_at` is Unix time."""
    db.executescript(
        """
        CREATE TABLE job_leases (
            job TEXT PRIMARY KEY,
            holder TEXT NOT NULL,         -- host:pid:random of the process holding it
            expires_at REAL NOT NULL
        );
        """
    )


def rejected_decisions(db: sqlite_utils.Database) -> None:
    """v15: spooled decisions that could not be applied, and the health probe's heartbeat.

    A decision Slack saw acknowledged while the database was down is applied later; by
    then its article may be gone or broken, or its author no longer an editor. It is kept
    here with the reason (never dropped), and its author is told privately once: the
    report is claimed (`report_state` 'sending') before Slack is called, so two servers,
    or a retry after Slack's answer was lost, never tell them twice.

    `health_heartbeat` is the one row /healthz rewrites (at most every few seconds) to
    prove the database takes a real write, not only a lock.
    """
    db.executescript(
        """
        CREATE TABLE rejected_decisions (
            event_key TEXT PRIMARY KEY,   -- the spooled event's key: rejected once
            event TEXT NOT NULL,          -- the event as spooled (JSON)
            user_id TEXT NOT NULL,
            action TEXT NOT NULL,
            source TEXT NOT NULL,         -- reaction, button
            article_id TEXT,              -- NULL: its digest message names no article
            channel TEXT,                 -- where the author is told; NULL: the App Home
            message_ts TEXT,
            reason TEXT NOT NULL,         -- article gone, article unusable, not an editor,
                                          -- refused by the database
            detail TEXT NOT NULL,         -- the reason in words, for the author and the CLI
            rejected_at TEXT NOT NULL,
            report_state TEXT NOT NULL DEFAULT 'pending'
                CHECK (report_state IN ('pending', 'sending', 'sent', 'unsure', 'failed')),
            report_attempts INTEGER NOT NULL DEFAULT 0,
            report_after TEXT NOT NULL,   -- no attempt before this time (ISO 8601 UTC)
            reported_at TEXT,
            report_error TEXT
        );
        CREATE INDEX rejected_decisions_to_report ON rejected_decisions (report_after)
            WHERE report_state = 'pending';

        CREATE TABLE health_heartbeat (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            beat_at TEXT NOT NULL,
            pid INTEGER NOT NULL
        );
        """
    )


def article_urls(db: sqlite_utils.Database) -> None:
    """v16: each article's webUrl as the story clusters canonicalise it, indexed: a link pasted
    in Slack finds its article (handlers/listeners/unfurls.py) whatever its tracking
    parameters, `www.` or scheme. The index fills it for every article it parses; the rows
    already there are filled here, since an unchanged file is never parsed again."""
    from newsbot.storage.canonical_urls import canonical_url

    db.execute("ALTER TABLE articles ADD COLUMN canonical_url TEXT")
    rows = db.execute("SELECT id, web_url FROM articles WHERE web_url IS NOT NULL").fetchall()
    db.conn.executemany("UPDATE articles SET canonical_url = ? WHERE id = ?",
                        [(canonical_url(web_url), article_id) for article_id, web_url in rows])
    db.execute("CREATE INDEX articles_canonical_url ON articles (canonical_url)"
               " WHERE canonical_url IS NOT NULL AND error IS NULL")


def redraw_claims_kept(db: sqlite_utils.Database) -> None:
    """v17: a change to an article whose redraw is claimed keeps the claim (v11 freed it).

    Freed, a second server could draw the article while the first was still drawing it:
    the two chat.updates then race, and the older content can land last and stay there.
    Kept, one process at a time draws an article; when it is done it deletes the row if
    nothing changed since what it drew, or else lets the claim go (redraw_queue.redraw_done)
    so that either server draws the newer change. The triggers go back to
    QUEUE_REDRAW_REQUEUED."""
    db.executescript(_redraw_triggers_again(QUEUE_REDRAW_REQUEUED))


def unfurls(db: sqlite_utils.Database) -> None:
    """v18: the link previews newsbot made (chat.unfurl), so that a decision made elsewhere
    redraws them as it redraws digest messages (bot/newsroom/link_previews.py). One row per
    (message, link); rows past the redraw window are pruned as new ones come."""
    db.executescript(
        """
        CREATE TABLE unfurls (
            channel TEXT NOT NULL,
            message_ts TEXT NOT NULL,
            url TEXT NOT NULL,            -- as the message holds it: chat.unfurl's key
            article_id TEXT NOT NULL,
            unfurled_at TEXT NOT NULL,    -- ISO 8601 UTC, the latest link_shared or click
            PRIMARY KEY (channel, message_ts, url)
        ) WITHOUT ROWID;
        CREATE INDEX unfurls_article ON unfurls (article_id, unfurled_at);
        CREATE INDEX unfurls_age ON unfurls (unfurled_at);
        """
    )


def redraw_waiting_since(db: sqlite_utils.Database) -> None:
    """v19: a change to an article queued already keeps its place (`queued_at`), and the
    queue is drawn in that order. The redrawer draws only what Slack's rate allows, so
    before, an article that changed more often than the queue went round moved to the back
    each time and was never drawn while the votes went on."""
    db.executescript(_redraw_triggers_again(QUEUE_REDRAW))


def decision_log_one_article_index(db: sqlite_utils.Database) -> None:
    """v20: decision_log keeps one index that leads with the article: the replay's
    (article_id, user_id, event_us, id) answers every look-up by article (the event-time
    bound of a click, the sync's last withdrawal, the report's recent articles) as the
    older (article_id, id) did, and every event Slack sends wrote both: the two were
    nearly half the pages each commit of decisions wrote."""
    db.execute("DROP INDEX IF EXISTS decision_log_article")


MIGRATIONS = [articles, decisions, digests, sync, schedules, topic_order, redraw_queue, clusters,
              report_schedules, decision_event_time, redraw_claims, subscriptions, alerts,
              job_leases, rejected_decisions, article_urls, redraw_claims_kept, unfurls,
              redraw_waiting_since, decision_log_one_article_index]
