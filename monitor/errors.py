"""The exceptions newsmon raises on purpose. Anything else is a bug."""

from __future__ import annotations

from dataclasses import dataclass


class NewsmonError(Exception):
    """Base class: a failure that the command line turns into a message and an exit code."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration: which file, where in it, and what."""

    file: str
    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is not None:
            return f"{self.file}:{self.line}:{self.column}: {self.message}"
        where = f"at '{self.path}': " if self.path else ""
        return f"{self.file}: {where}{self.message}"


class ConfigError(NewsmonError):
    """The configuration is invalid; `problems` lists every problem found, in file order."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class FetchError(NewsmonError):
    """A download failed. `kind` classifies it (dns, connect, tls, timeout, too-large, http,
    refused, ...); `transient` says whether trying again later may help."""

    def __init__(self, kind: str, message: str, *, transient: bool = True, status: int | None = None):
        self.kind = kind
        self.transient = transient
        self.status = status
        self.retry_after: str | None = None  # the Retry-After header of a 429 or 503
        super().__init__(message)


class ParseError(NewsmonError):
    """A feed could not be parsed into entries."""


class ExtractError(NewsmonError):
    """An article page gave no usable text."""


class StoreError(NewsmonError):
    """The state database cannot be opened or used."""


class StoreFault(StoreError):
    """A statement failed because of the database's condition, not newsmon's: `kind` is one of
    locked, read-only, full, corrupt, deleted, io; `transient`: whether the same
    statement may succeed later without anyone's help (a lock released, space freed)."""

    def __init__(self, kind: str, message: str, *, transient: bool = False):
        self.kind = kind
        self.transient = transient
        super().__init__(message)


class DeliveryError(NewsmonError):
    """A notification channel did not accept an alert."""
