#!/usr/bin/env python3
"""Writes seed inputs for the frame_decoder target into seeds/frame_decoder/.

Layout: flags, (nsplits-1), splits..., capacity-125, abort_at, push_len, stream.
"""
import os, struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "frame_decoder")
KEY = b"\x37\xfa\x21\x3d"

def frame(op, payload, fin=True, mask=True, rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        h = bytes([b0, mbit | n])
    elif n < 65536:
        h = bytes([b0, mbit | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, mbit | 127]) + struct.pack(">Q", n)
    if mask:
        h += KEY
        payload = bytes(b ^ KEY[i % 4] for i, b in enumerate(payload))
    return h + payload

def conversation(mask):
    return (frame(1, b"Hello", mask=mask)
            + frame(9, b"ping!", mask=mask)
            + frame(2, b"\x00\x01\x02" * 50, fin=False, mask=mask)
            + frame(9, b"", mask=mask)
            + frame(0, b"\xff" * 200, fin=True, mask=mask)
            + frame(1, "κόσμε ".encode()[:5], fin=False, mask=mask)
            + frame(0, "κόσμε ".encode()[5:], fin=True, mask=mask)
            + frame(10, b"pong", mask=mask)
            + frame(8, struct.pack(">H", 1000) + b"bye", mask=mask))

def seed(name, stream, flags=0, splits=b"\x00", cap=0, abort=0, push=0):
    data = bytes([flags, len(splits) - 1]) + splits + bytes([cap, abort, push]) + stream
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)

os.makedirs(HERE, exist_ok=True)
seed("server_conversation", conversation(True))
seed("client_conversation", conversation(False))
seed("server_small_reads", conversation(True), flags=0x20 | 0x08, splits=b"\x01\x07\x03")
seed("client_caller_buffer", conversation(False), flags=0x40 | 0x10, splits=b"\x05\x00")
seed("server_push", conversation(True), flags=0x04 | 0x60, push=40)
seed("long_frames", frame(2, b"x" * 300) + frame(2, b"y" * 70000, mask=True)[:400], splits=b"\x00\x11")
seed("bad_utf8", frame(1, b"ab\xe2\x82", fin=False) + frame(0, b"(", fin=True))
seed("no_utf8_check", frame(1, b"\xff\xfe") + frame(8, b"\x03\xe8\xff"), flags=0x02)
seed("unmasked_to_server", frame(1, b"hi", mask=False), flags=0x01)
seed("len_overflow", bytes([0x82, 0xff, 0x80]) + b"\x00" * 11)
seed("rsv_and_reserved", frame(3, b"", rsv=4))
seed("abort_midway", conversation(True), splits=b"\x03", abort=9)
