"""HTTP: conditional GET with pooled connections, a total deadline, a cap on decoded bytes,
manual redirects, failure classification, and the address guard for untrusted URLs.

The deadline measures the request, not the queue: at most `max_per_host` requests are in
flight to one host and `max_connections` in all (both sessions together), and a request's
`timeout` starts when it is granted its slot. Waiting for a slot has its own, longer bound
(`queue_timeout`), failing with kind "queue-timeout". Each redirect hop takes the slot of the
host it asks; the time of every hop counts against the one deadline, the waits do not.

Feed URLs come from the user's configuration; article links come from third parties, so those
requests go through the guard: a host that resolves to a loopback, private, link-local,
shared (CGNAT) or otherwise non-public address is refused before any connection is made,
unless it lies in `allow_private_networks`. The guard checks the addresses the connection will
actually use (it is the session's resolver, and its socket factory sees the very address each
socket connects to), and IP-literal hosts and every redirect hop too. Guarded URLs must be
http(s), without backslashes, and name hosts by a name or a standard IP address: odd numeric
forms (`127.1`, `0x7f.1`, `2130706433`, `0`) are refused whatever the allowed ranges. Hosts are
read exactly as the HTTP client reads them (yarl, which applies IDNA/NFKC: full-width digits
are plain digits there).
"""

from __future__ import annotations

import functools
import socket
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from monitor import shown, urls
from monitor.config import Settings
from monitor.errors import FetchError
from monitor.fetch.guard import (SOCKET_FACTORY, AddressRefused, GuardedResolver, Network,  # noqa: F401 - re-exported
                                  _is_ip, _odd_ipv4, _refusing_socket_factory, address_allowed)
from monitor.fetch.slots import Budget, Slots

REDIRECTS = {301, 302, 303, 307, 308}
PERMANENT = {301, 308}
FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


@dataclass(frozen=True)
class Response:
    """A completed download: 200 with a body, or 304 with none."""

    status: int
    url: str  # after redirects
    body: bytes
    etag: str | None
    last_modified: str | None
    content_type: str | None
    moved_to: str | None = None  # set when every redirect on the way was permanent
    cache_control: str | None = None



