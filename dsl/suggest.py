"""Did-you-mean hints: the closest known word to a misspelled one (difflib)."""

from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches


def closest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The best match for `word` among `candidates`, compared case-insensitively."""
    options = list(dict.fromkeys(candidates))
    lowered = {c.lower(): c for c in options}
    if word.lower() in lowered and lowered[word.lower()] != word:
        return lowered[word.lower()]
    match = get_close_matches(word.lower(), list(lowered), n=1, cutoff=cutoff)
    return lowered[match[0]] if match else None


def did_you_mean(word: str, candidates: Iterable[str], *, quote: str = "`",
                 cutoff: float = 0.6) -> str | None:
    """`did you mean `x`?` for the closest candidate, or None when nothing is close."""
    match = closest(word, candidates, cutoff)
    if match is None or match == word:
        return None
    if quote == '"':
        return f'did you mean "{match}"?'
    return f"did you mean `{match}`?"
