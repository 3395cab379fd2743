"""RE2 matching and the match-range shortcut (spec §3.3): the shortcut never changes a result."""

from __future__ import annotations

import random
import string

import pytest

from daqhub.connectivity.cache import CachedEntry, Snapshot, entry_json
from daqhub.connectivity.errors import InvalidRegex
from daqhub.connectivity.matching import compile_uid_regex
from daqhub.connectivity.registry import Registry
from daqhub.connectivity.settings import ConnectivitySettings

PATTERNS = [
    "DRO.*",
    "DRO-00[1-4]-tp_to_trigger",
    ".*",
    "",
    "a|b",
    "a?b",
    "(?i)dro.*",
    "[a-z]+-1",
    "x.*|DRO-0.*",
    ".*trigger",
    "\\QDRO.\\E.*",
    "é.*",
    "DRO-\\d{3}-.*",
    "(DRO|TRG)-0+.*",
    "[^D].*",
    "D.O.*",
    "DRO-000-tp_to_trigger",
    "\\.+",
    "(?s).*\n",
    "ab*c",
]
ALPHABET = string.ascii_letters[:6] + "DRO-_.0123é\n"


def _snapshot(uids: list[str]) -> Snapshot:
    entries = {
        uid: CachedEntry(uid, "u", "T", 0, 0, seq, entry_json(uid, "u", 0, "T", 0))
        for seq, uid in enumerate(uids)
    }
    keyed = sorted((u.encode(), u) for u in entries)
    return Snapshot(1, 0, 1, entries, [u for _k, u in keyed], [k for k, _u in keyed])


@pytest.mark.parametrize("seed", range(5))
def test_candidate_range_matches_full_scan(seed: int) -> None:
    rng = random.Random(seed)
    uids = {"".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 8))) for _ in range(400)}
    uids |= {"DRO-000-tp_to_trigger", "DRO-001-tp_to_trigger", "DRO.x", "abc", "ac", "b"}
    snapshot = _snapshot(sorted(uids))
    registry = Registry.__new__(Registry)
    registry.settings = ConnectivitySettings()
    for source in PATTERNS:
        pattern = compile_uid_regex(source)
        fast = [
            e.uid for e in sorted(registry._candidates(snapshot, pattern, "T"), key=lambda e: e.seq)
        ]
        slow = sorted(
            (e for e in snapshot.entries.values() if pattern.regex.fullmatch(e.uid)),
            key=lambda e: e.seq,
        )
        assert fast == [e.uid for e in slow], source


def test_search_mode_reproduces_v1_substring_matching() -> None:
    snapshot = _snapshot(["DRO-000-tp_to_trigger", "X"])
    registry = Registry.__new__(Registry)
    registry.settings = ConnectivitySettings(match_mode="search")
    assert [e.uid for e in registry._candidates(snapshot, compile_uid_regex("000"), "T")] == [
        "DRO-000-tp_to_trigger"
    ]


@pytest.mark.parametrize("pattern", ["(", "a{2,1}", "(?<=a)b", "(a)\\1", "x" * 1025, "\ud800"])
def test_unsupported_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidRegex):
        compile_uid_regex(pattern)


def test_compiled_patterns_are_cached() -> None:
    assert compile_uid_regex("cache-me.*") is compile_uid_regex("cache-me.*")
