"""The listening socket of `tally serve`, bound before anything else starts, so a busy port is one
clear line instead of a banner followed by uvicorn's traceback."""

from __future__ import annotations

import errno
import socket


class ListenError(Exception):
    """The address cannot be listened on; the message is the whole story."""


def bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(f"tally serve: cannot listen on {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    # As uvicorn does: a port left in TIME_WAIT by the last run is free, one with a listener is not.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ListenError(f"tally serve: port {port} on {host} is in use; pass --port") from None
        if exc.errno == errno.EACCES:
            raise ListenError(
                f"tally serve: no permission to listen on port {port} on {host}; pass --port above 1023"
            ) from None
        raise ListenError(f"tally serve: cannot listen on {host} port {port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock
