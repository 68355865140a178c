"""Rule files: loading, strict validation with file:line errors naming the rule or term, examples."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from monitor.errors import RuleError
from monitor.match import Matcher
from monitor.rules import Example, RuleSet, check_rules, load_rules, run_examples, shipped_rules_dir

VALID = """\
# militias
[actors.kataib-hezbollah]
name = "Kata'ib Hezbollah"
aliases = ["Kataeb Hezbollah", "Hezbollah Brigades"]
acronyms = ["KH"]
exclude = ["Lebanese Kataeb party"]
notes = "seeded from the article"

[themes.disarmament]
name = "Disarmament"
phrases = ["disarm*", "lay down arms"]

[rules.kataib-hezbollah]
description = "Any mention of Kata'ib Hezbollah"
severity = "high"
any = ["kataib-hezbollah"]
targets = ["ops"]

[rules.kh-disarm]
all = ["disarmament", ["kataib-hezbollah"]]
within = 8
same_sentence = true
fuzziness = "loose"
exclude = ["Yemen"]

[rules.kh-disarm.examples]
match = [
    "Kataib Hezbollah agrees to disarm",
    "KH will lay down arms",
]
no_match = ["Lebanon's Kataeb party elects a new leader"]
"""


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_one(tmp_path: Path, text: str) -> RuleSet:
    write(tmp_path / "rules", "rules.toml", text)
    return load_rules(tmp_path / "rules")


def error_of(tmp_path: Path, text: str, name: str = "rules.toml") -> RuleError:
    path = write(tmp_path / "rules", name, text)
    with pytest.raises(RuleError) as caught:
        load_rules(path.parent)
    return caught.value


def line_of(error: RuleError) -> int:
    assert error.location is not None
    return int(error.location.rsplit(":", 1)[1])


# --- loading ---------------------------------------------------------------------------------------------------


def test_load_valid_file(tmp_path: Path) -> None:
    """A valid file gives terms and rules with every key read."""
    ruleset = load_one(tmp_path, VALID)
    term = ruleset.terms["kataib-hezbollah"]
    assert term.kind == "actor"
    assert term.name == "Kata'ib Hezbollah"
    assert term.aliases == ("Kataeb Hezbollah", "Hezbollah Brigades")
    assert term.acronyms == ("KH",)
    assert term.exclude == ("Lebanese Kataeb party",)
    assert term.notes == "seeded from the article"
    assert term.location.endswith("rules.toml:2")
    rule = ruleset.rule("kh-disarm")
    assert rule is not None
    assert rule.all_of == (("disarmament",), ("kataib-hezbollah",))
    assert rule.any_of == ()
    assert (rule.within, rule.same_sentence, rule.fuzziness, rule.exclude) == (8, True, "loose", ("Yemen",))
    assert rule.location.endswith("rules.toml:19")
    assert [rule.name for rule in ruleset.rules] == ["kataib-hezbollah", "kh-disarm"]


def test_rule_defaults(tmp_path: Path) -> None:
    """Severity defaults to medium, fuzziness to strict, the rest to empty/zero/false."""
    ruleset = load_one(tmp_path, VALID)
    rule = ruleset.rule("kataib-hezbollah")
    assert rule is not None
    assert (rule.severity, rule.fuzziness, rule.within, rule.same_sentence) == ("high", "strict", 0, False)
    assert rule.targets == ("ops",)
    assert rule.groups == (("kataib-hezbollah",),)
    bare = load_one(tmp_path / "b", '[actors.a]\nname = "Alpha Group"\n[rules.r]\nany = ["a"]\n').rules[0]
    assert (bare.severity, bare.fuzziness, bare.description, bare.exclude, bare.examples) == (
        "medium",
        "strict",
        "",
        (),
        (),
    )


def test_actor_name_is_matched_but_theme_name_is_not(tmp_path: Path) -> None:
    """An actor's name is one of its forms; a theme's name is only a label."""
    ruleset = load_one(tmp_path, VALID)
    assert ruleset.terms["kataib-hezbollah"].forms[0] == "Kata'ib Hezbollah"
    assert ruleset.terms["disarmament"].forms == ("disarm*", "lay down arms")


def test_examples_are_read_with_their_lines(tmp_path: Path) -> None:
    """Examples keep their text, expectation and the line each is written on."""
    rule = load_one(tmp_path, VALID).rule("kh-disarm")
    assert rule is not None
    assert rule.examples[0] == Example("Kataib Hezbollah agrees to disarm", True, rule.examples[0].location)
    assert [example.location.rsplit(":", 1)[1] for example in rule.examples] == ["28", "29", "31"]
    assert [example.should_match for example in rule.examples] == [True, True, False]


def test_files_load_in_name_order_and_reference_each_other(tmp_path: Path) -> None:
    """Every *.toml file is read in name order; rules may use terms of another file."""
    directory = tmp_path / "rules"
    write(directory, "b-rules.toml", '[rules.r]\nany = ["a"]\n')
    write(directory, "a-actors.toml", '[actors.a]\nname = "Alpha Group"\n')
    write(directory, "notes.txt", "not a rule file")
    ruleset = load_rules(directory)
    assert [path.name for path in ruleset.files] == ["a-actors.toml", "b-rules.toml"]
    assert ruleset.rules[0].any_of == ("a",)


def test_inline_tables_are_accepted_and_located(tmp_path: Path) -> None:
    """Tables written inline under [actors]/[rules] load and errors still name their line."""
    ruleset = load_one(tmp_path, '[actors]\na = { name = "Alpha Group" }\n[rules]\nr = { any = ["a"] }\n')
    assert ruleset.rules[0].location.endswith(":4")
    error = error_of(tmp_path / "x", '[actors]\na = { name = "Alpha Group" }\n[rules]\nr = { any = ["b"] }\n')
    assert line_of(error) == 4


def test_shipped_rules_dir_is_a_directory() -> None:
    """The shipped rules directory resolves to a real directory (package data or the checkout's rules/)."""
    directory = shipped_rules_dir()
    assert isinstance(directory, Path)
    assert directory.is_dir()


# --- errors ------------------------------------------------------------------------------------------------------


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    """Invalid TOML is a RuleError at the line tomllib reports."""
    error = error_of(tmp_path, '[actors.a]\nname = "A\n')
    assert "invalid TOML" in error.message
    assert line_of(error) == 2


def test_unknown_section(tmp_path: Path) -> None:
    """A top-level table other than actors/themes/rules is an error at its line."""
    error = error_of(tmp_path, '[actors.a]\nname = "Alpha Group"\n\n[groups.b]\nname = "B"\n')
    assert "unknown section 'groups'" in error.message
    assert line_of(error) == 4


def test_unknown_key_in_actor(tmp_path: Path) -> None:
    """An unknown key in an actor names the actor, the key, its line and the closest known key."""
    error = error_of(tmp_path, '[actors.a]\nname = "Alpha Group"\nalias = ["A"]\n')
    assert "actor 'a'" in error.message
    assert "unknown key 'alias'" in error.message
    assert error.hint is not None
    assert "aliases" in error.hint
    assert line_of(error) == 3


def test_theme_with_aliases_hints_at_phrases(tmp_path: Path) -> None:
    """Themes list phrases, not aliases: the error says so."""
    error = error_of(tmp_path, '[themes.t]\naliases = ["disarm"]\n')
    assert "theme 't'" in error.message
    assert error.hint is not None
    assert "phrases" in error.hint


def test_unknown_key_in_rule(tmp_path: Path) -> None:
    """An unknown key in a rule names the rule and the line."""
    error = error_of(tmp_path, '[actors.a]\nname = "Alpha Group"\n[rules.r]\nany = ["a"]\nseverty = "high"\n')
    assert "rule 'r'" in error.message
    assert "'severty'" in error.message
    assert line_of(error) == 5


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('severity = "urgent"', "bad severity 'urgent'"),
        ('fuzziness = "fuzzy"', "bad fuzziness 'fuzzy'"),
        ("within = -1", "`within`"),
        ("within = true", "`within`"),
        ('within = "5"', "`within`"),
        ('same_sentence = "yes"', "`same_sentence`"),
        ("description = 3", "`description`"),
        ('exclude = "Yemen"', "`exclude` must be a list of strings"),
        ("targets = [1]", "`targets` must be a list of strings"),
        ("all = [1]", "`all` must be a list"),
        ('all = [["a", 2]]', "`all` must be a list"),
        ('exclude = [""]', "empty string"),
    ],
)
def test_bad_rule_values(tmp_path: Path, line: str, words: str) -> None:
    """Each wrongly typed or out-of-range rule value is an error at its own line, naming the rule."""
    error = error_of(tmp_path, f'[actors.a]\nname = "Alpha Group"\n[rules.r]\nany = ["a"]\n{line}\n')
    assert words in error.message
    assert "rule 'r'" in error.message
    assert line_of(error) == 5


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('aliases = "A"', "`aliases` must be a list of strings"),
        ("notes = 5", "`notes` must be a string"),
        ('acronyms = ["K H"]', "acronym 'K H'"),
        ('acronyms = ["--"]', "acronym '--'"),
        ("exclude = [3]", "`exclude` must be a list of strings"),
        ('aliases = ["—"]', "has no letters or digits"),
        ('aliases = ["al-"]', "no words besides al/el"),
        ('aliases = ["US"]', "common word 'us'"),
        ('aliases = ["ab*"]', "a prefix needs at least"),
        ('aliases = ["dis*arm"]', "'*' before its end"),
        ('exclude = ["Alpha Group"]', "is also its alias"),
    ],
)
def test_bad_term_values(tmp_path: Path, line: str, words: str) -> None:
    """Each bad actor value is an error at its own line, naming the actor."""
    error = error_of(tmp_path, f'[actors.a]\nname = "Alpha Group"\n{line}\n[rules.r]\nany = ["a"]\n')
    assert words in error.message
    assert "actor 'a'" in error.message
    assert line_of(error) == 3


