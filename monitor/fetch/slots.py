"""Connection slots and time budgets for `monitor.fetch`: at most `per_host` requests in flight
to one host and `total` in all, and deadlines spent over several stretches, so that a
request's deadline measures the request, not its wait in the queue."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from yarl import URL

from monitor.errors import FetchError


class Budget:
    """Seconds to spend over several stretches (a request's hops, or its waits for a slot)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.left = seconds

    @contextlib.asynccontextmanager
    async def spend(self):
        """A deadline for what is left (TimeoutError when it passes); the time taken is spent."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(self.left):
                yield
        finally:
            self.left -= loop.time() - started


@dataclass
class _Host:
    slots: asyncio.Semaphore
    users: int = 0  # requests holding or awaiting one of its slots; forgotten at 0


class Slots:
    """Connection slots: at most `per_host` requests in flight to one host and `total` in all.
    A host is what aiohttp's pool keys connections by: name (as sent), port and TLS or not."""

    def __init__(self, total: int, per_host: int):
        self.total = total
        self.per_host = per_host
        self.anywhere = asyncio.Semaphore(total)
        self.hosts: dict[tuple[str, int | None, bool], _Host] = {}

    @contextlib.asynccontextmanager
    async def slot(self, url: URL, queue: Budget):
        """Hold a slot for a request to `url`'s host; waiting for it spends `queue`.
        Raises FetchError "queue-timeout" when that runs out first."""
        key = (url.raw_host or "", url.port, url.scheme == "https")
        host = self.hosts.get(key)
        if host is None:
            host = self.hosts[key] = _Host(asyncio.Semaphore(self.per_host))
        host.users += 1
        limit = f"max_connections_per_host = {self.per_host}"
        try:
            try:
                async with queue.spend():
                    await host.slots.acquire()
                    limit = f"max_connections = {self.total}"
                    try:
                        await self.anywhere.acquire()  # after the host's: a queue for one busy host holds no other's slot
                    except BaseException:
                        host.slots.release()
                        raise
            except TimeoutError:
                raise FetchError("queue-timeout", f"waited {queue.seconds:g}s for a free connection to "
                                 f"{url.host_port_subcomponent} ({limit})") from None
            try:
                yield
            finally:
                self.anywhere.release()
                host.slots.release()
        finally:
            host.users -= 1
            if not host.users:
                del self.hosts[key]
