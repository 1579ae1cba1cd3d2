"""A JPEG's scans, found from its markers (jpeg_markers.py)."""

from __future__ import annotations

import struct

from jpeg_markers import jpeg_scan_offsets, only_scan

from images import jpeg, scan_markers


def test_a_sequential_jpeg_whose_first_scan_has_every_component_has_its_one_scan_found_without_a_search():
    for buffer in (jpeg(), jpeg("L"), jpeg(subsampling=0)):
        assert jpeg_scan_offsets(buffer) == scan_markers(buffer)[:1] != []
    # Another JPEG inside a marker segment (an EXIF thumbnail, say): the outer scan only.
    inner = jpeg("L")
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + 6 + len(inner)) + b"Exif\0\0" + inner
    outer = jpeg()
    carrying = outer[:2] + app1 + outer[2:]
    assert len(scan_markers(carrying)) == 2
    assert jpeg_scan_offsets(carrying) == [scan_markers(carrying)[1]]


def test_every_scan_is_counted_where_more_than_one_can_be_decoded():
    progressive = jpeg(progressive=True)
    assert only_scan(progressive) is None
    assert jpeg_scan_offsets(progressive) == scan_markers(progressive)
    assert len(scan_markers(progressive)) > 5
    # A sequential first scan of one component of three: more scans follow, and are decoded.
    one_of_three = bytearray(jpeg())
    one_of_three[scan_markers(bytes(one_of_three))[0] + 4] = 1
    assert only_scan(bytes(one_of_three)) is None
    for broken in (b"\xff\xd8", b"\xff\xd8\xff\xda\x00\x08\x03", b"\xff\xd8\x00\x00\x00\x00\x00\x00", jpeg()[:200]):
        assert only_scan(broken) is None
