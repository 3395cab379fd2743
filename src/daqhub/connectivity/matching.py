"""Bounded regular-expression matching of uids (spec/connectivity.md §3.3).

Patterns run on RE2, whose matching time is linear in the input, so a client pattern such as
``(a+)+$`` cannot hang a worker. Compiled patterns are cached (LRU). For full-match mode,
RE2's *possible match range* bounds the uids that can match, so a lookup bisects the
partition's sorted uids instead of testing all of them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import re2

from daqhub.connectivity.errors import InvalidRegex
from daqhub.connectivity.requests import MAX_REGEX_LEN

RANGE_PREFIX_LEN = 256
"""Bytes of the possible-match range bounds that RE2 computes."""

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.max_mem = 8 << 20  # bytes of compiled program; larger patterns are refused


@dataclass(frozen=True)
class UidPattern:
    source: str
    regex: Any
    low: bytes | None
    high: bytes | None
    literal: str | None
    """The pattern itself when it contains no metacharacters (an exact uid)."""

    def matches(self, uid: str, mode: str) -> bool:
        if mode == "search":
            return self.regex.search(uid) is not None
        if self.literal is not None:
            return uid == self.literal
        return self.regex.fullmatch(uid) is not None

    def candidate_slice(self, sorted_keys: Sequence[bytes]) -> tuple[int, int]:
        """Index range of ``sorted_keys`` (UTF-8 uids, ascending) that may fully match."""
        if self.low is None or self.high is None:
            return 0, len(sorted_keys)
        start = bisect_left(sorted_keys, self.low)
        # ``high`` bounds matches of any length that extend it, so compare prefixes.
        stop = bisect_right(sorted_keys, self.high + b"\xff")
        return start, stop


_META = set(".^$*+?()[]{}|\\")


@lru_cache(maxsize=4096)
def compile_uid_regex(pattern: str) -> UidPattern:
    if len(pattern) > MAX_REGEX_LEN:
        raise InvalidRegex(f"uid_regex longer than {MAX_REGEX_LEN} characters")
    try:
        regex = re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = (
            exc.args[0].decode("utf-8", "replace")
            if exc.args and isinstance(exc.args[0], bytes)
            else str(exc)
        )
        reason = reason.split(":", 1)[0]
        if reason == "missing )":
            reason = "missing closing )"
        raise InvalidRegex(f"Invalid uid_regex {pattern!r}: {reason}") from None
    except (TypeError, ValueError) as exc:
        raise InvalidRegex(f"Invalid uid_regex {pattern!r}: {exc}") from None
    literal = pattern if not (_META & set(pattern)) else None
    low = high = None
    try:
        bounds = regex.possiblematchrange(RANGE_PREFIX_LEN)
    except Exception:
        bounds = None
    if bounds:
        low, high = bounds
    return UidPattern(pattern, regex, low, high, literal)
