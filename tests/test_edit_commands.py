"""Editing the configuration from the command line, as a user does: `newsmon feed|entity|rule
add|list|show|remove` and `newsmon init`. The user's own files, full of comments, stay byte for
byte as they were whatever newsmon does (its edits go to its own drop-ins in watchlist.d/);
`check` passes after every edit; an edit that would break the configuration is refused with
check's message and writes nothing; a running daemon reloads the change and the command says
so. Loopback web servers and webhook receivers, the real command in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess

from conftest import run_newsmon, wait_for
from fixtures import rss
from test_service import start, stop

from monitor import cli

MAIN = """# My newsmon configuration. Edited by hand; keep my notes.
[newsmon]
state_dir = "state"   # next to this file
allow_private_networks = ["127.0.0.0/8"]
include = ["watchlist.d/*.toml"]

# Alerts to the office webhook
[channels.office]
urls = ["{hook}"]   # json:// on loopback
"""

DESK = """# The Peshawar desk's watchlist: do not reformat.
[entities.kp-police]
kind = "actor"   # the provincial police
names = ["KP Police", "Khyber Pakhtunkhwa police"]

[[rules]]
name = "desk-police"       # hand-tuned
any = ["@kp-police"]
"""


def setup(tmp_path, web):
    hook = web.base.replace("http://", "json://") + "/office"
    (tmp_path / "watchlist.d").mkdir()
    main = tmp_path / "config.toml"
    main.write_text(MAIN.replace("{hook}", hook), encoding="utf-8")
    (tmp_path / "watchlist.d" / "desk.toml").write_text(DESK, encoding="utf-8")
    return main


def newsmon(main, *args):
    return run_newsmon("--config", str(main), *args)


def snapshot(tmp_path) -> dict[str, bytes]:
    return {name: (tmp_path / name).read_bytes() for name in ("config.toml", "watchlist.d/desk.toml")}


def test_twenty_edits_leave_the_users_files_byte_identical_and_check_passes_after_each(tmp_path, web, capsys):
    main = setup(tmp_path, web)

    def in_process(*args):  # the same commands, without a Python start-up each (40 of them)
        capsys.readouterr()
        code = cli.main(["--config", str(main), *args])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    before = snapshot(tmp_path)
    edits = [
        ("entity", "add", "bla", "--alias", "Balochistan Liberation Army", "--alias", "BLA"),
        ("entity", "add", "tehreek-labbaik", "--alias", "Tehreek-e-Labbaik Pakistan", "--alias", "TLP", "--kind", "actor"),
        ("entity", "add", "bannu", "--alias", "Bannu", "--alias", "بنوں", "--kind", "region"),
        ("entity", "add", "my-ttp", "--extends", "pack.ttp", "--alias", "Fitna-ul-Khawarij"),
        ("rule", "add", "bla-attacks", "--all", "@bla", "--any", "attack", "--any", "blast", "--severity", "high"),
        ("rule", "add", "ttp-in-bannu", "--query", "@my-ttp AND @bannu", "--channel", "office"),
        ("rule", "add", "tlp-protests", "--any", "@tehreek-labbaik", "--none", "cricket", "--severity", "auto",
         "--on-update", "material"),
        ("feed", "add", web.base + "/a.xml", "--no-check", "--name", "Outlet A", "--tag", "pk"),
        ("feed", "add", web.base + "/b.xml", "--no-check", "--interval", "30m"),
        ("feed", "add", web.base + "/c.xml", "--no-check", "--tag", "pk", "--tag", "urdu"),
        ("rule", "remove", "tlp-protests"),
        ("entity", "remove", "tehreek-labbaik"),
        ("feed", "remove", "Outlet A"),
        ("rule", "add", "kp-all", "--any", "@pack.kp", "--any", "@kp-police"),
        ("feed", "add", web.base + "/d.xml", "--no-check", "--outlet", "Dawn"),
        ("entity", "add", "torkham-x", "--extends", "pack.torkham"),
        ("rule", "add", "border", "--any", "@torkham-x"),
        ("rule", "remove", "border"),
        ("feed", "remove", web.base + "/b.xml"),
        ("rule", "add", "ttp-quoted", "--all", '"suicide attack"', "--all", "@pack.ttp"),
    ]
    assert len(edits) == 20
    for edit in edits:
        result = in_process(*edit)
        assert result.returncode == 0, (edit, result.stderr)
        assert "applies when it next starts" in result.stdout
        checked = in_process("check")
        assert checked.returncode == 0, (edit, checked.stdout)
    assert snapshot(tmp_path) == before

    dropins = sorted(path.name for path in (tmp_path / "watchlist.d").iterdir())
    assert "newsmon-rule-bla-attacks.toml" in dropins and "newsmon-entity-bannu.toml" in dropins
    assert "newsmon-rule-tlp-protests.toml" not in dropins and "newsmon-feed-outlet-a.toml" not in dropins
    for name in dropins:
        if name != "desk.toml":
            assert (tmp_path / "watchlist.d" / name).read_text().startswith("# Written by newsmon")
    assert oct((tmp_path / "watchlist.d" / "newsmon-rule-bla-attacks.toml").stat().st_mode & 0o777) == \
        oct(main.stat().st_mode & 0o777)

    rules = json.loads(newsmon(main, "rule", "list", "--json").stdout)
    assert sorted(rule["key"] for rule in rules) == ["bla-attacks", "desk-police", "kp-all", "ttp-in-bannu", "ttp-quoted"]
    assert rules[0]["key"] == "desk-police" and rules[0]["newsmon"] is False and rules[0]["file"].endswith("desk.toml") and rules[0]["line"] == 6
    shown = newsmon(main, "entity", "show", "bannu").stdout
    assert "newsmon-entity-bannu.toml line 4 (written by newsmon)" in shown and 'names = [\n    "Bannu",' in shown
    quoted = (tmp_path / "watchlist.d" / "newsmon-rule-ttp-quoted.toml").read_text()
    assert '"suicide attack"' in quoted and '\\"' not in quoted  # the phrase, not its shell quotes
    feeds = newsmon(main, "feed", "list").stdout
    assert "/c.xml" in feeds and "/d.xml" in feeds and "/a.xml" not in feeds


def test_an_edit_that_would_break_the_configuration_is_refused_and_writes_nothing(tmp_path, web):
    main = setup(tmp_path, web)
    files = sorted(os.listdir(tmp_path / "watchlist.d"))
    for edit, said in [
        (("rule", "add", "x", "--any", "@nobody"), "unknown entity 'nobody'"),
        (("rule", "add", "y", "--any", "TTP", "--channel", "nowhere"), "unknown channel 'nowhere'"),
        (("rule", "add", "z", "--query", "TTP AND ("), "rules"),
        (("entity", "add", "e", "--extends", "pack.no-such-thing"), "pack.no-such-thing"),
    ]:
        result = newsmon(main, *edit)
        assert result.returncode == 2, result.stderr
        assert "not written: the configuration would not be valid" in result.stderr and said in result.stderr, result.stderr
        assert sorted(os.listdir(tmp_path / "watchlist.d")) == files
    duplicate = newsmon(main, "rule", "add", "desk-police", "--any", "TTP")
    assert duplicate.returncode == 1 and "already configured" in duplicate.stderr and "desk.toml line 6" in duplicate.stderr


def test_what_a_users_file_defines_is_never_rewritten_and_the_refusal_says_where_to_edit(tmp_path, web):
    main = setup(tmp_path, web)
    before = snapshot(tmp_path)
    result = newsmon(main, "rule", "remove", "desk-police")
    assert result.returncode == 1
    assert f"{tmp_path / 'watchlist.d' / 'desk.toml'} (line 6), which newsmon never rewrites" in result.stderr
    result = newsmon(main, "entity", "remove", "kp-police")
    assert result.returncode == 1 and "(line 2)" in result.stderr
    assert snapshot(tmp_path) == before


def test_without_an_include_directory_the_command_says_which_line_to_add(tmp_path, web):
    main = setup(tmp_path, web)
    main.write_text(main.read_text().replace('include = ["watchlist.d/*.toml"]\n', "include = []\n"))
    result = newsmon(main, "rule", "add", "x", "--any", "TTP")
    assert result.returncode == 1 and 'include = ["watchlist.d/*.toml"]' in result.stderr


def test_feed_add_fetches_the_feed_first_and_given_a_page_lists_the_feeds_it_links_to(tmp_path, web):
    main = setup(tmp_path, web)
    item = {"guid": "1", "path": "/x.html", "title": "TTP attack", "summary": "The TTP attacked."}
    web.add("/feed.xml", rss("Frontier Post", [item]), "application/rss+xml")
    web.add("/home.html", '<html><head><link rel="alternate" type="application/rss+xml" title="Top stories" '
                          'href="/feed.xml"></head><body>News</body></html>')
    page = newsmon(main, "feed", "add", web.base + "/home.html")
    assert page.returncode == 2 and "is a web page; the feeds it links to" in page.stdout
    assert f"1. {web.base}/feed.xml ('Top stories')" in page.stdout
    missing = newsmon(main, "feed", "add", web.base + "/gone.xml")
    assert missing.returncode == 1 and "not added" in missing.stderr and "404" in missing.stderr

    added = newsmon(main, "feed", "add", web.base + "/feed.xml", "--tag", "pk")
    assert added.returncode == 0, added.stderr
    assert "added feed" in added.stdout and "(Frontier Post)" in added.stdout
    again = newsmon(main, "feed", "add", web.base + "/feed.xml?")
    assert again.returncode == 1 and "already configured" in again.stderr


def test_with_a_daemon_running_a_new_rule_takes_effect_without_a_restart(tmp_path, web):
    main = setup(tmp_path, web)
    item = {"guid": "1", "path": "/x.html", "title": "Cricket scores", "summary": "Lahore won."}
    web.add("/feed.xml", rss("Frontier Post", [item]), "application/rss+xml")
    assert newsmon(main, "feed", "add", web.base + "/feed.xml", "--interval", "2s").returncode == 0
    process = start(main)
    try:
        assert wait_for(lambda: web.gets("/feed.xml") >= 2, timeout=30)  # once by feed add, then the daemon
        result = newsmon(main, "rule", "add", "lakki", "--any", "Lakki Marwat")
        assert result.returncode == 0, result.stderr
        assert "reloaded" in result.stdout and "lakki" in result.stdout, result.stdout
        item2 = {"guid": "2", "path": "/y.html", "title": "Police post attacked in Lakki Marwat",
                 "summary": "Gunmen attacked a post in Lakki Marwat."}
        web.add("/feed.xml", rss("Frontier Post", [item, item2]), "application/rss+xml")
        assert wait_for(lambda: any("Lakki" in post["title"] for post in web.json_posts("/office")), timeout=30)
    finally:
        code, stderr = stop(process)
    assert code == 0 and "Traceback" not in stderr


def test_init_writes_a_starter_that_checks_and_never_overwrites(tmp_path):
    target = tmp_path / "conf"
    result = run_newsmon("init", str(target), "--channel", "console://", "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and "a rule watching pack.ttp, pack.iskp" in result.stdout
    checked = run_newsmon("--config", str(target / "config.toml"), "check")
    assert checked.returncode == 0, checked.stdout
    assert "1 rule, 1 channel" in checked.stdout
    text = (target / "config.toml").read_text()
    assert text.startswith("# newsmon configuration, written by `newsmon init`") and "[channels.console]" in text
    again = run_newsmon("init", str(target))
    assert again.returncode == 1 and "already exists: not overwritten" in again.stderr

    from conftest import ROOT

    example = run_newsmon("init", "--example")
    assert example.returncode == 0 and example.stdout == (ROOT / "config.example.toml").read_text(encoding="utf-8")
