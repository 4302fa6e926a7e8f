"""A cycle that sends nothing does not import apprise: channel URLs apprise accepted before are
remembered in the state directory (`monitor.alert.accepted`), keyed by the newsmon and apprise
installed; what is sent, and what log lines hide, stays the same."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT, run_newsmon
from fixtures import COURIER_ITEMS, publish, write_config

from monitor.alert import accepted


def importing(*args: str) -> subprocess.CompletedProcess:
    """newsmon with `python -X importtime`: stderr lists every module the command imported."""
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "monitor", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


def imported(result: subprocess.CompletedProcess) -> set[str]:
    return {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}


def test_a_run_that_sends_nothing_does_not_import_apprise_and_a_run_that_sends_still_delivers(tmp_path, web):
    courier, _dispatch = publish(web, courier_items=COURIER_ITEMS[:-1])
    hook = f"json://127.0.0.1:{web.base.rsplit(':', 1)[1]}/hook/s3cretT0ken"
    path = write_config(tmp_path, [{"url": courier}], {"hook": [hook]})
    first = importing("--config", str(path), "run", "--once")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "apprise" in imported(first)  # never seen: apprise checks the URL
    remembered = json.loads((tmp_path / "state" / accepted.FILE).read_text())
    assert "s3cretT0ken" not in json.dumps(remembered) and len(remembered["urls"]) == 1
    assert (tmp_path / "state" / accepted.FILE).stat().st_mode & 0o077 == 0

    quiet = importing("--config", str(path), "run", "--once")
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert not {name for name in imported(quiet) if name.split(".")[0] == "apprise"}

    publish(web)  # one new item: the alert goes out through apprise, imported when needed
    sent = run_newsmon("--config", str(path), "--log-level", "debug", "run", "--once")
    assert sent.returncode == 0, sent.stderr
    posts = web.json_posts("/hook/s3cretT0ken")
    assert [post["title"] for post in posts][-1:] and COURIER_ITEMS[-1]["title"] in posts[-1]["title"]
    assert "s3cretT0ken" not in sent.stderr  # remembered URLs' secrets are still hidden


def test_newsmon_check_always_asks_apprise(tmp_path, web):
    path = write_config(tmp_path, [], {"hook": ["json://127.0.0.1:9/hook"]})
    assert run_newsmon("--config", str(path), "run", "--once").returncode == 0
    checked = importing("--config", str(path), "check")
    assert checked.returncode == 0 and "apprise" in imported(checked)


def test_remembered_urls_from_another_apprise_or_a_broken_file_are_checked_again(tmp_path):
    accepted.save(tmp_path, {"ab" * 32: "json://127.0.0.1/..."})
    assert accepted.load(tmp_path) == {"ab" * 32: "json://127.0.0.1/..."}
    document = json.loads((tmp_path / accepted.FILE).read_text())
    (tmp_path / accepted.FILE).write_text(json.dumps({**document, "key": "newsmon 0.0.1; apprise elsewhere"}))
    assert accepted.load(tmp_path) == {}
    (tmp_path / accepted.FILE).write_text("{not json")
    assert accepted.load(tmp_path) == {}
    (tmp_path / "file").write_text("")
    accepted.save(tmp_path / "file" / "state", {"cd" * 32: "x"})  # cannot be written: no error, nothing kept
    assert accepted.load(tmp_path / "file" / "state") == {}


SERVICES = ["tgram://123456789:AAHxabcdefGhiJKLmn0pq/12345678", "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general",
            "mailto://analyst:pa55word@mail.example.org?to=desk@example.org", "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js",
            "json://127.0.0.1:8080/hooks/a1b2c3d4e5f6"]


def test_what_is_remembered_names_every_secret_and_shows_none(tmp_path):
    from monitor.alert import channel, redact

    memo: dict[str, str] = {}
    for url in SERVICES:
        assert channel.check_url(url, memo) is None
        shown = memo[channel.url_digest(url)]
        secrets = redact.secret_parts(url, channel._known(url).url(privacy=True))
        assert secrets and not any(secret in shown for secret in secrets), (url, shown)
        assert redact.secret_parts(url, shown) == secrets  # the same parts are hidden from logs either way
