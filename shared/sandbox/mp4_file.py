"""A tiny, structurally valid MP4 (ISO BMFF: ftyp, moov/mvhd, mdat) whose movie header gives the clip's length.

It carries no media track: enough for a client to download, check the type and read the duration."""

from __future__ import annotations

import struct

TIMESCALE = 1000  # units per second in mvhd
IDENTITY_MATRIX = (0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _movie_header(seconds: float) -> bytes:
    payload = struct.pack(">B3x", 0)  # version 0, no flags
    payload += struct.pack(">IIII", 0, 0, TIMESCALE, round(seconds * TIMESCALE))  # created, modified, scale, length
    payload += struct.pack(">IH10x", 0x00010000, 0x0100)  # rate 1.0, volume 1.0, reserved
    payload += struct.pack(">9I", *IDENTITY_MATRIX)
    payload += bytes(24)  # pre_defined
    payload += struct.pack(">I", 1)  # next_track_ID
    return _box(b"mvhd", payload)


def render_mp4(seconds: float) -> bytes:
    file_type = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")
    return file_type + _box(b"moov", _movie_header(seconds)) + _box(b"mdat", b"")
