"""`newsmon match SOURCE`: which rules match an article and why the others do not, for a text
file, an HTML file, standard input and a URL served on loopback; --json, --rule, --feed-tag."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, run_newsmon
from fixtures import page

CONFIG = """
[newsmon]
state_dir = "state"
allow_private_networks = ["127.0.0.0/8"]

[channels.console]
urls = ["console://"]

[entities.ttp]
extends = "pack.ttp"
names = ["Tehreek-e-Taliban"]

[[rules]]
name = "ttp-activity"
any = ["@ttp"]

[[rules]]
name = "iskp-in-kabul"
query = "@pack.iskp AND (Kabul OR title:Kabul)"

[[rules]]
name = "ttp-attacks"
query = "@ttp NEAR/5 (attack* OR bomb*)"
feed_tags = ["pakistan"]
"""

ARTICLE = ("Militants of the TTP attacked a police post in Bannu on Monday, officials said.\n"
           "Separately, in a report published on Tuesday about rare conditions seen in hospital wards across "
           "several countries, researchers wrote that TTP is a rare blood disorder.")


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def match(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "monitor", "--config", str(write_config(tmp_path)), "match", *args]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=120, cwd=ROOT)


def as_json(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def check_offsets(document: dict) -> None:
    """Every hit's offsets are code points into the field it names, and `match` is that text."""
    for found in document["matches"]:
        for hit in found["hits"]:
            assert document[hit["field"]][hit["start"]:hit["end"]] == hit["match"]


def test_text_file_json(tmp_path):
    source = tmp_path / "article.txt"
    source.write_text(ARTICLE, encoding="utf-8")
    document = as_json(match(tmp_path, "--json", str(source)))
    assert document["title"] == "" and document["text"] == ARTICLE
    matches = {found["rule"]: found["hits"] for found in document["matches"]}
    assert set(matches) == {"ttp-activity", "ttp-attacks"}
    assert [(h["match"], h["field"], h["start"], h["end"], h["entity"]) for h in matches["ttp-activity"]] == [
        ("TTP", "text", 17, 20, "ttp")]
    assert {h["match"] for h in matches["ttp-attacks"]} == {"TTP", "attacked"}
    check_offsets(document)
    (non_match,) = document["non_matches"]
    assert non_match["rule"] == "iskp-in-kabul"
    document = as_json(match(tmp_path, "--json", "--rule", "ttp-activity", str(source)))
    (found,) = document["matches"]
    assert [hit["start"] for hit in found["hits"]] == [17]  # the blood disorder is too far from any context
    assert non_match["reason"].startswith("query not satisfied: not found @pack.iskp, Kabul, title:Kabul")


def test_reason_names_a_cancelled_hit(tmp_path):
    document = as_json(match(tmp_path, "--json", "--rule", "ttp-activity", "-",
                             stdin="A study found that TTP is a rare blood disorder."))
    assert document["matches"] == []
    (non_match,) = document["non_matches"]
    assert non_match["reason"] == ("no 'any' term found (@ttp); 'TTP' at text 19 cancelled: "
                                   "no context term within 20 words")
    assert non_match["cancelled"][0]["start"] == 19


def test_human_output(tmp_path):
    result = match(tmp_path, "-", stdin=ARTICLE)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "MATCH ttp-activity" in out
    assert "Militants of the «TTP» attacked a police post in Bannu on Monday, officials said." in out
    assert "text 17-20: 'TTP' (@ttp, name 'TTP')" in out
    assert "MATCH ttp-attacks (limited to feeds tagged pakistan: not checked without --feed-tag)" in out
    assert "no match iskp-in-kabul: query not satisfied" in out


def test_feed_tag_is_checked_when_given(tmp_path):
    document = as_json(match(tmp_path, "--json", "--feed-tag", "afghanistan", "-", stdin=ARTICLE))
    reasons = {found["rule"]: found["reason"] for found in document["non_matches"]}
    assert reasons["ttp-attacks"].startswith("limited to feeds tagged pakistan (this feed's tags: afghanistan)")
    document = as_json(match(tmp_path, "--json", "--feed-tag", "pakistan", "-", stdin=ARTICLE))
    assert "ttp-attacks" in {found["rule"] for found in document["matches"]}


def test_html_file_is_extracted(tmp_path):
    source = tmp_path / "page.html"
    source.write_text(page("/a.html", "Blast in Kabul kills four", "Test Outlet",
                           "An explosion hit a market in Kabul on Friday, killing four people, officials said.",
                           "Islamic State Khorasan Province claimed the attack in a statement."), encoding="utf-8")
    document = as_json(match(tmp_path, "--json", "--rule", "iskp-in-kabul", str(source)))
    assert document["title"] == "Blast in Kabul kills four"
    assert "<p>" not in document["text"] and "Islamic State Khorasan Province" in document["text"]
    (found,) = document["matches"]
    assert {(hit["field"], hit["match"]) for hit in found["hits"]} == {
        ("title", "Kabul"), ("text", "Kabul"), ("text", "Islamic State Khorasan Province")}
    check_offsets(document)


def test_url_is_fetched_and_extracted(tmp_path, web):
    url = web.add("/news/blast.html", page("/news/blast.html", "TTP claims attack", "Test Outlet",
                                            "The TTP said its fighters attacked a checkpoint in Lakki Marwat overnight."))
    document = as_json(match(tmp_path, "--json", "--rule", "ttp-activity", url))
    assert document["title"] == "TTP claims attack"
    (found,) = document["matches"]
    assert {(hit["field"], hit["match"]) for hit in found["hits"]} == {("title", "TTP"), ("text", "TTP")}
    check_offsets(document)
    assert web.gets("/news/blast.html") == 1


def test_nothing_matches_still_exits_0(tmp_path):
    result = match(tmp_path, "-", stdin="Wheat prices eased in the capital's markets this week.")
    assert result.returncode == 0
    assert "MATCH" not in result.stdout and "no match ttp-activity" in result.stdout


def test_unknown_rule_is_bad_usage(tmp_path):
    result = match(tmp_path, "--rule", "ttp-activty", "-", stdin="x")
    assert result.returncode == 2
    assert "no rule 'ttp-activty'" in result.stderr and "did you mean 'ttp-activity'?" in result.stderr


def test_missing_file_is_bad_usage(tmp_path):
    result = match(tmp_path, str(tmp_path / "nope.txt"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr and "Traceback" not in result.stderr


def test_match_has_help():
    result = run_newsmon("match", "--help")
    assert result.returncode == 0 and result.stdout.startswith("usage: newsmon match")
