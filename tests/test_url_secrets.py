"""Credentials in feed and proxy URLs are accepted and never shown (#15, item 10): not in log
lines at any level, not in `check`, `status` (text and JSON), `alerts`, `stories`, `enable`,
nor in alerts (the `{feed}` placeholder of a feed without a title, newsmon's feed-silent
notice). Host, port and path stay, so feeds can still be told apart; `monitor.shown` gives
that form, and its cases are a table below.

Real parts: a loopback web server, a real `newsmon` process for a run at DEBUG level, the
command in-process for the rest, real json:// channels."""

from __future__ import annotations

import json
import logging

import pytest
from conftest import Clock, run_newsmon
from fixtures import COURIER_ITEMS, page, rss, write_config

from monitor import cli, config, shown
from monitor.config import changes

SECRETS = ("SECRET123", "PASSWORD456", "SECRET789", "PROXYPASS000", "GONE999")
HOOK = "/hook"


@pytest.fixture(autouse=True)
def logging_as_it_was():
    """`cli.main` points the root logger at this test's stderr: put it back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def assert_hidden(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret} shown in:\n{text}"


def credentials(web) -> str:
    """The test server's base URL with a user name and password in it."""
    return web.base.replace("http://", "http://reader:PASSWORD456@")


def private_feed(web) -> tuple[str, str]:
    """A feed without a title at a URL with a password and a token, its article pages beside
    it; returns (the URL to configure, the part of it that must still be shown)."""
    for item in COURIER_ITEMS:
        web.add(item["path"], page(item["path"], item["title"], "Indus Courier", *item["body"]))
    web.add("/private/rss.xml?token=SECRET123&lang=en", rss("", COURIER_ITEMS), "application/rss+xml")
    host_and_path = web.base.removeprefix("http://") + "/private/rss.xml"
    return credentials(web) + "/private/rss.xml?token=SECRET123&lang=en", host_and_path


def hook(web) -> dict:
    """A json:// channel whose body shows the {feed} and {outlet} placeholders."""
    return {"urls": [web.base.replace("http://", "json://") + HOOK], "body": "feed={feed} outlet={outlet} url={url}"}


