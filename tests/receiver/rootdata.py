"""ROOT files the receiver tests upload, written with uproot (and the ones ROOT itself wrote)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import uproot
from uproot.writing.identify import to_TAxis, to_TH1x, to_TProfile

from tests.conftest import TESTDATA

ROOT_WRITTEN = TESTDATA / "root"
THREE_TH1F = ROOT_WRITTEN / "three-th1f.root"
CUTFLOW_TH1F = ROOT_WRITTEN / "cutflow-th1f.root"


def th1f(name: str, title: str, counts: list[float], low: float = 0.0, high: float = 1.0):  # type: ignore[no-untyped-def]
    """A TH1F (float32 contents, underflow and overflow included)."""
    data = np.array([0.0, *counts, 0.0], dtype=np.float32)
    axis = to_TAxis("xaxis", "", len(counts), low, high)
    total = float(sum(counts))
    return to_TH1x(name, title, data, total, total, total, 0.0, 0.0, None, axis)


def profile(name: str):  # type: ignore[no-untyped-def]
    bins = 4
    data = np.array([0.0, 2.0, 4.0, 6.0, 8.0, 0.0])
    entries = np.array([0.0, 1.0, 2.0, 2.0, 1.0, 0.0])
    axis = to_TAxis("xaxis", "", bins, 0.0, 4.0)
    return to_TProfile(
        name,
        "a profile",
        data,
        6.0,
        6.0,
        6.0,
        9.0,
        17.0,
        20.0,
        80.0,
        data**2,
        entries,
        entries,
        axis,
    )


def write_test_file(path: Path, counts: list[float] | None = None) -> bytes:
    """The checklist's ``R``: one TH1F named ``test``."""
    with uproot.recreate(path) as out:
        out["test"] = th1f("test", "a test histogram", counts or [1.0, 2.0, 3.0, 4.0])
    return path.read_bytes()


def write_dir_h1_h2(path: Path) -> None:
    """Checklist 25: a subdirectory ``dir`` and ``h1`` (TH1F), ``h2`` (TH2D) at top level."""
    rng = np.random.default_rng(1)
    with uproot.recreate(path) as out:
        out["h1"] = th1f("h1", "one-dimensional", [5.0, 7.0, 3.0])
        out["h2"] = np.histogram2d(rng.normal(size=500), rng.normal(size=500), bins=(6, 8))
        out.mkdir("dir")
        out["dir/inner"] = th1f("inner", "inside dir", [1.0, 1.0])


def write_everything(path: Path) -> None:
    """1-D and 2-D histograms, a profile, a TTree and nested directories."""
    rng = np.random.default_rng(2)
    with uproot.recreate(path) as out:
        out["hEnergy"] = th1f("hEnergy", "energy", [10.0, 20.0, 30.0, 20.0, 10.0], 0.0, 5.0)
        out["hEtaPhi"] = np.histogram2d(rng.normal(size=800), rng.normal(size=800), bins=(5, 4))
        out["pMean"] = profile("pMean")
        tree = out.mktree("events", {"x": "f8", "n": "i4"})
        tree.extend({"x": rng.normal(size=50), "n": np.arange(50, dtype=np.int32)})
        out.mkdir("level1")
        out["level1/level2/deep"] = th1f("deep", "nested", [3.0, 1.0])


def write_zero_keys(path: Path) -> None:
    with uproot.recreate(path):
        pass


def write_truncated(path: Path, source: Path) -> None:
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def write_large(path: Path, megabytes: int) -> None:
    """A valid ROOT file of about ``megabytes`` MB (an incompressible TTree branch)."""
    rng = np.random.default_rng(3)
    entries = megabytes * 1024 * 1024 // 8
    with uproot.recreate(path, compression=None) as out:
        tree = out.mktree("big", {"x": "f8"})
        chunk = 1 << 20
        for start in range(0, entries, chunk):
            tree.extend({"x": rng.random(min(chunk, entries - start))})
