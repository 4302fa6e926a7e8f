"""Poison alerts (#15 item 2): a publisher's 5,000-character headline is capped so every
service takes it (an SMTP server refuses lines over 998 bytes: it used to be retried for 48 h
while every later alert of the channel waited behind it); an alert a service refuses for good
(SMTP 5xx, HTTP 4xx) is tried a few times, then fails for that target, listed by `newsmon
alerts --failed`, and the channel's other alerts go on meanwhile. Real aiosmtpd on loopback,
real apprise URLs."""

from __future__ import annotations

import copy
import json
import logging

import pytest
from conftest import Clock, Mailbox, run_newsmon
from fixtures import COURIER_ITEMS, DISPATCH_ITEMS, publish, write_config

from monitor import alert
from monitor.alert import fit
from monitor.model import AlertMessage, ChannelSpec

LONG = "Police post attacked by the TTP in Lakki Marwat " + "and the siege goes on " * 230  # ~5,000 characters


class RefusingMailbox(Mailbox):
    """aiosmtpd on loopback (which itself refuses lines over 1,000 bytes: "500 Line too long")
    that refuses for good any message mentioning POISON."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        if b"POISON" in envelope.content:
            return "550 5.7.1 Message rejected as spam"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def refusing():
    box = RefusingMailbox()
    box.controller.start()
    yield box
    box.controller.stop()


def test_a_five_thousand_character_headline_reaches_an_smtp_server_capped(tmp_path, web, mailbox):
    courier_items = copy.deepcopy(COURIER_ITEMS)
    courier_items[0]["title"] = LONG
    courier, dispatch = publish(web, courier_items, DISPATCH_ITEMS)
    path = write_config(tmp_path, [{"url": courier, "alert_on_first_poll": True}], {"email": [mailbox.url]})
    ran = run_newsmon("--config", str(path), "run", "--once")
    assert ran.returncode == 0, ran.stderr
    subjects = [subject for subject, _body in mailbox.texts()]
    assert len(subjects) == 2  # the long one and the courier's other TTP story: nothing held behind it
    long_subject = next(subject for subject in subjects if "Lakki Marwat" in subject)
    assert len(long_subject) <= fit.TITLE_MAX and long_subject.endswith("…")
    listed = json.loads(run_newsmon("--config", str(path), "alerts", "--json").stdout)["alerts"]
    assert {row["status"] for row in listed} == {"sent"}


def test_a_refused_alert_does_not_hold_the_channel_and_fails_after_three_refusals(tmp_path, refusing, harness, caplog):
    path = write_config(tmp_path, [], {"email": [refusing.url]})
    clock = Clock()
    running = harness.open(path, clock)
    for title in ("Story 1: TTP attack", "Story 2: POISON headline", "Story 3: TTP attack"):
        message = AlertMessage(rule="ttp-activity", title=title, url="https://news.example/x", outlet="Indus Courier",
                               published="2026-11-24T05:00:00+00:00", snippet="The TTP claimed it.",
                               highlights=(), matched=("TTP",))
        running.store.queue_notice("ttp-activity", ("email",), message, clock())
    with caplog.at_level(logging.WARNING, logger="newsmon.delivery"):
        assert harness.drain(running) == (2, 0)  # 1 and 3 delivered; 2 refused, the channel not held
        assert [subject for subject, _ in refusing.texts()] == ["[ttp-activity] Story 1: TTP attack",
                                                                "[ttp-activity] Story 3: TTP attack"]
        assert running.store.channel_state("email").failures == 0  # no backoff for the channel
        assert harness.drain(running) == (0, 0)  # the refused one waits a little before its next try
        for _ in range(2):
            clock.advance(600)
            harness.drain(running)
    assert running.store.alert_counts() == {"sent": 2, "failed": 1}
    warnings = [r.getMessage() for r in caplog.records if "alert refused" in r.getMessage()]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(warnings) == 2 and all("550" in line for line in warnings)
    assert len(errors) == 1 and "alert failed: refused 3 times" in errors[0] and "--failed" in errors[0]
    failed = run_newsmon("--config", str(path), "alerts", "--failed")
    assert "Story 2: POISON headline" in failed.stdout and "failed" in failed.stdout and "550" in failed.stdout
    assert "Story 1" not in failed.stdout
    requeued = run_newsmon("--config", str(path), "alerts", "--retry-dead")
    assert requeued.stdout.startswith("1 dead or failed alert queued again")


def test_a_passing_failure_still_holds_the_channel_in_order(tmp_path, web, harness):
    """A 503 (or 429) is not a refusal: the channel backs off and keeps its order."""
    port = web.base.rsplit(":", 1)[1]
    web.add("/busy", "", status=503)
    path = write_config(tmp_path, [], {"ops": [f"json://127.0.0.1:{port}/busy"]})
    clock = Clock()
    running = harness.open(path, clock)
    for number in range(2):
        message = AlertMessage(rule="ttp-activity", title=f"Story {number}", url=None, outlet="o", published=None,
                               snippet="TTP", highlights=(), matched=())
        running.store.queue_notice("ttp-activity", ("ops",), message, clock())
    assert harness.drain(running) == (0, 1)
    assert running.store.channel_state("ops").failures == 1
    assert running.store.alert_counts() == {"pending": 2}


@pytest.mark.parametrize("url, limit", [
    ("tgram://123456789:abcdefghijklmnopqrstuvwxyz0123456789/12345", 4096),
    ("discord://1234567890/abcdefghijklmnopqrstuvwxyz", 2000),
])
def test_every_message_fits_its_service(url, limit):
    """Rendered for Telegram or Discord, the longest alert stays within the service's limit,
    cut on a character boundary with its headline and link kept (nothing is sent)."""
    channel = alert.Channel(ChannelSpec(name="chat", urls=(url,)))
    target = channel.targets[0]
    assert target.max_length <= limit
    message = AlertMessage(rule="ttp-activity", title=LONG, url="https://news.example/a", outlet="Indus Courier " * 40,
                           published=None, snippet="تحریک طالبان پاکستان " * 400, highlights=((0, 5),),
                           matched=("TTP",) * 100, also_reported_by=tuple((f"Outlet {n}", "") for n in range(200)))
    title, body = channel.render(message, target)
    assert len(body) + (len(title) + 16 if target.merge_title else 0) <= target.max_length
    assert "https://news.example/a" in body and "Police post attacked" in title + body
    assert len(title) <= fit.TITLE_MAX


def test_cut_keeps_whole_characters():
    assert fit.cut("abc", 5) == "abc"
    assert fit.cut("تحریک طالبان پاکستان", 10).endswith("…") and len(fit.cut("تحریک طالبان پاکستان", 10)) <= 10
    assert fit.cut("x" * 300, 250) == "x" * 249 + "…"
