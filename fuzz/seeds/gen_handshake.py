#!/usr/bin/env python3
"""Writes seed inputs for the handshake target into seeds/handshake/.

Layout: max_len (u16 LE, 0 = default), max_headers (0 = default), seed,
nchunks (low 3 bits), chunk sizes, the raw head, then optionally "\\n==\\n" and
tail lines (see `Tail` in fuzz_targets/handshake.rs): p<subprotocol offer>,
e<extension offer>, h<name>:<value>, s#<index>|s<subprotocol>, x<extension>,
t<target>, o<host>, q<index byte>, k<index bytes>.
"""
import os

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "handshake")
CRLF = b"\r\n"

def head(first, headers, rest=b""):
    return first + CRLF + b"".join(n + b": " + v + CRLF for n, v in headers) + CRLF + rest

REQ = head(b"GET /chat HTTP/1.1", [
    (b"Host", b"server.example.com"), (b"Upgrade", b"websocket"), (b"Connection", b"keep-alive, Upgrade"),
    (b"Sec-WebSocket-Key", b"@K"), (b"Sec-WebSocket-Version", b"13"),
    (b"Sec-WebSocket-Protocol", b"chat, superchat"), (b"Sec-WebSocket-Extensions", b"permessage-deflate")])
RES = head(b"HTTP/1.1 101 Switching Protocols", [
    (b"Upgrade", b"websocket"), (b"Connection", b"Upgrade"), (b"Sec-WebSocket-Accept", b"@A")], b"\x81\x00")
RES_SUB = head(b"HTTP/1.1 101 Switching Protocols", [
    (b"Upgrade", b"websocket"), (b"Connection", b"Upgrade"), (b"Sec-WebSocket-Accept", b"@A"),
    (b"Sec-WebSocket-Protocol", b"chat"), (b"Sec-WebSocket-Extensions", b"permessage-deflate")])
OLD = head(b"GET / HTTP/1.1", [(b"Host", b"a"), (b"Upgrade", b"websocket"), (b"Connection", b"Upgrade"),
                              (b"Sec-WebSocket-Key", b"@K"), (b"Sec-WebSocket-Version", b"8")])

def seed(name, raw, max_len=0, max_headers=0, s=0, chunks=b"", tail=None):
    data = bytes([max_len & 0xff, max_len >> 8, max_headers, s, len(chunks)]) + chunks + raw
    if tail is not None:
        data += b"\n==\n" + tail
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)

os.makedirs(HERE, exist_ok=True)
seed("request", REQ)
seed("request_chunked", REQ, chunks=b"\x01\x03\x11")
seed("response", RES)
seed("response_with_offers", RES_SUB, tail=b"pchat\npsuperchat\nepermessage-deflate; client_max_window_bits\nex-other")
seed("request_with_choices", REQ, tail=b"s#\x01\nxpermessage-deflate")
seed("round_trip", RES, tail=b"pa\npb\nepermessage-deflate; client_max_window_bits\nefoo\nhUser-Agent: fuzz\n"
     b"hConnection: keep-alive\nt/chat?x=1\noexample.org\nq\x02\nk\x00\x01")
seed("bad_initial_header", REQ, tail=b"hX-Evil: a\\nInjected: 1\nebad,ext")
seed("old_version", OLD)
seed("small_limits", REQ, max_len=40, max_headers=2, chunks=b"\x05")
seed("garbage", b"GET / HTTP/1.1\r\nbad header\r\n\r\n")
