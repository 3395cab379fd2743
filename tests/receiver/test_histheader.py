"""The quick histogram reader agrees with uproot's full deserialisation on real files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uproot

from daqhub.receiver.histheader import histogram_summary, levels_to_th1
from tests.conftest import TESTDATA
from tests.receiver import rootdata


def histogram_keys(directory: Any) -> Iterator[Any]:
    for key in directory.keys(recursive=True, cycle=True):
        item = directory.key(key)
        if levels_to_th1(item.fClassName) is not None:
            yield item


def written_files(tmp: Path) -> list[Path]:
    rng = np.random.default_rng(3)
    rootdata.write_dir_h1_h2(tmp / "dir_h1_h2.root")
    rootdata.write_everything(tmp / "everything.root")
    with uproot.recreate(tmp / "uncompressed.root", compression=None) as out:
        out["h1"] = rootdata.th1f("h1", "t" * 300, [1.0, 2.0])  # a title of over 255 bytes
        out["h3"] = np.histogramdd(rng.normal(size=(200, 3)), bins=(3, 4, 5))
        out["p"] = rootdata.profile("p")
    return [tmp / "dir_h1_h2.root", tmp / "everything.root", tmp / "uncompressed.root"]


def test_quick_summary_matches_uproot(tmp_path: Path) -> None:
    files = sorted((TESTDATA / "root").glob("*.root")) + written_files(tmp_path)
    classes = set()
    for path in files:
        with uproot.open(path) as file:
            for key in histogram_keys(file):
                chunk, _cursor = key.get_uncompressed_chunk_cursor()
                quick = histogram_summary(bytes(chunk.raw_data), key.fClassName)
                obj = key.get()
                expected = (obj.member("fName"), obj.member("fTitle"), obj.member("fEntries"))
                assert quick == expected, (path.name, key.fName)
                classes.add(key.fClassName)
    # ROOT-written TH1F, uproot-written TH1F, TH2D, TH3D and TProfile all took the quick path.
    assert {"TH1F", "TH2D", "TH3D", "TProfile"} <= classes


def test_anything_unexpected_falls_back(tmp_path: Path) -> None:
    path = tmp_path / "one.root"
    rootdata.write_test_file(path)
    with uproot.open(path) as file:
        chunk, _cursor = file.key("test").get_uncompressed_chunk_cursor()
        data = bytes(chunk.raw_data)
    assert histogram_summary(data, "TH1F") == ("test", "a test histogram", 10.0)
    for broken in (data[:40], data[:6], b"", b"\x00" * len(data)):
        assert histogram_summary(broken, "TH1F") is None
    assert histogram_summary(data, "TH2F") is None  # one class header too many
    assert histogram_summary(data, "TGraph") is None


@pytest.mark.parametrize(
    ("class_name", "levels"),
    [("TH1F", 2), ("TH1D", 2), ("TH2I", 3), ("TH3C", 3), ("TProfile", 3), ("TProfile2D", 4)],
)
def test_levels(class_name: str, levels: int) -> None:
    assert levels_to_th1(class_name) == levels


def test_other_classes_are_not_read_quickly() -> None:
    assert levels_to_th1("TH2Poly") is None
    assert levels_to_th1("TTree") is None


@pytest.mark.parametrize(
    ("compression", "read_in_part"),
    [
        (None, True),
        (uproot.ZLIB(1), True),
        (uproot.LZMA(1), True),
        (uproot.LZ4(1), False),
        (uproot.ZSTD(1), False),
    ],
)
def test_large_histograms_are_summarised_from_their_head(
    tmp_path: Path, compression: Any, read_in_part: bool
) -> None:
    """A DQM file of large histograms: entry counts agree with uproot's full read, and where
    the head of a histogram can be decompressed alone, a budget far smaller than the histograms
    still has them read (the head is all that is decompressed)."""
    from daqhub.receiver.rootfiles import inspect_file

    rng = np.random.default_rng(5)
    path = tmp_path / "large.root"
    with uproot.recreate(path, compression=compression) as out:
        out["wide"] = (rng.poisson(4.0, 1_000_000).astype("f8"), np.linspace(0, 1, 1_000_001))
        out["map"] = (
            rng.poisson(2.0, (600, 600)).astype("f8"),
            np.linspace(0, 1, 601),
            np.linspace(0, 1, 601),
        )
        # Variable bins: the edges sit in the axis, before fEntries, far past the head.
        edges = np.cumsum(rng.uniform(0.5, 1.5, 200_001))
        out["variable"] = (rng.poisson(3.0, 200_000).astype("f8"), edges)
    with uproot.open(path) as file:
        expected = {name: float(file[name].member("fEntries")) for name in ("wide", "map")}
        expected["variable"] = float(file["variable"].member("fEntries"))

    full = {
        entry["path"]: entry["entries"] for entry in inspect_file(str(path), 1 << 30)["contents"]
    }
    assert full == pytest.approx(expected)

    small = inspect_file(str(path), 1 << 20)["contents"]  # 1 MiB; the histograms are 2-8 MB
    entries = {entry["path"]: entry["entries"] for entry in small}
    assert entries["variable"] is None  # needs all of its bytes: over the budget
    if read_in_part:
        assert entries["wide"] == pytest.approx(expected["wide"])
        assert entries["map"] == pytest.approx(expected["map"])
    else:
        assert entries["wide"] is None and entries["map"] is None


def test_the_head_of_a_histogram_is_not_enough_for_variable_bins(tmp_path: Path) -> None:
    path = tmp_path / "variable.root"
    with uproot.recreate(path, compression=None) as out:
        out["v"] = (np.ones(50_000), np.cumsum(np.arange(50_001) % 3 + 1.0))  # uneven bins
    with uproot.open(path) as file:
        key = file.key("v")
        chunk, _cursor = key.get_uncompressed_chunk_cursor()
        data = bytes(chunk.raw_data)
    assert histogram_summary(data, "TH1D") == ("v", "", 50_000.0)
    assert histogram_summary(data[: 64 << 10], "TH1D") is None


def test_a_histogram_read_whole_is_charged_to_the_budget_once(tmp_path: Path) -> None:
    """Where the head cannot be read alone (LZ4), the head attempt and the whole read together
    cost the object's size: a budget of exactly three objects reads all three."""
    from daqhub.receiver.rootfiles import inspect_file

    path = tmp_path / "lz4.root"
    with uproot.recreate(path, compression=uproot.LZ4(1)) as out:
        for index in range(3):
            out[f"h{index}"] = (np.ones(100_000), np.linspace(0, 1, 100_001))
    with uproot.open(path) as file:
        size = int(file.key("h0").data_uncompressed_bytes)
    contents = inspect_file(str(path), 3 * size)["contents"]
    assert [entry["entries"] for entry in contents] == [100_000.0] * 3
