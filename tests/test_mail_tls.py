"""Mail over TLS still verifies the server, as a user sees it with `notify-test`: apprise's TLS
context now reads the CA certificates only when a connection uses TLS (`monitor.alert.tls`), and
a STARTTLS relay is still trusted only when its certificate is (here: a self-signed one, made
with openssl, trusted through SSL_CERT_FILE or not at all). Real aiosmtpd on loopback."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import sys

import pytest
from aiosmtpd.controller import Controller
from conftest import free_port, run_newsmon
from fixtures import write_config

from monitor.alert import tls

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


class Relay:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def starttls_relay(tmp_path):
    cert, key = tmp_path / "relay.pem", tmp_path / "relay.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    relay, port = Relay(), free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True)
    controller.start()
    yield relay, port, cert
    controller.stop()


def mail_config(tmp_path, port: int):
    url = f"mailtos://127.0.0.1:{port}?mode=starttls&from=newsmon@example.org&to=analyst@example.org"
    return write_config(tmp_path, [], {"email": [url]})


def test_a_starttls_relay_with_a_trusted_certificate_gets_the_mail(tmp_path, starttls_relay):
    relay, port, cert = starttls_relay
    result = run_newsmon("--config", str(mail_config(tmp_path, port)), "notify-test", "email",
                         env={"SSL_CERT_FILE": str(cert)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(relay.messages) == 1 and b"newsmon test alert" in relay.messages[0]


def test_a_starttls_relay_whose_certificate_is_not_trusted_gets_nothing(tmp_path, starttls_relay):
    relay, port, _cert = starttls_relay
    result = run_newsmon("--config", str(mail_config(tmp_path, port)), "notify-test", "email")
    assert result.returncode == 1
    assert relay.messages == []


def test_the_deferred_context_is_the_default_context_but_for_when_it_reads_certificates():
    made, deferred = ssl.create_default_context(), tls.create_default_context()
    for setting in ("protocol", "options", "verify_flags", "verify_mode", "check_hostname", "minimum_version",
                    "maximum_version"):
        assert getattr(deferred, setting) == getattr(made, setting), setting
    assert deferred.get_ca_certs() == [] and deferred.verify_mode == ssl.CERT_REQUIRED  # trusts nothing yet
    other = tls.create_default_context(ssl.Purpose.CLIENT_AUTH)
    assert type(other) is ssl.SSLContext  # any other use is the standard library's own


def test_apprises_mail_plugin_gets_the_deferred_context():
    code = ("from monitor.alert import channel; channel._apprise(); from apprise.plugins.email import smtp; "
            "print(type(smtp.ssl.create_default_context()).__name__)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "DeferredContext"
