"""Issue #3, acceptance: the address guard (SSRF). Article links, enclosures and every redirect
are chosen by third parties; the guard refuses non-public addresses *before connecting*.

Network rule of these tests: traffic only ever goes to 127.0.0.0/8 or ::1. A refusal is proven
by a loopback target that counts accepted connections and sees none. Non-loopback ranges are
tested only through `address_allowed` and a stub resolver inside `GuardedResolver`, never
with a real connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import time
from email.utils import formatdate

import pytest
from fixtures import write_config
from hostile import HostileServer, StubResolver, forward_proxy, ipv6_loopback_available, static

from monitor import cli, fetch
from monitor.errors import FetchError

HAS_IPV6 = ipv6_loopback_available()
NOW = formatdate(time.time(), usegmt=True)
PAGE = ("<!doctype html><html><head><title>Internal</title></head><body><article><h1>Internal page</h1>"
        "<p>This page lives on a loopback address and must only be read when the operator allows it. "
        "It names ISKP so that reading it shows in the alerts.</p>"
        "<p>Officials said the situation remained tense through the evening and roads were closed.</p>"
        "</article></body></html>")


class Target:
    """The refused destination: listens on 127.0.0.1 (and ::1 on the same port when there is
    IPv6) and counts every connection it accepts."""

    def __init__(self) -> None:
        self.servers = [HostileServer("127.0.0.1").start()]
        self.port = self.servers[0].port
        if HAS_IPV6:
            try:
                self.servers.append(HostileServer("::1", self.port).start())
            except OSError:
                pass
        for server in self.servers:
            server.add("/article", static(PAGE))
            server.add("/feed.xml", static(rss([("ISKP cell broken up in Nangarhar", "https://news.example/x")]),
                                           "application/rss+xml"))

    @property
    def connections(self) -> int:
        return sum(server.connections for server in self.servers)

    @property
    def requests(self) -> list:
        return [request for server in self.servers for request in server.requests]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture
def target():
    server = Target()
    yield server
    server.stop()


def rss(items: list[tuple[str, str]], title: str = "Guarded Gazette") -> str:
    entries = "".join(f"<item><title>{t}</title><link>{link.replace('&', '&amp;')}</link><guid>g{n}</guid>"
                      f"<pubDate>{NOW}</pubDate><description>Report number {n}.</description></item>\n"
                      for n, (t, link) in enumerate(items))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>https://gazette.example/</link>\n{entries}</channel></rss>")


LOOPBACK = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]

# form: (URL with {port}, fetched once loopback is allowed?)
FORMS = {
    "127.0.0.1": ("http://127.0.0.1:{port}/article", True),
    "127.1": ("http://127.1:{port}/article", False),  # odd literals are refused whatever the ranges
    "0x7f.1": ("http://0x7f.1:{port}/article", False),
    "2130706433": ("http://2130706433:{port}/article", False),
    "017700000001 (octal)": ("http://017700000001:{port}/article", False),
    "0": ("http://0:{port}/article", False),  # 0.0.0.0: on Linux connecting to it reaches loopback
    "0.0.0.0": ("http://0.0.0.0:{port}/article", False),
    "127.0.0.1. (trailing dot)": ("http://127.0.0.1.:{port}/article", False),
    "fullwidth digits": ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:{port}/article", True),  # NFKC: 127.0.0.1
    "[::1]": ("http://[::1]:{port}/article", True),
    "[::]": ("http://[::]:{port}/article", False),
    "[::ffff:127.0.0.1]": ("http://[::ffff:127.0.0.1]:{port}/article", True),
    "localhost": ("http://localhost:{port}/article", True),
    "backslash": ("http://127.0.0.1:{port}\\@localhost:{port}/article", False),
    "file:": ("file:///etc/passwd", False),
    "ftp:": ("ftp://127.0.0.1:{port}/article", False),
}
NEEDS_IPV6 = {"[::1]", "[::]"}


def form_params() -> list:
    return [pytest.param(name, id=name, marks=[pytest.mark.skipif(not HAS_IPV6, reason="no IPv6 loopback")]
                         if name in NEEDS_IPV6 else []) for name in FORMS]


def get(url: str, *, allowed=(), untrusted=True, proxy=None, resolver=None) -> fetch.Response:
    async def main():
        fetcher = fetch.Fetcher(user_agent="newsmon-test", allowed_networks=allowed, timeout=5, resolver=resolver)
        try:
            return await fetcher.get(url, max_bytes=1_000_000, untrusted=untrusted, proxy=proxy,
                                     accept=fetch.PAGE_ACCEPT)
        finally:
            await fetcher.close()
    return asyncio.run(main())


# ---------------------------------------------------------------- each form, at the fetcher


@pytest.mark.parametrize("form", form_params())
def test_each_refused_form_is_refused_before_connecting(form, target):
    url = FORMS[form][0].format(port=target.port)
    with pytest.raises(FetchError) as refused:
        get(url)
    assert refused.value.kind == "refused", refused.value
    assert not refused.value.transient
    assert target.connections == 0


@pytest.mark.parametrize("form", form_params())
def test_with_loopback_allowed_only_the_plain_forms_are_fetched(form, target):
    url, fetched = FORMS[form]
    url = url.format(port=target.port)
    if fetched:
        response = get(url, allowed=LOOPBACK)
        assert response.status == 200 and b"Internal page" in response.body
        assert len(target.requests) == 1
    else:
        with pytest.raises(FetchError) as refused:
            get(url, allowed=LOOPBACK)
        assert refused.value.kind == "refused", refused.value
        assert target.connections == 0


def test_a_feed_url_the_user_wrote_is_trusted_as_written(target):
    response = get(f"http://127.0.0.1:{target.port}/feed.xml", untrusted=False)
    assert response.status == 200 and len(target.requests) == 1


# ---------------------------------------------------------------- as a user runs it


def hook_url(web) -> str:
    return web.base.replace("http://", "json://") + "/hook"


def run_once(path, capsys, expect: int = 0) -> str:
    capsys.readouterr()
    assert cli.main(["--config", str(path), "run", "--once"]) == expect
    return capsys.readouterr().err


def status(path, capsys) -> dict[str, dict]:
    assert cli.main(["--config", str(path), "status", "--json"]) == 0
    return {feed["url"]: feed for feed in json.loads(capsys.readouterr().out)["feeds"]}


def forms_feed(port: int, names) -> str:
    """One entry per form; each link distinct (entries sharing a canonical link are one article)."""
    def link(n: int, name: str) -> str:
        url = FORMS[name][0].format(port=port)
        return url + f"?entry={n}" if url.startswith("http") else url
    return rss([(f"Report {n}: ISKP statement via {name}", link(n, name)) for n, name in enumerate(names)])


def test_article_links_to_every_refused_form_are_never_fetched(tmp_path, web, target, capsys):
    names = [name for name in FORMS if HAS_IPV6 or name not in NEEDS_IPV6]
    url = web.add("/gazette.xml", forms_feed(target.port, names), "application/rss+xml")
    path = write_config(tmp_path, [{"url": url, "alert_on_first_poll": True}], {"hook": [hook_url(web)]},
                        allow_loopback=False)

    stderr = run_once(path, capsys)

    assert target.connections == 0, target.requests
    assert stderr.count("article link refused") == 1, stderr  # said once per feed, with the URL
    assert f"feed={url} url=" in stderr
    feed = status(path, capsys)[url]
    assert feed["health"] == "ok" and feed["entries"] == len(names)  # every entry recorded from the feed's text
    assert len(web.json_posts("/hook")) >= 1  # and the feed's own text still alerts


def test_article_links_to_loopback_are_fetched_once_allowed(tmp_path, web, target, capsys):
    names = [name for name, (_, fetched) in FORMS.items() if fetched and (HAS_IPV6 or name not in NEEDS_IPV6)]
    url = web.add("/gazette.xml", forms_feed(target.port, names), "application/rss+xml")
    path = write_config(tmp_path, [{"url": url, "alert_on_first_poll": True}], {"hook": [hook_url(web)]},
                        allow_loopback=False, allow_private_networks=["127.0.0.0/8", "::1/128"])

    stderr = run_once(path, capsys)

    assert "refused" not in stderr
    assert sorted(r[1] for r in target.requests) == sorted(f"/article?entry={n}" for n in range(len(names)))


def test_a_redirect_chain_from_an_allowed_page_to_a_refused_address_stops_before_it(tmp_path, web, target, capsys):
    allowed = HostileServer("127.0.0.2").start()  # the operator's intranet: 127.0.0.2 only
    try:
        allowed.add("/a", lambda exchange: exchange.head(302, {"Location": "/b", "Content-Length": "0"}))
        allowed.add("/b", lambda exchange: exchange.head(
            301, {"Location": f"http://localhost:{target.port}/article", "Content-Length": "0"}))
        url = web.add("/gazette.xml", rss([("ISKP claims raid", f"{allowed.base}/a")]), "application/rss+xml")
        path = write_config(tmp_path, [{"url": url, "alert_on_first_poll": True}], {"hook": [hook_url(web)]},
                            allow_loopback=False, allow_private_networks=["127.0.0.2/32"])

        stderr = run_once(path, capsys)

        assert [r[1] for r in allowed.requests] == ["/a", "/b"]
        assert target.connections == 0
        assert stderr.count("article link refused") == 1 and "localhost resolves to 127.0.0.1" in stderr

        # Allowing the target's range too, the same chain is followed to the end.
        path = write_config(tmp_path, [{"url": url, "alert_on_first_poll": True}], {"hook": [hook_url(web)]},
                            allow_loopback=False, allow_private_networks=["127.0.0.0/8"])
        (tmp_path / "state" / "newsmon.db").unlink()
        run_once(path, capsys)
        assert [r[1] for r in target.requests] == ["/article"]
    finally:
        allowed.stop()


def test_a_feed_redirected_into_a_private_address_fails_as_refused(tmp_path, web, target, capsys):
    url = web.add("/gazette.xml", b"", status=302, headers={"Location": f"http://127.0.0.1:{target.port}/feed.xml"})
    path = write_config(tmp_path, [{"url": url, "alert_on_first_poll": True}], {"hook": [hook_url(web)]},
                        allow_loopback=False)

    stderr = run_once(path, capsys, expect=1)  # its only feed failing: exit 1 (#14)

    assert target.connections == 0
    feed = status(path, capsys)[url]
    assert feed["error_kind"] == "refused" and feed["health"].startswith("failing"), feed
    assert stderr.count(f"feed failed feed={url} kind=refused") == 1

    path = write_config(tmp_path, [{"url": url, "alert_on_first_poll": True}], {"hook": [hook_url(web)]},
                        allow_loopback=False, allow_private_networks=["127.0.0.0/8"])
    run_once(path, capsys)
    assert [r[1] for r in target.requests] == ["/feed.xml"]
    assert status(path, capsys)[url]["health"] == "ok"


@pytest.mark.parametrize("allow", [False, True], ids=["refused", "allowed"])
def test_through_a_proxy_the_target_is_checked_before_the_proxy_is_asked(allow, tmp_path, web, target, capsys):
    asked: list[str] = []
    proxy = HostileServer().start()
    proxy.fallback = forward_proxy(asked)
    try:
        article = f"http://localhost:{target.port}/article"
        url = web.add("/gazette.xml", rss([("ISKP claims raid", article),
                                           ("ISKP statement", f"http://127.0.0.1:{target.port}/article")]),
                      "application/rss+xml")
        path = write_config(tmp_path, [{"url": url, "alert_on_first_poll": True, "proxy": proxy.base}],
                            {"hook": [hook_url(web)]}, allow_loopback=False,
                            **({"allow_private_networks": ["127.0.0.0/8"]} if allow else {}))

        stderr = run_once(path, capsys)

        assert url in asked  # the feed itself went through the proxy
        if allow:
            assert sorted(asked) == sorted([url, article, f"http://127.0.0.1:{target.port}/article"])
            assert len(target.requests) == 2
        else:
            assert asked == [url]  # the proxy was never asked for the refused targets
            assert target.connections == 0
            assert stderr.count("article link refused") == 1
    finally:
        proxy.stop()


def test_a_refusal_is_logged_once_per_feed(tmp_path, web, target, capsys):
    links = [f"http://127.0.0.1:{target.port}/article?n={n}" for n in range(3)]
    first = web.add("/first.xml", rss([(f"ISKP raid {n}", link) for n, link in enumerate(links)]), "application/rss+xml")
    second = web.add("/second.xml", rss([(f"ISKP attack {n}", link.replace("?n=", "?m=")) for n, link in enumerate(links)], "Second"),
                     "application/rss+xml")
    path = write_config(tmp_path, [{"url": first, "alert_on_first_poll": True},
                                   {"url": second, "alert_on_first_poll": True}],
                        {"hook": [hook_url(web)]}, allow_loopback=False)

    stderr = run_once(path, capsys)

    refusals = [line for line in stderr.splitlines() if "article link refused" in line]
    assert len(refusals) == 2, refusals
    assert any(f"feed={first}" in line for line in refusals) and any(f"feed={second}" in line for line in refusals)
    assert all("url=http://127.0.0.1:" in line for line in refusals)
    assert target.connections == 0


# ---------------------------------------------------------------- classification, no network


REFUSED = {
    "private 10/8": "10.0.0.1", "private 172.16/12": "172.16.5.4", "private 192.168/16": "192.168.1.1",
    "link-local (cloud metadata)": "169.254.169.254", "CGNAT low": "100.64.0.1", "CGNAT high": "100.127.255.254",
    "multicast": "224.0.0.1", "multicast admin": "239.1.1.1", "unspecified": "0.0.0.0", "this network": "0.1.2.3",
    "reserved": "240.0.0.1", "broadcast": "255.255.255.255", "documentation": "192.0.2.1",
    "benchmarking": "198.18.0.1", "loopback": "127.0.0.1",
    "IPv6 loopback": "::1", "IPv6 unspecified": "::", "IPv6 link-local": "fe80::1", "IPv6 link-local zone": "fe80::1%eth0",
    "IPv6 unique local": "fd12:3456::1", "IPv6 site-local (deprecated)": "fec0::1", "IPv6 multicast": "ff02::1",
    "IPv6 documentation": "2001:db8::1", "IPv6 documentation (3fff::/20)": "3fff::1", "IPv6 discard": "100::1",
    "::ffff: loopback": "::ffff:127.0.0.1", "::ffff: private": "::ffff:10.0.0.1",
    "::ffff: metadata": "::ffff:169.254.169.254", "IPv4-compatible": "::7f00:1",
    "NAT64 loopback": "64:ff9b::7f00:1", "NAT64 metadata": "64:ff9b::a9fe:a9fe", "NAT64 local-use private": "64:ff9b:1::a00:1",
    "6to4 loopback": "2002:7f00:1::", "6to4 metadata": "2002:a9fe:a9fe::1",
    "Teredo to a private client": "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # client 10.0.0.1
    "Teredo via a private server": "2001:0:a00:1:8000:63bf:f7f7:f7f7",  # server 10.0.0.1
    "not an address": "news.example",
}
ALLOWED = {
    "public IPv4": "8.8.8.8", "public IPv4 (2)": "1.1.1.1", "next to CGNAT (below)": "100.63.255.255",
    "next to CGNAT (above)": "100.128.0.1", "public IPv6": "2606:4700:4700::1111", "public IPv6 (2)": "2a00:1450:4001:80b::200e",
    "::ffff: public": "::ffff:8.8.8.8", "NAT64 public (DNS64 networks)": "64:ff9b::808:808",
    "6to4 public": "2002:808:808::1",
}


@pytest.mark.parametrize("address", list(REFUSED.values()), ids=list(REFUSED))
def test_non_public_addresses_are_refused(address):
    assert not fetch.address_allowed(address, ())


@pytest.mark.parametrize("address", list(ALLOWED.values()), ids=list(ALLOWED))
def test_public_addresses_are_allowed(address):
    assert fetch.address_allowed(address, ())


def test_an_allowed_range_opens_exactly_that_range():
    intranet = [ipaddress.ip_network("10.20.0.0/16")]
    assert fetch.address_allowed("10.20.1.1", intranet)
    assert fetch.address_allowed("::ffff:10.20.1.1", intranet)
    assert not fetch.address_allowed("10.21.0.1", intranet)
    assert not fetch.address_allowed("10.19.255.255", intranet)
    assert not fetch.address_allowed("127.0.0.1", intranet)


def resolve_with(answers: list[str], allowed=()) -> list[dict]:
    resolver = fetch.GuardedResolver(allowed, inner=StubResolver(answers))
    return asyncio.run(resolver.resolve("news.example", 443, socket.AF_UNSPEC))


def test_the_resolver_refuses_when_any_answer_is_private():
    assert [r["host"] for r in resolve_with(["93.184.216.34", "2606:2800:220:1::1"])] == ["93.184.216.34", "2606:2800:220:1::1"]
    for rebinding in (["93.184.216.34", "127.0.0.1"], ["10.0.0.5", "93.184.216.34"], ["93.184.216.34", "::ffff:192.168.0.1"],
                      ["169.254.169.254"], ["2606:2800:220:1::1", "fd00::1"]):
        with pytest.raises(fetch.AddressRefused):
            resolve_with(rebinding)
    assert resolve_with(["10.20.1.1"], [ipaddress.ip_network("10.20.0.0/16")])
    with pytest.raises(fetch.AddressRefused):
        resolve_with(["10.20.1.1", "10.21.0.1"], [ipaddress.ip_network("10.20.0.0/16")])


def test_the_guard_checks_the_answer_the_connection_uses(target):
    """A name whose (stub) answer is loopback: refused without a connection, and fetched from
    that very address once allowed. The connection uses the answer the guard checked."""
    url = f"http://rebind.example:{target.port}/article"
    with pytest.raises(FetchError) as refused:
        get(url, resolver=StubResolver(["127.0.0.1"]))
    assert refused.value.kind == "refused" and target.connections == 0
    with pytest.raises(FetchError) as refused:
        get(url, resolver=StubResolver(["8.8.8.8", "127.0.0.1"]))  # one public answer does not help
    assert refused.value.kind == "refused" and target.connections == 0
    response = get(url, resolver=StubResolver(["127.0.0.1"]), allowed=LOOPBACK)
    assert response.status == 200 and len(target.requests) == 1


@pytest.mark.skipif(not fetch.SOCKET_FACTORY, reason="aiohttp < 3.12 has no socket_factory")
def test_the_guarded_connection_itself_refuses_a_non_public_socket(target):
    """Defence in depth: even a request that skipped the URL checks (straight to the guarded
    session, an IP literal, so no resolver either) gets no socket to a refused address."""
    import aiohttp

    async def main():
        fetcher = fetch.Fetcher(user_agent="newsmon-test", timeout=5)
        try:
            async with fetcher._guarded().get(f"http://127.0.0.1:{target.port}/article"):
                pass
        finally:
            await fetcher.close()

    with pytest.raises(aiohttp.ClientConnectorError) as refused:
        asyncio.run(main())
    assert isinstance(refused.value.os_error, fetch.AddressRefused)
    assert target.connections == 0
