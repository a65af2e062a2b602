"""SQL `LIKE` matching without backtracking: a bit-parallel automaton (shift-and / bitap).

A regex such as `.*e.*e.*e.*qqq` backtracks exponentially on a long text of e's (issue #12);
this matcher reads the text once. The pattern is a chain of k single-character steps (a literal
or `_`) with a self-loop wherever a `%` stands; the set of reachable steps is one k-bit integer,
updated with a shift, an AND and an OR per text character. Cost: O(n * ceil(k / 64)) word
operations for a text of n characters, whatever the pattern; k is capped by the parser.
Case is ignored character by character with `str.casefold` (so `ß` matches `SS`, and `_`
still stands for exactly one character of the text).
"""

from __future__ import annotations

from functools import lru_cache

_ESCAPABLE = frozenset("%_\\")


class LikePattern:
    """A compiled `like` pattern: % matches any run of characters, _ exactly one, \\ escapes."""

    __slots__ = ("_masks", "_any", "_loops", "_accept")

    def __init__(self, pattern: str) -> None:
        masks: dict[str, int] = {}  # folded character -> bit of every step that consumes it
        wildcard = 0  # bits of `_` steps
        loops = 0  # bit j: after j steps, a % may consume any character
        steps = 0
        i = 0
        while i < len(pattern):
            ch, escaped = pattern[i], False
            if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in _ESCAPABLE:
                ch, escaped, i = pattern[i + 1], True, i + 1
            elif ch == "%":
                loops |= 1 << steps
                i += 1
                continue
            steps += 1
            if ch == "_" and not escaped:
                wildcard |= 1 << steps
            else:
                key = ch.casefold()
                masks[key] = masks.get(key, 0) | 1 << steps
            i += 1
        self._masks = masks
        self._any = wildcard
        self._loops = loops
        self._accept = 1 << steps

    def matches(self, text: str) -> bool:
        """True when the whole of `text` matches the pattern (case-insensitively)."""
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


@lru_cache(maxsize=256)
def compile_like(pattern: str) -> LikePattern:
    """The compiled matcher for `pattern`, cached: a filter runs it over every product."""
    return LikePattern(pattern)
