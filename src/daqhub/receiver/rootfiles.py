"""What is inside a ROOT file, read with uproot (runs only inside the sandbox worker).

``inspect_file(path)`` decides validity the way the original's ``TFile`` + ``GetListOfKeys()``
did (spec §2.6.5): the file must carry the ROOT signature, be as long as its header says, have a
readable top-level key list, and hold at least one key. For each top-level name (highest cycle)
it reports the object's own name and the class ROOT's ``IsA()`` would give, and it lists every
object (subdirectories included) with its class, title and entry count for the index and the
web page. Objects are deserialised only within a budget of decompressed bytes.

``histogram_json(path, object_path)`` returns one histogram's edges, values and errors.
"""

from __future__ import annotations

import lzma
import math
import zlib
from collections.abc import Callable
from typing import Any

from daqhub.receiver.histheader import histogram_summary, levels_to_th1

ROOT_MAGIC = b"root"
HEAD_BYTES = 64 << 10
"""Bytes of a histogram decompressed to find its name, title and entry count: its header and
three fixed-bin axes need a few hundred; an axis with variable bins needs the whole object."""
MAX_LISTED_OBJECTS = 10_000
MAX_DEPTH = 16
# Keys whose objects are directories: ROOT reads them as TDirectoryFile whatever the key says.
DIRECTORY_CLASSES = frozenset({"TDirectory", "TDirectoryFile"})


class InvalidRootFile(Exception):
    """The payload is not a usable ROOT file; the message says why (for the operators)."""


class _Budget:
    def __init__(self, limit: int) -> None:
        self.left = limit

    def take(self, amount: int) -> bool:
        if amount > self.left:
            return False
        self.left -= amount
        return True


def _open(path: str) -> Any:
    import uproot

    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic != ROOT_MAGIC:
        raise InvalidRootFile("not a ROOT file (no 'root' signature)")
    try:
        file = uproot.open(
            path, handler=uproot.source.file.MemmapSource, object_cache=None, array_cache=None
        )
    except Exception as exc:
        raise InvalidRootFile(f"unreadable ROOT header or key list: {exc}") from None
    size = file.file.source.num_bytes
    if size is not None and file.file.fEND > size:
        file.close()
        raise InvalidRootFile(f"truncated: {size} bytes of {file.file.fEND}")
    return file


def _latest_keys(directory: Any) -> dict[str, Any]:
    """Name -> key of the highest cycle, in key-list order.

    The key objects are taken from the directory's key list itself: looking them up by name
    would descend into subdirectories for names that contain ``/``.
    """
    latest: dict[str, Any] = {}
    for key in directory._keys:
        name = str(key.fName)
        current = latest.get(name)
        if current is None or int(key.fCycle) > int(current.fCycle):
            latest[name] = key
    return latest


def _class_of(key: Any) -> str:
    name = str(key.fClassName)
    return "TDirectoryFile" if name in DIRECTORY_CLASSES else name


def _member(obj: Any, name: str) -> Any:
    try:
        return obj.member(name)
    except Exception:
        return None


def _object_head(key: Any, size: int) -> bytes | None:
    """The first ``size`` bytes of a key's object (fewer if it is shorter), decompressing no
    more than that: a DQM histogram of a million bins takes 50 ms to decompress whole and well
    under one to read the head of. None for compression that cannot be read in part here (LZ4,
    ZSTD and ROOT's old algorithm are decompressed whole by the caller)."""
    start = int(key.data_cursor.index)
    compressed = int(key.data_compressed_bytes)
    if not key.is_compressed:
        return bytes(key.file.chunk(start, start + min(size, compressed)).raw_data)
    raw = memoryview(key.file.chunk(start, start + compressed).raw_data).cast("B")
    # ROOT's block header: algorithm (2 bytes), method, compressed and uncompressed sizes
    # (3 bytes each, little-endian). The head of the object is in the first block.
    algorithm = bytes(raw[:2])
    block_size = int.from_bytes(raw[3:6], "little")
    decompressor: Any
    if algorithm == b"ZL":
        decompressor = zlib.decompressobj()
    elif algorithm == b"XZ":
        decompressor = lzma.LZMADecompressor()
    else:
        return None
    block = raw[9 : 9 + block_size]
    head = bytearray()
    for offset in range(0, len(block), HEAD_BYTES):
        # Below the output limit, all of the input given was consumed: nothing is left over.
        head += decompressor.decompress(block[offset : offset + HEAD_BYTES], size - len(head))
        if len(head) >= size:
            break
    return bytes(head)


def _whole_object(key: Any) -> bytes:
    chunk, _cursor = key.get_uncompressed_chunk_cursor()
    return bytes(chunk.raw_data)


def _read_or_none(read: Callable[..., bytes | None], *args: Any) -> bytes | None:
    try:
        return read(*args)
    except Exception:
        return None


def _summary(data: bytes | None, class_name: str) -> tuple[str, str, float | None] | None:
    """A histogram's (name, title, entries) from its streamed bytes, or their head
    (:mod:`histheader`); None when they do not tell."""
    summary = histogram_summary(data, class_name) if data is not None else None
    if summary is None:
        return None
    name, title, entries = summary
    return name, title, entries if math.isfinite(entries) else None


