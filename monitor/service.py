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


class HeartbeatURL:
    """The `[newsmon] heartbeat_url`, a dead man's switch such as healthchecks.io: an HTTP GET
    while newsmon is healthy (the daemon, whenever it pings systemd's watchdog, at most once a
    minute; `run --once`, at the end of a cycle where no channel failed). Whoever watches it
    hears nothing when newsmon stops, hangs or cannot deliver. A failed ping is said once
    (WARNING) until one succeeds again. Only the URL's host is ever logged: its path is often
    the secret."""

    GAP = 60.0  # seconds between pings at most once
    TIMEOUT = 10.0

    def __init__(self, user_agent: str):
        self.user_agent = user_agent
        self.last = float("-inf")
        self.failing: str | None = None
        self.busy = False

    def due(self, now: float) -> bool:
        return not self.busy and now - self.last >= self.GAP

    async def ping(self, url: str, now: float) -> bool:
        """GET `url`; True when it answered 2xx."""
        import aiohttp
        from urllib.parse import urlsplit

        self.busy, self.last = True, now
        host = urlsplit(url).hostname or "?"
        try:
            timeout = aiohttp.ClientTimeout(total=self.TIMEOUT)
            async with aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": self.user_agent}) as session:
                async with session.get(url, allow_redirects=True) as response:
                    await response.read()
                    problem = None if 200 <= response.status < 300 else f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
            problem = type(error).__name__ if isinstance(error, TimeoutError) else str(error) or type(error).__name__
            problem = problem.replace(url, host)
        finally:
            self.busy = False
        if problem is None:
            if self.failing is not None:
                log.info("heartbeat_url answers again host=%s", host)
            self.failing = None
            log.debug("heartbeat_url pinged host=%s", host)
            return True
        if self.failing != problem:
            log.warning("heartbeat_url ping failed host=%s error=%s (whoever watches it will think newsmon is down; "
                        "tried again within a minute)", host, problem)
        self.failing = problem
        return False
