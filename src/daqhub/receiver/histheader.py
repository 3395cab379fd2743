"""Name, title and entry count of a histogram, read from the head of its streamed bytes.

The index records every object's title and entry count. Deserialising a whole histogram with
uproot to learn them costs about a millisecond (three axes, label lists, bin arrays); a DQM file
holds dozens to thousands of histograms. All of ``TH1``'s subclasses stream ``TH1`` first, and
``TH1`` (class versions 7 and 8, written by ROOT 5 and 6) streams, in order: ``TNamed``
(``fName``, ``fTitle``), ``TAttLine``, ``TAttFill``, ``TAttMarker``, ``fNcells``, three
``TAxis`` and then ``fBarOffset``, ``fBarWidth``, ``fEntries``. Every base class and axis
carries a byte count, so the reader can step over them without decoding them.

Anything unexpected (another class version, a missing byte count, a length that does not add
up) gives None, and the caller reads the object with uproot as before.
"""

from __future__ import annotations

import re
import struct

_BYTE_COUNT = 0x40000000
_VERSION_HAS_BYTE_COUNT = 0x4000
_IS_REFERENCED = 1 << 4
_TH1_VERSIONS = frozenset({7, 8})
_CLASS = re.compile(r"TH([123])[CSIFDL]|TProfile(2D|3D)?")


def levels_to_th1(class_name: str) -> int | None:
    """How many class headers precede ``TH1``'s own (``TH1``'s included); None if unknown."""
    match = _CLASS.fullmatch(class_name)
    if match is None:
        return None
    if class_name.startswith("TProfile"):
        # TProfile -> TH1D -> TH1; TProfile2D -> TH2D -> TH2 -> TH1 (3D alike)
        return 4 if match.group(2) else 3
    return 2 if match.group(1) == "1" else 3  # TH1F -> TH1; TH2F -> TH2 -> TH1


def _header(data: bytes, pos: int, *, enclosing: bool = False) -> tuple[int, int, int]:
    """(position after the header, class version, end of the object) at ``pos``. An enclosing
    object (the histogram's own classes, whose parts are read) may end past ``data``, which
    can be the head of the histogram only; a part must end within it."""
    (count,) = struct.unpack_from(">I", data, pos)
    if not count & _BYTE_COUNT:
        raise ValueError("no byte count")
    end = pos + 4 + (count & ~_BYTE_COUNT)
    if end > len(data) and not enclosing:
        raise ValueError("byte count past the end")
    (version,) = struct.unpack_from(">h", data, pos + 4)
    return pos + 6, version, end


def _tstring(data: bytes, pos: int) -> tuple[str, int]:
    length = data[pos]
    pos += 1
    if length == 255:
        (length,) = struct.unpack_from(">i", data, pos)
        pos += 4
    if length < 0 or pos + length > len(data):
        raise ValueError("string past the end")
    return data[pos : pos + length].decode("utf-8", "surrogateescape"), pos + length


def histogram_summary(data: bytes, class_name: str) -> tuple[str, str, float] | None:
    """(fName, fTitle, fEntries) of a streamed histogram of class ``class_name``, or None.
    ``data`` may be the head of the streamed bytes only: None if it ends before ``fEntries``."""
    levels = levels_to_th1(class_name)
    if levels is None:
        return None
    try:
        pos, version = 0, 0
        for _ in range(levels):
            pos, version, _end = _header(data, pos, enclosing=True)
        if version not in _TH1_VERSIONS:
            return None
        pos, _version, named_end = _header(data, pos)  # TNamed
        (object_version,) = struct.unpack_from(">h", data, pos)
        pos += 2
        if object_version & _VERSION_HAS_BYTE_COUNT:
            pos += 4
        _unique_id, bits = struct.unpack_from(">II", data, pos)
        pos += 8
        if bits & _IS_REFERENCED:
            pos += 2
        name, pos = _tstring(data, pos)
        title, pos = _tstring(data, pos)
        if pos != named_end:
            return None
        for _ in range(3):  # TAttLine, TAttFill, TAttMarker
            _pos, _version, pos = _header(data, pos)
        pos += 4  # fNcells
        for _ in range(3):  # fXaxis, fYaxis, fZaxis
            _pos, _version, pos = _header(data, pos)
        _offset, _width, entries = struct.unpack_from(">hhd", data, pos)
    except (struct.error, ValueError, IndexError):
        return None
    return name, title, entries
