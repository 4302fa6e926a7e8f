"""URLs: hosts, outlets, canonical keys and redirector unwrapping.

Ground floor: standard library only, no imports from other monitor modules.

`canonical(url)` is an *identity*, not an address: two URLs get the same key when they show the
same page (http and https, with and without `www.`, AMP and not, with and without tracking
parameters, behind a Google Alerts link or not). Never fetch a key; fetch `unwrap(url)`, which
only removes redirectors and otherwise leaves the URL exactly as the publisher wrote it.

What the key does, in order:

1. Redirector links are unwrapped (`unwrap`, at most `MAX_UNWRAP` levels): Google Alerts and
   `google.*/url?url=|q=`, Google News (`url=`, and the older `/rss/articles/CBMi…` ids that
   carry the URL inside them), Google's AMP viewer (`google.com/amp/s/…`), the AMP cache
   (`*.cdn.ampproject.org/c/s/…`, `/v/s/…`), Facebook's `l.php?u=`, Bing News `apiclick.aspx?url=`,
   and FeedBurner/feedproxy only when a `url=` parameter exists (their `/~r/Feed/~3/ID/slug`
   paths do not contain the real URL). t.co, feedpress and newer Google News ids
   (`CBMi…` that decode to `AU_yqL…`) need a network round trip and are kept as they are.
2. The scheme becomes `https` (http and https are one page); userinfo and the fragment (also
   `#!` hash-bangs) go; the port goes when it is the input scheme's default (80 for http, 443
   for https) and whenever it is 443, the key's own default.
3. The host is lower-cased, a trailing dot removed, an internationalised name turned into its
   ASCII (IDNA 2003, the stdlib codec) form, and leading `www.` and `amp.` labels dropped (only
   while at least two labels remain: `www.com` and `amp.dev` stay).
4. Percent-encoding is normalised in path and query: escapes of unreserved characters
   (`A-Z a-z 0-9 - . _ ~`) are decoded, other escapes upper-cased, characters that may not
   appear raw (spaces, non-ASCII, the backquote and `"<>[]\\^{|}`) encoded as UTF-8, a stray
   `%` becomes `%25`. `%2F` stays distinct from `/`, `%27` from `'`, `+` from `%20`.
5. The path: `.` and `..` segments resolved; AMP variants folded (a segment `amp` anywhere,
   NDTV's trailing `/amp/1`, a last segment `amp.html` -> `.html` on the one before,
   `x.amp.html` -> `x.html`, `x-<digits>-amp.html` -> `x-<digits>.html`, `x.amp` -> `x`, the
   Times of India's `amp_articleshow` -> `articleshow`); a final `index.html`, `index.htm`,
   `index.php` removed; trailing slashes removed, but the root path stays `/`. Repeated inner
   slashes are kept (`a//b` is not `a/b` for every server).
6. The query: tracking parameters dropped (see `TRACKING_PARAMETERS`), AMP switches dropped
   (`amp`, `amp=1`, `amp=true`, `outputType=amp`, and the AMP cache's own parameters), empty
   `&&` pieces dropped, the rest sorted by name (a stable sort: repeated names keep their
   order) and kept; no `?` when nothing is left.

Anything that is not an absolute http(s) URL (or a protocol-relative `//host/path`), or that
cannot be parsed (bad port, bad IPv6 literal, a host that is not a host name), comes back as
the input, stripped. Neither function raises on any string.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from urllib.parse import unquote, urlsplit

__all__ = ["MAX_UNWRAP", "TRACKING_PARAMETERS", "TRACKING_PREFIXES", "canonical", "host", "outlet_of", "unwrap"]

MAX_UNWRAP = 3  # redirector levels unwrapped (a Google Alerts link to an AMP cache link is two)

# --- query parameters ------------------------------------------------------------------------
# A parameter is dropped only if it is tracking wherever it appears: it belongs to an analytics
# or advertising platform (which defines what it means on every site), or it is a publisher's
# campaign code with a name no site uses to choose content. Names are compared lower-cased.
TRACKING_PARAMETERS = frozenset({
    # click identifiers added by ad platforms and apps
    "fbclid",                        # Facebook / Meta
    "gclid", "dclid", "gbraid", "wbraid",  # Google Ads, Campaign Manager, iOS app/web campaigns
    "msclkid",                       # Microsoft Advertising
    "yclid",                         # Yandex Direct
    "twclid",                        # X/Twitter Ads
    "ttclid",                        # TikTok Ads
    "li_fat_id",                     # LinkedIn Ads
    "igshid",                        # Instagram share sheet
    "srsltid",                       # Google Merchant Center, added to organic results
    # Google Analytics cross-domain linker
    "_ga", "_gl",
    # e-mail marketing
    "mc_cid", "mc_eid",              # Mailchimp campaign and subscriber
    "_hsenc", "_hsmi",               # HubSpot
    "mkt_tok",                       # Marketo
    # analytics campaign codes
    "xtor",                          # AT Internet (Le Monde, France 24: ?xtor=RSS-3208)
    "wt_mc", "wt.mc_id",             # Webtrends (heise: ?wt_mc=rss.ho.beitrag.rdf)
    "pk_campaign", "pk_kwd", "pk_keyword", "pk_source", "pk_medium", "pk_content", "pk_cid",  # Matomo/Piwik
    "mtm_campaign", "mtm_kwd", "mtm_keyword", "mtm_source", "mtm_medium", "mtm_content",
    "mtm_cid", "mtm_group", "mtm_placement",  # Matomo Tag Manager (not a prefix: pk_id could be content)
    # publishers' campaign codes with names nothing else uses
    "ocid",                          # Microsoft Start / MSN syndication
    "cmpid",                         # campaign id (Washington Post, Fox, …)
    "icid", "intcmp",                # internal campaign ids (Guardian INTCMP, CNN, Forbes)
    "ncid",                          # Yahoo / HuffPost news campaign id
    "traffic_source",                # Al Jazeera feeds (?traffic_source=rss)
    "smid",                          # New York Times share links (?smid=tw-share)
    # platform referral tags
    "ref_src", "ref_url",            # X/Twitter embeds (?ref_src=twsrc%5Etfw&ref_url=<embedding page>)
    "__twitter_impression",          # X/Twitter
    "fb_action_ids", "fb_action_types", "fb_ref", "fb_source",  # Facebook Open Graph shares
    "guccounter", "guce_referrer", "guce_referrer_sig",  # Yahoo consent round trip
})
# Prefixes, compared lower-cased: Google Analytics UTM (any utm_*), and AT Internet / Piano
# (the BBC's ?at_medium=RSS&at_campaign=rss, at_custom1…4, at_link_id, at_ptr_name, …).
TRACKING_PREFIXES = ("utm_", "at_")
# Case-sensitive names: the Guardian's CMP (?CMP=share_btn_tw). Lower-case `cmp` is left alone,
# it is too short and generic to be sure nothing uses it for content.
TRACKING_EXACT = frozenset({"CMP"})
# Deliberately KEPT, because they can select content somewhere: ref (a branch, a referral page
# that renders differently), source (Medium ?source=rss… is tracking, but other sites filter by
# it), from and s (pagination, WordPress search), src, cid, id, p, t, v, partner, rss, share,
# feature (YouTube), _r (old NYT registration flag: NYT-only yet too short to be sure), postshare.

# AMP switches: the AMP page of the same article.
AMP_SWITCHES = {"amp": frozenset({"", "1", "true"}), "outputtype": frozenset({"amp"})}
# Parameters the AMP cache and AMP viewers add to the page they serve.
AMP_VIEWER_PARAMETERS = frozenset({"amp_js_v", "amp_gsa", "amp_ct", "amp_tf", "usqp", "aoh", "ampshare",
                                   "__amp_source_origin"})

INDEX_FILES = frozenset({"index.html", "index.htm", "index.php"})
DEFAULT_PORTS = {"http": 80, "https": 443}

# Characters that stand for themselves in a path or query: unreserved, sub-delims, ":@/?".
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(r"%(?:[0-9A-Fa-f]{2})?|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?]")
_HOST_OK = re.compile(r"[a-z0-9\-._~!$&'()*+,;=]+")
_IPV6_OK = re.compile(r"[0-9a-f:.]+(?:%[0-9a-z\-._~]+)?")
_GOOGLE = re.compile(r"google\.(?:com|[a-z]{2}|co\.[a-z]{2}|com\.[a-z]{2})")
_FACEBOOK_LINK_HOSTS = frozenset({"l.facebook.com", "lm.facebook.com", "m.facebook.com", "www.facebook.com",
                                  "facebook.com"})
_FEEDBURNER_HOSTS = frozenset({"feedproxy.google.com", "feeds.feedburner.com", "feeds2.feedburner.com"})
# what every redirector's host name holds (lower-cased): a link without any is none
_REDIRECTOR_NAMES = ("google", "ampproject", "facebook", "bing.com", "feedburner")
_AMP_CACHE_KINDS = frozenset({"c", "v", "wp"})  # content, viewer, web package
_TOI_AMP = re.compile(r"amp_([a-z]+show)")
_NUMBERED_AMP = re.compile(r"(.*-\d{6,})-amp\.html", re.IGNORECASE)


def host(url: str | None) -> str | None:
    """The lower-case host of a URL, or None."""
    if not url:
        return None
    try:
        return urlsplit(url.strip()).hostname
    except (ValueError, TypeError, AttributeError):
        return None


def outlet_of(url: str | None) -> str | None:
    """Who publishes at `url`: its host without a leading `www.` (www.dawn.com -> dawn.com)."""
    name = host(url)
    if not name:
        return None
    return name[4:] if name.startswith("www.") else name


@functools.lru_cache(maxsize=8192)  # a poll asks for an entry's key several times; feeds repeat links
def canonical(url: str) -> str:
    """The comparable key of the page at `url` (see the module docstring); the input, stripped,
    when it is not an http(s) URL or cannot be parsed."""
    text = _text(url)
    if not text:
        return text
    try:
        return _key(unwrap(text)) or text
    except ValueError:  # urlsplit on a bad IPv6 literal, a bad port, an IDNA failure
        return text


def unwrap(url: str) -> str:
    """The real target of a redirector link (Google Alerts, Google News, Google AMP viewer and
    AMP cache, Facebook, Bing News, FeedBurner with `url=`), unwrapped up to `MAX_UNWRAP` levels;
    otherwise the URL itself, stripped. The result is meant to be fetched: nothing else in it
    is changed."""
    current = _text(url)
    lowered = current.lower()  # as the host is read: most links name no redirector at all
    if not any(name in lowered for name in _REDIRECTOR_NAMES):
        return current
    for _ in range(MAX_UNWRAP):
        try:
            target = _unwrap_once(current)
        except ValueError:
            target = None
        if target is None:
            break
        current = target
    return current


# --- unwrapping ------------------------------------------------------------------------------
def _text(url: object) -> str:
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


def _unwrap_once(url: str) -> str | None:
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


# --- the key ---------------------------------------------------------------------------------
def _key(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "") or not parts.netloc:
        return None
    name = _host_key(parts.hostname)
    if name is None:
        return None
    port = parts.port  # ValueError on garbage, handled by canonical()
    netloc = name
    # The key's scheme is https, so 443 is its default port whatever the input's scheme was.
    if port is not None and port != 443 and port != DEFAULT_PORTS.get(parts.scheme or "https"):
        netloc = f"{name}:{port}"
    path = _fold_path(_normalise(parts.path or "/"))
    query = _fold_query(parts.query)
    return f"https://{netloc}{path}" + (f"?{query}" if query else "")


def _host_key(hostname: str | None) -> str | None:
    if not hostname:
        return None
    name = hostname.rstrip(".").lower()
    if ":" in name:  # an IPv6 literal (urlsplit already checked the brackets)
        return f"[{name}]" if _IPV6_OK.fullmatch(name) else None
    if not name.isascii():
        # UnicodeError (a ValueError) on a bad label; U+3002 and friends become dots
        name = name.encode("idna").decode("ascii").rstrip(".")
    if not _HOST_OK.fullmatch(name):
        return None
    labels = name.split(".")
    while len(labels) > 2 and labels[0] in ("www", "amp"):
        labels.pop(0)
    return ".".join(labels)


def _escape(match: re.Match) -> str:
    text = match.group()
    if text[0] == "%":
        if len(text) == 1:
            return "%25"
        char = chr(int(text[1:], 16))
        return char if char in _UNRESERVED else text.upper()
    return "".join(f"%{byte:02X}" for byte in text.encode("utf-8", "surrogatepass"))


def _normalise(text: str) -> str:
    """Percent-encoding normalised (see the module docstring, point 4)."""
    return _ESCAPE.sub(_escape, text)


def _fold_path(path: str) -> str:
    segments = path.split("/")[1:] if path.startswith("/") else path.split("/")
    for _ in range(8):  # until nothing changes (x.amp.amp, amp/index.html/, …)
        before = segments
        segments = _resolve_dots(segments)
        while segments and segments[-1] == "":
            segments.pop()
        if len(segments) >= 2 and segments[-2].lower() == "amp" and segments[-1] == "1":
            del segments[-2:]  # NDTV: /india-news/slug-1234567/amp/1
        segments = [_untoi(segment) for segment in segments if segment.lower() != "amp"]
        if segments:
            last = segments[-1]
            lower = last.lower()
            numbered = _NUMBERED_AMP.fullmatch(last)
            if lower == "amp.html":
                segments.pop()
                if segments and segments[-1]:
                    segments[-1] += ".html"
            elif lower.endswith(".amp.html") and len(last) > len(".amp.html"):
                segments[-1] = last[:-len(".amp.html")] + ".html"
            elif numbered:
                segments[-1] = numbered.group(1) + ".html"
            elif lower.endswith(".amp") and len(last) > len(".amp"):
                segments[-1] = last[:-len(".amp")]
            elif lower in INDEX_FILES:
                segments.pop()
        if segments == before:
            break
    return "/" + "/".join(segments)


def _resolve_dots(segments: list[str]) -> list[str]:
    """RFC 3986 dot segments: `.` goes, `..` removes the segment before it."""
    resolved: list[str] = []
    for segment in segments:
        if segment == "..":
            if resolved:
                resolved.pop()
        elif segment != ".":
            resolved.append(segment)
    return resolved


def _untoi(segment: str) -> str:
    """The Times of India's AMP pages: /amp_articleshow/123.cms -> /articleshow/123.cms."""
    match = _TOI_AMP.fullmatch(segment)
    return match.group(1) if match else segment


def _dropped(name: str, value: str) -> bool:
    """Whether a query parameter (raw, percent-normalised name and value) leaves the key."""
    if name in TRACKING_EXACT:
        return True
    lower = unquote(name).lower()
    if lower in TRACKING_PARAMETERS or lower in AMP_VIEWER_PARAMETERS or lower.startswith(TRACKING_PREFIXES):
        return True
    switch = AMP_SWITCHES.get(lower)
    return switch is not None and unquote(value).lower() in switch


def _fold_query(query: str) -> str:
    kept: list[tuple[str, str]] = []
    for piece in query.split("&"):
        if not piece:
            continue
        name, equals, value = piece.partition("=")
        name, value = _normalise(name), _normalise(value)
        if not _dropped(name, value):
            kept.append((name, equals + value))
    kept.sort(key=lambda pair: pair[0])
    return "&".join(name + rest for name, rest in kept)