class Fetcher:
    """Two pooled sessions: one for the user's feeds, one guarded for third-party links. They
    share the connection slots, so the limits hold for both together."""

    def __init__(self, *, user_agent: str, allowed_networks: Sequence[Network] = (), timeout: float = 30.0,
                 max_connections: int = 8, max_per_host: int = 2, max_redirects: int = 5,
                 resolver: AbstractResolver | None = None, queue_timeout: float | None = None):
        self.user_agent = user_agent
        self.allowed = tuple(allowed_networks)
        self.timeout = timeout  # of one request, from when it has a connection slot
        self.queue_timeout = max(120.0, 4 * timeout) if queue_timeout is None else queue_timeout
        self.slots = Slots(max_connections, max_per_host)
        self.max_redirects = max_redirects
        self.max_connections = max_connections
        self.max_per_host = max_per_host
        self.resolver = resolver  # what the guarded session asks before its check (tests pass a stub)
        self.trusted: aiohttp.ClientSession | None = None
        self.guarded: aiohttp.ClientSession | None = None
        # The proxy environment is read once, not on every request (it was ~30 % of a 304 poll).
        self.proxies = {scheme: url for scheme, url in urllib.request.getproxies().items() if scheme in ("http", "https")}
        self.no_proxy = urllib.request.getproxies().get("no", "")

    def _session(self, resolver: AbstractResolver | None, *, trust_env: bool, guard: bool = False) -> aiohttp.ClientSession:
        extra = {"socket_factory": _refusing_socket_factory(self.allowed)} if guard and SOCKET_FACTORY else {}
        # the connector's limits are a backstop: self.slots, stricter, decides who waits
        connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=self.max_per_host,
                                         resolver=resolver, ttl_dns_cache=300, **extra)
        return aiohttp.ClientSession(connector=connector, trust_env=trust_env, headers={"User-Agent": self.user_agent},
                                     timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout))

    async def close(self) -> None:
        for session in (self.trusted, self.guarded):
            if session is not None:
                await session.close()
        self.trusted = self.guarded = None

    async def get(self, url: str, *, max_bytes: int, etag: str | None = None, last_modified: str | None = None,
                  untrusted: bool = False, accept: str = FEED_ACCEPT, proxy: str | None = None) -> Response:
        """Download `url`. Raises FetchError, classified by `kind`: "timeout" when the request
        took more than `timeout` from when it had a connection slot, "queue-timeout" when it
        waited more than `queue_timeout` for slots.

        `untrusted` URLs (article links) go through the address guard; redirects of every URL
        do. `proxy` (else the standard environment variables) sends the request through a
        proxy; then the proxy resolves names, so the guard resolves and checks the target
        itself first (a name that resolves differently for the proxy is beyond its reach).
        A FetchError's message shows URLs without their credentials (`monitor.shown`): it is
        logged, stored and shown by `status`."""
        try:
            return await self._get(url, max_bytes, etag, last_modified, untrusted, accept, proxy)
        except FetchError as error:
            error.args = (shown.urls_in(str(error)),)
            raise

    async def _get(self, url: str, max_bytes: int, etag: str | None, last_modified: str | None, untrusted: bool,
                   accept: str, proxy: str | None) -> Response:
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            return await self._follow(url, headers, max_bytes, untrusted, proxy)
        except TimeoutError:
            raise FetchError("timeout", f"no complete response within {self.timeout:g}s") from None
        except AddressRefused as error:
            raise FetchError("refused", str(error), transient=False) from None
        except aiohttp.ClientProxyConnectionError as error:
            raise FetchError("proxy", f"cannot connect to the proxy: {error}") from None
        except aiohttp.ClientConnectorCertificateError as error:
            raise FetchError("tls", f"TLS certificate problem: {error.certificate_error}") from None
        except aiohttp.ClientSSLError as error:
            raise FetchError("tls", f"TLS error: {error}") from None
        except aiohttp.ClientConnectorError as error:
            # aiohttp wraps what the guard raises (a DNS error when it came from the resolver)
            if isinstance(error.os_error, AddressRefused):
                raise FetchError("refused", str(error.os_error), transient=False) from None
            if isinstance(error, aiohttp.ClientConnectorDNSError):
                raise FetchError("dns", f"cannot resolve host: {error.os_error.strerror or error}") from None
            raise FetchError("connect", f"cannot connect to {error.host}:{error.port}: {error.os_error.strerror or error.os_error}") from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as error:
            raise FetchError("protocol", f"broken response: {error}") from None
        except aiohttp.InvalidURL as error:
            raise FetchError("url", f"invalid URL: {error}", transient=False) from None
        except aiohttp.ClientError as error:
            raise FetchError("connect", f"{type(error).__name__}: {error}") from None

    def _trusted(self) -> aiohttp.ClientSession:
        if self.trusted is None:
            self.trusted = self._session(None, trust_env=False)  # proxies: self.proxies, per request
        return self.trusted

    def _guarded(self) -> aiohttp.ClientSession:
        if self.guarded is None:
            self.guarded = self._session(GuardedResolver(self.allowed, self.resolver), trust_env=False, guard=True)
        return self.guarded

    async def _check_target(self, host: str, port: int) -> None:
        """Resolve `host` here and refuse it if any address is not allowed (for proxied requests)."""
        resolver = GuardedResolver(self.allowed, self.resolver)
        try:
            await resolver.resolve(host, port, socket.AF_UNSPEC)
        except AddressRefused:
            raise
        except OSError as error:
            raise FetchError("dns", f"cannot resolve host {host}: {error.strerror or error}") from None
        finally:
            if self.resolver is None:
                await resolver.close()

    def _guard(self, current: str) -> URL:
        """Refuse a third party's URL that is not plainly an http(s) URL to an allowed address
        (names are checked when resolved); returns it parsed as the HTTP client will read it."""
        if "\\" in current:
            raise AddressRefused(f"a URL with a backslash ({current!r}): hosts are read differently by different parsers")
        try:
            url = URL(current)
        except ValueError as error:
            raise AddressRefused(f"an unreadable URL ({current!r}: {error})") from None
        if url.scheme not in ("http", "https"):
            raise AddressRefused(f"not an http(s) URL: {current!r}")
        host = url.host or ""
        if not host:
            raise AddressRefused(f"a URL without a host: {current!r}")
        if _is_ip(host):
            if not address_allowed(host, self.allowed):
                raise AddressRefused(f"{host} is a non-public address (allow it with [newsmon] allow_private_networks)")
        elif _odd_ipv4(host):
            raise AddressRefused(f"{host!r} is an IP address written in a non-standard form")
        return url

    def _env_proxy(self, url: str) -> str | None:
        """The proxy the standard environment variables (http_proxy, https_proxy, no_proxy) give."""
        if not self.proxies:  # the usual case: no URL to take apart
            return None
        parts = urlsplit(url)
        proxy = self.proxies.get(parts.scheme)
        if proxy and urllib.request.proxy_bypass_environment(parts.hostname or "", {"no": self.no_proxy}):
            return None
        return proxy

    async def _follow(self, url: str, headers: dict, max_bytes: int, untrusted: bool, proxy: str | None) -> Response:
        permanent = True
        current = url
        guard = untrusted
        request = Budget(self.timeout)  # the request's own time, every hop's
        queue = Budget(self.queue_timeout)  # time waiting for connection slots
        for _hop in range(self.max_redirects + 1):
            hop_proxy = proxy or self._env_proxy(current)
            if guard:
                target = self._guard(current)
            else:
                problem = _plain_url_problem(current)
                if problem:
                    raise FetchError("url", problem, transient=False)
                try:
                    target = URL(current)  # as aiohttp would read it
                except ValueError:
                    raise aiohttp.InvalidURL(current) from None
            session = self._guarded() if guard and not hop_proxy else self._trusted()
            async with self.slots.slot(target, queue), request.spend():  # the deadline starts with the slot
                if guard and hop_proxy and not _is_ip(target.host or ""):
                    await self._check_target(target.host or "", target.port or (443 if target.scheme == "https" else 80))
                async with session.get(target, headers=headers, allow_redirects=False, proxy=hop_proxy) as response:
                    if response.status in REDIRECTS and "Location" in response.headers:
                        permanent = permanent and response.status in PERMANENT
                        current = urljoin(current, response.headers["Location"])
                        guard = True  # where a redirect leads is a third party's choice
                        continue
                    moved = current if permanent and current != url else None
                    if response.status == 304:
                        return Response(304, current, b"", response.headers.get("ETag"),
                                        response.headers.get("Last-Modified"), None, moved,
                                        response.headers.get("Cache-Control"))
                    if response.status >= 400:
                        raise _http_error(response)
                    body = await _read_capped(response, max_bytes)
                    return Response(response.status, current, body, response.headers.get("ETag"),
                                    response.headers.get("Last-Modified"), response.headers.get("Content-Type"),
                                    moved, response.headers.get("Cache-Control"))
        raise FetchError("redirects", f"more than {self.max_redirects} redirects", transient=False)


