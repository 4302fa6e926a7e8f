"""What a hostile headline cannot do to an alert, and what a channel URL's secrets never do:
appear in a log line, a `check` report, an error or `newsmon alerts`.

Telegram and Slack URLs name public hosts: nothing here sends to them (their renderings and
redaction are checked without sending). Every send goes to 127.0.0.1."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from conftest import Clock, free_port, run_newsmon
from fixtures import COURIER_ITEMS, publish, write_config

from monitor import alert
from monitor.alert import formats
from monitor.model import AlertMessage, ChannelSpec

HOSTILE = ('<script>alert(1)</script> *bold* <!channel> @everyone [click here](https://evil.example/x) '
           '<a href="https://evil.example">x</a> `code` _under_ @here')

TELEGRAM = "tgram://987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-1001234567/"
SLACK = "slack://T1ABCDEFG/B2HIJKLMN/abcdEFGHijklMNOPqrstUVWX/#newsroom"
PUBLIC_SECRETS = ["AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "abcdEFGHijklMNOPqrstUVWX", "T1ABCDEFG", "B2HIJKLMN",
                  "987654321:AAH"]


def hostile_message() -> AlertMessage:
    snippet = f"Reports say {HOSTILE} near the TTP camp."
    start = snippet.index("TTP")
    return AlertMessage(rule="ttp-activity", title=HOSTILE, url="https://news.example/a?x=1&y=<2>", outlet=HOSTILE,
                        published="2026-11-24T05:00:00+00:00", snippet=snippet, highlights=((start, start + 3),),
                        matched=("TTP",), also_reported_by=((HOSTILE, "2026-11-24T05:10:00+00:00"),))


def assert_inert_html(text: str) -> None:
    assert "<script" not in text and "<a href=\"https://evil" not in text and "&lt;script&gt;" in text
    assert "<!channel>" not in text and "@everyone" not in text and "@here" not in text


def assert_inert_markdown(text: str) -> None:
    """CommonMark: a backslash makes the next punctuation character literal."""
    assert not re.search(r"(?<!\\)<(script|a |/)", text) and "<!channel>" not in text
    assert "@everyone" not in text and "@here" not in text
    assert not re.search(r"(?<!\\)\]\(", text), "an unescaped Markdown link"
    assert not re.search(r"(?<!\\)\*bold(?<!\\)\*", text) and "\\*bold\\*" in text
    assert "\\[click here\\]\\(https://evil.example/x\\)" in text


@pytest.mark.parametrize("url", [TELEGRAM, SLACK, "mailto://127.0.0.1:9?from=a@example.org&to=b@example.org",
                                 "json://127.0.0.1:9/x?format=markdown", "json://127.0.0.1:9/x?format=html",
                                 "discord://1234567890/AbCdEfGhIjKlMnOp", "matrix://u:p@127.0.0.1:9/#room?format=markdown"])
def test_a_hostile_headline_is_inert_in_every_rendering(url):
    """Rendered exactly as newsmon hands it to apprise for that URL (nothing is sent)."""
    channel = alert.Channel(ChannelSpec(name="c", urls=(url,)))
    target = channel.targets[0]
    title, body = channel.render(hostile_message(), target)
    if target.merge_title:  # Telegram shows no separate title: newsmon puts it in the body, escaped
        title, body = "", formats.merged(title, body, target.kind)
    if target.kind == "html":
        assert_inert_html(body)
    elif target.kind == "markdown":
        assert_inert_markdown(body)
    assert "@everyone" not in title and "<!channel>" not in title and "@here" not in title
    for part in channel.parts(alert.Batch("digest", "intro", (hostile_message(),) * 3), target):
        if target.kind == "html":
            assert_inert_html(part.body)
        elif target.kind == "markdown":
            assert_inert_markdown(part.body)


@pytest.mark.parametrize(("url", "kind"), [
    (SLACK, "markdown"), (TELEGRAM, "html"), ("discord://1234567890/AbCdEfGhIjKlMnOp", "markdown"),
    ("discord://1234567890/AbCdEfGhIjKlMnOp?format=text", "text"), ("matrix://u:p@127.0.0.1:9/#room", "markdown"),
    ("mailto://127.0.0.1:9?from=a@example.org&to=b@example.org", "html"), ("json://127.0.0.1:9/x", "text"),
    ("json://127.0.0.1:9/x?format=html", "html"), ("ntfy://127.0.0.1:9/topic", "text"),
])
def test_the_format_each_service_gets(url, kind):
    target = alert.Channel(ChannelSpec(name="c", urls=(url,))).targets[0]
    assert target.kind == kind
    assert target.merge_title == url.startswith("tgram://")


def test_a_hostile_headline_arrives_inert_by_email_and_webhook(tmp_path, web, mailbox):
    escaped = HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    items = [dict(COURIER_ITEMS[0], title=escaped,
                  body=(f"Witnesses quoted {escaped} in a statement the Tehreek-e-Taliban Pakistan (TTP) posted online",))]
    courier, _ = publish(web, courier_items=items, dispatch_items=[])
    path = write_config(tmp_path, [{"url": courier, "alert_on_first_poll": True}],
                        {"email": [mailbox.url], "hook": [f"json://127.0.0.1:{web.base.rsplit(':', 1)[1]}/md?format=markdown"]})
    assert run_newsmon("--config", str(path), "run", "--once").returncode == 0
    (message,) = mailbox.messages
    html_part = next(part.get_content() for part in message.walk() if part.get_content_type() == "text/html")
    assert_inert_html(html_part)
    assert "*bold*" in str(message["Subject"]) and "@\u200beveryone" in str(message["Subject"])
    (post,) = web.json_posts("/md")
    assert_inert_markdown(post["message"])


# ---------------------------------------------------------------- secrets

LOOPBACK_SECRETS = {
    "json": ("json://hookuser:JsonPass-8817@127.0.0.1:{web}/hook/PathToken-5531", ["JsonPass-8817", "PathToken-5531"]),
    "ntfy": ("ntfy://ntfyuser:NtfyPass-2203@127.0.0.1:{closed}/alerts-topic", ["NtfyPass-2203"]),
    "gotify": ("gotify://127.0.0.1:{web}/GotifyToken7781xyz", ["GotifyToken7781xyz"]),
    "matrix": ("matrix://mxuser:MatrixPass-6642@127.0.0.1:{closed}/#room", ["MatrixPass-6642"]),
    "mail": ("mailto://127.0.0.1:{closed}?user=mailuser&pass=MailPass-3390&from=n@example.org&to=a@example.org",
             ["MailPass-3390"]),
    "ntfy-token": ("ntfy://tk_AbCdEfGhIjKlMnOpQrStUvWxYz01@127.0.0.1:{closed}/topic2", ["tk_AbCdEfGhIjKlMnOpQrStUvWxYz01"]),
}


def loopback_channels(web) -> tuple[dict, list[str]]:
    for path in ("/hook/PathToken-5531", "/message"):
        web.add(path, "", status=500)
    ports = {"web": web.base.rsplit(":", 1)[1], "closed": free_port()}
    urls = [url.format(**ports) for url, _ in LOOPBACK_SECRETS.values()]
    secrets = [secret for _, found in LOOPBACK_SECRETS.values() for secret in found]
    return {"ops": urls}, secrets


def assert_no_secret(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        for size in (len(secret), 10):  # the whole secret, or any 10 characters of it
            for start in range(0, len(secret) - size + 1):
                assert secret[start:start + size] not in text, f"{secret[start:start + size]!r} leaked"


def test_with_debug_logging_and_every_send_failing_no_secret_is_printed(tmp_path, web):
    channels, secrets = loopback_channels(web)
    courier, _ = publish(web, dispatch_items=[])
    path = write_config(tmp_path, [{"url": courier, "alert_on_first_poll": True}], channels)
    outputs = []
    for command in (("run", "--once"), ("run", "--once"), ("check",), ("alerts", "--json"), ("alerts",),
                    ("status",), ("notify-test", "ops")):
        result = run_newsmon("--log-level", "debug", "--config", str(path), *command)
        outputs.append(result.stdout + result.stderr)
    everything = "\n".join(outputs)
    assert "channel failed" in everything and "FAILED" in everything  # the failures were reported...
    assert_no_secret(everything, secrets)  # ...without a secret
    assert sum(1 for method, p, _ in web.requests if method == "POST") >= 2  # sends were really tried


def test_root_logger_at_debug_including_apprise_and_urllib3_shows_no_secret(tmp_path, web, harness):
    """In one process with every logger at DEBUG (the daemon lowers apprise's; a user's own
    logging setup might not)."""
    channels, secrets = loopback_channels(web)
    channels["public"] = [TELEGRAM, SLACK]  # built, never sent to
    secrets += PUBLIC_SECRETS
    path = write_config(tmp_path, [], channels)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    saved = root.level, logging.getLogger("apprise").level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logging.getLogger("apprise").setLevel(logging.DEBUG)
    try:
        running = harness.open(path, Clock())
        message = hostile_message()
        running.store.queue_notice("ttp-activity", ("ops",), message, running.clock())
        harness.drain(running)
        harness.drain(running, ignore_backoff=True)
        for url in (TELEGRAM, SLACK, "tgram://987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/",  # accepted or not,
                    "slack://T1ABCDEFG/abcdEFGHijklMNOPqrstUVWX", "slak://T1ABCDEFG/B2HIJKLMN/abcdEFGHijklMNOPqrstUVWX"):
            problem = alert.check_url(url)  # ... their errors never show a secret
            logging.getLogger("test").warning("check_url said: %s; privacy: %s", problem, alert.privacy_url(url))
        try:
            raise ConnectionError(f"could not reach {SLACK} ({TELEGRAM})")
        except ConnectionError:
            logging.getLogger("test").exception("a traceback that names the URLs")
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        logging.getLogger("apprise").setLevel(saved[1])
    text = stream.getvalue()
    assert "DEBUG" in text and "channel failed" in text and "a traceback" in text
    assert_no_secret(text, secrets)
    stored = json.dumps([row.last_error for row in running.store.alerts()])
    assert "127.0.0.1" in stored
    assert_no_secret(stored, secrets)


def test_check_reports_public_channel_urls_without_secrets(tmp_path):
    path = write_config(tmp_path, [], {"tg": [TELEGRAM], "sl": [SLACK],
                                       "broken": ["slack://T1ABCDEFG/abcdEFGHijklMNOPqrstUVWX",
                                                  "tgram://AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/"]})
    result = run_newsmon("--log-level", "debug", "--config", str(path), "check")
    assert result.returncode == 2  # the error path: apprise's own reasons, redacted
    assert "apprise cannot use this slack:// URL: apprise says: An invalid Slack (third) Token" in result.stdout
    assert "apprise cannot use this tgram:// URL" in result.stdout
    assert_no_secret(result.stdout + result.stderr, PUBLIC_SECRETS)
    listed = run_newsmon("--config", str(write_config(tmp_path, [], {"tg": [TELEGRAM], "sl": [SLACK]})), "check")
    assert listed.returncode == 0 and "channel tg: tgram://9...w/-1001234567/" in listed.stdout
    assert_no_secret(listed.stdout + listed.stderr, PUBLIC_SECRETS)


def test_urls_file_must_be_private(tmp_path):
    secrets_file = tmp_path / "channels.urls"
    secrets_file.write_text("# the team's webhook\njson://127.0.0.1:9/hook?token=FileSecret-4410\n", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f'[newsmon]\nstate_dir = "state"\n[channels.team]\nurls_file = "{secrets_file.name}"\n',
                      encoding="utf-8")
    secrets_file.chmod(0o644)
    refused = run_newsmon("--config", str(config), "check")
    assert refused.returncode == 2
    assert "channels.team.urls_file" in refused.stdout and "readable by group and others (mode 0644)" in refused.stdout
    assert "chmod 600" in refused.stdout and "FileSecret" not in refused.stdout + refused.stderr
    secrets_file.chmod(0o640)
    assert "readable by its group" in run_newsmon("--config", str(config), "check").stdout
    secrets_file.chmod(0o600)
    accepted = run_newsmon("--config", str(config), "check")
    assert accepted.returncode == 0, accepted.stdout
    assert "channel team: json://127.0.0.1:9/hook" in accepted.stdout and "FileSecret" not in accepted.stdout


def test_a_credential_url_is_used_and_not_shown(tmp_path, web):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    port = web.base.rsplit(":", 1)[1]
    (credentials / "HOOK_URL").write_text(f"json://127.0.0.1:{port}/cred?token=CredSecret-7712\n", encoding="utf-8")
    path = write_config(tmp_path, [], {"team": ["${HOOK_URL}"]})
    result = run_newsmon("--log-level", "debug", "--config", str(path), "notify-test", "team",
                         env={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(web.json_posts("/cred")) == 1
    assert "CredSecret" not in result.stdout + result.stderr
