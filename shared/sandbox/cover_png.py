"""A small real PNG cover (a two-colour gradient seeded from the clip id), written with zlib and struct only."""

from __future__ import annotations

import random
import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COVER_PIXELS = 64
LARGE_COVER_PIXELS = 256


def _chunk(kind: bytes, payload: bytes) -> bytes:
    checksum = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", checksum)


def render_cover_png(seed: str, size: int) -> bytes:
    rng = random.Random(f"cover:{seed}")
    top = [rng.randrange(256) for _ in range(3)]
    bottom = [rng.randrange(256) for _ in range(3)]
    rows = bytearray()
    for y in range(size):
        mix = y / max(1, size - 1)
        pixel = bytes(int(a + (b - a) * mix) for a, b in zip(top, bottom, strict=True))
        rows += b"\x00" + pixel * size  # filter type 0 (none) per row
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    image_data = zlib.compress(bytes(rows), 6)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", image_data) + _chunk(b"IEND", b"")
