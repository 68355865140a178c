"""The matcher: exact and fuzzy hits, the known traps, acronyms, offsets, and how rules combine hits."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from monitor.match import Matcher, edit_budget
from monitor.model import Entry
from monitor.normalize import strip_html
from monitor.rules import load_rules

MILITIAS = """\
[actors.kataib-hezbollah]
name = "Kata'ib Hezbollah"
aliases = ["Kataeb Hezbollah", "Kata'ib Hezbollah", "Hezbollah Brigades", "كتائب حزب الله"]
acronyms = ["KH"]

[actors.hezbollah]
name = "Hezbollah"
aliases = ["Hizballah", "Hizbullah", "Lebanese Hezbollah"]

[actors.sudani]
name = "Mohammed Shia al-Sudani"
aliases = ["Sudani"]

[actors.sudan]
name = "Sudan"

[actors.nujaba]
name = "Harakat al-Nujaba"
aliases = ["al-Nujaba"]

[actors.awfiya]
name = "Ansar Allah al-Awfiya"

[actors.houthis]
name = "Ansar Allah"
aliases = ["Houthis"]

[actors.hadi]
name = "Hadi"

[actors.pmf]
name = "Popular Mobilization Forces"
aliases = ["Hashd al-Shaabi"]
acronyms = ["PMF", "PMU"]

[rules.kataib-hezbollah]
any = ["kataib-hezbollah"]
severity = "high"

[rules.hezbollah]
any = ["hezbollah"]

[rules.sudani]
any = ["sudani"]

[rules.sudan]
any = ["sudan"]

[rules.nujaba]
any = ["nujaba"]

[rules.awfiya]
any = ["awfiya"]

[rules.houthis]
any = ["houthis"]

[rules.hadi]
any = ["hadi"]

[rules.pmf]
any = ["pmf"]
severity = "low"
"""


def compile_rules(tmp_path: Path, text: str) -> Matcher:
    directory = tmp_path / "rules"
    directory.mkdir(exist_ok=True)
    (directory / "rules.toml").write_text(textwrap.dedent(text), encoding="utf-8")
    return Matcher(load_rules(directory))


@pytest.fixture(scope="module")
def militias(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return compile_rules(tmp_path_factory.mktemp("militias"), MILITIAS)


def fired(matcher: Matcher, title: str, summary: str = "", content: str = "") -> list[str]:
    return [found.rule for found in matcher.match_text(title, summary, content)]


# --- the required examples ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "Kata'ib Hizballah claims drone strike on US base in Syria",
        "Kataib Hezbollah fighters seen near the border",
        "Kataeb Hizbollah denies involvement",
        "Hizbullah Brigades issue a statement",
        "Kata’ib Hezbollah’s leader speaks",
        "KATAIB HEZBOLLAH",
    ],
)
def test_kataib_hezbollah_spellings_are_found(militias: Matcher, title: str) -> None:
    """Transliterations, apostrophes, possessives and capitals of Kata'ib Hezbollah all find the actor."""
    assert "kataib-hezbollah" in fired(militias, title)


@pytest.mark.parametrize(
    "title",
    ["Kata'ib Hizballah claims drone strike", "Hizbullah Brigades issue a statement", "Kataib Hezbollah talks"],
)
def test_a_name_inside_a_longer_actor_name_does_not_count(militias: Matcher, title: str) -> None:
    """The "Hizballah" in "Kata'ib Hizballah" is part of another actor's name, not Lebanese Hezbollah."""
    assert "hezbollah" not in fired(militias, title)


def test_the_shorter_name_alone_is_found(militias: Matcher) -> None:
    """Hezbollah on its own (any spelling) finds the Lebanese actor."""
    assert fired(militias, "Hizballah fires rockets") == ["hezbollah"]
    assert fired(militias, "Hezbollah's leader and Kataib Hezbollah meet") == ["kataib-hezbollah", "hezbollah"]


def test_sudani_does_not_match_sudans_army(militias: Matcher) -> None:
    """The army in "Sudan's army" is Sudan's, not al-Sudani's (the naive partial_ratio trap, 90.9)."""
    assert fired(militias, "Sudan's army clashes with RSF") == ["sudan"]