def test_common_word_alias_hints_at_acronyms(tmp_path: Path) -> None:
    """An alias that folds to an ordinary English word is refused with a hint to list it as an acronym."""
    error = error_of(tmp_path, '[actors.us]\nname = "United States"\naliases = ["US"]\n')
    assert error.hint is not None
    assert "acronyms" in error.hint


def test_term_without_anything_to_match(tmp_path: Path) -> None:
    """An actor without name, aliases or acronyms (a theme without phrases) is an error."""
    error = error_of(tmp_path, '[actors.a]\nexclude = ["x"]\n')
    assert "actor 'a' has nothing to match" in error.message
    assert line_of(error) == 1
    error = error_of(tmp_path / "t", '[themes.t]\nname = "Disarmament"\n')
    assert "theme 't' has nothing to match" in error.message


def test_unknown_term_in_any(tmp_path: Path) -> None:
    """A rule naming an unknown term is an error at the `any` line, with the closest id as a hint."""
    error = error_of(tmp_path, '[actors.kataib]\nname = "Kataib Group"\n[rules.r]\nany = ["katib"]\n')
    assert "rule 'r': unknown term 'katib' in `any`" in error.message
    assert error.hint == "did you mean 'kataib'?"
    assert line_of(error) == 4


def test_unknown_term_in_all(tmp_path: Path) -> None:
    """Unknown ids inside `all` groups are found too."""
    error = error_of(tmp_path, '[actors.a]\nname = "Alpha Group"\n[rules.r]\nany = ["a"]\nall = [["a", "zzz"]]\n')
    assert "unknown term 'zzz' in `all`" in error.message
    assert line_of(error) == 5


