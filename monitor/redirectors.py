"""Redirector links: the real target of a Google Alerts, Google News, AMP, Facebook, Bing News
or FeedBurner link, read from the link itself (no network round trip).

Ground floor: standard library only, no imports from other monitor modules. `monitor.urls`
builds an article's canonical key on `unwrap`; a fetch follows `unwrap(url)`, which removes
redirectors and otherwise leaves the URL exactly as the publisher wrote it.

What is unwrapped (at most `MAX_UNWRAP` levels): Google Alerts and `google.*/url?url=|q=`,
Google News (`url=`, and the older `/rss/articles/CBMi…` ids that carry the URL inside them),
Google's AMP viewer (`google.com/amp/s/…`), the AMP cache (`*.cdn.ampproject.org/c/s/…`,
`/v/s/…`), Facebook's `l.php?u=`, Bing News `apiclick.aspx?url=`, and FeedBurner/feedproxy
only when a `url=` parameter exists (their `/~r/Feed/~3/ID/slug` paths do not contain the real
URL). t.co, feedpress and newer Google News ids (`CBMi…` that decode to `AU_yqL…`) need a
network round trip and are kept as they are. No function here raises on any string.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from urllib.parse import unquote, urlsplit

__all__ = ["MAX_UNWRAP", "REDIRECTOR_NAMES", "as_text", "unwrap", "unwrap_once", "web_url"]

MAX_UNWRAP = 3  # redirector levels unwrapped (a Google Alerts link to an AMP cache link is two)
_GOOGLE = re.compile(r"google\.(?:com|[a-z]{2}|co\.[a-z]{2}|com\.[a-z]{2})")
_FACEBOOK_LINK_HOSTS = frozenset({"l.facebook.com", "lm.facebook.com", "m.facebook.com", "www.facebook.com",
                                  "facebook.com"})
_FEEDBURNER_HOSTS = frozenset({"feedproxy.google.com", "feeds.feedburner.com", "feeds2.feedburner.com"})
_AMP_CACHE_KINDS = frozenset({"c", "v", "wp"})  # content, viewer, web package
# what every redirector's host name holds (lower-cased): a link without any is none
REDIRECTOR_NAMES = ("google", "ampproject", "facebook", "bing.com", "feedburner")


def unwrap(url: str) -> str:
    """The real target of a redirector link (Google Alerts, Google News, Google AMP viewer and
    AMP cache, Facebook, Bing News, FeedBurner with `url=`), unwrapped up to `MAX_UNWRAP` levels;
    otherwise the URL itself, stripped. The result is meant to be fetched: nothing else in it
    is changed."""
    current = as_text(url)
    lowered = current.lower()  # as the host is read: most links name no redirector at all
    if not any(name in lowered for name in REDIRECTOR_NAMES):
        return current
    for _ in range(MAX_UNWRAP):
        try:
            target = unwrap_once(current)
        except ValueError:
            target = None
        if target is None:
            break
        current = target
    return current


def as_text(url: object) -> str:
    if url is None:
        return ""
    if isinstance(url, bytes):
        url = url.decode("utf-8", "replace")
    return url.strip() if isinstance(url, str) else str(url).strip()


def _params(query: str) -> dict[str, str]:
    """First value of each parameter, names lower-cased, both percent-decoded. `+` stays `+`:
    a redirect target is a URL, where `+` is more often meant than a space."""
    found: dict[str, str] = {}
    for piece in query.split("&"):
        name, _, value = piece.partition("=")
        name = unquote(name).lower()
        if name and name not in found:
            found[name] = unquote(value)
    return found


def web_url(candidate: str | None) -> str | None:
    """`candidate`, stripped, if it is an absolute http(s) URL with a host."""
    if not candidate:
        return None
    candidate = candidate.strip()
    try:
        parts = urlsplit(candidate)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return candidate


def unwrap_once(url: str) -> str | None:
    """The target of one redirector level, or None when `url` is not a redirector we can read."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", ""):
        return None
    name = (parts.hostname or "").rstrip(".")
    if not name:
        return None
    bare = name[4:] if name.startswith("www.") else name
    path = parts.path
    params = functools.partial(_params, parts.query)  # read only for a redirector (most links are none)
    if _GOOGLE.fullmatch(bare):
        if path == "/url":  # Google Alerts (?rct=j&sa=t&url=…) and search result links (?q=…)
            return web_url(params().get("url")) or web_url(params().get("q"))
        if path.startswith("/amp/"):  # Google's AMP viewer: /amp/s/host/path
            return web_url(_scheme_path(path[len("/amp/"):], parts.query))
        return None
    if bare == "news.google.com":
        return web_url(params().get("url")) or web_url(_google_news_target(path))
    if name.endswith(".cdn.ampproject.org") or name == "cdn.ampproject.org":
        kind, _, rest = path.lstrip("/").partition("/")
        return web_url(_scheme_path(rest, parts.query)) if kind in _AMP_CACHE_KINDS else None
    if name in _FACEBOOK_LINK_HOSTS and path == "/l.php":
        return web_url(params().get("u"))
    if bare == "bing.com" and path.lower() == "/news/apiclick.aspx":
        return web_url(params().get("url"))
    if name in _FEEDBURNER_HOSTS:
        # /~r/Feed/~3/ID/slug holds no URL (the slug is not the publisher's path): only an
        # explicit url= parameter can be unwrapped. feeds.py can use <feedburner:origLink>.
        return web_url(params().get("url"))
    return None


def _scheme_path(rest: str, query: str) -> str | None:
    """`s/host/path` -> https://host/path, `host/path` -> http://host/path (AMP cache form)."""
    scheme = "http"
    if rest.startswith("s/"):
        scheme, rest = "https", rest[2:]
    if "." not in rest.partition("/")[0]:  # no host name (`c/s/` alone, `c/s//path`)
        return None
    return f"{scheme}://{rest}" + (f"?{query}" if query else "")


def _google_news_target(path: str) -> str | None:
    """The article URL inside an older Google News article id (/rss/articles/CBMi…): a
    base64url protobuf whose first http(s) string field is the URL (a later one is its AMP
    page). Newer ids hold an opaque token (`AU_yqL…`) instead and give None."""
    token = path.rstrip("/").rpartition("/")[2]
    if not token.startswith("CB") or not token.isascii():
        return None
    try:
        data = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    index = 0
    while index < len(data):
        key, index = _varint(data, index)
        if key is None:
            return None
        wire = key & 7
        if wire == 0:
            _, index = _varint(data, index)
            if index is None:
                return None
        elif wire == 2:
            length, index = _varint(data, index)
            if length is None or index + length > len(data):
                return None
            value = data[index:index + length]
            index += length
            if value.startswith((b"http://", b"https://")):
                try:
                    return value.decode("utf-8")
                except UnicodeDecodeError:
                    return None
        else:
            return None
    return None


def _varint(data: bytes, index: int) -> tuple[int | None, int | None]:
    value = shift = 0
    while index < len(data) and shift < 64:
        byte = data[index]
        index += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, index
        shift += 7
    return None, None
