"""The stored-name convention (spec §2.6.1-§2.6.3): sanitising, integer parsing, Zurich time."""

from __future__ import annotations

import pytest

from daqhub.receiver.naming import (
    HeaderValueError,
    parse_upload_headers,
    processing_compatible,
    render_time,
    secure_filename,
)

SUFFIX = "histos_123456_DQM_1970_01_02_16_07_24.root"


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        ("EMC", f"EMC{SUFFIX}"),
        ("EMC agent/../x", f"EMC_agent_.._x{SUFFIX}"),
        (".hidden", f"hidden{SUFFIX}"),
        ("Über", f"Uber{SUFFIX}"),
        ("x;rm -rf", f"xrm_-rf{SUFFIX}"),
        ("", SUFFIX),
        ("../../etc/passwd", f"etc_passwd{SUFFIX}"),
        ("a\tb\x1cc", f"a_b_c{SUFFIX}"),
    ],
)
def test_stored_filename_table(agent: str, expected: str) -> None:
    meta = parse_upload_headers("123456", "140844", agent, "1")
    assert meta.filename == expected
    assert "/" not in meta.filename
    assert not meta.filename.startswith(".")


def test_all_headers_absent() -> None:
    meta = parse_upload_headers(None, None, None, None)
    assert meta.filename == "DQMhistos_-1_DQM_1970_01_01_00_59_59.root"
    assert (meta.run, meta.timestamp, meta.data_status, meta.agent_raw) == (-1, -1, -1, "DQM")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("My cool movie.mov", "My_cool_movie.mov"),
        ("../../../etc/passwd", "etc_passwd"),
        ("i contain cool \xfcml\xe4uts.txt", "i_contain_cool_umlauts.txt"),
        ("__filename__", "filename"),
        ("foo$&^*)bar", "foobar"),
        ("...", ""),
        ("EMC histos.root", "EMC_histos.root"),
    ],
)
def test_secure_filename_matches_werkzeug(name: str, expected: str) -> None:
    # Werkzeug's own documented examples and tests.
    assert secure_filename(name) == expected


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (140844, "1970_01_02_16_07_24"),
        (-1, "1970_01_01_00_59_59"),
        (0, "1970_01_01_01_00_00"),
        (1530000000, "2018_06_26_10_00_00"),
        (1700000000, "2023_11_14_23_13_20"),
        (1540684800, "2018_10_28_02_00_00"),
        (1540688400, "2018_10_28_02_00_00"),
    ],
)
def test_zurich_time_table(timestamp: int, expected: str) -> None:
    assert render_time(timestamp) == expected


@pytest.mark.parametrize(
    ("value", "parsed"),
    [(" 12 ", 12), ("+5", 5), ("007", 7), ("1_000", 1000), ("-3", -3)],
)
def test_python_int_rules(value: str, parsed: int) -> None:
    assert parse_upload_headers(value, None, None, None).run == parsed


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Hello world", "invalid literal for int() with base 10: 'Hello world'"),
        ("1.5", "invalid literal for int() with base 10: '1.5'"),
        ("", "invalid literal for int() with base 10: ''"),
        ("1e3", "invalid literal for int() with base 10: '1e3'"),
        ("it's", 'invalid literal for int() with base 10: "it\'s"'),
        ("1, 2", "invalid literal for int() with base 10: '1, 2'"),
    ],
)
def test_int_errors_are_pythons(value: str, message: str) -> None:
    with pytest.raises(HeaderValueError) as info:
        parse_upload_headers(value, None, None, None)
    assert str(info.value) == message


def test_first_failure_wins_in_order() -> None:
    with pytest.raises(HeaderValueError, match="'abc'"):
        parse_upload_headers("abc", "xyz", None, "nope")
    with pytest.raises(HeaderValueError, match="'xyz'"):
        parse_upload_headers("1", "xyz", None, "nope")
    with pytest.raises(HeaderValueError, match="'nope'"):
        parse_upload_headers("1", "2", None, "nope")


@pytest.mark.parametrize(
    ("run", "timestamp", "status", "agent", "message"),
    [
        (str(2**63), "0", "0", "EMC", f"runNumber out of range: {2**63}"),
        ("1", "0", str(-(2**63) - 1), "EMC", f"dataStatus out of range: {-(2**63) - 1}"),
        ("1", str(10**12), "0", "EMC", f"timeStamp out of range: {10**12}"),
        ("1", "-2208992401", "0", "EMC", "timeStamp out of range: -2208992401"),
        ("1", "0", "0", "A" * 250, "amoreAgent too long"),
    ],
)
def test_range_checks(run: str, timestamp: str, status: str, agent: str, message: str) -> None:
    with pytest.raises(HeaderValueError) as info:
        parse_upload_headers(run, timestamp, agent, status)
    assert str(info.value) == message


def test_year_1900_and_9999_are_in_range() -> None:
    assert parse_upload_headers("1", "-2208988800", "EMC", "0").filename.endswith(
        "_DQM_1900_01_01_01_00_00.root"
    )
    assert "_DQM_9999_12_31_" in parse_upload_headers("1", "253402297199", "EMC", "0").filename


def test_processing_compatibility() -> None:
    assert processing_compatible("EMC", ["EMC", "TPC", "HLT"])
    assert not processing_compatible("EMC_x", ["EMC", "TPC", "HLT"])
    assert not processing_compatible("ZDC", ["EMC", "TPC", "HLT"])
