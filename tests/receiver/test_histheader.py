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
