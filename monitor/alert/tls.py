"""The TLS context of apprise's SMTP plugin, its CA certificates read only when it is used.

apprise (2.x, `apprise.plugins.email.smtp.AppriseSMTPController`) makes a TLS context with
`ssl.create_default_context()` for every message it mails, whether the connection will use TLS
or not: reading the system's CA certificates costs about 20 ms of CPU each time, more than the
rest of a plain `mailto://` delivery (50 alerts to a local relay: a second of CPU, a fifth of
the whole `run --once`). `deferred()` gives that plugin a context made as
`create_default_context()` makes it (client side, hostname checked, certificates required),
whose CA certificates are loaded the first time it wraps a socket: a STARTTLS or SSL connection
verifies exactly as before, a plain one never reads them. Until they are loaded the context
trusts no certificate, so a path that wrapped a socket some other way would fail closed.
"""

from __future__ import annotations

import ssl
import types


class DeferredContext(ssl.SSLContext):
    """`ssl.create_default_context()`'s context for a server's certificate, loading the default
    CA certificates as it first wraps a socket or BIO."""

    _loaded = False

    def _load(self) -> None:
        if not self._loaded:
            self.load_default_certs(ssl.Purpose.SERVER_AUTH)
            self._loaded = True

    def wrap_socket(self, *args, **kwargs):  # type: ignore[override]
        self._load()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args, **kwargs):  # type: ignore[override]
        self._load()
        return super().wrap_bio(*args, **kwargs)


_TEMPLATE: list[ssl.SSLContext] = []  # one context made by ssl.create_default_context, whose settings are copied


def create_default_context(purpose: ssl.Purpose = ssl.Purpose.SERVER_AUTH, *, cafile=None, capath=None,
                           cadata=None) -> ssl.SSLContext:
    """`ssl.create_default_context`, deferring the default CA certificates (see the module): the
    settings of one context it made (options, verify flags and mode, hostname check, versions,
    as this Python sets them) on a context that loads the certificates when first used. Any
    other call is passed to it unchanged."""
    if purpose != ssl.Purpose.SERVER_AUTH or cafile or capath or cadata:
        return ssl.create_default_context(purpose, cafile=cafile, capath=capath, cadata=cadata)
    if not _TEMPLATE:
        _TEMPLATE.append(ssl.create_default_context())
    template = _TEMPLATE[0]
    context = DeferredContext(ssl.PROTOCOL_TLS_CLIENT)
    context.options = template.options
    context.verify_flags = template.verify_flags
    context.minimum_version, context.maximum_version = template.minimum_version, template.maximum_version
    context.verify_mode, context.check_hostname = template.verify_mode, template.check_hostname
    if getattr(template, "keylog_filename", None):
        context.keylog_filename = template.keylog_filename
    return context


def deferred(plugin_module: types.ModuleType) -> bool:
    """Give `plugin_module` (apprise's SMTP module) the deferring `create_default_context`, if it
    reads `ssl` as its module attribute as apprise 2.x does; whether it did."""
    module_ssl = getattr(plugin_module, "ssl", None)
    if module_ssl is not ssl:
        return False
    shim = types.ModuleType("ssl", "ssl, with create_default_context deferring the CA certificates (monitor.alert.tls)")
    shim.__dict__.update(ssl.__dict__)
    shim.create_default_context = create_default_context  # type: ignore[attr-defined]
    plugin_module.ssl = shim  # type: ignore[attr-defined]
    return True
