"""The bytes of every file the sandbox's CDN serves, written with the standard library and lameenc only.

- MP3: a clip's recipe encoded so that its decoded length is the recipe's length (``render_recipe_mp3``).
- WAV: the same audio as PCM (RIFF/WAVE, 16-bit mono), exactly as long as the recipe (``render_recipe_wav``).
- MIDI: a Standard MIDI File (format 0) of the same notes the MIDI export lists as JSON (``render_midi``).
- MP4: a tiny, structurally valid ISO BMFF file (ftyp, moov/mvhd, mdat) whose movie header gives the clip's
  length; it carries no media track, which is enough for a client to download it, check the type and read the
  duration (``render_mp4``).
- PNG: a small cover, a two-colour gradient seeded from the clip id (``render_cover_png``).
"""

from __future__ import annotations

import array
import io
import random
import struct
import wave
import zlib

import lameenc

from .audio_recipe import SAMPLE_RATE, PlacedNote, Recipe, recipe_pcm

# --- MP3 ------------------------------------------------------------------------------------------------------

BITRATE_KBPS = 32
# LAME adds its encoder delay and frame padding (about two 576-sample frames at 22050 Hz);
# leaving those samples out makes the file's duration match the clip's metadata.duration.
ENCODER_OVERHEAD_SAMPLES = 1152


def encode_mp3(pcm: array.array[int]) -> bytes:
    trimmed = pcm[: max(0, len(pcm) - ENCODER_OVERHEAD_SAMPLES)]
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(BITRATE_KBPS)
    encoder.set_in_sample_rate(SAMPLE_RATE)
    encoder.set_out_sample_rate(SAMPLE_RATE)
    encoder.set_channels(1)
    encoder.set_quality(7)  # fastest; quality is beside the point here
    encoder.silence()
    return bytes(encoder.encode(trimmed.tobytes()) + encoder.flush())


def render_recipe_mp3(recipe: Recipe) -> bytes:
    return encode_mp3(recipe_pcm(recipe))


# --- WAV ------------------------------------------------------------------------------------------------------


def render_recipe_wav(recipe: Recipe) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(recipe_pcm(recipe).tobytes())
    return buffer.getvalue()


# --- MIDI -----------------------------------------------------------------------------------------------------

TICKS_PER_QUARTER = 480
MICROSECONDS_PER_QUARTER = 500_000  # 120 bpm, so one second is 960 ticks
TICKS_PER_SECOND = TICKS_PER_QUARTER * 1_000_000 // MICROSECONDS_PER_QUARTER
MIDI_CHANNEL = 0
MIDI_PROGRAM = 80  # General MIDI "Lead 1 (square)", close to the sandbox's synth tone


def variable_length(value: int) -> bytes:
    """MIDI's variable-length quantity: 7 bits per byte, high bit set on all but the last."""
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(groups))


def render_midi(notes: list[PlacedNote]) -> bytes:
    events: list[tuple[int, int, bytes]] = []  # (tick, order: note-offs before note-ons, message)
    for note in notes:
        on = round(note.start_s * TICKS_PER_SECOND)
        off = max(on + 1, round(note.end_s * TICKS_PER_SECOND))
        events.append((on, 1, bytes((0x90 | MIDI_CHANNEL, note.pitch, note.velocity))))
        events.append((off, 0, bytes((0x80 | MIDI_CHANNEL, note.pitch, 0))))
    events.sort(key=lambda event: (event[0], event[1]))
    track = bytearray()
    track += b"\x00\xff\x51\x03" + MICROSECONDS_PER_QUARTER.to_bytes(3, "big")  # tempo
    track += b"\x00" + bytes((0xC0 | MIDI_CHANNEL, MIDI_PROGRAM))  # program change
    previous = 0
    for tick, _, message in events:
        track += variable_length(tick - previous) + message
        previous = tick
    track += b"\x00\xff\x2f\x00"  # end of track
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_QUARTER)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


# --- MP4 ------------------------------------------------------------------------------------------------------

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


# --- PNG ------------------------------------------------------------------------------------------------------

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