def test_sudan_does_not_match_sudani(militias: Matcher) -> None:
    """A 5-letter name never matches fuzzily: "Sudan" is not found in "Sudani"."""
    assert fired(militias, "Sudani meets tribal leaders") == ["sudani"]
    assert fired(militias, "Prime Minister Mohammed Shia al-Sudani visits Basra") == ["sudani"]


def test_one_word_alias_differing_at_its_end_is_not_found_strictly(militias: Matcher) -> None:
    """The "Sudanis" who flee are not al-Sudani: a lone word changed at its end needs loose fuzziness."""
    assert fired(militias, "Sudanis flee to Chad") == []


def test_ansar_allah_al_awfiya_is_not_ansar_allah(militias: Matcher) -> None:
    """The Houthis ("Ansar Allah fighters") are not the Iraqi Ansar Allah al-Awfiya."""
    assert fired(militias, "Ansar Allah fighters in Yemen") == ["houthis"]
    assert fired(militias, "Ansar Allah al-Awfiya fighters in Iraq") == ["awfiya"]


def test_hadi_does_not_match_hadith(militias: Matcher) -> None:
    """Whole words only: "Hadi" is not inside "hadith"."""
    assert fired(militias, "the hadith scholar spoke") == []
    assert fired(militias, "Hadi returns to Aden") == ["hadi"]


@pytest.mark.parametrize("title", ["Nujaba says", "al-Nujaba says", "al Nujaba says", "Harakat Nujaba says"])
def test_nujaba_with_or_without_al(militias: Matcher, title: str) -> None:
    """A standalone al-/el- is optional: "al-Nujaba", "Nujaba" and "Harakat Nujaba" all find it."""
    assert fired(militias, title) == ["nujaba"]


def test_al_is_optional_in_the_text_too(tmp_path: Path) -> None:
    """An alias written without al- finds the text written with it ("Hashd Shaabi" ~ "Hashd al-Shaabi")."""
    matcher = compile_rules(tmp_path, '[actors.p]\nname = "Hashd Shaabi"\n[rules.p]\nany = ["p"]\n')
    assert fired(matcher, "Hashd al-Shaabi units deploy") == ["p"]
    assert fired(matcher, "Hashd el Shaabi units deploy") == ["p"]


@pytest.mark.parametrize("title", ["كتائب حزب الله تعلن", "كَتَائِبُ حِزْبِ اللهِ تُعْلِن", "بيان كتائب حزب اللّه"])
def test_arabic_with_or_without_diacritics(militias: Matcher, title: str) -> None:
    """Arabic "كتائب حزب الله" matches with or without harakat and shadda."""
    assert fired(militias, title) == ["kataib-hezbollah"]


def test_arabic_hamza_seat_variant(militias: Matcher) -> None:
    """The spelling "كتايب" (ya instead of the hamza seat) folds like "كتائب"."""
    assert fired(militias, "كتايب حزب الله") == ["kataib-hezbollah"]


# --- acronyms ----------------------------------------------------------------------------------------------------


def test_acronym_is_case_sensitive(militias: Matcher) -> None:
    """The acronym "KH" matches only in capitals: "kh" and "Kh" are not the acronym."""
    assert fired(militias, "KH denies the report") == ["kataib-hezbollah"]
    assert fired(militias, "kh denies the report") == []
    assert fired(militias, "Kh denies the report") == []


@pytest.mark.parametrize("title", ["KHAN market reopens", "The SKH report", "AKH-47 rifles", "KH2 engine", "KH_1"])
def test_acronym_is_a_whole_word(militias: Matcher, title: str) -> None:
    """The acronym "KH" inside a longer word or token does not match."""
    assert fired(militias, title) == []


@pytest.mark.parametrize("title", ["(KH) denies", "KH-backed group", "KH's statement", "Raid on KH.", "«KH»"])
def test_acronym_next_to_punctuation(militias: Matcher, title: str) -> None:
    """Punctuation around an acronym is a word boundary."""
    assert fired(militias, title) == ["kataib-hezbollah"]


def test_acronym_hit_reports_its_place(militias: Matcher) -> None:
    """An acronym hit carries the acronym as its alias and its offsets in the original title."""
    (found,) = militias.match_text("Statement by the PMU today")
    (hit,) = found.hits
    assert (hit.alias, hit.text, hit.start, hit.end, hit.score) == ("PMU", "PMU", 17, 20, 100.0)