def test_duplicate_term_across_files(tmp_path: Path) -> None:
    """An id defined in two files is an error at the second definition, naming the first."""
    directory = tmp_path / "rules"
    first = write(directory, "a.toml", '[actors.x]\nname = "Xavier Group"\n')
    write(directory, "b.toml", '[rules.r]\nany = ["x"]\n\n[actors.x]\nname = "Other"\n')
    with pytest.raises(RuleError) as caught:
        load_rules(directory)
    assert caught.value.location == f"{directory / 'b.toml'}:4"
    assert "actor 'x' is already defined" in caught.value.message
    assert f"{first}:1" in caught.value.message


def test_actor_and_theme_share_one_namespace(tmp_path: Path) -> None:
    """An actor and a theme cannot have the same id (rules name either by id)."""
    error = error_of(tmp_path, '[actors.x]\nname = "Xavier Group"\n[themes.x]\nphrases = ["xylophone"]\n')
    assert "theme 'x' is already defined as actor" in error.message
    assert line_of(error) == 3


def test_duplicate_rule_across_files(tmp_path: Path) -> None:
    """A rule name used in two files is an error at the second."""
    directory = tmp_path / "rules"
    write(directory, "a.toml", '[actors.x]\nname = "Xavier Group"\n[rules.r]\nany = ["x"]\n')
    write(directory, "b.toml", '[rules.r]\nany = ["x"]\n')
    with pytest.raises(RuleError) as caught:
        load_rules(directory)
    assert caught.value.location == f"{directory / 'b.toml'}:1"
    assert "rule 'r' is already defined at" in caught.value.message


