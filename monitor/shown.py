"""The shown form of a web URL: what a person sees of a feed or proxy URL in a log line, a
command's output or an alert, with its credentials replaced by `***`.

Replaced: the whole userinfo (`https://user:pass@host/` -> `https://***@host/`: a user name
alone is often the token), and the value of every query (or fragment) parameter whose name
looks secret — case-insensitive, `-` and `.` read as `_`:

- these names: `SECRET_NAMES` (token, key, apikey, auth, password, secret, signature, sig,
  session, sid, jwt, ...);
- names ending in `_` + one of `SECRET_WORDS` (`feed_token`, `private_key`, `X-Amz-Signature`,
  `client_secret`, ...), or in one of `SECRET_ENDINGS` without a separator (`accessToken`,
  `apiKey`, `sessionId`).

Everything else is kept as written (scheme, host, port, path, other parameters, their order),
so that feeds stay told apart; text with nothing to replace comes back unchanged. A secret
written in the path (`/feeds/3f9a…/rss`) cannot be recognised: give it as a parameter.
Pure string work: any input is taken, nothing raises.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import unquote

HIDDEN = "***"
SECRET_NAMES = frozenset({
    "token", "key", "apikey", "api_key", "access_token", "auth", "authorization", "password", "passwd", "pass",
    "pwd", "secret", "signature", "sig", "session", "sessionid", "sid", "jwt", "bearer", "credential",
    "credentials", "otp", "hmac", "accesskey", "secretkey", "privatekey", "authkey", "appkey",
})
SECRET_WORDS = ("token", "key", "apikey", "secret", "password", "passwd", "pass", "pwd", "signature", "sig",
                "session", "sessionid", "sid", "auth", "credential", "credentials", "jwt", "otp", "hmac")
SECRET_ENDINGS = ("token", "secret", "password", "apikey", "signature", "sessionid")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# a URL inside free text: it ends at a space, a quote or an angle bracket
_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
_TRAILING = ".,;:!?)]}"


def secret_name(name: str) -> bool:
    """Whether a query parameter called `name` (as written, %-escapes and all) holds a secret."""
    folded = unquote(name).strip().casefold().replace("-", "_").replace(".", "_")
    if folded in SECRET_NAMES or folded.endswith(SECRET_ENDINGS):
        return True
    return "_" in folded and folded.rsplit("_", 1)[1] in SECRET_WORDS


@functools.lru_cache(maxsize=4096)  # the same feed URLs are shown at every poll
def url(text: str | None) -> str | None:
    """`text`, a URL (with or without a scheme), with its userinfo and secret parameter values
    replaced by `***`; None stays None."""
    if not isinstance(text, str):
        return text
    try:
        return _shown(text)
    except Exception:  # a bug here must not cost a log line, nor show what it was hiding
        return _SCHEME.match(text).group(0) + HIDDEN if _SCHEME.match(text) else HIDDEN


def urls_in(text: str | None) -> str | None:
    """`text` (an error message, a log line) with every `scheme://` URL in it in its shown form."""
    if not isinstance(text, str) or "://" not in text:
        return text

    def one(found: re.Match[str]) -> str:
        candidate = found.group(0)
        kept = candidate.rstrip(_TRAILING)  # a sentence's full stop, a closing bracket
        return url(kept) + candidate[len(kept):]

    return _IN_TEXT.sub(one, text)


def _shown(text: str) -> str:
    scheme = _SCHEME.match(text)
    start = scheme.end() if scheme else (2 if text.startswith("//") else 0)
    rest = text[start:]
    authority_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority = rest[:authority_end]
    at = authority.rfind("@")
    if at < 0 and _password_like(authority):
        # `user:pa/ss@host`: a password with a slash in it; the host is after the '@'
        limit = min((i for i in (rest.find(c) for c in "?#") if i >= 0), default=len(rest))
        at = rest.rfind("@", 0, limit)
    if at >= 0:
        rest = HIDDEN + rest[at:]
    query_at = rest.find("?")
    fragment_at = rest.find("#")
    if fragment_at >= 0 and (query_at < 0 or query_at > fragment_at):
        query_at = -1
    head_end = min(i for i in (query_at, fragment_at, len(rest)) if i >= 0)
    shown = rest[:head_end]
    if query_at >= 0:
        end = fragment_at if fragment_at >= 0 else len(rest)
        shown += "?" + _parameters(rest[query_at + 1:end])
    if fragment_at >= 0:
        shown += "#" + _parameters(rest[fragment_at + 1:])
    return text[:start] + shown


def _password_like(authority: str) -> bool:
    """Whether an authority without '@' has a ':' followed by something no port is made of
    (outside an IPv6 literal's brackets)."""
    bare = authority.rsplit("]", 1)[-1]
    if ":" not in bare:
        return False
    port = bare.rsplit(":", 1)[1]
    return not port.isdigit() and port != ""


def _parameters(query: str) -> str:
    """`a=1&token=x;b` with the values of secret-named parameters replaced."""
    parts = re.split(r"([&;])", query)
    for index in range(0, len(parts), 2):
        name, equals, value = parts[index].partition("=")
        if equals and value and secret_name(name):
            parts[index] = f"{name}={HIDDEN}"
    return "".join(parts)
