"""The meaning stage (monitor.semantic, `[stories.ID]` and `similar`): real model, real rules, real matcher."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import RuleError
from monitor.match import Matcher
from monitor.model import Alert
from monitor.render import match_lines
from monitor.rules import check_rules, load_rules
from monitor.seed import seed_document
from tests.test_cli import monitor

ARTICLE = """Turkey and Syria earthquake: rescuers pull survivors from the rubble

Rescue crews pulled more survivors from collapsed buildings on Saturday as the death toll of the quake that
struck southern Turkey and northern Syria passed 25,000. Aid convoys reached rebel-held areas of Syria, where
families have slept in the cold since the earthquake destroyed their homes. Thousands of rescuers from abroad
joined the search in the rubble of Antakya and Kahramanmaras.
"""

RULES = f'''
[stories.quake]
name = "The earthquake in Turkey and Syria"
threshold = 0.45
text = """{ARTICLE}"""

[actors.turkey]
name = "Turkey"
aliases = ["Turkish", "Syria", "Syrian"]

[rules.quake-close]
all = [["turkey"]]
similar = "quake"

[rules.quake-meaning]
similar = "quake"
'''


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    """A matcher of a story and two rules that ask for items close to it."""
    directory = tmp_path_factory.mktemp("rules")
    (directory / "quake.toml").write_text(RULES, encoding="utf-8")
    return Matcher(load_rules(directory))


def fired(matcher: Matcher, title: str) -> set[str]:
    """The rules that fire on a headline."""
    return {match.rule for match in matcher.match_text(title)}


def test_items_close_to_the_story_fire_and_others_do_not(matcher: Matcher) -> None:
    """A report of the quake fires both rules; Turkey's economy fires neither; a close item without Turkey
    fires only the rule that asks for meaning alone."""
    assert fired(matcher, "Turkey earthquake death toll passes 20,000 as rescuers search rubble") == {
        "quake-close",
        "quake-meaning",
    }
    assert fired(matcher, "Turkey's central bank cuts interest rates again") == set()
    assert fired(matcher, "Rescuers pull survivors from collapsed buildings after the quake") == {"quake-meaning"}


def test_a_similar_match_explains_itself(matcher: Matcher) -> None:
    """The match carries a story hit with the similarity, and the alert line says how close it reads."""
    [close] = [m for m in matcher.match_text("Turkey quake survivors pulled from rubble") if m.rule == "quake-close"]
    story = [hit for hit in close.hits if hit.kind == "story"]
    assert len(story) == 1
    assert story[0].alias == "The earthquake in Turkey and Syria"
    assert 0.45 <= float(story[0].text) <= 1.0
    alert = Alert(
        alert_id=1,
        rule="quake-close",
        severity="medium",
        title="t",
        link="https://x.org",
        summary="",
        feed_name="Wire",
        published=None,
        matched=tuple(close.matched),
        hits=close.hits,
    )
    assert any(
        line.startswith('close to the story "The earthquake in Turkey and Syria": 0.') for line in match_lines(alert)
    )


def test_story_problems_are_located_errors(tmp_path: Path) -> None:
    """An unknown story, a threshold out of range, and both `text` and `file` are errors naming file and line."""
    (tmp_path / "r.toml").write_text(
        '[stories.a]\ntext = "x"\nfile = "y.txt"\n[stories.b]\ntext = "x"\nthreshold = 1.5\n'
        '[rules.r]\nsimilar = "quake"\n',
        encoding="utf-8",
    )
    messages = [error.one_line() for error in check_rules(tmp_path)]
    assert any("story 'a' needs the article as `text` or as `file`" in m for m in messages), messages
    assert any("r.toml:6" in m and "`threshold` must be a number between 0 and 1" in m for m in messages), messages
    assert any("unknown story 'quake' in `similar`" in m for m in messages), messages


def test_without_the_extra_a_rule_asking_for_meaning_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When wordllama is not installed, `similar` is a one-line error with the install hint, not a traceback."""
    import monitor.semantic

    monkeypatch.setattr(monitor.semantic, "available", lambda: False)
    (tmp_path / "r.toml").write_text(RULES, encoding="utf-8")
    with pytest.raises(RuleError, match=r"needs the semantic extra.*pip install 'monitor\[semantic\]'"):
        load_rules(tmp_path)


def test_seeding_with_the_extra_adds_the_article_and_a_rule_for_close_items(tmp_path: Path) -> None:
    """With the semantic extra, a draft carries its article as a story with a calibrated threshold, and a rule
    for broad actors in items close to it; the draft still passes its own examples."""
    draft = seed_document(ARTICLE, source_name="quake.txt", semantic=True)
    assert draft.story_meaning is not None
    assert 0.3 <= draft.story_meaning.threshold < 1
    close = next(rule for rule in draft.rules if rule.id == "quake-close")
    assert close.similar == "quake-story"
    (tmp_path / "quake.toml").write_text(draft.text, encoding="utf-8")
    ruleset = load_rules(tmp_path)
    assert "quake-story" in ruleset.stories
    plain = seed_document(ARTICLE, source_name="quake.txt", semantic=False)
    assert plain.story_meaning is None
    assert "[stories." not in plain.text


def test_monitor_seed_semantic_flags(tmp_path: Path) -> None:
    """`monitor seed` adds the article when the extra is installed, leaves it out with --no-semantic."""
    article = tmp_path / "quake.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    with_meaning = monitor("seed", str(article), "--out", str(tmp_path / "a"), cwd=tmp_path)
    assert with_meaning.returncode == 0, with_meaning.stderr
    assert "[stories.quake-story]" in (tmp_path / "a" / "quake.draft.toml").read_text(encoding="utf-8")
    without = monitor("seed", str(article), "--out", str(tmp_path / "b"), "--no-semantic", cwd=tmp_path)
    assert without.returncode == 0, without.stderr
    assert "[stories." not in (tmp_path / "b" / "quake.draft.toml").read_text(encoding="utf-8")