def test_bad_id(tmp_path: Path) -> None:
    """Ids are letters, digits, '-' and '_'."""
    error = error_of(tmp_path, '[actors."kataib hezbollah"]\nname = "Kataib Hezbollah"\n')
    assert "bad id 'kataib hezbollah'" in error.message
    assert line_of(error) == 1


def test_rule_without_terms_can_never_match(tmp_path: Path) -> None:
    """A rule with neither `any` nor `all` is an error."""
    error = error_of(tmp_path, '[actors.a]\nname = "Alpha Group"\n[rules.r]\nseverity = "low"\n')
    assert "rule 'r' can never match" in error.message
    assert line_of(error) == 3


def test_empty_all_group_can_never_match(tmp_path: Path) -> None:
    """An empty list inside `all` can never be satisfied."""
    error = error_of(tmp_path, '[actors.a]\nname = "Alpha Group"\n[rules.r]\nany = ["a"]\nall = [[]]\n')
    assert "empty group" in error.message
    assert line_of(error) == 5


def test_needed_and_excluded_term_can_never_match(tmp_path: Path) -> None:
    """A term both needed and excluded by the same rule is an error at the `exclude` line."""
    error = error_of(tmp_path, '[actors.a]\nname = "Alpha Group"\n[rules.r]\nany = ["a"]\nexclude = ["a"]\n')
    assert "can never match" in error.message
    assert "'a'" in error.message
    assert line_of(error) == 5


def test_exclude_phrase_equal_to_needed_alias(tmp_path: Path) -> None:
    """A rule exclusion that is an alias of a needed term would veto the rule itself: error."""
    error = error_of(tmp_path, '[actors.a]\nname = "Alpha Group"\n[rules.r]\nany = ["a"]\nexclude = ["alpha-group"]\n')
    assert "is the alias 'Alpha Group' of needed term 'a'" in error.message
    assert line_of(error) == 5


@pytest.mark.parametrize(
    ("examples", "words"),
    [
        ('examples = ["headline"]', "`examples` must be a table"),
        ("[rules.r.examples]\nmatches = []", "unknown key 'matches' in examples"),
        ("[rules.r.examples]\nmatch = [1]", "examples `match` must be a list of non-empty strings"),
        ('[rules.r.examples]\nno_match = "x"', "examples `no_match` must be a list"),
    ],
)
def test_bad_examples(tmp_path: Path, examples: str, words: str) -> None:
    """The examples table has `match` and `no_match` lists of headlines, nothing else."""
    error = error_of(tmp_path, f'[actors.a]\nname = "Alpha Group"\n[rules.r]\nany = ["a"]\n{examples}\n')
    assert words in error.message
    assert "rule 'r'" in error.message
    assert line_of(error) in (5, 6)


def test_missing_directory(tmp_path: Path) -> None:
    """A rules directory that does not exist is an error naming it."""
    with pytest.raises(RuleError) as caught:
        load_rules(tmp_path / "nowhere")
    assert caught.value.location == str(tmp_path / "nowhere")


def test_empty_directory(tmp_path: Path) -> None:
    """A directory without *.toml files is an error."""
    with pytest.raises(RuleError, match="no rule files"):
        load_rules(tmp_path)


