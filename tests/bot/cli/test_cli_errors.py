"""Mistakes on the command line: one line on stderr naming the help to read, exit 2, and
with --json the JSON error document; and what a read-only database still answers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import BUNDLED_ARTICLES, read_only_even_for_root, run_cli


@pytest.mark.parametrize(("args", "message", "help_of"), [
    (["nonsense"], "argument COMMAND: invalid choice: 'nonsense'", "newsbot"),
    (["lookup"], "the following arguments are required: TOPIC", "newsbot lookup"),
    (["digest", "--top", "0"], "argument --top: must be 1 or more: 0", "newsbot digest"),
    (["digest", "--top", "many"], "argument --top: not a whole number: 'many'", "newsbot digest"),
    (["gaps", "--hours", "-1"], "argument --hours: must be above 0: -1", "newsbot gaps"),
    (["schedule", "add", "C0NEWS"], "the following arguments are required: CRON",
     "newsbot schedule add"),
    (["sandbox", "--port", "70000"], "argument --port: must be 0 to 65535: 70000",
     "newsbot sandbox"),
    (["digest", "--top", "-1"], "argument --top: must be 1 or more: -1", "newsbot digest"),
    (["serve", "--port", "http"], "argument --port: not a port number: 'http'", "newsbot serve"),
    (["--bogus", "digest"], "unrecognized arguments: --bogus", "newsbot"),
    (["digest", "--bogus"], "unrecognized arguments: --bogus", "newsbot digest"),
    (["schedule", "add", "C0NEWS", "0 9 * * *", "--bogus"], "unrecognized arguments: --bogus",
     "newsbot schedule add"),
    ([], "the following arguments are required: COMMAND", "newsbot"),
])
def test_an_argument_error_is_one_line_naming_the_help(tmp_path: Path, args, message, help_of):
    for as_json in (False, True):
        result = run_cli(*args, *(["--json"] if as_json else []), cwd=tmp_path)
        assert result.code == 2
        [line] = result.stderr.splitlines()
        assert line.startswith(f"newsbot: error: {message}"), line
        assert line.endswith(f"; see `{help_of} --help`"), line
        if as_json:
            assert json.loads(result.stdout) == {"ok": False,
                                                 "error": line.removeprefix("newsbot: error: ")}
        else:
            assert result.stdout == ""


def test_a_file_given_as_the_articles_folder_is_not_a_folder(tmp_path: Path):
    result = run_cli("--articles", "/etc/hostname", "--db", "x.db", "index", cwd=tmp_path)
    assert result.code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("newsbot: error: the articles folder /etc/hostname is not a folder")


def test_a_read_only_database_still_answers_reading_commands(tmp_path: Path):
    folder = tmp_path / "readonly"
    folder.mkdir()
    db = folder / "newsbot.db"
    common = ["--articles", str(BUNDLED_ARTICLES), "--db", str(db)]
    assert run_cli(*common, "index", cwd=tmp_path).code == 0
    written = run_cli(*common, "--json", "digest", cwd=tmp_path)
    for leftover in (folder / "newsbot.db-wal", folder / "newsbot.db-shm"):
        leftover.unlink(missing_ok=True)  # as a copied backup arrives: the file alone
    with read_only_even_for_root(db, folder):
        answer = run_cli(*common, "--no-refresh", "--json", "digest", cwd=tmp_path)
        assert answer.code == 0, answer.stderr
        assert json.loads(answer.stdout) == json.loads(written.stdout)
        topics = run_cli(*common, "--no-refresh", "topics", cwd=tmp_path)
        assert topics.code == 0 and "Climate" in topics.stdout
        for never_refreshes in (["decisions"], ["schedule", "list"]):  # no --no-refresh needed
            listed = run_cli(*common, *never_refreshes, cwd=tmp_path)
            assert listed.code == 0, listed.stderr
        refused = run_cli(*common, "index", cwd=tmp_path)  # a writing command says why
        assert refused.code == 2
        assert refused.stderr.startswith(f"newsbot: error: cannot open the database {db}")


@pytest.mark.skipif(os.geteuid() == 0, reason="chmod does not stop root from writing")
def test_a_database_file_of_mode_0444_still_answers_reading_commands(tmp_path: Path):
    db = tmp_path / "newsbot.db"
    common = ["--articles", str(BUNDLED_ARTICLES), "--db", str(db)]
    assert run_cli(*common, "index", cwd=tmp_path).code == 0
    written = run_cli(*common, "--json", "digest", cwd=tmp_path)
    db.chmod(0o444)
    before = db.read_bytes()
    answer = run_cli(*common, "--no-refresh", "--json", "digest", cwd=tmp_path)
    assert answer.code == 0, answer.stderr
    assert json.loads(answer.stdout) == json.loads(written.stdout)
    assert db.read_bytes() == before
    for writing in (["index"], ["schedule", "add", "C0123ABCD", "0 9 * * *"]):
        refused = run_cli(*common, *writing, cwd=tmp_path)  # one line, not a traceback
        assert refused.code == 2
        [line] = refused.stderr.splitlines()
        assert line == (f"newsbot: error: cannot open the database {db}: "
                        "this user may not write it")