# --- offsets and scores ------------------------------------------------------------------------------------------


def test_exact_hit_offsets_point_into_the_title(militias: Matcher) -> None:
    """Hits report the original text, its offsets, the alias as written and score 100."""
    title = "Iraq: “Kata’ib Hezbollah” warns"
    (found,) = militias.match_text(title)
    (hit,) = found.hits
    assert title[hit.start : hit.end] == hit.text == "Kata’ib Hezbollah"
    assert (hit.term, hit.kind, hit.field, hit.alias, hit.score) == (
        "kataib-hezbollah",
        "actor",
        "title",
        "Kata'ib Hezbollah",
        100.0,
    )
    assert found.score == 100.0


def test_fuzzy_hit_scores_below_100(militias: Matcher) -> None:
    """A fuzzy hit reports the text as written, the alias it resembles and a similarity under 100."""
    title = "Kataeb Hizbollah denies"
    (found,) = militias.match_text(title)
    (hit,) = found.hits
    assert hit.text == "Kataeb Hizbollah"
    assert hit.alias == "Kataeb Hezbollah"
    assert 80 < hit.score < 100
    assert found.score == hit.score


def test_possessive_is_outside_the_hit(militias: Matcher) -> None:
    """A possessive is left out: "Hezbollah's" reports "Hezbollah"."""
    (found,) = militias.match_text("Hezbollah's chief")
    assert [hit.text for hit in found.hits] == ["Hezbollah"]


def test_leading_al_is_inside_the_hit_when_the_alias_has_it(militias: Matcher) -> None:
    """The alias "al-Nujaba" reports "al-Nujaba" in the text, with the article."""
    (found,) = militias.match_text("Statement from al-Nujaba today")
    assert [hit.text for hit in found.hits] == ["al-Nujaba"]


def test_arabic_hit_span_includes_its_diacritics(militias: Matcher) -> None:
    """The span of an Arabic hit covers the word with its harakat."""
    title = "بيان كَتَائِبُ حِزْبِ اللهِ اليوم"
    (found,) = militias.match_text(title)
    (hit,) = found.hits
    assert hit.text == "كَتَائِبُ حِزْبِ اللهِ"
    assert title[hit.start : hit.end] == hit.text


def test_summary_offsets_refer_to_the_tag_stripped_text(militias: Matcher) -> None:
    """Summary and content are HTML: hits are offsets into `strip_html(summary)`."""
    summary = "<p>Officials said <b>Kata&#39;ib</b> Hezbollah was behind it.</p>"
    (found,) = militias.match_text("Drone attack", summary)
    (hit,) = found.hits
    assert hit.field == "summary"
    assert strip_html(summary)[hit.start : hit.end] == hit.text == "Kata'ib Hezbollah"


def test_match_searches_title_summary_and_content(militias: Matcher) -> None:
    """`match(entry)` looks in all three fields and says where each hit is."""
    entry = Entry(
        entry_id="1",
        title="Hadi returns",
        link="https://example.org/1",
        summary="<p>He met PMF leaders.</p>",
        content="<div>Later, Nujaba commanders joined.</div>",
    )
    found = {match.rule: match.hits[0].field for match in militias.match(entry)}
    assert found == {"hadi": "title", "pmf": "summary", "nujaba": "content"}


def test_content_repeating_the_summary_is_searched_once(militias: Matcher) -> None:
    """When the content contains the summary, the summary's words are found once, in the content."""
    found = militias.match_text("Report", "<p>Hadi returns.</p>", "<p>Hadi returns.</p><p>More text.</p>")
    assert [(hit.field, hit.text) for match in found for hit in match.hits] == [("content", "Hadi")]


def test_results_are_sorted_by_severity_then_name(militias: Matcher) -> None:
    """Matches come most severe first, then by rule name."""
    assert fired(militias, "PMF, Hadi, Sudani and KH meet") == ["kataib-hezbollah", "hadi", "sudani", "pmf"]


def test_results_are_deterministic(militias: Matcher) -> None:
    """The same text gives the same matches every time (the fuzzy memo changes nothing)."""
    title = "Kataeb Hizbollah and Hizbullah Brigades and al-Nujaba near Sudan"
    first = militias.match_text(title)
    assert militias.match_text(title) == first
    assert militias.match_text(title) == first


