"""URLs: hosts, outlets and canonical keys.

Ground floor: standard library only; of monitor's modules it imports only `monitor.redirectors`
(the same floor), which reads redirector links.

`canonical(url)` is an *identity*, not an address: two URLs get the same key when they show the
same page (http and https, with and without `www.`, AMP and not, with and without tracking
parameters, behind a Google Alerts link or not). Never fetch a key; fetch `unwrap(url)`, which
only removes redirectors and otherwise leaves the URL exactly as the publisher wrote it.

What the key does, in order:

1. Redirector links are unwrapped (`monitor.redirectors.unwrap`, at most `MAX_UNWRAP` levels:
   Google Alerts, Google News, Google's AMP viewer and the AMP cache, Facebook, Bing News, and
   FeedBurner links that carry a `url=`; see that module for what is read and what is not).
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

import functools
import re
from urllib.parse import unquote, urlsplit

from monitor.redirectors import MAX_UNWRAP, as_text, unwrap, web_url

__all__ = ["MAX_UNWRAP", "TRACKING_PARAMETERS", "TRACKING_PREFIXES", "canonical", "host", "outlet_of", "unwrap",
           "web_url"]


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
    text = as_text(url)
    if not text:
        return text
    try:
        return _key(unwrap(text)) or text
    except ValueError:  # urlsplit on a bad IPv6 literal, a bad port, an IDNA failure
        return text


# --- unwrapping ------------------------------------------------------------------------------
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