@functools.lru_cache(maxsize=4096)
def for_settings(settings: Settings) -> Fetcher:
    """The HTTP client newsmon fetches with, from its settings: User-Agent, allowed networks,
    deadline and connection limits (the daemon, `run --once`, `check --online` and `match URL`
    alike)."""
    return Fetcher(user_agent=settings.user_agent, allowed_networks=settings.allow_private_networks,
                   timeout=settings.request_timeout, max_connections=settings.max_connections,
                   max_per_host=settings.max_connections_per_host)


def _plain_url_problem(url: str) -> str | None:
    """Why a configured feed URL cannot be fetched, or None. Cached: the same few thousand
    feed URLs come back every poll, and taking each apart was a few % of a 304 poll's CPU."""
    if "\\" in url:
        return f"refusing a URL with a backslash: {url!r}"
    if urls.web_url(url) is None:
        return f"not an http(s) URL: {url!r}"
    return None


def _http_error(response: aiohttp.ClientResponse) -> FetchError:
    status = response.status
    if status == 410:
        return FetchError("gone", "HTTP 410 Gone: the publisher removed this feed", transient=False, status=status)
    transient = status in (408, 425, 429) or status >= 500
    error = FetchError("http", f"HTTP {status} {response.reason or ''}".strip(), transient=transient, status=status)
    error.retry_after = response.headers.get("Retry-After") if status in (429, 503) else None
    return error


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    declared = response.content_length
    if declared is not None and declared > max_bytes and not response.headers.get("Content-Encoding"):
        raise FetchError("too-large", f"response is {declared} bytes, over the {max_bytes} byte limit", transient=False)
    chunks = []
    total = 0
    async for chunk in response.content.iter_chunked(65536):
        total += len(chunk)
        if total > max_bytes:
            raise FetchError("too-large", f"response is over the {max_bytes} byte limit (decoded)", transient=False)
        chunks.append(chunk)
    return b"".join(chunks)