def test_match_carries_targets_and_matched_texts(tmp_path: Path) -> None:
    """A match lists the rule's targets and the distinct texts that matched."""
    matcher = compile_rules(
        tmp_path, '[actors.a]\nname = "Alpha Group"\n[rules.r]\nany = ["a"]\ntargets = ["ops", "mail"]\n'
    )
    (found,) = matcher.match_text("Alpha Group and alpha group again")
    assert found.targets == ("ops", "mail")
    assert found.matched == ["Alpha Group", "alpha group"]


def test_empty_texts_match_nothing(militias: Matcher) -> None:
    """Empty or blank fields are fine and match nothing."""
    assert militias.match_text("") == []
    assert militias.match_text("   ", "<p></p>", "") == []


# --- fuzziness ---------------------------------------------------------------------------------------------------

FUZZY = """\
[actors.kh]
name = "Kataib Hezbollah"
[actors.sudani]
name = "Sudani"
[actors.hashd]
name = "Hashd Shaabi"
[actors.muhandis]
name = "Abu Mahdi al-Muhandis"

[rules.off]
any = ["kh", "sudani", "hashd", "muhandis"]
fuzziness = "off"
[rules.strict]
any = ["kh", "sudani", "hashd", "muhandis"]
[rules.loose]
any = ["kh", "sudani", "hashd", "muhandis"]
fuzziness = "loose"
"""


@pytest.fixture(scope="module")
def fuzzy(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return compile_rules(tmp_path_factory.mktemp("fuzzy"), FUZZY)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Kataib Hezbollah", ["loose", "off", "strict"]),
        ("Kataib Hizbollah", ["loose", "strict"]),  # 9 letters, 1 edit
        ("Kataib Hizballah", ["loose", "strict"]),  # 9 letters, 2 edits
        ("Kataib Hizbollahh", ["loose", "strict"]),  # 9 letters, 2 edits
        ("Kataib Hizbullahh", []),  # 3 edits: too many even for loose at 9-10 letters
        ("Kataeb Hizballah", []),  # both words fuzzy: more than half of the name
        ("Kataib Gezbollah", []),  # a fuzzy word keeps its first letter
        ("Sodani", ["loose", "strict"]),  # 6 letters, 1 edit inside the word
        ("Sudanis", ["loose"]),  # differs at the end: loose only
        ("Sudan", ["loose"]),  # 5 letters: loose only
        ("Hashd Shabi", ["loose"]),  # "shaabi" 6 vs "shabi" 5: 5-letter words are exact unless loose
        ("Abu Mahdi al-Mohandis", ["loose", "strict"]),  # 1 of 3 words, 8 letters, 1 edit
        ("Abu Mehdi al-Mohandis", []),  # 2 of 3 words fuzzy
    ],
)
def test_fuzziness_levels(fuzzy: Matcher, title: str, expected: list[str]) -> None:
    """off is exact only; strict and loose allow the documented edits per word and fuzzy words per name."""
    assert sorted(fired(fuzzy, title)) == expected


def test_edit_budget_table() -> None:
    """The documented limits: strict <6 exact, 6-8 one edit, 9+ two; loose <5 exact, 5-7 one, 8-11 two."""
    assert [edit_budget(n, 1) for n in (3, 5, 6, 8, 9, 15)] == [0, 0, 1, 1, 2, 2]
    assert [edit_budget(n, 2) for n in (4, 5, 7, 8, 11, 12)] == [0, 1, 1, 2, 2, 3]
    assert edit_budget(12, 0) == 0


def test_fuzzy_hit_is_whole_words(fuzzy: Matcher) -> None:
    """A fuzzy hit covers whole words of the text."""
    (found,) = [m for m in fuzzy.match_text("Attack by Kataib Hizbollah, officials say") if m.rule == "strict"]
    assert [hit.text for hit in found.hits] == ["Kataib Hizbollah"]


