"""normalise's ASCII shortcut (one bytes table) gives what its general path gives: the
blocking keys and similarities of every article hang on it, in workers and in refreshes."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st
from newsbot.storage.story_clusters import _NOT_WORD, normalise, normalise_title


def general(text: str) -> str:
    """normalise's path for text that is not ASCII, taken for any text."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NOT_WORD.sub(" ", folded).split())


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_text_normalises_as_the_general_path_does(text):
    assert normalise(text) == general(text)


def test_every_ascii_character():
    every = "".join(map(chr, range(128)))
    assert normalise(every) == general(every)
    assert normalise(every) == "0123456789 abcdefghijklmnopqrstuvwxyz abcdefghijklmnopqrstuvwxyz"


def test_a_title_with_its_outlet():
    title = "Council Votes: What's Next? | The Circuit"
    assert normalise_title(title) == "council votes what s next"
