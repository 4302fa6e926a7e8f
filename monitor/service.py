"""What the daemon says to the system around it: systemd's notification socket (ready,
reloading, stopping, watchdog pings, status) and the /metrics and /healthz endpoints."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from collections.abc import Callable, Mapping

log = logging.getLogger("newsmon.daemon")


def sd_notify(message: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Send a message to systemd's notification socket, if there is one. Never blocks: it runs
    on the event loop, and a reader that has stopped reading (its queue full) must not stall the
    daemon, its stop included; such a message is dropped, and said (at DEBUG for a watchdog ping,
    which is sent again within half the watchdog interval)."""
    address = environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK) as sock:
            sock.connect(address)
            sock.send(message.encode())
        return True
    except BlockingIOError:  # systemd is not reading: a watchdog ping is sent again soon, a state change is not
        log.log(logging.DEBUG if message == "WATCHDOG=1" else logging.WARNING,
                "systemd's notification socket is full: message dropped socket=%s message=%s", address, message)
        return False
    except OSError as error:
        log.warning("cannot notify systemd socket=%s error=%s", address, error)
        return False


def _loopback(host: str) -> bool:
    """Whether a listen host is a loopback address (or "localhost")."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def serve_http(listen: str, metrics: Callable[[], bytes], problem: Callable[[], str | None]):
    """/metrics (Prometheus: `metrics()`) and /healthz (200 "ok", or 503 with `problem()`) on
    `listen`, e.g. 127.0.0.1:9464. Returns the runner, to clean up at stop."""
    from aiohttp import web

    from monitor.metrics import CONTENT_TYPE

    async def metrics_page(_request: web.Request) -> web.Response:
        return web.Response(body=metrics(), headers={"Content-Type": CONTENT_TYPE})

    async def healthz(_request: web.Request) -> web.Response:
        why = problem()
        return web.Response(status=200 if why is None else 503, text="ok\n" if why is None else f"unhealthy: {why}\n")

    application = web.Application()
    application.router.add_get("/metrics", metrics_page)
    application.router.add_get("/healthz", healthz)
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    host, _, port = listen.rpartition(":")
    site = web.TCPSite(runner, host.strip("[]"), int(port))
    await site.start()
    log.info("serving /metrics and /healthz listen=%s", listen)
    if not _loopback(host.strip("[]")):
        log.warning("/metrics and /healthz are served on a non-loopback address listen=%s: anyone who can reach "
                    "this machine can read them (feed URLs, rule and channel names); use 127.0.0.1 and a reverse "
                    "proxy, or a firewall", listen)
    return runner