def _describe(key: Any, class_name: str, budget: _Budget) -> tuple[str, str, float | None]:
    """(object name, title, entries); the key name when the object is not read.

    A histogram is first summarised from the head of its bytes, which is all that is charged
    to the budget when that suffices; otherwise the whole object is charged once, whether its
    bytes are then summarised or it is deserialised."""
    key_name = str(key.fName)
    if class_name == "TDirectoryFile":
        return key_name, str(key.fTitle), None
    size = int(key.data_uncompressed_bytes)
    histogram = levels_to_th1(class_name) is not None
    head: bytes | None = None
    charged = 0
    if histogram and budget.take(min(size, HEAD_BYTES)):
        charged = min(size, HEAD_BYTES)
        head = _read_or_none(_object_head, key, HEAD_BYTES)
        if (quick := _summary(head, class_name)) is not None:
            return quick
    if not budget.take(size - charged):
        return key_name, str(key.fTitle), None
    # The head was not enough (variable bins) or could not be read alone (LZ4, ZSTD).
    whole_needed = histogram and (head is None or len(head) < size)
    if whole_needed and (quick := _summary(_read_or_none(_whole_object, key), class_name)):
        return quick
    try:
        obj = key.get()
    except Exception:
        return key_name, str(key.fTitle), None
    if class_name == "TObjString":
        name = str(obj)
    else:
        fname = _member(obj, "fName")
        name = str(fname) if fname is not None else key_name
    title = _member(obj, "fTitle")
    entries: float | None = None
    if class_name == "TTree" or class_name.startswith("TNtuple"):
        entries = float(getattr(obj, "num_entries", 0))
    elif class_name.startswith(("TH1", "TH2", "TH3", "TProfile")):
        value = _member(obj, "fEntries")
        entries = float(value) if value is not None else None
    elif class_name.startswith("TGraph"):
        value = _member(obj, "fNpoints")
        entries = float(value) if value is not None else None
    if entries is not None and not math.isfinite(entries):
        entries = None
    return name, str(title) if title is not None else str(key.fTitle), entries


def inspect_file(path: str, max_decompressed: int) -> dict[str, Any]:
    """``{"received": {...}, "objects": {...}, "contents": [...]}`` or InvalidRootFile."""
    budget = _Budget(max_decompressed)
    with _open(path) as file:
        try:
            top = _latest_keys(file)
        except Exception as exc:
            raise InvalidRootFile(f"unreadable key list: {exc}") from None
        if not top:
            raise InvalidRootFile("the file has no keys")
        received: dict[str, str] = {}
        objects: dict[str, str] = {}
        contents: list[dict[str, Any]] = []
        for name, key in top.items():
            class_name = _class_of(key)
            obj_name, title, entries = _describe(key, class_name, budget)
            received[name] = f"Obj name: {obj_name}, Obj IsA() Name: {class_name}"
            objects[name] = class_name
            contents.append(_entry(name, class_name, title, entries))
            if class_name == "TDirectoryFile":
                _walk(file, name, 1, budget, contents)
        return {"received": received, "objects": objects, "contents": contents}


def _entry(path: str, class_name: str, title: str, entries: float | None) -> dict[str, Any]:
    return {"path": path, "class": class_name, "title": title, "entries": entries}


def _walk(file: Any, prefix: str, depth: int, budget: _Budget, out: list[dict[str, Any]]) -> None:
    if depth > MAX_DEPTH or len(out) >= MAX_LISTED_OBJECTS:
        return
    try:
        directory = file[prefix]
        keys = _latest_keys(directory)
    except Exception:
        return  # a damaged subdirectory: the top-level answer stands, as with ROOT
    for name, key in keys.items():
        if len(out) >= MAX_LISTED_OBJECTS:
            return
        class_name = _class_of(key)
        path = f"{prefix}/{name}"
        _obj_name, title, entries = _describe(key, class_name, budget)
        out.append(_entry(path, class_name, title, entries))
        if class_name == "TDirectoryFile":
            _walk(file, path, depth + 1, budget, out)


def _finite(values: Any) -> Any:
    """Nested lists with NaN/inf as None (JSON has no NaN)."""
    import numpy as np

    array = np.asarray(values, dtype=float)
    listed = array.tolist()
    if np.all(np.isfinite(array)):
        return listed

    def clean(item: Any) -> Any:
        if isinstance(item, list):
            return [clean(x) for x in item]
        return item if math.isfinite(item) else None

    return clean(listed)


def histogram_json(path: str, object_path: str, max_bins: int) -> dict[str, Any]:
    """One histogram (TH1/TH2/TH3/TProfile*) as edges, values and errors, flow bins excluded."""
    with _open(path) as file:
        try:
            key = file.key(object_path)
        except Exception:
            raise LookupError(f"no object {object_path!r} in the file") from None
        class_name = _class_of(key)
        if not class_name.startswith(("TH1", "TH2", "TH3", "TProfile")):
            raise TypeError(f"{object_path!r} is a {class_name}, not a histogram")
        obj = key.get()
        dims = 3 if class_name.startswith(("TH3", "TProfile3D")) else 1
        if class_name.startswith(("TH2", "TProfile2D")):
            dims = 2
        axes = []
        cells = 1
        for index in range(dims):
            axis = obj.axis(index)
            edges = axis.edges(flow=False)
            cells *= max(len(edges) - 1, 1)
            labels = axis.labels()
            axes.append(
                {
                    "edges": _finite(edges),
                    "title": str(_member(axis, "fTitle") or ""),
                    "labels": [str(label) for label in labels] if labels else None,
                }
            )
        if cells > max_bins:
            raise TypeError(f"{object_path!r} has {cells} bins; the limit is {max_bins}")
        entries = _member(obj, "fEntries")
        return {
            "path": object_path,
            "name": str(_member(obj, "fName") or key.fName),
            "title": str(_member(obj, "fTitle") or ""),
            "class": class_name,
            "dimensions": dims,
            "entries": float(entries) if entries is not None else None,
            "axes": axes,
            "values": _finite(obj.values(flow=False)),
            "errors": _finite(obj.errors(flow=False)),
        }
