"""URLs: hosts, outlets and (first version) canonical keys."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def host(url: str | None) -> str | None:
    """The lower-case host of a URL, or None."""
    if not url:
        return None
    try:
        return urlsplit(url.strip()).hostname
    except ValueError:
        return None


def outlet_of(url: str | None) -> str | None:
    """Who publishes at `url`: its host without a leading `www.` (www.dawn.com -> dawn.com)."""
    name = host(url)
    if not name:
        return None
    return name[4:] if name.startswith("www.") else name


def canonical(url: str) -> str:
    """A comparable key for a URL: lower-case scheme and host, no default port, no fragment."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    netloc = (parts.hostname or "").lower()
    if parts.port and not ((scheme == "http" and parts.port == 80) or (scheme == "https" and parts.port == 443)):
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
