"""The matching keys of the configuration: an entity's case, context, context_window, ambiguous,
exclude and extends ("pack.NAME"); `@pack.NAME` in rules; a rule's query and feed_tags. Valid
tables load into the model; every problem is reported at its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor import config
from monitor.errors import ConfigError
from monitor.match import Matcher

HEAD = """
[newsmon]
state_dir = "state"

[channels.console]
urls = ["console://"]
"""


def load(tmp_path: Path, body: str) -> config.Config:
    path = tmp_path / "config.toml"
    path.write_text(HEAD + body, encoding="utf-8")
    return config.load(path, environ={"HOME": str(tmp_path)})


def problems(tmp_path: Path, body: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, body)
    file = str(tmp_path / "config.toml")
    return [str(problem).replace(file + ": ", "") for problem in caught.value.problems]


def test_entity_matching_keys_load(tmp_path):
    loaded = load(tmp_path, """
[entities.kp]
kind = "region"
names = ["KP", "Khyber Pakhtunkhwa"]
case = "insensitive"
context = ["Peshawar", "police*"]
context_window = 12
ambiguous = ["KP"]
exclude = ["Kevin Pietersen"]

[[rules]]
name = "kp"
any = ["@kp"]
""")
    (entity,) = loaded.entities
    assert (entity.case, entity.context, entity.context_window, entity.ambiguous, entity.exclude, entity.extends) == (
        "insensitive", ("Peshawar", "police*"), 12, ("KP",), ("Kevin Pietersen",), None)


def test_entity_defaults(tmp_path):
    loaded = load(tmp_path, '[entities.x]\nnames = ["X ray"]\n[[rules]]\nname = "x"\nany = ["@x"]\n')
    (entity,) = loaded.entities
    assert (entity.case, entity.context, entity.context_window, entity.ambiguous, entity.exclude) == (
        "auto", (), 20, None, ())


def test_extends_adds_to_the_pack_entity(tmp_path):
    loaded = load(tmp_path, """
[entities.ttp]
extends = "pack.ttp"
names = ["Tehreek-e-Taliban-e-Pakistan", "TTP"]
context = ["Dera Ismail Khan"]
context_window = 30

[[rules]]
name = "ttp"
any = ["@ttp"]
""")
    (entity,) = loaded.entities
    from monitor import packs

    pack = packs.entities()["pack.ttp"]
    assert entity.names[:len(pack.names)] == pack.names
    assert entity.names[len(pack.names):] == ("Tehreek-e-Taliban-e-Pakistan",)  # TTP is already there
    assert entity.context == (*pack.context, "Dera Ismail Khan")
    assert entity.exclude == pack.exclude and entity.ambiguous == pack.ambiguous
    assert (entity.context_window, entity.kind, entity.extends) == (30, "actor", "pack.ttp")
    matcher = Matcher(loaded.entities, loaded.rules)
    [found] = matcher.match("", "The Tehreek-e-Taliban-e-Pakistan attacked a post; TTP is also a blood disorder.")
    assert [hit.alias for hit in found.hits] == ["Tehreek-e-Taliban-e-Pakistan", "TTP"]
    assert matcher.match("", "The study found that TTP is a rare blood disorder.") == []


def test_pack_entities_in_rules_and_queries(tmp_path):
    loaded = load(tmp_path, """
[[rules]]
name = "ttp"
any = ["@pack.ttp"]
query = "@pack.kp OR @pack.kp-districts"
""")
    assert loaded.entities == ()
    [found] = Matcher(loaded.entities, loaded.rules).match("", "TTP militants attacked a police post in Lakki Marwat.")
    assert {(hit.entity, hit.alias) for hit in found.hits} == {("pack.ttp", "TTP"), ("pack.kp-districts", "Lakki Marwat")}


@pytest.mark.parametrize(("body", "expected"), [
    ('[entities.x]\nextends = "pack.tpp"\n', ["at 'entities.x.extends': unknown pack entity 'pack.tpp' (did you mean 'pack.ttp'?)"]),
    ('[entities.x]\nnames = ["X"]\nextends = 3\n', ["at 'entities.x.extends': expected a string, got an integer (3)"]),
    ('[entities.x]\nnames = ["TTP"]\nambiguous = ["TPP"]\ncontext = ["Pakistan"]\n',
     ["at 'entities.x.ambiguous[0]': 'TPP' is not one of the entity's names (did you mean 'TTP'?)"]),
    ('[entities.x]\nnames = ["TTP"]\nambiguous = ["TTP"]\n',
     ["at 'entities.x.ambiguous': ambiguous names need 'context' terms (or 'exclude' phrases) to be judged by"]),
    ('[entities.x]\nnames = ["TTP"]\ncontext = ["@kp", "ab*"]\n',
     ["at 'entities.x.context[0]': context terms are phrases, not entities: '@kp'",
      "at 'entities.x.context[1]': a prefix term needs at least 3 letters before '*': 'ab*'"]),
    ('[entities.x]\nnames = ["TTP"]\nexclude = ["--"]\n',
     ["at 'entities.x.exclude[0]': a term needs at least one letter or digit: '--'"]),
    ('[entities.x]\nnames = ["TTP"]\ncase = "upper"\n',
     ["at 'entities.x.case': must be one of 'auto', 'sensitive', 'insensitive', got 'upper'"]),
    ('[entities.x]\nnames = ["TTP"]\ncontext_window = 0\n', ["at 'entities.x.context_window': must be at least 1, got 0"]),
    ('[entities.x]\nnames = ["@ttp", "*"]\n',
     ["at 'entities.x.names[0]': a name cannot start with '@': '@ttp'",
      "at 'entities.x.names[1]': a term needs at least one letter or digit: '*'"]),
    ('[entities."pack.ttp"]\nnames = ["TTP"]\n',
     ["at 'entities.pack.ttp': entity names starting with 'pack.' belong to the bundled pack: 'pack.ttp'"]),
    ('[entities.x]\ncontext = ["Pakistan"]\n', ["at 'entities.x': missing required key 'names'"]),
    ('[[rules]]\nname = "r"\nany = ["@pack.tpp"]\n', ["at 'rules[0].any[0]': unknown pack entity 'pack.tpp' (did you mean 'pack.ttp'?)"]),
    ('[[rules]]\nname = "r"\nany = ["x"]\nfeed_tags = "pakistan"\n',
     ["at 'rules[0].feed_tags': expected an array of strings, got a string ('pakistan')"]),
    ('[[rules]]\nname = "r"\nany = ["x"]\nfeed_tags = [""]\n', ["at 'rules[0].feed_tags[0]': must not be empty"]),
    ('[[rules]]\nname = "r"\nnone = ["x"]\n', ["at 'rules[0]': a rule needs at least one positive term in 'all' or 'any' (or a 'query')"]),
    ('[[rules]]\nname = "r"\nquery = ""\n', ["at 'rules[0].query': must not be empty"]),
])
def test_problems(tmp_path, body, expected):
    assert problems(tmp_path, body) == expected


def test_rule_with_only_a_query_is_positive(tmp_path):
    loaded = load(tmp_path, '[[rules]]\nname = "r"\nquery = "bomb* NOT cricket"\n')
    assert loaded.rules[0].query == "bomb* NOT cricket"
