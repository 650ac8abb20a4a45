"""Sync: decisions written into real files on disk, from a real SQLite store."""

from __future__ import annotations

import difflib
import fcntl
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, run_cli
from newsbot.bot.config.settings import BUNDLED_ARTICLES, Config
from newsbot.bot.newsroom.decisions import decide
from newsbot.bot.newsroom.digest import select_digest
from newsbot.bot.services.sync import SyncBusy, lock_path, open_conflicts, sync_decisions
from newsbot.storage.article_file import BOM
from newsbot.storage.atomic_file import temp_path_for
from newsbot.storage.db import Store
from newsbot.storage.index import refresh

REPO = REPO_ROOT

ARTICLE = (
    "---\n"
    "category: news\n"
    'title: "{title}"\n'
    "# editors: keep this comment\n"
    "quality: 50\n"
    "heat: 40\n"
    "published: false\n"
    "\n"
    "topics:\n"
    "  - AI\n"
    "\n"
    "related:\n"
    '  - title: "Nested"\n'
    "    published: true\n"
    "\n"
    'secured: "J4gpCRArL2xkBYO2F020collFTiuMSp/JapLO0efBwe63yN4+Grl==;DBreKKY7CRykmPTTk5Vj4A=="\n'
    "---\n"
    "First paragraph.\n"
)


def article(title: str = "A title: with a colon") -> str:
    return ARTICLE.format(title=title)


class Newsroom:
    """An articles folder, its database, and the few actions tests need."""

    def __init__(self, tmp_path: Path) -> None:
        self.folder = tmp_path / "articles"
        self.folder.mkdir()
        self.db_path = tmp_path / "newsbot.db"
        self.store = Store(self.db_path)
        self.config = Config(articles=self.folder, db=self.db_path)

    def add(self, name: str, text: str | bytes) -> Path:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return path

    def index(self) -> None:
        refresh(self.store, self.folder)

    def decide(self, name: str, action: str, user: str = "U1") -> None:
        self.index()
        decide(self.store, name, action, user, source="cli")  # type: ignore[arg-type]

    def sync(self, **options):
        return sync_decisions(self.store, self.config, **options)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        return subprocess.run(
            [sys.executable, "-m", "newsbot.bot", "--articles", str(self.folder), "--db",
             str(self.db_path), *args],
            capture_output=True, text=True, env=env, cwd=self.folder.parent, check=False,
        )


@pytest.fixture
def newsroom(tmp_path: Path) -> Newsroom:
    return Newsroom(tmp_path)


VARIANTS = {
    "plain": article(),
    "crlf": article().replace("\n", "\r\n"),
    "bom": BOM + article(),
    "crlf, bom, no final newline": BOM + article().replace("\n", "\r\n").rstrip("\r\n"),
    "body with --- lines": article() + "---\npublished: false\n---\nmore\n",
    "unicode": article("Zürich’s “quantum” network — ✓ 量子"),
    "keys in unusual order": "---\npublished: false\nheat: 1\n# c\ntitle: Last key\n---\n",
    "published missing": article().replace("published: false\n", ""),
    "published: no, with a comment": article().replace(
        "published: false", "published:  no  # ask the desk"),
}


@pytest.mark.parametrize("name", VARIANTS)
def test_publish_skip_undo_touch_one_line_and_end_on_the_exact_bytes(
    newsroom: Newsroom, name: str
) -> None:
    path = newsroom.add("a.md", VARIANTS[name])
    original = path.read_bytes()
    missing = name == "published missing"
    newline = b"\r\n" if b"\r\n" in original else b"\n"
    newsroom.decide("a.md", "publish")
    report = newsroom.sync()
    assert [w.id for w in report.written] == ["a.md"] and not report.conflicts
    published = path.read_bytes()
    if missing:
        assert diff_lines(original, published) == ["+published: true"]
    else:
        commented = name == "published: no, with a comment"
        assert diff_lines(original, published) == (
            ["-published:  no  # ask the desk", "+published:  true  # ask the desk"] if commented
            else ["-published: false", "+published: true"])

    newsroom.decide("a.md", "skip")  # the same editor changes their mind
    newsroom.sync()
    skipped = path.read_bytes()
    expected = ["+published: false", "+skipped: true"] if missing else ["+skipped: true"]
    assert diff_lines(original, skipped) == expected
    assert skipped.count(b"skipped: true" + newline) == 1

    newsroom.decide("a.md", "undo")
    report = newsroom.sync()
    assert [w.action for w in report.written] == ["revert"]
    assert path.read_bytes() == original

    newsroom.decide("a.md", "publish")
    newsroom.sync()
    assert path.read_bytes() == published
    assert newsroom.sync().written == []  # idempotent


