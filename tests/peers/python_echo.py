"""An echo server from python-websockets (an independent implementation), on loopback.

Prints its port on the first line of stdout, then echoes every message until killed.
With the argument `deflate` it accepts permessage-deflate (python-websockets' own
extension, on zlib), with `deflate-no-context-takeover` it asks for no context takeover
both ways; without, compression is off.
Its limits are python-websockets' own, except the message size (32 MiB, so a 16 MiB
message fits). The asyncio implementation is the one that also caps the number of
frames in a message (its MAX_FRAGMENTS), so a client that cut a 16 MiB message into
4 KiB frames would be refused with 1009.
"""
import asyncio
import sys

from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory


async def echo(ws):
    async for message in ws:
        await ws.send(message)


def extensions():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if not mode.startswith("deflate"):
        return None
    no_takeover = mode == "deflate-no-context-takeover"
    return [
        ServerPerMessageDeflateFactory(
            server_no_context_takeover=no_takeover,
            client_no_context_takeover=no_takeover,
            compress_settings={"memLevel": 5},
        )
    ]


async def main():
    async with serve(
        echo, "127.0.0.1", 0, max_size=32 << 20, compression=None, extensions=extensions()
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(port, flush=True)
        await server.serve_forever()


asyncio.run(main())
