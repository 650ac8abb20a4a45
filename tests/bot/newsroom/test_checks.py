"""The one set of value checks (bot.newsroom.checks), and the three ways it is worded."""

from __future__ import annotations

import pytest
from newsbot.bot.newsroom import checks
from newsbot.bot.newsroom.checks import MAX_WHOLE_NUMBER, Invalid


@pytest.mark.parametrize(("value", "clean"), [(1, 1), ("42", 42), (" 7 ", 7),
                                              (MAX_WHOLE_NUMBER, MAX_WHOLE_NUMBER)])
def test_whole_numbers_from_yaml_or_text(value, clean):
    assert checks.whole_number(value) == clean


@pytest.mark.parametrize(("value", "message", "flag"), [
    (0, "must be a whole number of 1 or more", "must be 1 or more: 0"),
    ("ten", "must be a whole number of 1 or more", "not a whole number: 'ten'"),
    (2.5, "must be a whole number of 1 or more", "not a whole number: '2.5'"),
    (True, "must be a whole number of 1 or more", "not a whole number: 'True'"),
    ("-1", "must be a whole number of 1 or more", "must be 1 or more: -1"),
    ("²", "must be a whole number of 1 or more", "not a whole number: '²'"),
    (MAX_WHOLE_NUMBER + 1, f"must be at most {MAX_WHOLE_NUMBER}",
     f"must be at most {MAX_WHOLE_NUMBER}: {MAX_WHOLE_NUMBER + 1}"),
])
def test_a_bad_whole_number_says_what_it_must_be(value, message, flag):
    with pytest.raises(Invalid) as refused:
        checks.whole_number(value)
    assert str(refused.value) == message
    assert refused.value.for_flag(str(value)) == flag


@pytest.mark.parametrize(("bounds", "value", "message", "flag"), [
    ({}, "high", "must be a number", "not a number: 'high'"),
    ({}, "nan", "must be a finite number", "not a finite number: 'nan'"),
    ({}, float("inf"), "must be a finite number", "not a finite number: 'inf'"),
    ({}, 10**400, "must be a finite number", None),  # too large for a float
    ({"minimum": 0}, -1, "must be a number of 0 or more", "must be 0 or more: -1"),
    ({"minimum": 0}, "nan", "must be a finite number of 0 or more", None),
    ({"above": 0}, 0, "must be a number above 0", "must be above 0: 0"),
    ({"above": 0, "maximum": 1}, 1.5, "must be a number above 0 and at most 1",
     "must be above 0 and at most 1: 1.5"),
])
def test_a_bad_number_says_what_it_must_be(bounds, value, message, flag):
    with pytest.raises(Invalid) as refused:
        checks.number(value, **bounds)
    assert str(refused.value) == message
    if flag is not None:
        assert refused.value.for_flag(str(value)) == flag


def test_numbers_in_range_pass_as_floats():
    assert checks.number("0.5", above=0, maximum=1) == 0.5
    assert checks.number(0, minimum=0) == 0.0
    assert checks.number(-3) == -3.0


@pytest.mark.parametrize("value", [-1, 65536, "http", True])
def test_ports_are_0_to_65535(value):
    with pytest.raises(Invalid, match="must be a port number, 0 to 65535"):
        checks.port(value)
    assert checks.port("0") == 0 and checks.port(65535) == 65535


def test_booleans_take_yaml_values_and_environment_words():
    assert [checks.boolean(v) for v in (True, "yes", "ON", "1")] == [True] * 4
    assert [checks.boolean(v) for v in (False, "no", "off", "0")] == [False] * 4
    with pytest.raises(Invalid, match="must be true or false"):
        checks.boolean("maybe")


def test_names_split_text_on_commas_and_drop_blanks():
    assert checks.names("a, b,,c ") == ("a", "b", "c")
    assert checks.names(["x", " y "]) == ("x", "y")
    with pytest.raises(Invalid, match="must be a list of text values"):
        checks.names([1, 2])


def test_the_config_the_schedules_and_the_command_line_refuse_alike(tmp_path, newsbot):
    """One check behind three surfaces: each names its own place, and says the same thing."""
    from newsbot.bot.config.settings import ConfigError, load_config
    from newsbot.bot.newsroom.schedules import ScheduleError, check_min_quality, check_top

    with pytest.raises(ConfigError, match=r"key 'digest.top': must be a whole number of 1 or "
                                          r"more \(got '0'\)"):
        load_config(env={"NEWSBOT_DIGEST_TOP": "0"}, cwd=tmp_path)
    with pytest.raises(ScheduleError, match="top '0': must be a whole number of 1 or more"):
        check_top(0)
    with pytest.raises(ScheduleError, match="min_quality 'nan': must be a finite number"):
        check_min_quality("nan")
    done = newsbot("digest", "--top", "0")
    assert done.code == 2 and "argument --top: must be 1 or more: 0" in done.stderr
