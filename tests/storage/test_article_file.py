"""Reading one article file: the awkward-but-valid kinds parse, every broken kind says why."""

from __future__ import annotations

import pytest
from conftest import EXAMPLES, OMIT, Raw, article_text
from newsbot.storage.article_file import BrokenArticle, parse_article


def parse(text: str, *, crlf: bool = False, bom: bool = False) -> dict:
    if crlf:
        text = text.replace("\n", "\r\n")
    return parse_article((("\ufeff" if bom else "") + text).encode("utf-8"))


def broken_reason(data: str | bytes) -> str:
    with pytest.raises(BrokenArticle) as caught:
        parse_article(data.encode("utf-8") if isinstance(data, str) else data)
    return str(caught.value)


# --- valid files


def test_the_newsroom_format_gives_every_indexed_field():
    fields = parse(article_text())
    assert fields == {
        "title": "CBP’s Outgoing Biometrics Lead on Law Enforcement Use of Facial Recognition",
        "excerpt": "Law enforcement should be careful using facial recognition in public spaces.",
        "web_url": "https://www.nextgov.com/cio-briefing/2020/07/cbps-outgoing-biometrics-lead/166629/",
        "provider_name": "Nextgov",
        "provider_domain": "nextgov.com",
        "topics": ["Computer Vision", "AI"],
        "quality": 37,
        "heat": 37,
        "published": False,
        "skipped": False,
        "published_at": "2020-07-02T19:21:00Z",
        "category": "news",
        "type": "article",
        "image_url": "https://cdn.nextgov.com/media/img/open-graph.jpg",
    }


def test_every_bundled_example_parses():
    files = sorted(p for p in EXAMPLES.rglob("*") if p.is_file())
    assert len(files) == 39
    for path in files:
        assert parse_article(path.read_bytes())["title"], path


@pytest.mark.parametrize(
    ("crlf", "bom"), [(False, True), (True, False), (True, True)], ids=["bom", "crlf", "bom+crlf"]
)
def test_bom_and_crlf_read_like_plain_files(crlf, bom):
    plain = parse(article_text("Body line\n"))
    assert parse(article_text("Body line\n"), crlf=crlf, bom=bom) == plain


def test_an_empty_body_is_fine():
    text = article_text("")
    assert text.endswith("---\n")
    assert parse(text)["title"]


def test_front_matter_closed_at_the_very_end_of_the_file():
    assert parse(article_text("").rstrip("\n"))["quality"] == 37


def test_dash_lines_in_the_body_do_not_end_the_article_or_confuse_it():
    body = "Intro\n---\nquality: 99\n---\nmore text\n----\n"
    fields = parse(article_text(body))
    assert fields["quality"] == 37
    assert parse(article_text(body), crlf=True)["quality"] == 37


def test_unicode_everywhere():
    fields = parse(
        article_text(
            "Zürich 東京 🙂\n",
            title="Émile’s “AI” budget: 東京 — 🙂",
            excerpt="naïve café: déjà vu",
            topics=["Économie", "東京"],
            provider={"name": "Le Monde", "domain": "lemonde.fr"},
        )
    )
    assert fields["title"] == "Émile’s “AI” budget: 東京 — 🙂"
    assert fields["excerpt"] == "naïve café: déjà vu"
    assert fields["topics"] == ["Économie", "東京"]


def test_colons_in_an_unquoted_title_value():
    assert parse(article_text(title=Raw("'Breaking: a title with: colons'")))["title"] == (
        "Breaking: a title with: colons"
    )


@pytest.mark.parametrize("published", [OMIT, None])
def test_a_missing_published_means_unpublished(published):
    assert parse(article_text(published=published))["published"] is False


def test_published_true():
    assert parse(article_text(published=True))["published"] is True


def test_missing_optional_fields_are_none():
    fields = parse(
        article_text(quality=OMIT, heat=OMIT, topics=OMIT, provider=OMIT, excerpt=OMIT,
                     webUrl=OMIT, publishedDateTime=OMIT, images=OMIT)
    )
    assert fields["quality"] is None and fields["heat"] is None
    assert fields["topics"] == [] and fields["provider_name"] is None
    assert fields["published_at"] is None and fields["image_url"] is None


def test_fractional_scores_are_kept():
    fields = parse(article_text(quality=37.5, heat=0))
    assert (fields["quality"], fields["heat"]) == (37.5, 0)


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("2020-07-02T19:21:00Z", "2020-07-02T19:21:00Z"),
        ("2020-07-02T21:21:00+02:00", "2020-07-02T19:21:00Z"),
        ("2020-07-02T19:21:00", "2020-07-02T19:21:00Z"),  # no zone: taken as UTC
        ("2020-07-02", "2020-07-02T00:00:00Z"),
        ('"2020-07-02T19:21:00Z"', "2020-07-02T19:21:00Z"),  # quoted: a string, same time
        ("2020-07-02T19:21:00.750Z", "2020-07-02T19:21:00Z"),
        ("0999-01-02T00:00:00Z", "0999-01-02T00:00:00Z"),  # four digits, so text order works
    ],
)
def test_published_date_time_is_stored_as_utc_text_that_sorts(written, stored):
    assert parse(article_text(publishedDateTime=Raw(written)))["published_at"] == stored


