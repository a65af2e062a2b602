"""SQL `LIKE` matching without backtracking, in time linear in the text whatever the pattern.

A regex such as `.*e.*e.*e.*qqq` backtracks exponentially on a long text of e's (issue #12).
Two matchers here read the text a bounded number of times instead:

- Patterns without `_`: the literal runs between `%`s are found left to right with `str.find`
  (the leftmost place for each run is always a right choice), in C: one pass over the text.
- Any pattern: a bit-parallel automaton (shift-and / bitap). The pattern is a chain of k
  single-character steps (a literal or `_`) with a self-loop wherever a `%` stands; the set of
  reachable steps is one k-bit integer, updated with a shift, an AND and an OR per character:
  O(n * ceil(k / 64)) word operations, k capped by the parser. A text too short for the
  pattern, or lacking one of its literal pieces in order (found as above), is refused first.

Case is ignored character by character with `str.casefold` (so `ß` matches `ẞ`, and `_` still
stands for exactly one character of the text); the first matcher runs only where folding keeps
every character one character long, so both give the same answers.
"""

from __future__ import annotations

from functools import lru_cache

_ESCAPABLE = frozenset("%_\\")


class LikePattern:
    """A compiled `like` pattern: % matches any run of characters, _ exactly one, \\ escapes."""

    __slots__ = ("_masks", "_any", "_loops", "_accept", "_steps", "_pieces", "_runs")

    def __init__(self, pattern: str) -> None:
        masks: dict[str, int] = {}  # folded character -> bit of every step that consumes it
        wildcard = 0  # bits of `_` steps
        loops = 0  # bit j: after j steps, a % may consume any character
        steps = 0
        pieces = [""]  # folded literal text between wildcards, in order
        single = True  # every literal folds to one character (ß folds to ss)
        i = 0
        while i < len(pattern):
            ch, escaped = pattern[i], False
            if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in _ESCAPABLE:
                ch, escaped, i = pattern[i + 1], True, i + 1
            elif ch == "%":
                loops |= 1 << steps
                pieces.append("")
                i += 1
                continue
            steps += 1
            if ch == "_" and not escaped:
                wildcard |= 1 << steps
                pieces.append("")
            else:
                key = ch.casefold()
                masks[key] = masks.get(key, 0) | 1 << steps
                pieces[-1] += key
                single = single and len(key) == 1
            i += 1
        self._masks = masks
        self._any = wildcard
        self._loops = loops
        self._accept = 1 << steps
        self._steps = steps
        self._pieces = [p for p in pieces if p] if single else None
        # Without `_`, the pieces are the runs between %s, and finding them decides the match.
        self._runs = (pieces[0], tuple(pieces[1:-1]), pieces[-1]) if single and not wildcard else None

    def matches(self, text: str) -> bool:
        """True when the whole of `text` matches the pattern (case-insensitively)."""
        if len(text) < self._steps or (not self._loops and len(text) != self._steps):
            return False
        if self._pieces is not None:
            folded = text.casefold()
            if len(folded) == len(text):  # every character folded to one: positions line up
                if self._runs is not None:
                    return _match_runs(self._runs, folded) if self._loops else folded == self._runs[0]
                if not _in_order(self._pieces, folded):
                    return False  # a quick no: the literal pieces must all occur, in order
        return self._match_steps(text)

    def _match_steps(self, text: str) -> bool:
        masks, wildcard, loops, accept = self._masks, self._any, self._loops, self._accept
        done = accept & loops  # a trailing %: once every step is through, the rest is irrelevant
        active = 1  # step 0 (nothing consumed yet) is reachable
        get = masks.get
        for key in map(str.casefold, text):
            if done and active & done:
                return True
            active = ((active << 1) & (get(key, 0) | wildcard)) | (active & loops)
            if not active:
                return False
        return bool(active & accept)


def _in_order(pieces: list[str], text: str) -> bool:
    """Each piece occurs in `text` after the one before it (leftmost choices leave the most room)."""
    pos = 0
    for piece in pieces:
        found = text.find(piece, pos)
        if found < 0:
            return False
        pos = found + len(piece)
    return True


def _match_runs(runs: tuple[str, tuple[str, ...], str], text: str) -> bool:
    """The pattern `first%middle...%last` matches `text`."""
    first, middle, last = runs
    if not text.startswith(first):
        return False
    pos = len(first)
    for run in middle:
        found = text.find(run, pos)
        if found < 0:
            return False
        pos = found + len(run)
    return len(text) - pos >= len(last) and text.endswith(last)


@lru_cache(maxsize=256)
def compile_like(pattern: str) -> LikePattern:
    """The compiled matcher for `pattern`, cached: a filter runs it over every product."""
    return LikePattern(pattern)