def diff_lines(before: bytes, after: bytes) -> list[str]:
    """The removed and added lines between two files, line endings stripped."""
    old = [line.rstrip("\r") for line in before.decode().split("\n")]
    new = [line.rstrip("\r") for line in after.decode().split("\n")]
    return [line[0] + line[2:] for line in difflib.ndiff(old, new) if line[:2] in ("- ", "+ ")]


def test_published_missing_is_inserted_after_heat(newsroom: Newsroom) -> None:
    path = newsroom.add("a.md", VARIANTS["published missing"])
    newsroom.decide("a.md", "skip")
    newsroom.sync()
    assert b"heat: 40\npublished: false\nskipped: true\n\ntopics:" in path.read_bytes()


def test_second_sync_writes_nothing_and_unchanged_lists_the_done_ones(
    newsroom: Newsroom,
) -> None:
    for name in ("a.md", "b.md", "c.txt"):
        newsroom.add(name, article(name))
    newsroom.decide("a.md", "publish")
    newsroom.decide("b.md", "skip")
    first = newsroom.sync()
    assert sorted(w.id for w in first.written) == ["a.md", "b.md"]
    mtimes = {p.name: p.stat().st_mtime_ns for p in newsroom.folder.iterdir()}
    second = newsroom.sync()
    assert second.written == [] and second.unchanged == ["a.md", "b.md"]
    assert {p.name: p.stat().st_mtime_ns for p in newsroom.folder.iterdir()} == mtimes


def test_an_external_edit_since_the_decision_stays_and_only_our_line_is_added(
    newsroom: Newsroom,
) -> None:
    path = newsroom.add("a.md", article("Tpyo in the title"))
    newsroom.decide("a.md", "skip")
    fixed = path.read_bytes().replace(b"Tpyo", b"Typo").replace(b"First", b"The first")
    path.write_bytes(fixed)  # edited after indexing, before sync
    newsroom.sync()
    assert path.read_bytes() == fixed.replace(b"published: false\n",
                                              b"published: false\nskipped: true\n")
    # and an edit after our write survives the revert
    edited = path.read_bytes().replace(b"quality: 50", b"quality: 55")
    path.write_bytes(edited)
    newsroom.decide("a.md", "undo")
    newsroom.sync()
    assert path.read_bytes() == fixed.replace(b"quality: 50", b"quality: 55")


def test_a_file_edited_between_reading_and_replacing_is_decided_again(
    newsroom: Newsroom,
) -> None:
    from newsbot.bot.services.sync_plan import plan_all
    from newsbot.bot.services.sync_write import write_all

    path = newsroom.add("a.md", article("Frist"))
    newsroom.decide("a.md", "publish")
    plans = plan_all(newsroom.store, newsroom.folder.resolve())
    assert plans[0].after is not None
    fixed = path.read_bytes().replace(b"Frist", b"First")
    path.write_bytes(fixed)  # an editor saves while sync is at work
    write_all(newsroom.store, plans, "2026-11-01T00:00:00Z")
    assert plans[0].conflict is None
    assert path.read_bytes() == fixed.replace(b"published: false", b"published: true")


def test_an_external_publish_contradicting_a_skip_is_a_conflict(newsroom: Newsroom) -> None:
    path = newsroom.add("a.md", article())
    newsroom.add("b.md", article())
    newsroom.decide("a.md", "skip")
    newsroom.decide("b.md", "publish")
    for name in ("a.md", "b.md"):  # someone publishes both by hand before the sync
        target = newsroom.folder / name
        target.write_bytes(target.read_bytes().replace(b"published: false", b"published: true"))
    before = path.read_bytes()
    report = newsroom.sync()
    assert [(c.id, c.reason) for c in report.conflicts] == [
        ("a.md", "the file says 'published: true' (published outside newsbot) "
                 "but the decision is skip")]
    assert report.unchanged == ["b.md"]  # publish was already done
    assert path.read_bytes() == before
    assert [c.id for c in open_conflicts(newsroom.store)] == ["a.md"]

    newsroom.decide("a.md", "undo")  # resolved: the conflict is gone at the next sync
    assert newsroom.sync().conflicts == []
    assert open_conflicts(newsroom.store) == []


