"""A Standard MIDI File (format 0) of a clip's notes: the same notes the MIDI export lists as JSON."""

from __future__ import annotations

import struct

from .audio_recipe import PlacedNote

TICKS_PER_QUARTER = 480
MICROSECONDS_PER_QUARTER = 500_000  # 120 bpm, so one second is 960 ticks
TICKS_PER_SECOND = TICKS_PER_QUARTER * 1_000_000 // MICROSECONDS_PER_QUARTER
CHANNEL = 0
PROGRAM = 80  # General MIDI "Lead 1 (square)", close to the sandbox's synth tone


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
        events.append((on, 1, bytes((0x90 | CHANNEL, note.pitch, note.velocity))))
        events.append((off, 0, bytes((0x80 | CHANNEL, note.pitch, 0))))
    events.sort(key=lambda event: (event[0], event[1]))
    track = bytearray()
    track += b"\x00\xff\x51\x03" + MICROSECONDS_PER_QUARTER.to_bytes(3, "big")  # tempo
    track += b"\x00" + bytes((0xC0 | CHANNEL, PROGRAM))  # program change
    previous = 0
    for tick, _, message in events:
        track += variable_length(tick - previous) + message
        previous = tick
    track += b"\x00\xff\x2f\x00"  # end of track
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_QUARTER)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)