def test_name_written_as_one_word(tmp_path: Path) -> None:
    """A two-word name also matches written as one word ("Ansar Allah" ~ "Ansarallah", "Ansarullah")."""
    matcher = compile_rules(tmp_path, '[actors.h]\nname = "Ansar Allah"\n[rules.h]\nany = ["h"]\n')
    assert fired(matcher, "Ansarallah statement") == ["h"]
    assert fired(matcher, "Ansarullah statement") == ["h"]
    assert fired(matcher, "Ansar statement") == []


# --- rule logic ----------------------------------------------------------------------------------------------------

LOGIC = """\
[actors.kh]
name = "Kataib Hezbollah"
exclude = ["Lebanese Kataeb party"]
[actors.nujaba]
name = "Nujaba"
[themes.disarm]
phrases = ["disarm*", "hand over weapons"]
[themes.deal]
phrases = ["agreement", "deal"]

[rules.any-two]
any = ["kh", "nujaba"]
[rules.all-of]
all = ["disarm", ["kh", "nujaba"]]
[rules.within]
any = ["kh"]
all = ["disarm"]
within = 3
[rules.sentence]
any = ["kh"]
all = ["disarm"]
same_sentence = true
[rules.vetoed]
any = ["kh"]
exclude = ["Yemen", "nujaba"]
"""