def test_files_without_rules(tmp_path: Path) -> None:
    """Terms alone are not a watch list: at least one rule is needed."""
    error = error_of(tmp_path, '[actors.a]\nname = "Alpha Group"\n')
    assert "no rules defined" in error.message


def test_check_rules_lists_every_problem_in_order(tmp_path: Path) -> None:
    """`check_rules` returns all problems of all files, by file and line; valid rules give none."""
    directory = tmp_path / "rules"
    write(
        directory,
        "a.toml",
        '[actors.a]\nname = "Alpha Group"\ncolour = "red"\n\n[rules.r1]\nany = ["zzz"]\n\n'
        '[rules.r2]\nany = ["a"]\nseverity = "urgent"\n',
    )
    write(directory, "b.toml", '[themes.t]\nphrases = "disarm"\n')
    errors = check_rules(directory)
    assert [error.location for error in errors] == [
        f"{directory / 'a.toml'}:3",
        f"{directory / 'a.toml'}:6",
        f"{directory / 'a.toml'}:10",
        f"{directory / 'b.toml'}:2",
    ]
    write(tmp_path / "ok", "rules.toml", VALID)
    assert check_rules(tmp_path / "ok") == []


def test_load_rules_raises_the_first_problem_and_counts_the_rest(tmp_path: Path) -> None:
    """`load_rules` raises the first problem; its hint says how many more `monitor rules check` lists."""
    error = error_of(tmp_path, '[actors.a]\nname = "Alpha Group"\nx = 1\ny = 2\n[rules.r]\nany = ["a"]\n')
    assert line_of(error) == 3
    assert error.hint is not None
    assert "1 more problem" in error.hint
    assert f"{error.location}: " in error.one_line()


# --- examples ----------------------------------------------------------------------------------------------------


def test_run_examples_reports_each_example(tmp_path: Path) -> None:
    """Every example is run as a title against its own rule; results say whether it passed."""
    ruleset = load_one(tmp_path, VALID)
    results = run_examples(ruleset, Matcher(ruleset))
    assert [(result.text, result.matched, result.passed) for result in results] == [
        ("Kataib Hezbollah agrees to disarm", True, True),
        ("KH will lay down arms", True, True),
        ("Lebanon's Kataeb party elects a new leader", False, True),
    ]
    assert results[0].location.endswith("rules.toml:28")


def test_run_examples_reports_a_failing_example(tmp_path: Path) -> None:
    """An example the rule does not fire on (or fires on wrongly) is reported as not passed."""
    ruleset = load_one(
        tmp_path,
        '[actors.a]\nname = "Alpha Group"\n[rules.r]\nany = ["a"]\n'
        '[rules.r.examples]\nmatch = ["Beta Group wins"]\nno_match = ["Alpha Group wins"]\n',
    )
    results = run_examples(ruleset, Matcher(ruleset))
    assert [(result.should_match, result.matched, result.passed) for result in results] == [
        (True, False, False),
        (False, True, False),
    ]


def test_rule_exclusion_that_is_a_common_word(tmp_path: Path) -> None:
    """A rule exclusion folding to a common word ("US" -> "us") is refused with a hint to exclude a term id."""
    error = error_of(tmp_path, '[actors.a]\nname = "Alpha Group"\n[rules.r]\nany = ["a"]\nexclude = ["US"]\n')
    assert "rule 'r': exclude 'US' folds to the common word 'us'" in error.message
    assert error.hint is not None
    assert "exclude its id" in error.hint
    assert line_of(error) == 5


def test_seed_drafts_in_the_rules_directory_are_not_loaded(tmp_path: Path) -> None:
    """Files written by `monitor seed` (NAME.draft.toml, NAME.draft-2.toml) are skipped until renamed."""
    (tmp_path / "real.toml").write_text('[actors.a]\naliases = ["Alpha Group"]\n[rules.a]\nany = ["a"]\n')
    (tmp_path / "article.draft.toml").write_text('[actors.a]\naliases = ["Alpha Group"]\n[rules.a]\nany = ["a"]\n')
    (tmp_path / "article.draft-2.toml").write_text("this is not even TOML")
    ruleset = load_rules(tmp_path)
    assert [path.name for path in ruleset.files] == ["real.toml"]
