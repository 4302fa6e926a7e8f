"""Alerts about your own sites: a rule with `near = ["peshawar-office"]` alerts only on events
placed within the site's radius, at town or district precision (never on a province alone);
every alert in range says how far ("≈5 km from a watched site (town precision: Hayatabad)"),
and names the site only on a channel with `show_sites`. Feeds and webhook receivers on
loopback, the real command."""

from __future__ import annotations

import email.utils
import json
from datetime import datetime, timedelta, timezone

import pytest
from conftest import run_newsmon
from fixtures import rss, write_config

from monitor import sites
from monitor.model import Site

RECENT = email.utils.format_datetime(datetime.now(timezone.utc) - timedelta(hours=2))
REPORTS = [
    ("hayatabad", "Blast near a market in Hayatabad, Peshawar", "A bomb exploded near a market in Hayatabad, Peshawar, "
                  "on Monday, wounding four people, police said."),
    ("quetta", "Two passengers hurt in Quetta bus stand blast", "A blast at a bus stand in Quetta injured two "
               "passengers on Tuesday evening, according to the city's deputy commissioner."),
    ("province", "Bomb defused on a highway in Khyber Pakhtunkhwa", "The bomb disposal squad defused a bomb found "
                 "beside a highway in Khyber Pakhtunkhwa on Saturday, officials said."),
]
WATCHLIST = {"rules": [{"name": "office-blasts", "any": ["bomb*", "blast*"], "near": ["peshawar-office"]},
                       {"name": "all-blasts", "any": ["bomb*", "blast*"]}]}


def configure(tmp_path, web, **channel):
    items = [{"guid": slug, "path": f"/{slug}.html", "title": title, "summary": text, "date": RECENT}
             for slug, title, text in REPORTS]
    feed = web.add("/feed.xml", rss("Frontier Post", items), "application/rss+xml")
    base = web.base.replace("http://", "json://")
    path = write_config(tmp_path, [{"url": feed, "full_text": False, "alert_on_first_poll": True}],
                        {"office": {"urls": [base + "/office"], "rules": ["office-blasts"], **channel},
                         "desk": {"urls": [base + "/desk"], "rules": ["all-blasts"]}}, watchlist=WATCHLIST)
    path.write_text(path.read_text() + '\n[[sites]]\nname = "peshawar-office"\nlat = 33.99\nlon = 71.52\nradius = "10km"\n')
    return path


def test_a_near_rule_alerts_only_on_events_by_the_site_and_says_how_far(tmp_path, web):
    path = configure(tmp_path, web)
    assert run_newsmon("--config", str(path), "check").returncode == 0
    result = run_newsmon("--config", str(path), "run", "--once")
    assert result.returncode == 0, result.stderr

    office = web.json_posts("/office")
    assert [post["title"] for post in office] == ["[office-blasts] Blast near a market in Hayatabad, Peshawar"]
    assert "Near: ≈" in office[0]["message"] and "km from a watched site (district precision: Peshawar)" in office[0]["message"]
    assert "peshawar-office" not in office[0]["message"]  # named only with show_sites

    desk = {post["title"]: post["message"] for post in web.json_posts("/desk")}
    assert len(desk) == 3  # every blast, the near ones saying how near
    assert "Near:" in desk["[all-blasts] Blast near a market in Hayatabad, Peshawar"]
    assert "Near:" not in desk["[all-blasts] Two passengers hurt in Quetta bus stand blast"]
    assert "Near:" not in desk["[all-blasts] Bomb defused on a highway in Khyber Pakhtunkhwa"]  # a province: never near

    backtest = json.loads(run_newsmon("--config", str(path), "backtest", "--json").stdout)["rules"]
    for rule in ("office-blasts", "all-blasts"):  # a backtest judges nearness as the live run did
        assert [item["story"] for item in backtest[rule]["would_alert"]] == backtest[rule]["alerted"], rule
    assert len(backtest["office-blasts"]["alerted"]) == 1


def test_show_sites_names_the_site(tmp_path, web):
    path = configure(tmp_path, web, show_sites=True, body="{distance} from {site} ({precision}): {title}")
    assert run_newsmon("--config", str(path), "run", "--once").returncode == 0
    (post,) = web.json_posts("/office")
    assert post["message"].startswith("≈") and "km from peshawar-office (district): Blast near a market in Hayatabad" in post["message"]


@pytest.mark.parametrize(("table", "said"), [
    ('[[sites]]\nname = "x"\n', "give a site either a 'place' (a gazetteer id) or 'lat' and 'lon'"),
    ('[[sites]]\nname = "x"\nplace = "atlantis"\n', "at 'sites[0].place': unknown place 'atlantis'"),
    ('[[sites]]\nname = "x"\nlat = 34.0\nlon = 71.5\nradius = "far"\n', "expected a distance such as \"10km\""),
    ('[[sites]]\nname = "x"\nlat = 134.0\nlon = 71.5\n', "lat and lon must be decimal degrees"),
])
def test_sites_are_checked(tmp_path, web, table, said):
    path = write_config(tmp_path, [], {"office": [web.base.replace("http://", "json://") + "/office"]})
    path.write_text(path.read_text() + "\n" + table)
    result = run_newsmon("--config", str(path), "check")
    assert result.returncode == 2 and said in result.stdout, result.stdout


def test_a_near_rule_naming_an_unknown_site_is_refused(tmp_path, web):
    watchlist = {"rules": [{"name": "r", "any": ["blast"], "near": ["nowhere"]}]}
    path = write_config(tmp_path, [], {"office": [web.base.replace("http://", "json://") + "/office"]}, watchlist=watchlist)
    result = run_newsmon("--config", str(path), "check")
    assert result.returncode == 2 and "at 'rules[0].near[0]': unknown site 'nowhere'" in result.stdout, result.stdout


def test_distances_and_precision():
    class Gazetteer:
        places = {"hayatabad": ("Hayatabad", "town", 33.99, 71.44), "peshawar": ("Peshawar", "district", 34.01, 71.58),
                  "khyber-pakhtunkhwa": ("Khyber Pakhtunkhwa", "province", 34.01, 71.58)}

        def place(self, pid):
            name, kind, lat, lon = self.places[pid]
            return type("Place", (), {"name": name, "kind": kind, "lat": lat, "lon": lon})

    office = Site("office", 33.99, 71.52, 10.0)
    assert round(sites.distance_km(33.99, 71.44, 33.99, 71.52), 1) == 7.4
    near = sites.nearest(("hayatabad", "peshawar", "khyber-pakhtunkhwa"), (office,), Gazetteer())
    assert (near.site, near.precision, near.place, round(near.km)) == ("office", "town", "Hayatabad", 7)
    assert sites.nearest(("khyber-pakhtunkhwa",), (office,), Gazetteer()) is None  # a province alone: never near
    assert sites.nearest(("hayatabad",), (Site("far", 31.0, 71.5, 10.0),), Gazetteer()) is None
