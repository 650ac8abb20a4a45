"""The README's command table and the parser describe the same commands and flags: a
command or flag added to one and not the other fails here."""

from __future__ import annotations

import argparse
import re

from conftest import REPO_ROOT
from newsbot.bot.cli.parser import build_parser


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps its subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def flags(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def parser_commands() -> dict[tuple[str, ...], set[str]]:
    """(command,) or (command, action) -> its flags, for every command the parser has."""
    found = {}
    for name, sub in subcommands(build_parser()).items():
        nested = subcommands(sub)
        for action, leaf in (nested.items() if nested else [(None, sub)]):
            found[(name, action) if action else (name,)] = flags(leaf)
    return found


def readme_rows(text: str) -> list[tuple[tuple[str, ...], set[str]]]:
    """Each row of the table under '## Commands': the commands its first cell names
    (`schedule remove|pause|resume ID` names three) and the flags it shows."""
    section = text.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cell = re.match(r"\| `newsbot ([^`]+)` \|", line)
        if not cell:
            continue
        usage = cell.group(1).replace("\\|", "|")
        words = usage.split()
        shown = set(re.findall(r"--[a-z][a-z-]*", usage))
        if words[0] == "schedule" and len(words) > 1:  # the one command with actions
            rows += [((words[0], action), shown) for action in words[1].split("|")]
        else:
            rows.append(((words[0],), shown))
    return rows


def mismatches(text: str) -> list[str]:
    commands = parser_commands()
    rows = readme_rows(text)
    problems = [f"`newsbot {' '.join(c)}` is not in the README's table"
                for c in commands if c not in {command for command, _ in rows}]
    for command, shown in rows:
        if command not in commands:
            problems.append(f"the README shows `newsbot {' '.join(command)}`, which the "
                            "parser does not have")
            continue
        problems += [f"the README shows `newsbot {' '.join(command)} {flag}`, which the "
                     "parser does not have" for flag in sorted(shown - commands[command])]
    return problems


README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_command_table_matches_the_parser():
    assert mismatches(README) == []


def test_a_flag_or_command_in_only_one_of_them_is_found():
    with_flag = README.replace("| `newsbot index [--failed]` |",
                               "| `newsbot index [--failed] [--fast]` |")
    assert mismatches(with_flag) == ["the README shows `newsbot index --fast`, which the "
                                     "parser does not have"]
    without_topics = re.sub(r"\| `newsbot topics` \|[^\n]*\n", "", README)
    assert mismatches(without_topics) == ["`newsbot topics` is not in the README's table"]
