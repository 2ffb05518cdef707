"""Finding a fixed list of names in text (名称扫描): place names of the gazetteer, agency names.

``NameIndex.scan`` goes left to right and takes the longest name at each position, then goes on after it
(so 交通运输局 is found rather than a shorter name inside it, 东城区东华门街道 gives both names). Only the
positions of a name's first character are visited — one character class, which the regex engine scans
in C — with one dictionary look-up of the first two characters each: a third of the time of a look-up
at every position on long messages (docs/benchmarks.md, issue 16). Names of one character are not
indexed (none is a usable name, and the look-up is by two).
"""

from __future__ import annotations

import re
from collections.abc import Iterable


class NameIndex:
    """An immutable index over names of two characters or more; safe to share between threads."""

    def __init__(self, names: Iterable[str]) -> None:
        self._by_prefix: dict[str, list[str]] = {}
        for name in sorted({n for n in names if len(n) >= 2}, key=lambda n: (-len(n), n)):
            self._by_prefix.setdefault(name[:2], []).append(name)
        firsts = "".join(sorted({prefix[0] for prefix in self._by_prefix}))
        self._starts = re.compile(f"[{re.escape(firsts)}]" if firsts else "(?!)")

    def scan(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, name) of each name found, left to right, longest first, not overlapping."""
        found: list[tuple[int, int, str]] = []
        by_prefix = self._by_prefix
        done = 0  # end of the last name found: later starts only
        for m in self._starts.finditer(text):
            i = m.start()
            if i < done:
                continue
            names = by_prefix.get(text[i : i + 2])
            if names is None:
                continue
            for name in names:
                if text.startswith(name, i):
                    done = i + len(name)
                    found.append((i, done, name))
                    break
        return found
