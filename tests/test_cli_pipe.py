"""Small things a user at a shell meets: `newsmon ... | head` ends quietly; /metrics served on a
non-loopback address is warned about."""

from __future__ import annotations

import subprocess
import sys
import urllib.request

from conftest import ROOT, free_port, wait_for
from fixtures import publish, write_config
from test_service import start, stop


def test_output_cut_short_by_head_ends_quietly(tmp_path, web):
    path = write_config(tmp_path, [], {"hook": ["json://127.0.0.1:9/x"]})
    article = tmp_path / "long.txt"
    article.write_text("The TTP attacked a checkpoint in Bannu. " * 20000, encoding="utf-8")  # ~800 KB of JSON
    command = f"{sys.executable} -m monitor --config {path} match --json {article} | head -c 100 > /dev/null"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr, result.stderr
    assert result.returncode == 141  # 128 + SIGPIPE, as a shell reports a writer cut short


def test_metrics_on_a_non_loopback_address_are_warned_about(tmp_path, web):
    courier, _dispatch = publish(web)
    port = free_port()
    path = write_config(tmp_path, [{"url": courier}], {"hook": ["json://127.0.0.1:9/x"]},
                        http={"listen": f"0.0.0.0:{port}"})
    process = start(path)
    try:
        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    return response.status == 200
            except OSError:
                return False
        assert wait_for(healthy, timeout=30)
    finally:
        code, stderr = stop(process)
    assert code == 0
    assert "served on a non-loopback address listen=0.0.0.0:" in stderr


def test_a_huge_article_is_stored_capped(tmp_path, web):
    import sqlite3

    from fixtures import RFC822, page

    body = "".join(f"<p>Paragraph {n}: the TTP attacked checkpoint {n * 7} in Bannu, officials said on day {n}.</p>"
                   for n in range(30000))  # ~2.4 MB of text, every paragraph its own
    web.add("/huge.html", page("/huge.html", "Huge report", "Courier", "Start of the report."
                               ).replace("<p>Start of the report.</p>", body))
    feed = web.add("/feed.xml", f'<?xml version="1.0"?><rss version="2.0"><channel><title>C</title><item>'
                                f"<title>Huge report</title><link>{{BASE}}/huge.html</link><guid>h1</guid>"
                                f"<pubDate>{RFC822}</pubDate></item></channel></rss>", "application/rss+xml")
    path = write_config(tmp_path, [{"url": feed}], {"hook": ["json://127.0.0.1:9/x"]})
    result = subprocess.run([sys.executable, "-m", "monitor", "--config", str(path), "run", "--once"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:
        (length, source), = db.execute("SELECT LENGTH(text), source FROM articles").fetchall()
    assert source == "page" and 190_000 <= length <= 200_000, result.stderr[-2000:]