def test_no_secret_of_a_feed_url_is_shown_by_any_command_nor_in_alerts(tmp_path, web, capsys):
    url, host_and_path = private_feed(web)
    web.add("/broken.xml?apikey=SECRET789", b"oops", "text/plain", status=500, etag=False)
    web.add("/gone.xml?access_token=GONE999", b"gone", "text/plain", status=410, etag=False)
    feeds = [
        {"url": url, "alert_on_first_poll": True},
        {"url": f"{web.base}/broken.xml?apikey=SECRET789"},
        {"url": f"{web.base}/gone.xml?access_token=GONE999"},
        {"url": f"{web.base}/proxied.xml", "proxy": "http://proxyuser:PROXYPASS000@127.0.0.1:9"},
    ]
    path = write_config(tmp_path, feeds, {"hook": hook(web)})

    run = run_newsmon("--config", str(path), "--log-level", "debug", "run", "--once")
    assert run.returncode == 0, run.stderr
    assert_hidden(run.stdout + run.stderr)
    assert f"feed added feed=http://***@{host_and_path}?token=***&lang=en entries=3" in run.stderr
    assert f"feed failed feed={web.base}/broken.xml?apikey=*** kind=http error=HTTP 500" in run.stderr
    gone = f"{web.base}/gone.xml?access_token=***"
    assert f"feed disabled feed={gone} " in run.stderr and f"'newsmon enable {gone}'" in run.stderr
    assert "feed failed feed=" + web.base + "/proxied.xml kind=proxy" in run.stderr

    posts = web.json_posts(HOOK)
    assert len(posts) == 2  # the two TTP reports
    assert_hidden(json.dumps(posts))
    assert all(f"feed=http://***@{host_and_path}?token=***&lang=en outlet=induscourier.example" in post["message"]
               for post in posts)

    capsys.readouterr()
    for command in (["status"], ["status", "--json"], ["alerts"], ["alerts", "--json"], ["stories"],
                    ["stories", "--json"], ["check"]):
        assert cli.main(["--config", str(path), *command]) == 0, command
        out, err = capsys.readouterr()
        assert_hidden(out + err)
    assert cli.main(["--config", str(path), "status"]) == 0
    status = capsys.readouterr().out
    assert f"http://***@{host_and_path}?token=***&lang=en" in status
    assert f"{web.base}/broken.xml?apikey=***" in status and "failing (http, 1 in a row): HTTP 500" in status
    assert cli.main(["--config", str(path), "status", "--json"]) == 0
    urls = {feed["url"] for feed in json.loads(capsys.readouterr().out)["feeds"]}
    assert f"http://***@{host_and_path}?token=***&lang=en" in urls

    assert cli.main(["--config", str(path), "check", "--online"]) == 1
    out, err = capsys.readouterr()
    assert_hidden(out + err)
    assert f"  feed {web.base}/broken.xml?apikey=***: FAILED (http-500): HTTP 500" in out
    assert f"  feed http://***@{host_and_path}?token=***&lang=en: RSS feed (untitled), 3 entries" in out

    # the shown form, as the disabled line says it, names the feed for `enable`
    assert cli.main(["--config", str(path), "enable", gone]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{gone}: enabled") and err == ""
    assert cli.main(["--config", str(path), "disable", "http://nowhere.example/?token=SECRET123"]) == 1
    assert_hidden("".join(capsys.readouterr()))


def test_a_feed_moved_with_its_token_is_shown_without_it(tmp_path, web, capsys):
    _url, host_and_path = private_feed(web)
    web.add("/old.xml?token=SECRET123", b"", status=301, etag=False,
            headers={"Location": "/private/rss.xml?token=SECRET123&lang=en"})
    path = write_config(tmp_path, [{"url": credentials(web) + "/old.xml?token=SECRET123"}], {"hook": hook(web)})

    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert cli.main(["--config", str(path), "status"]) == 0
    out, err = capsys.readouterr()
    assert_hidden(out + err)
    assert f"moved to http://***@{host_and_path}?token=***&lang=en" in out
    assert "feed moved feed=http://***@" in err


def test_configuration_problems_quote_feed_and_proxy_urls_without_their_secrets(tmp_path, web, capsys):
    url = credentials(web) + "/feed.xml?token=SECRET123"
    feeds = [{"url": url}, {"url": url}, {"url": "ftp://reader:PASSWORD456@example.org/x?key=SECRET789"},
             {"url": f"{web.base}/a.xml", "proxy": "socks9://proxyuser:PROXYPASS000@proxy.example:1080"}]
    path = write_config(tmp_path, feeds, {"hook": hook(web)})

    assert cli.main(["--config", str(path), "check"]) == 2
    out, err = capsys.readouterr()
    assert_hidden(out + err)
    assert "feed 'http://***@127.0.0.1:" in out and "/feed.xml?token=***' is listed twice" in out
    assert "'ftp://***@example.org/x?key=***' is not an http:// or https:// URL" in out
    assert "'socks9://***@proxy.example:1080' is not a proxy URL" in out


def test_a_reload_names_feeds_without_their_secrets(tmp_path, web):
    old = write_config(tmp_path, [{"url": "https://reader:PASSWORD456@feeds.example/a.xml?token=SECRET123"}],
                       {"hook": hook(web)})
    before, _problems = config.read(old)
    (tmp_path / "new").mkdir()
    new = write_config(tmp_path / "new", [{"url": "https://feeds.example/b.xml?sig=SECRET789"}], {"hook": hook(web)})
    after, _problems = config.read(new)

    lines = changes.between(before, after)

    assert "feed added: https://feeds.example/b.xml?sig=***" in lines
    assert "feed removed: https://***@feeds.example/a.xml?token=***" in lines
    assert_hidden("\n".join(lines))


def test_the_feed_silent_notice_shows_no_secret(tmp_path, web, harness, capsys):
    url, host_and_path = private_feed(web)
    hook_url = web.base.replace("http://", "json://") + HOOK
    path = write_config(tmp_path, [{"url": url, "expect_every": "2h", "interval": "30m"}], {"ops": [hook_url]},
                        admin_channels=["ops"])
    clock = Clock()
    running = harness.open(path, clock)
    harness.poll_all(running)
    for _ in range(3):
        clock.advance(3600)
        harness.poll_all(running)
    harness.drain(running, ignore_backoff=True)

    (notice,) = web.json_posts(HOOK)
    assert notice["title"] == f"[newsmon] Feed silent: http://***@{host_and_path}?token=***&lang=en"
    assert_hidden(json.dumps(notice))

    assert cli.main(["--config", str(path), "alerts", "--json"]) == 0
    out, err = capsys.readouterr()
    assert_hidden(out + err)
    (row,) = json.loads(out)["alerts"]
    assert row["url"] == row["outlet"] == f"http://***@{host_and_path}?token=***&lang=en"


# ---------------------------------------------------------------- the shown form, as a table

CASES = [  # (a URL as configured, as shown)
    ("https://user:pass@feeds.example/rss", "https://***@feeds.example/rss"),
    ("https://TOKEN123@api.example/feed", "https://***@api.example/feed"),  # a user name alone can be the token
    ("https://user:p%40ss@feeds.example:8443/rss", "https://***@feeds.example:8443/rss"),
    ("https://feeds.example/rss?token=abc&page=2", "https://feeds.example/rss?token=***&page=2"),
    ("https://feeds.example/rss?page=2&lang=en#top", "https://feeds.example/rss?page=2&lang=en#top"),
    ("http://[::1]:8080/feed?apikey=abc", "http://[::1]:8080/feed?apikey=***"),
    ("http://user:pass@[2001:db8::1]/feed", "http://***@[2001:db8::1]/feed"),
    ("feeds.example/rss?key=abc", "feeds.example/rss?key=***"),  # no scheme
    ("user:pass@feeds.example/rss", "***@feeds.example/rss"),
    ("//user:pass@feeds.example/rss", "//***@feeds.example/rss"),
    ("https://medium.com/feed/@someone", "https://medium.com/feed/@someone"),  # '@' in the path is no userinfo
    ("https://user:pa/ss@feeds.example/rss", "https://***@feeds.example/rss"),  # a '/' in the password
    ("https://feeds.example/rss?token=", "https://feeds.example/rss?token="),  # nothing to hide
    ("https://feeds.example/rss?a=1;sid=abc;b=2", "https://feeds.example/rss?a=1;sid=***;b=2"),
    ("https://feeds.example/cb#access_token=abc&state=x", "https://feeds.example/cb#access_token=***&state=x"),
    ("https://s3.example/f.xml?X-Amz-Credential=AK&X-Amz-Date=20260101&X-Amz-Signature=ff",
     "https://s3.example/f.xml?X-Amz-Credential=***&X-Amz-Date=20260101&X-Amz-Signature=***"),
    ("https://gitlab.example/u.atom?feed_token=abc", "https://gitlab.example/u.atom?feed_token=***"),
    ("https://h.example/f?apiKey=a&accessToken=b&sessionId=c", "https://h.example/f?apiKey=***&accessToken=***&sessionId=***"),
    ("https://h.example/f?api%5Fkey=a", "https://h.example/f?api%5Fkey=***"),
]
SECRET_PARAMETERS = ["token", "key", "apikey", "api_key", "api-key", "access_token", "auth", "authorization",
                     "password", "passwd", "pass", "pwd", "secret", "client_secret", "signature", "sig", "session",
                     "sessionid", "sid", "jwt", "private_key", "TOKEN", "Api_Key"]
KEPT_PARAMETERS = ["page", "lang", "q", "format", "category", "user", "id", "limit", "sort", "feed", "tag"]


@pytest.mark.parametrize(("configured", "expected"), CASES)
def test_the_shown_form_of_a_url(configured, expected):
    assert shown.url(configured) == expected


@pytest.mark.parametrize("name", SECRET_PARAMETERS)
def test_each_secret_parameter_is_hidden(name):
    assert shown.url(f"https://h.example/f?a=1&{name}=S3cret&b=2") == f"https://h.example/f?a=1&{name}=***&b=2"


@pytest.mark.parametrize("name", KEPT_PARAMETERS)
def test_other_parameters_are_kept(name):
    assert shown.url(f"https://h.example/f?{name}=world") == f"https://h.example/f?{name}=world"


@pytest.mark.parametrize("odd", ["", "http://", "http://[::1/f?token=x", "https://h:99999/f?key=x", "::::", "@@@",
                                 "http://a@b@c/?=&&==", "\x00\udcff?token=\u202e", "https://h/f?token=a=b", "?"])
def test_malformed_input_never_raises_nor_shows_a_token(odd):
    result = shown.url(odd)
    assert isinstance(result, str)
    assert "token=x" not in result and "key=x" not in result
    assert shown.url(None) is None


def test_urls_inside_text_are_shown_without_secrets():
    text = "broken response: 400, message='Bad Request', url='https://u:p@h.example/f?token=abc'; see https://h.example/f?key=k."
    assert shown.urls_in(text) == ("broken response: 400, message='Bad Request', url='https://***@h.example/f?token=***'; "
                                   "see https://h.example/f?key=***.")
    assert shown.urls_in("Indus Courier: Who? What? key=1") == "Indus Courier: Who? What? key=1"  # a title, as it is