def test_unpublishing_by_hand_after_our_publish_is_a_conflict(newsroom: Newsroom) -> None:
    path = newsroom.add("a.md", article())
    original = path.read_bytes()
    newsroom.decide("a.md", "publish")
    newsroom.sync()
    path.write_bytes(original)  # e.g. `git revert` of newsbot's commit
    report = newsroom.sync()
    assert report.written == []
    assert "changed in the file since newsbot wrote it" in report.conflicts[0].reason
    assert path.read_bytes() == original


def test_withdrawing_after_someone_changed_our_line_is_a_conflict_until_resolved(
    newsroom: Newsroom,
) -> None:
    path = newsroom.add("a.md", article())
    newsroom.decide("a.md", "publish")
    newsroom.sync()
    live = path.read_bytes().replace(b"published: true", b"published: true  # live")
    path.write_bytes(live)
    newsroom.decide("a.md", "undo")
    report = newsroom.sync()
    assert [c.reason for c in report.conflicts] == [
        "'published' was changed in the file since newsbot wrote it "
        "(now 'published: true  # live'), so the withdrawn publish is not reverted"]
    assert path.read_bytes() == live
    path.write_bytes(article().encode())  # the desk unpublishes by hand
    report = newsroom.sync()
    assert report.conflicts == [] and report.unchanged == ["a.md"]
    assert newsroom.store.query("SELECT * FROM sync_state") == []


def test_withdrawing_a_skip_after_a_publish_by_hand_removes_only_our_line(
    newsroom: Newsroom,
) -> None:
    path = newsroom.add("a.md", article())
    newsroom.decide("a.md", "skip")
    newsroom.sync()
    path.write_bytes(path.read_bytes().replace(b"published: false", b"published: true"))
    newsroom.decide("a.md", "undo")
    report = newsroom.sync()
    assert report.conflicts == [] and [w.action for w in report.written] == ["revert"]
    assert path.read_text() == article().replace("published: false", "published: true")


def test_a_deleted_or_broken_file_is_a_conflict_and_others_still_sync(
    newsroom: Newsroom,
) -> None:
    gone = newsroom.add("gone.md", article())
    broken = newsroom.add("broken.md", article())
    newsroom.add("fine.md", article())
    for name in ("gone.md", "broken.md", "fine.md"):
        newsroom.decide(name, "publish")
    gone.unlink()
    broken.write_text("---\ntitle: [unclosed\n---\n")
    report = newsroom.sync()
    assert [w.id for w in report.written] == ["fine.md"]
    reasons = {c.id: c.reason for c in report.conflicts}
    assert reasons["gone.md"] == "the file is gone"
    assert reasons["broken.md"].startswith("the file no longer parses: invalid YAML")
    assert broken.read_text() == "---\ntitle: [unclosed\n---\n"
    assert newsroom.cli("sync").returncode == 1


def test_a_file_deleted_after_its_decision_was_written_is_no_conflict(
    newsroom: Newsroom,
) -> None:
    published = newsroom.add("published.md", article())
    skipped = newsroom.add("skipped.md", article())
    newsroom.decide("published.md", "publish")
    newsroom.decide("skipped.md", "skip")
    newsroom.sync()
    newsroom.decide("skipped.md", "undo")
    published.unlink()  # taken off the site later
    skipped.unlink()
    report = newsroom.sync()
    assert report.conflicts == [] and report.unchanged == ["published.md", "skipped.md"]
    assert newsroom.store.query("SELECT article_id FROM sync_state") == [
        {"article_id": "published.md"}]


