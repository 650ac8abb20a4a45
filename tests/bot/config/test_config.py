"""Configuration: defaults < newsbot.yaml < environment < flags; a wrong setting stops early."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli, write_article
from newsbot.bot.config.settings import BUNDLED_ARTICLES, Config, ConfigError, load_config


def write_yaml(folder: Path, text: str, name: str = "newsbot.yaml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def config_error(**kwargs) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(**kwargs)
    return str(caught.value)


# --- precedence


def test_defaults_without_file_environment_or_flags(tmp_path):
    config = load_config(env={}, cwd=tmp_path)
    assert config.articles == BUNDLED_ARTICLES
    assert config.db == Path("newsbot.db")
    assert config.patterns == ("*.md", "*.txt")
    assert config.digest_top == 10
    assert config.source == "defaults"


def test_the_file_in_the_working_folder_is_read(tmp_path):
    write_yaml(
        tmp_path, "articles: news\ndb: data/index.db\npatterns: ['*.md']\ndigest:\n  top: 3\n"
    )
    config = load_config(env={}, cwd=tmp_path)
    assert config.articles == tmp_path / "news"
    assert config.db == tmp_path / "data/index.db"
    assert (config.patterns, config.digest_top) == (("*.md",), 3)
    assert config.source == str(tmp_path / "newsbot.yaml")


def test_paths_in_a_named_file_are_relative_to_that_file(tmp_path):
    path = write_yaml(tmp_path / "etc", "articles: ../news\ndb: index.db\n", name="bot.yaml")
    config = load_config("etc/bot.yaml", env={}, cwd=tmp_path)
    assert config.articles == tmp_path / "etc/../news"
    assert config.db == tmp_path / "etc/index.db"
    assert config.source == str(path)


def test_newsbot_config_names_the_file(tmp_path):
    write_yaml(tmp_path / "etc", "digest:\n  top: 4\n", name="bot.yaml")
    assert load_config(env={"NEWSBOT_CONFIG": "etc/bot.yaml"}, cwd=tmp_path).digest_top == 4


def test_config_flag_wins_over_newsbot_config(tmp_path):
    write_yaml(tmp_path, "digest:\n  top: 4\n", name="env.yaml")
    write_yaml(tmp_path, "digest:\n  top: 5\n", name="flag.yaml")
    config = load_config("flag.yaml", env={"NEWSBOT_CONFIG": "env.yaml"}, cwd=tmp_path)
    assert config.digest_top == 5


def test_environment_overrides_the_file_and_flags_override_both(tmp_path):
    write_yaml(tmp_path, "articles: file-articles\ndb: file.db\ndigest:\n  top: 3\n")
    env = {"NEWSBOT_ARTICLES": "env-articles", "NEWSBOT_DB": "env.db", "NEWSBOT_DIGEST_TOP": "4",
           "NEWSBOT_PATTERNS": "*.markdown, *.text"}
    config = load_config(env=env, cwd=tmp_path)
    assert config.articles == tmp_path / "env-articles"
    assert config.db == tmp_path / "env.db"
    assert config.digest_top == 4
    assert config.patterns == ("*.markdown", "*.text")

    config = load_config(env=env, cwd=tmp_path, flags={"articles": "flag-articles", "db": None})
    assert config.articles == tmp_path / "flag-articles"
    assert config.db == tmp_path / "env.db"  # a flag not given leaves the lower layers alone


def test_an_empty_environment_variable_is_ignored(tmp_path):
    write_yaml(tmp_path, "db: file.db\n")
    assert load_config(env={"NEWSBOT_DB": ""}, cwd=tmp_path).db == tmp_path / "file.db"


def test_an_empty_file_is_all_defaults(tmp_path):
    write_yaml(tmp_path, "# nothing set yet\n")
    assert load_config(env={}, cwd=tmp_path) == Config()


# --- errors: file, key and reason, before anything happens


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("colour: blue\n", "unknown key 'colour'"),
        ("top: 3\n", "unknown key 'top' (did you mean 'digest.top'?)"),
        ("digest:\n  tpo: 3\n", "unknown key 'digest.tpo'"),
        ("digest: 3\n", "key 'digest': must be a mapping"),
        ("digest:\n  top: 0\n", "key 'digest.top': must be a whole number of 1 or more (got 0)"),
        ("digest:\n  top: ten\n", "key 'digest.top': must be a whole number"),
        ("digest:\n  top: 2.5\n", "key 'digest.top': must be a whole number"),
        ("digest:\n  top: true\n", "key 'digest.top': must be a whole number"),
        ("articles: 5\n", "key 'articles': must be a path"),
        ("db: ''\n", "key 'db': must be a path"),
        ("patterns: [1, 2]\n", "key 'patterns': must be a list of text values"),
        ("patterns: []\n", "key 'patterns':"),
        ("digest:\n  top: 100000000000000000000000\n", "key 'digest.top':"),
        ("scheduler:\n  grace_minutes: .nan\n", "key 'scheduler.grace_minutes':"),
        ("digest:\n  repost_after_days: .inf\n", "key 'digest.repost_after_days':"),
        ("- a list\n", "must be a mapping of settings"),
        ("1: one\n", "key 1 must be text"),
    ],
)
def test_a_wrong_setting_names_the_file_the_key_and_the_reason(tmp_path, text, expected):
    path = write_yaml(tmp_path, text)
    message = config_error(env={}, cwd=tmp_path)
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_invalid_yaml_is_one_line_naming_the_file_and_the_line(tmp_path):
    path = write_yaml(tmp_path, "db: index.db\narticles: [news\n")
    message = config_error(env={}, cwd=tmp_path)
    assert message.startswith(f"{path}: not valid YAML")
    assert "line 3" in message or "line 2" in message
    assert "\n" not in message


def test_a_file_that_is_not_utf8_is_a_config_error(tmp_path):
    (tmp_path / "newsbot.yaml").write_bytes("db: caf\xe9.db\n".encode("latin-1"))
    assert "newsbot.yaml" in config_error(env={}, cwd=tmp_path)


def test_a_named_file_that_does_not_exist_is_an_error(tmp_path):
    message = config_error(config_file="missing.yaml", env={}, cwd=tmp_path)
    assert message.startswith(f"{tmp_path / 'missing.yaml'}: cannot read the config file")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"NEWSBOT_DIGEST_TOP": "0"}, "environment variable NEWSBOT_DIGEST_TOP: key 'digest.top'"),
        ({"NEWSBOT_DIGEST_TOP": "many"}, "NEWSBOT_DIGEST_TOP"),
        ({"NEWSBOT_PATTERNS": " , "}, "NEWSBOT_PATTERNS"),
    ],
)
def test_a_wrong_environment_variable_is_named(tmp_path, env, expected):
    assert expected in config_error(env=env, cwd=tmp_path)


def test_a_wrong_flag_is_named(tmp_path):
    assert config_error(env={}, cwd=tmp_path, flags={"db": "  "}).startswith("--db: key 'db'")


# --- through the command line


def test_a_wrong_key_stops_the_program_before_it_creates_the_database(tmp_path):
    write_article(tmp_path / "articles", "a.md")
    write_yaml(tmp_path, "articles: articles\ndb: index.db\ndigest:\n  tpo: 3\n")
    result = run_cli("index", "--json", cwd=tmp_path)
    assert result.code == 2
    message = (f"{tmp_path / 'newsbot.yaml'}: unknown key 'digest.tpo' (did you mean "
               "'digest.top'?); valid keys: articles, db, patterns, digest.top,")
    assert result.json["ok"] is False and result.json["error"].startswith(message)
    assert result.stderr.startswith(f"newsbot: error: {message}")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles", "newsbot.yaml"]


@pytest.mark.parametrize(
    "args",
    [
        ("digest", "--json"),
        ("decisions", "--json"),
        ("--config", "other.yaml", "topics"),
    ],
)
def test_every_command_checks_the_configuration_first(newsbot, workdir, args):
    write_yaml(workdir, "db: index.db\nwrong: 1\n")
    write_yaml(workdir, "db: index.db\nwrong: 1\n", name="other.yaml")
    result = newsbot(*args)
    assert result.code == 2
    if "--json" in args:  # the error as one JSON document
        assert "unknown key 'wrong'" in result.json["error"]
    else:
        assert result.stdout == ""
    assert "unknown key 'wrong'" in result.stderr
    assert not (workdir / "index.db").exists()


EXCERPTS = ("Rain is due over the weekend.", "Markets closed higher on Friday.",
            "A new bridge opens in spring.", "Two rare owls hatched at the zoo.",
            "Voters back the school budget.")


def test_cli_precedence_file_then_environment_then_flags(newsbot, workdir, monkeypatch):
    for name in ("file", "env", "flag"):
        for n in range(5):
            # each with its own URL and excerpt: not copies of one story (clusters)
            write_article(workdir / name, f"{n}.md", title=f"{name} {n}",
                          webUrl=f"https://example.org/{name}/{n}", excerpt=EXCERPTS[n])
    write_yaml(workdir, "articles: file\ndb: file.db\ndigest:\n  top: 2\n")

    def titles(*args: str) -> list[str]:
        result = newsbot("digest", "--json", *args)
        assert result.code == 0, result.stderr
        return [a["title"] for a in result.json["articles"]]

    assert titles() == ["file 0", "file 1"]
    assert (workdir / "file.db").exists()

    monkeypatch.setenv("NEWSBOT_ARTICLES", "env")
    monkeypatch.setenv("NEWSBOT_DB", "env.db")
    monkeypatch.setenv("NEWSBOT_DIGEST_TOP", "3")
    assert titles() == ["env 0", "env 1", "env 2"]
    assert (workdir / "env.db").exists()

    assert titles("--articles", "flag", "--db", "flag.db", "--top", "4") == [
        "flag 0", "flag 1", "flag 2", "flag 3",
    ]
    assert (workdir / "flag.db").exists()


def test_a_missing_articles_folder_is_one_line_and_creates_nothing(newsbot, workdir):
    result = newsbot("digest", "--articles", "nowhere", "--db", "index.db")
    assert result.code == 2
    assert "the articles folder" in result.stderr and "nowhere" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (workdir / "index.db").exists()


# --- settings that were read outside the configuration once


def test_a_bad_busy_timeout_is_one_line_and_exit_2(tmp_path):
    """It was parsed at import time: a ValueError traceback instead of this line."""
    done = run_cli("topics", cwd=tmp_path, env={"NEWSBOT_BUSY_TIMEOUT_MS": "abc"})
    assert done.code == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "newsbot: error: environment variable NEWSBOT_BUSY_TIMEOUT_MS: key "
        "'database.busy_timeout_ms': must be a whole number of 1 or more (got 'abc')"]


def test_the_busy_timeout_reaches_the_database(tmp_path):
    """A write waits for another writer as long as the setting says, not the built-in 10 s."""
    import sqlite3
    import time

    write_article(tmp_path / "articles", "a.md")
    env = {"NEWSBOT_ARTICLES": str(tmp_path / "articles"), "NEWSBOT_DB": str(tmp_path / "n.db")}
    assert run_cli("index", cwd=tmp_path, env=env).code == 0
    holder = sqlite3.connect(tmp_path / "n.db")
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock throughout
    try:
        started = time.monotonic()
        done = run_cli("decide", "a.md", "publish", "--user", "U1", "--no-refresh", cwd=tmp_path,
                       env={**env, "NEWSBOT_BUSY_TIMEOUT_MS": "300"})
        waited = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
    assert done.code != 0 and "locked" in done.stderr
    assert waited < 8  # the default would have waited 10 s before failing


def test_serve_settings_from_the_file_and_the_environment(tmp_path):
    write_yaml(tmp_path, "serve:\n  host: 10.0.0.5\n  metrics_port: 9464\n"
                         "database:\n  busy_timeout_ms: 2500\n")
    config = load_config(env={}, cwd=tmp_path)
    assert (config.host, config.metrics_port, config.busy_timeout_ms) == ("10.0.0.5", 9464, 2500)
    config = load_config(env={"NEWSBOT_METRICS_PORT": "0", "NEWSBOT_HOST": "127.0.0.2"},
                         cwd=tmp_path)
    assert (config.host, config.metrics_port) == ("127.0.0.2", 0)
    assert "must be a port number, 0 to 65535" in config_error(
        env={"NEWSBOT_METRICS_PORT": "70000"}, cwd=tmp_path)