@pytest.fixture(scope="module")
def logic(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return compile_rules(tmp_path_factory.mktemp("logic"), LOGIC)


def test_any_needs_one_term(logic: Matcher) -> None:
    """`any` fires on one of its terms."""
    assert "any-two" in fired(logic, "Nujaba statement")
    assert "any-two" not in fired(logic, "Militia statement")


def test_all_needs_every_group(logic: Matcher) -> None:
    """`all` needs one term of every group: a theme alone or an actor alone is not enough."""
    assert "all-of" in fired(logic, "Nujaba agrees to disarm")
    assert "all-of" in fired(logic, "Kataib Hezbollah to hand over weapons")
    assert "all-of" not in fired(logic, "Nujaba statement")
    assert "all-of" not in fired(logic, "Calls to disarm militias")


def test_groups_may_be_met_in_different_fields(logic: Matcher) -> None:
    """Without `within`/`same_sentence`, the needed terms may be in different fields."""
    assert "all-of" in fired(logic, "Nujaba statement", "<p>The group refuses to disarm.</p>")


def test_within_counts_words_between_terms(logic: Matcher) -> None:
    """`within = 3`: at most 3 words between the terms, in either order."""
    assert "within" in fired(logic, "Kataib Hezbollah disarms")
    assert "within" in fired(logic, "Kataib Hezbollah will disarm")
    assert "within" in fired(logic, "Kataib Hezbollah says it will disarm")
    assert "within" not in fired(logic, "Kataib Hezbollah says that it will disarm")
    assert "within" in fired(logic, "Calls to disarm Kataib Hezbollah")  # theme first


def test_within_does_not_count_al(logic: Matcher) -> None:
    """Optional articles do not count as words between terms."""
    assert "within" in fired(logic, "Kataib Hezbollah al-Iraqi will disarm")


def test_within_needs_the_same_field(logic: Matcher) -> None:
    """Terms in the title and the summary are never "within" each other."""
    assert "within" not in fired(logic, "Kataib Hezbollah", "<p>disarm</p>")


def test_within_reports_the_closest_pair(logic: Matcher) -> None:
    """With several hits, the reported hits are a pair that satisfies the window."""
    (found,) = [
        m
        for m in logic.match_text("Disarm talks stalled for months. Then Kataib Hezbollah agreed to disarm")
        if m.rule == "within"
    ]
    assert [hit.text for hit in found.hits] == ["Kataib Hezbollah", "disarm"]
    assert found.hits[1].start > 30


def test_same_sentence(logic: Matcher) -> None:
    """`same_sentence`: split at . ! ? ؟ and line breaks, not at the periods of "U.S."."""
    assert "sentence" in fired(logic, "Kataib Hezbollah says it will never, ever disarm")
    assert "sentence" not in fired(logic, "Kataib Hezbollah speaks. Others disarm")
    assert "sentence" not in fired(logic, "Kataib Hezbollah speaks? Others disarm")
    assert "sentence" not in fired(logic, "Kataib Hezbollah speaks؟ Others disarm")
    assert "sentence" not in fired(logic, "", "<p>Kataib Hezbollah speaks</p><p>Others disarm</p>")
    assert "sentence" in fired(logic, "U.S. asks Kataib Hezbollah to disarm")
    assert "sentence" in fired(logic, "Kataib Hezbollah to disarm 3.5 thousand fighters")


def test_term_exclude_vetoes_hits_in_the_same_sentence(logic: Matcher) -> None:
    """A term's `exclude` phrase vetoes that term's hits in its sentence only."""
    assert "any-two" not in fired(logic, "Kataib Hezbollah and the Lebanese Kataeb party")
    assert "any-two" in fired(logic, "The Lebanese Kataeb party met. Kataib Hezbollah did not")


def test_rule_exclude_phrase_vetoes_anywhere(logic: Matcher) -> None:
    """A rule's `exclude` phrase anywhere in the entry (any field) vetoes the rule, and only that rule."""
    assert "vetoed" in fired(logic, "Kataib Hezbollah statement")
    found = fired(logic, "Kataib Hezbollah statement", "<p>Also in Yemen's north</p>")
    assert "vetoed" not in found
    assert "any-two" in found


def test_rule_exclude_term_vetoes(logic: Matcher) -> None:
    """An `exclude` entry naming a term vetoes the rule when that term is found."""
    assert "vetoed" not in fired(logic, "Kataib Hezbollah and Nujaba statement")


def test_exclusion_phrases_are_whole_words(logic: Matcher) -> None:
    """Exclusions are whole words: "Yemen" in "Yemeni" does not veto."""
    assert "vetoed" in fired(logic, "Kataib Hezbollah meets Yemeni delegation")


def test_prefix_phrase(logic: Matcher) -> None:
    """A phrase ending in "*" matches words starting with it, at a word start only."""
    for text in ("disarm", "disarmament", "Disarming", "disarmed"):
        assert "within" in fired(logic, f"Kataib Hezbollah {text}")
    assert "within" not in fired(logic, "Kataib Hezbollah undisarmed")
    (found,) = [m for m in logic.match_text("Kataib Hezbollah disarmament") if m.rule == "within"]
    assert [hit.text for hit in found.hits] == ["Kataib Hezbollah", "disarmament"]


def test_match_score_is_the_weakest_needed_hit(logic: Matcher) -> None:
    """`Match.score` is the lowest score among the hits the rule needed."""
    (found,) = [m for m in logic.match_text("Kataib Hizbollah agrees to disarm") if m.rule == "all-of"]
    assert found.score == min(hit.score for hit in found.hits) < 100


def test_unused_terms_are_not_compiled(tmp_path: Path) -> None:
    """Terms no rule uses are not searched."""
    matcher = compile_rules(
        tmp_path, '[actors.a]\nname = "Alpha Group"\n[actors.b]\nname = "Beta Group"\n[rules.r]\nany = ["a"]\n'
    )
    assert matcher.alias_count == 2  # "alpha group" and "alphagroup"
    assert fired(matcher, "Beta Group") == []


def test_swapped_letters_count_as_one_edit(militias: Matcher) -> None:
    """A swap of two adjacent letters is one edit: "Katiab Hezbollah" finds Kata'ib Hezbollah."""
    assert fired(militias, "Katiab Hezbollah fighters seen near the border") == ["kataib-hezbollah"]


@pytest.mark.parametrize(
    "title",
    [
        "Kataeb, Hezbollah trade accusations",
        "Lebanon's Kataeb; Hezbollah replies",
        "They met Kataeb. Hezbollah said nothing",
        "Kataeb (Hezbollah) row",
    ],
)
def test_names_do_not_match_across_punctuation(militias: Matcher, title: str) -> None:
    """A name of several words does not match across a comma, semicolon, full stop or bracket."""
    assert "kataib-hezbollah" not in fired(militias, title)


def test_alias_written_with_punctuation_matches_it(tmp_path: Path) -> None:
    """Punctuation the alias is written with is allowed in the text ("U.S. Army")."""
    matcher = compile_rules(tmp_path, '[actors.a]\nname = "U.S. Army"\n[rules.r]\nany = ["a"]\n')
    assert fired(matcher, "U.S. Army convoy hit") == ["r"]
    assert fired(matcher, "US Army convoy hit") == []  # "us" and "u s" are different words


def test_alias_with_apostrophe_s_matches_with_and_without_it(tmp_path: Path) -> None:
    """An alias written with "'s" inside a name ("Ra's al-Ayn") matches "Ra's al-Ayn" and "Ras al-Ayn"."""
    matcher = compile_rules(tmp_path, '[themes.town]\nphrases = ["Ra\'s al-Ayn"]\n[rules.r]\nany = ["town"]\n')
    assert fired(matcher, "Shelling near Ra's al-Ayn") == ["r"]
    assert fired(matcher, "Shelling near Ras al-Ain") == []  # "ain" is not "ayn": 3 letters, exact only
    assert fired(matcher, "Shelling near Ras al-Ayn") == ["r"]


def test_within_with_three_groups(tmp_path: Path) -> None:
    """With three groups, one hit of each must fit together in the window."""
    matcher = compile_rules(
        tmp_path,
        """\
        [actors.a]
        name = "Alpha Group"
        [themes.b]
        phrases = ["bravo"]
        [themes.c]
        phrases = ["charlie"]
        [rules.r]
        all = ["a", "b", "c"]
        within = 2
        """,
    )
    assert fired(matcher, "Alpha Group bravo x charlie") == ["r"]
    assert fired(matcher, "bravo x y Alpha Group x y charlie") == []
    assert fired(matcher, "bravo x y Alpha Group x y charlie. Then charlie bravo Alpha Group") == ["r"]


def test_within_and_same_sentence_together(tmp_path: Path) -> None:
    """Both constraints apply to the same choice of hits."""
    matcher = compile_rules(
        tmp_path,
        """\
        [actors.a]
        name = "Alpha Group"
        [themes.b]
        phrases = ["bravo"]
        [rules.r]
        all = ["a", "b"]
        within = 3
        same_sentence = true
        """,
    )
    assert fired(matcher, "Alpha Group says bravo") == ["r"]
    assert fired(matcher, "Alpha Group says. Bravo") == []
    assert fired(matcher, "Alpha Group says that this is bravo") == []


def test_term_exclude_applies_to_fuzzy_hits(tmp_path: Path) -> None:
    """A term's exclusion vetoes its fuzzy hits too (same sentence)."""
    matcher = compile_rules(
        tmp_path,
        '[actors.k]\nname = "Kataib Hezbollah"\nexclude = ["Lebanon"]\n[rules.r]\nany = ["k"]\n',
    )
    assert fired(matcher, "Kataib Hizbollah statement") == ["r"]
    assert fired(matcher, "Kataib Hizbollah statement on Lebanon") == []
    assert fired(matcher, "Lebanon votes. Kataib Hizbollah statement") == ["r"]


def test_hits_in_html_block_elements_are_in_different_sentences(tmp_path: Path) -> None:
    """List items and paragraphs of a summary are separate sentences."""
    matcher = compile_rules(
        tmp_path,
        '[actors.a]\nname = "Alpha Group"\n[themes.b]\nphrases = ["bravo"]\n'
        '[rules.r]\nall = ["a", "b"]\nsame_sentence = true\n',
    )
    assert fired(matcher, "", "<ul><li>Alpha Group</li><li>bravo</li></ul>") == []
    assert fired(matcher, "", "<p>Alpha Group <b>bravo</b></p>") == ["r"]


def test_shadowing_does_not_depend_on_unrelated_rules(tmp_path: Path) -> None:
    """A name inside a longer actor name is hidden whether or not the longer actor's rule is a candidate."""
    (tmp_path / "r.toml").write_text(
        """
[actors.us]
name = "United States"
aliases = ["United States"]
acronyms = ["US"]

[actors.us-embassy]
name = "US embassy"
aliases = ["US embassy", "American embassy"]

[themes.attack]
name = "attack"
phrases = ["attack on"]

[rules.us]
any = ["us"]

[rules.embassy-attack]
all = ["us-embassy", "attack"]
""",
        encoding="utf-8",
    )
    matcher = Matcher(load_rules(tmp_path))
    plain = {found.rule for found in matcher.match_text("Militia warns supporters to avoid US embassy protests")}
    attacked = {found.rule for found in matcher.match_text("Militia claims attack on US embassy")}
    assert "us" not in plain
    assert attacked == {"embassy-attack"}