def test_a_symlink_leading_outside_the_folder_is_refused(
    newsroom: Newsroom, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.md"
    outside.write_text(article())
    newsroom.add("inner/real.md", article())
    # decided while they were files (the index never reads through a link), then linked
    for name in ("escape.md", "alias.md"):
        newsroom.add(name, article())
        newsroom.decide(name, "publish")
        (newsroom.folder / name).unlink()
    (newsroom.folder / "escape.md").symlink_to(outside)
    (newsroom.folder / "alias.md").symlink_to(newsroom.folder / "inner" / "real.md")
    report = newsroom.sync()
    assert sorted((c.id, c.reason) for c in report.conflicts) == [
        ("alias.md", "the path is a symbolic link; sync only edits the file itself"),
        ("escape.md", "the path leads outside the articles folder (a symbolic link?)")]
    assert outside.read_text() == article()
    # a link that stays inside is refused too: a decision on alias.md must not edit
    # inner/real.md, an article of its own with its own decisions
    assert (newsroom.folder / "alias.md").is_symlink()
    assert (newsroom.folder / "inner" / "real.md").read_text() == article()


def test_a_fifo_at_an_article_path_is_a_conflict_not_a_hang(newsroom: Newsroom) -> None:
    path = newsroom.add("a.md", article())
    newsroom.decide("a.md", "publish")
    path.unlink()
    os.mkfifo(path)
    report = newsroom.sync()
    assert [(c.id, c.reason) for c in report.conflicts] == [
        ("a.md", "cannot read the file: not a regular file")]


def test_owner_and_group_are_kept(newsroom: Newsroom) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a file to another owner needs root")
    path = newsroom.add("a.md", article())
    os.chown(path, 1000, 1000)
    path.chmod(0o664)
    newsroom.decide("a.md", "publish")
    newsroom.sync()
    st = path.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (1000, 1000, 0o664)


def test_permissions_are_kept(newsroom: Newsroom) -> None:
    path = newsroom.add("a.md", article())
    path.chmod(0o640)
    newsroom.decide("a.md", "publish")
    newsroom.sync()
    assert path.stat().st_mode & 0o7777 == 0o640


def test_a_skipped_file_stays_out_of_the_digest_even_without_its_decision(
    newsroom: Newsroom,
) -> None:
    newsroom.add("a.md", article("Skip me"))
    newsroom.add("b.md", article("Keep me"))
    newsroom.decide("a.md", "skip")
    newsroom.sync()
    newsroom.store.db.execute("DELETE FROM votes")  # the decision is lost from the database
    newsroom.store.db.conn.commit()
    newsroom.index()
    assert [a.title for a in select_digest(newsroom.store)] == ["Keep me"]


def test_dry_run_prints_the_diff_and_writes_nothing(newsroom: Newsroom) -> None:
    path = newsroom.add("a.md", article())
    original = path.read_bytes()
    newsroom.decide("a.md", "skip")
    result = newsroom.cli("sync", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        "--- a/a.md\n+++ b/a.md\n@@ -5,6 +5,7 @@\n quality: 50\n heat: 40\n published: false\n"
        "+skipped: true\n")
    assert path.read_bytes() == original
    assert newsroom.store.query("SELECT * FROM sync_state") == []
    assert newsroom.sync(dry_run=True).diff in result.stdout


def test_json_output_and_exit_status(newsroom: Newsroom) -> None:
    newsroom.add("a.md", article())
    newsroom.add("b.md", article().replace("published: false", "published: true"))
    newsroom.decide("a.md", "publish")
    newsroom.decide("b.md", "skip")
    result = newsroom.cli("sync", "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout) == {
        "written": ["a.md"], "unchanged": [],
        "conflicts": [{"id": "b.md", "reason": "the file says 'published: true' (published "
                                               "outside newsbot) but the decision is skip"}],
    }
    newsroom.decide("b.md", "undo")
    result = newsroom.cli("sync", "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"written": [], "unchanged": ["a.md"], "conflicts": []}


# --- crashes and concurrency

KILL_SCRIPT = """
import os, signal, sys
from newsbot.storage import atomic_file
real_replace, real_exchange = os.replace, atomic_file._exchange
def dying(real):
    def swap(src, dst):
        swapped = real(src, dst)
        if sys.argv[1] == "after-rename" and swapped is not False:
            os.kill(os.getpid(), signal.SIGKILL)
        return swapped
    def before(src, dst):
        os.kill(os.getpid(), signal.SIGKILL)
    return swap if sys.argv[1] == "after-rename" else before
# the moment to die: just before (or just after) the swap, a rename or an exchange of names
os.replace, atomic_file._exchange = dying(real_replace), dying(real_exchange)
from pathlib import Path
from newsbot.bot.config.settings import Config
from newsbot.bot.services.sync import sync_decisions
from newsbot.storage.db import Store
folder, db = Path(sys.argv[2]), Path(sys.argv[3])
sync_decisions(Store(db), Config(articles=folder, db=db))
"""


def _killed_sync(newsroom: Newsroom, moment: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, moment, str(newsroom.folder), str(newsroom.db_path)],
        env=dict(os.environ), capture_output=True, check=False,
    )
    assert result.returncode == -9, result.stderr


def test_killed_between_writing_the_temporary_file_and_renaming(newsroom: Newsroom) -> None:
    path = newsroom.add("a.md", article())
    original = path.read_bytes()
    newsroom.decide("a.md", "publish")
    _killed_sync(newsroom, "before-rename")
    assert path.read_bytes() == original  # old, never torn
    leftover = temp_path_for(path)
    assert leftover.exists()  # the temporary file, complete, as the kill left it
    assert leftover.read_bytes() == original.replace(b"published: false", b"published: true")
    newsroom.index()
    assert newsroom.store.query("SELECT id FROM articles") == [{"id": "a.md"}]  # not indexed

    report = newsroom.sync()  # the next sync finishes the job
    assert [w.id for w in report.written] == ["a.md"]
    assert not leftover.exists()
    assert path.read_bytes() == original.replace(b"published: false", b"published: true")
    assert newsroom.sync().written == []


def test_a_leftover_is_removed_even_when_the_decision_was_withdrawn_meanwhile(
    newsroom: Newsroom,
) -> None:
    path = newsroom.add("a.md", article())
    newsroom.decide("a.md", "publish")
    _killed_sync(newsroom, "before-rename")
    newsroom.decide("a.md", "undo")
    report = newsroom.sync()
    assert report.written == [] and report.conflicts == []
    assert sorted(p.name for p in newsroom.folder.iterdir()) == ["a.md"]
    assert path.read_text() == article()
    assert newsroom.store.query("SELECT * FROM sync_state") == []


def test_killed_after_renaming_before_recording_it(newsroom: Newsroom) -> None:
    path = newsroom.add("a.md", article())
    original = path.read_bytes()
    newsroom.decide("a.md", "skip")
    _killed_sync(newsroom, "after-rename")
    assert b"skipped: true" in path.read_bytes()
    assert newsroom.store.query("SELECT pending FROM sync_state") == [{"pending": 1}]

    report = newsroom.sync()
    assert report.written == [] and report.unchanged == ["a.md"]
    assert newsroom.store.query("SELECT pending, written_skipped FROM sync_state") == [
        {"pending": 0, "written_skipped": "skipped: true"}]  # the write is settled as done
    # newsbot still knows the line is its own: withdrawing restores the exact bytes
    newsroom.decide("a.md", "undo")
    newsroom.sync()
    assert path.read_bytes() == original


def test_two_syncs_at_once_write_each_file_once(newsroom: Newsroom) -> None:
    names = [f"{n:03}.md" for n in range(120)]
    for name in names:
        newsroom.add(name, article(name))
    newsroom.index()
    for n, name in enumerate(names):
        decide(newsroom.store, name, "publish" if n % 2 else "skip", "U1", source="cli")
    env = dict(os.environ)
    command = [sys.executable, "-m", "newsbot.bot", "--articles", str(newsroom.folder), "--db",
               str(newsroom.db_path), "sync", "--json"]
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(2)]
    reports = [json.loads(run.communicate()[0]) for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    written = [set(report["written"]) for report in reports]
    assert not written[0] & written[1]
    assert written[0] | written[1] == set(names)
    for n, name in enumerate(names):
        text = (newsroom.folder / name).read_text()
        assert text == (article(name).replace("published: false", "published: true") if n % 2
                        else article(name).replace("published: false",
                                                   "published: false\nskipped: true"))
    assert sorted(p.name for p in newsroom.folder.iterdir()) == names  # no temporary files


def test_a_sync_waits_for_the_lock_and_gives_up_with_busy(newsroom: Newsroom) -> None:
    path = newsroom.add("a.md", article())
    newsroom.decide("a.md", "publish")
    with open(lock_path(newsroom.store), "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(SyncBusy, match="another sync is running"):
            newsroom.sync(lock_timeout=0)
        assert b"published: false" in path.read_bytes()
    assert [w.id for w in newsroom.sync(lock_timeout=0).written] == ["a.md"]


# --- git


def _git(folder: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="Desk", GIT_AUTHOR_EMAIL="desk@example.org",
               GIT_COMMITTER_NAME="Desk", GIT_COMMITTER_EMAIL="desk@example.org")
    return subprocess.run(["git", "-C", str(folder), *args], env=env, capture_output=True,
                          text=True, check=True).stdout


def test_git_commit_holds_exactly_the_written_files_and_who_decided(
    newsroom: Newsroom, tmp_path: Path
) -> None:
    repo = tmp_path  # the repository holds the articles folder and more
    _git(repo, "init", "-q", "-b", "main")
    newsroom.add("a.md", article("Alpha"))
    newsroom.add("b.md", article("Beta"))
    newsroom.add("dirty.md", article("Dirty"))
    newsroom.add("other.md", article("Other"))
    (repo / "site.cfg").write_text("theme = plain\n")
    (repo / ".gitignore").write_text("newsbot.db*\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "initial")
    head = _git(repo, "rev-parse", "HEAD").strip()
    (repo / "site.cfg").write_text("theme = dark\n")
    _git(repo, "add", "site.cfg")  # the newsroom's own staged change
    other = newsroom.folder / "other.md"
    other.write_text(article("Other, edited"))  # and an unstaged one
    dirty = newsroom.folder / "dirty.md"
    dirty.write_text(article("Dirty, edited"))  # uncommitted edit in a file we will write
    newsroom.decide("a.md", "publish", user="U_ANN")
    newsroom.decide("b.md", "skip", user="U_BOB")
    newsroom.decide("dirty.md", "publish", user="U_ANN")
    (repo / "newsbot.yaml").write_text(
        "sync:\n  git_author: Newsbot <bot@example.org>\n"
        "  git_committer: Night Desk <desk@example.org>\n")

    result = newsroom.cli("sync", "--git-commit", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["written"] == ["a.md", "b.md", "dirty.md"]
    assert document["notes"] == [
        "not committed (the file had other uncommitted changes, or git does not track it): "
        "dirty.md"]
    assert _git(repo, "rev-parse", "HEAD^").strip() == head
    shown = _git(repo, "show", "--format=%an <%ae>|%cn <%ce>|%B", "--name-only", "HEAD")
    assert shown == (
        "Newsbot <bot@example.org>|Night Desk <desk@example.org>|"
        "newsbot sync: 2 articles (1 publish, 1 skip)\n\n"
        "- Alpha (publish, by U_ANN)\n"
        "- Beta (skip, by U_BOB)\n\n\n"
        "articles/a.md\narticles/b.md\n"
    )
    assert _git(repo, "show", "--format=", "HEAD").count("\n+published") == 1
    assert _git(repo, "diff", "--cached", "--name-only") == "site.cfg\n"  # still staged
    assert sorted(_git(repo, "diff", "--name-only").split()) == [
        "articles/dirty.md", "articles/other.md"]

    newsroom.decide("a.md", "undo", user="U_ANN")
    result = newsroom.cli("sync", "--git-commit")
    assert "Committed" in result.stdout
    assert _git(repo, "log", "-1", "--format=%B") == (
        "newsbot sync: 1 article (1 revert)\n\n- Alpha (publish withdrawn, by U_ANN)\n\n")
    assert _git(repo, "show", "HEAD:articles/a.md") == article("Alpha")


def test_git_commit_outside_a_repository_is_a_quiet_note(newsroom: Newsroom) -> None:
    newsroom.add("a.md", article())
    newsroom.decide("a.md", "publish")
    report = newsroom.sync(git_commit=True)
    assert [w.id for w in report.written] == ["a.md"] and report.ok
    assert report.notes == ["the articles folder is not in a git repository: nothing committed"]


def bundled_hashes() -> dict[str, str]:
    return {str(path.relative_to(BUNDLED_ARTICLES)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(BUNDLED_ARTICLES.rglob("*")) if path.is_file()}


def test_sync_never_writes_the_bundled_examples_and_says_where_to_point_it(tmp_path: Path):
    """On the default articles folder (the examples shipped in the package) a decision is
    recorded and shown by --dry-run, but sync refuses to write, in one line."""
    before = bundled_hashes()
    article_id = next(iter(before))
    original = (BUNDLED_ARTICLES / article_id).read_bytes()
    try:
        check_bundled_sync_refused(tmp_path, article_id, before)
    finally:  # a broken sync must not leave the checkout's examples changed
        if (BUNDLED_ARTICLES / article_id).read_bytes() != original:
            (BUNDLED_ARTICLES / article_id).write_bytes(original)


def check_bundled_sync_refused(tmp_path: Path, article_id: str, before: dict[str, str]) -> None:
    assert run_cli("decide", article_id, "publish", "--user", "U1", cwd=tmp_path).code == 0
    dry = run_cli("sync", "--dry-run", cwd=tmp_path)
    assert dry.code == 0 and "+published: true" in dry.stdout
    refused = run_cli("sync", cwd=tmp_path)
    assert refused.code == 2
    assert refused.stderr.count("\n") == 1
    assert "bundled examples, which sync never writes" in refused.stderr
    assert "--articles, NEWSBOT_ARTICLES or 'articles:'" in refused.stderr
    assert bundled_hashes() == before
    as_json = run_cli("--json", "sync", cwd=tmp_path)
    assert as_json.code == 2 and json.loads(as_json.stdout)["ok"] is False
    assert bundled_hashes() == before


def test_a_folder_holding_the_bundled_examples_still_leaves_them_alone(tmp_path: Path):
    """`--articles bot/examples` (or a checkout's root) indexes the examples below it; sync
    writes none of them: each decision on one is a conflict that says why."""
    holder = BUNDLED_ARTICLES.parent
    before = bundled_hashes()
    article_id = f"{BUNDLED_ARTICLES.name}/{next(iter(before))}"
    original = (holder / article_id).read_bytes()
    try:
        assert run_cli("--articles", str(holder), "decide", article_id, "publish",
                       "--user", "U1", cwd=tmp_path).code == 0
        synced = run_cli("--articles", str(holder), "--json", "sync", cwd=tmp_path)
        assert synced.code == 1
        assert synced.json["conflicts"] == [{
            "id": article_id, "reason": "the file is one of newsbot's bundled examples, "
            "which sync never writes; keep your articles in a folder of your own"}]
        assert bundled_hashes() == before
    finally:  # a broken sync must not leave the checkout's examples changed
        if (holder / article_id).read_bytes() != original:
            (holder / article_id).write_bytes(original)


APPENDER = """
import os, random, sys, time
paths, stop = sys.argv[1:-1], sys.argv[-1]
count = 0
while not os.path.exists(stop):
    for _ in range(2):
        for number, path in enumerate(paths):
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)  # as `echo >> f`: reopened each time
            os.write(fd, b"appended %d %d\\n" % (number, count))
            os.close(fd)
        count += 1
    time.sleep(random.uniform(0, 0.02))  # a person pauses, or sync would never get a turn
print(count)
"""


def test_sync_racing_a_person_appending_loses_no_append(newsroom: Newsroom,
                                                         tmp_path: Path) -> None:
    """The probe's race: appends to the same files through 30+ syncs. Every append is in
    its file exactly once at the end, and sync still got its edits in."""
    names = [f"a{n}.md" for n in range(8)]
    body = "A long body line, as a person's notes grow.\n" * 10_000  # big: a wider race
    paths = [newsroom.add(name, article() + body) for name in names]
    stop = tmp_path / "stop"
    appender = subprocess.Popen(
        [sys.executable, "-c", APPENDER, *map(str, paths), str(stop)],
        stdout=subprocess.PIPE, text=True)
    written = 0
    try:
        for round_number in range(40):
            for name in names:
                newsroom.decide(name, "undo" if round_number % 2 else "publish")
            written += len(newsroom.sync().written)
    finally:
        stop.touch()
        appends = int(appender.communicate(timeout=60)[0])
    assert appends > 100 and written > 0
    for number, path in enumerate(paths):
        found = [int(line.split()[2]) for line in path.read_text().splitlines()
                 if line.startswith(f"appended {number} ")]
        assert sorted(found) == list(range(appends)), \
            f"{path.name}: {appends - len(set(found))} lost, {len(found) - len(set(found))} doubled"
