"""Forward a loopback port of this host into a network namespace (the test's front door).

    python nsforward.py NETNS_PATH TARGET_HOST TARGET_PORT

Binds ``127.0.0.1:0`` in the caller's network namespace, prints the chosen port on one line,
then enters the namespace ``NETNS_PATH`` (``/run/netns/NAME``) and relays each connection to
``TARGET_HOST:TARGET_PORT`` there. The listening socket stays in the caller's namespace (a
socket belongs to the namespace it was made in); every connection it opens afterwards is made
inside the namespace. So a test (or a browser) on the host reaches the hub of the ``login``
namespace at ``http://127.0.0.1:PORT`` without any route between the host and the cluster
network — as users reach a site's login node through its one front door.

Standard library only; runs until SIGTERM.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import socket
import sys

CLONE_NEWNET = 0x40000000


def enter_netns(path: str) -> None:
    """setns(2) this (single-threaded) process into the network namespace at ``path``."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def serve(listener: socket.socket, host: str, port: int) -> None:
    async def relay(reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(relay, sock=listener)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str]) -> None:
    netns, host, port = argv[1], argv[2], int(argv[3])
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.setblocking(False)
    enter_netns(netns)
    print(listener.getsockname()[1], flush=True)
    asyncio.run(serve(listener, host, port))


if __name__ == "__main__":
    main(sys.argv)