def test_topics_are_trimmed_and_deduplicated_case_insensitively():
    fields = parse(article_text(topics=["AI", "ai", " Climate ", "", "Space"]))
    assert fields["topics"] == ["AI", "Climate", "Space"]


def test_a_single_topic_written_as_text():
    assert parse(article_text(topics="Space"))["topics"] == ["Space"]


# --- broken files: each is refused with a reason an editor can act on


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(
            article_text(excerpt=Raw('"unclosed')), "invalid YAML in front matter", id="bad-yaml"
        ),
        pytest.param(
            article_text(topics=Raw("[AI, Space")), "invalid YAML in front matter", id="bad-flow"
        ),
        pytest.param("title: no front matter\n\nBody\n", "no front matter", id="no-front-matter"),
        pytest.param("", "no front matter", id="empty-file"),
        pytest.param("\n" + article_text(), "no front matter", id="blank-line-first"),
        pytest.param(
            article_text().replace("\n---\n", "\n"), "not closed", id="no-closing-dashes"
        ),
        pytest.param(
            article_text(quality=Raw("high")), "quality must be a number", id="quality-text"
        ),
        pytest.param(article_text(heat=Raw('"37"')), "heat must be a number", id="heat-quoted"),
        pytest.param(article_text(heat=Raw("[1, 2]")), "heat must be a number", id="heat-list"),
        pytest.param(article_text(quality=True), "quality must be a number", id="quality-bool"),
        pytest.param(
            article_text(published=Raw('"false"')), "published must be true or false",
            id="published-quoted",
        ),
        pytest.param(
            article_text(published=Raw("0")), "published must be true or false",
            id="published-number",
        ),
        pytest.param(
            article_text(published=Raw("not yet")), "published must be true or false",
            id="published-text",
        ),
        pytest.param("---\n- a\n- b\n---\n", "not a mapping", id="front-matter-list"),
        pytest.param("---\njust a sentence\n---\n", "not a mapping", id="front-matter-text"),
        pytest.param("---\n---\nbody\n", "not a mapping", id="front-matter-empty"),
        pytest.param(article_text(title=OMIT), "title is missing", id="no-title"),
        pytest.param(
            article_text(publishedDateTime=Raw("yesterday")), "publishedDateTime",
            id="date-text",
        ),
        pytest.param(article_text(topics=Raw("{a: 1}")), "topics", id="topics-mapping"),
        pytest.param(article_text(provider=Raw("[a, b]")), "provider", id="provider-list"),
        pytest.param(
            article_text(provider={"name": Raw("[a, b]"), "domain": "x.org"}),
            "provider name must be text", id="provider-name-list",
        ),
        pytest.param(
            article_text(provider={"name": "X", "domain": Raw("{a: 1}")}),
            "provider domain must be text", id="provider-domain-mapping",
        ),
        pytest.param("---\ntitle: caf\xe9\n---\n".encode("latin-1"), "not UTF-8", id="latin-1"),
        pytest.param(
            article_text(title=Raw("!!python/object/apply:os.system [ls]")),
            "invalid YAML", id="python-tag",
        ),
    ],
)
def test_broken_files_are_refused_with_their_reason(data, reason):
    assert reason in broken_reason(data)


@pytest.mark.parametrize(("crlf", "bom"), [(False, False), (True, True)])
def test_a_yaml_error_names_the_line_of_the_file(crlf, bom):
    text = article_text(heat=Raw("37\n\tindented: with a tab"))
    bad_line = text.splitlines().index("\tindented: with a tab") + 1
    with pytest.raises(BrokenArticle) as caught:
        parse(text, crlf=crlf, bom=bom)
    assert f"invalid YAML in front matter at line {bad_line}:" in str(caught.value)


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", ".NaN"])
def test_scores_that_are_not_finite_are_refused(value):
    # they would print as `Infinity`/`NaN`, which is not JSON, or be stored as NULL
    assert "quality must be a" in broken_reason(article_text(quality=Raw(value)))


def test_a_score_too_large_for_the_database_is_refused():
    reason = broken_reason(article_text(heat=Raw("100000000000000000000000")))
    assert "heat" in reason


def test_a_date_out_of_range_is_refused_with_a_reason():
    reason = broken_reason(article_text(publishedDateTime=Raw("0001-01-01T00:00:00+05:00")))
    assert "publishedDateTime" in reason
