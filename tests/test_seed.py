"""monitor.seed: a document -> a draft rule file that loads, whose examples pass, and that never overwrites.

The document below is written for this test in the style of the seed article: known groups under other
spellings, names the built-in gazetteer does not know (found by capitalisation, titles and acronyms in
parentheses), Arabic script, themes, and a Title Case headline that must not produce junk names.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import MonitorError
from monitor.match import Matcher
from monitor.normalize import fold
from monitor.rules import load_rules, run_examples
from monitor.seed import (
    DRAFT_HEADER,
    SeedActor,
    SeedDraft,
    SeedError,
    derive_variants,
    render_draft_toml,
    seed_document,
    write_draft,
)

DOCUMENT = """\
Baghdad Weighs Militia Weapons Plan As Washington Raises The Stakes

Iraqi Defence Minister Thabit al-Abbasi said on Tuesday that a committee would draw up a list of heavy weapons \
held by the factions, after Washington warned of targeted airstrikes if attacks on its bases resumed.

Kata'ib Hizballah and Harakat al-Nujaba did not comment. A spokesman for Asa'ib Ahl al-Haq (AAH), \
Kadhim al-Fartousi, said the group was ready to hand over weapons to the state if the Popular Mobilization \
Forces (PMF) were kept as a state institution.

A smaller faction, the Tigris Defence Brigades (TDB), and the little-known Harakat Hizballah al-Abrar \
rejected any talk of disarmament and vowed to keep their arms.

Officials in Baghdad said Iran's Quds Force had advised the groups to accept a state monopoly on arms.
كتائب حزب الله لم تعلق على الخطة.
"""


@pytest.fixture(scope="module")
def draft() -> SeedDraft:
    """The draft seeded from DOCUMENT."""
    return seed_document(DOCUMENT, source_name="militia-weapons-plan.txt")


def actor(draft: SeedDraft, actor_id: str) -> SeedActor:
    """The draft's actor with this id (fails the test when missing)."""
    found = {a.id: a for a in draft.actors}
    assert actor_id in found, f"{actor_id} not in {sorted(found)}"
    return found[actor_id]


def actor_named(draft: SeedDraft, name: str) -> SeedActor:
    """The draft's actor with this display name (fails the test when missing)."""
    found = {a.name: a for a in draft.actors}
    assert name in found, f"{name!r} not in {sorted(found)}"
    return found[name]


def test_known_groups_are_found_under_other_spellings(draft: SeedDraft) -> None:
    """Gazetteer groups are found as the document spells them, Arabic included, with their acronyms."""
    kh = actor(draft, "kataib-hezbollah")
    assert kh.known
    assert kh.kind == "organisation"
    assert "Kata'ib Hizballah" in kh.aliases
    assert "كتائب حزب الله" in kh.aliases
    assert kh.mentions == 2  # the English and the Arabic sentence
    assert actor(draft, "nujaba").known
    assert "AAH" in actor(draft, "asaib-ahl-al-haq").acronyms
    assert "PMF" in actor(draft, "pmf").acronyms
    assert actor(draft, "quds-force").known


def test_unknown_organisations_are_found_by_capitals_and_acronyms(draft: SeedDraft) -> None:
    """A group named with an acronym in parentheses and one named by capitals alone become organisations."""
    tigris = actor_named(draft, "Tigris Defence Brigades")
    assert tigris.kind == "organisation"
    assert tigris.acronyms == ("TDB",)
    assert not tigris.known
    abrar = actor_named(draft, "Harakat Hizballah al-Abrar")
    assert abrar.kind == "organisation"


def test_people_are_found_after_titles(draft: SeedDraft) -> None:
    """A name after "Defence Minister" and one after "spokesman ..., " are people, not organisations."""
    assert actor_named(draft, "Thabit al-Abbasi").kind == "person"
    assert actor_named(draft, "Kadhim al-Fartousi").kind == "person"


def test_places_are_kept_and_headline_capitals_are_not_names(draft: SeedDraft) -> None:
    """Places are found; the Title Case headline and sentence-initial words yield no made-up names."""
    assert actor_named(draft, "Baghdad").kind == "place"
    names = {a.name for a in draft.actors}
    for junk in ("Baghdad Weighs Militia Weapons Plan", "Weighs", "Raises The Stakes", "Officials", "A", "Iraqi"):
        assert junk not in names


def test_variants_are_derived(draft: SeedDraft) -> None:
    """Transliteration variants: Hizballah/Hezbollah/Hizbullah, Kata'ib/Kataeb, al- dropped, a person's nisba."""
    kh = {fold(alias) for alias in actor(draft, "kataib-hezbollah").aliases}
    assert {fold("Kataeb Hezbollah"), fold("Kata'ib Hizbullah")} <= kh
    abrar = actor_named(draft, "Harakat Hizballah al-Abrar").aliases
    assert {"Harakat Hezbollah al-Abrar", "Harakat Hizbullah al-Abrar", "Harakat Hizballah Abrar"} <= set(abrar)
    abbasi = actor_named(draft, "Thabit al-Abbasi").aliases
    assert {"Thabit Abbasi", "al-Abbasi", "Abbasi"} <= set(abbasi)


def test_derive_variants_of_the_seed_article_spellings() -> None:
    """The article's own spellings get the usual variants (and never the name itself)."""
    assert "Shia" in " ".join(derive_variants("Shiite Coordination Framework"))
    assert "Muhammad Shia al-Sudani" in derive_variants("Mohammed Shia al-Sudani", person=True)
    assert "Sudani" in derive_variants("Mohammed Shia al-Sudani", person=True)
    assert "Izzat al-Shahbandar" in derive_variants("Izzat al-Shahbndar", person=True)
    assert "Nujaba" in derive_variants("al-Nujaba")
    assert "al-Nujaba" not in derive_variants("al-Nujaba")


def test_themes_are_found_with_the_phrases_used(draft: SeedDraft) -> None:
    """Disarmament, strikes, warnings and state control are found, with the document's own phrases first."""
    themes = {theme.id: theme for theme in draft.themes}
    assert {"disarmament", "strikes", "warnings", "state-control", "attacks"} <= set(themes)
    assert "hand over weapons" in themes["disarmament"].found
    assert themes["strikes"].phrases[0] == "airstrikes"
    assert "state monopoly" in themes["state-control"].found


def test_rendered_draft_loads_and_its_examples_pass(draft: SeedDraft, tmp_path: Path) -> None:
    """The TOML starts with the DRAFT header, loads with load_rules, and every match example fires its rule."""
    text = render_draft_toml(draft)
    assert text.startswith(DRAFT_HEADER + "\n")
    path = tmp_path / "rules"
    path.mkdir()
    (path / "draft.toml").write_text(text, encoding="utf-8")
    ruleset = load_rules(path)
    rules = {rule.name: rule for rule in ruleset.rules}
    for seeded in draft.actors:
        rule = rules[seeded.id]
        assert rule.severity == "medium"
        assert rule.any_of == (seeded.id,)
        assert [example.text for example in rule.examples if example.should_match] == [seeded.sentence]
    assert "disarmament-with-actors" in rules
    results = run_examples(ruleset, Matcher(ruleset))
    assert results
    assert [r for r in results if not r.passed] == []


def test_seed_article_draft_loads(tmp_path: Path) -> None:
    """The project's seed article drafts into a rule file that loads and whose examples pass."""
    article = Path(__file__).resolve().parent.parent / "seeds" / "iraq-militias-disarmament.txt"
    draft = seed_document(article.read_text(encoding="utf-8"), source_name=article.name)
    ids = {a.id for a in draft.actors}
    assert {"kataib-hezbollah", "nujaba", "kataib-sayyid-al-shuhada", "ansar-allah-al-awfiya"} <= ids
    assert {"islamic-resistance-in-iraq", "irgc", "sudani", "izzat-al-shahbandar", "farhad-alaadin"} <= ids
    written = write_draft(render_draft_toml(draft), tmp_path, "article")
    written.rename(tmp_path / "article.toml")  # what the reviewer does; drafts themselves are not loaded
    ruleset = load_rules(tmp_path)
    assert [r for r in run_examples(ruleset, Matcher(ruleset)) if not r.passed] == []


def test_seeding_is_deterministic() -> None:
    """The same text gives the same draft and the same TOML."""
    first = seed_document(DOCUMENT, source_name="x.txt")
    second = seed_document(DOCUMENT, source_name="x.txt")
    assert first == second
    assert render_draft_toml(first) == render_draft_toml(second)


def test_a_document_without_names_renders_an_empty_draft() -> None:
    """No names: no actors, and the draft says so instead of inventing rules."""
    draft = seed_document("nothing to see here, only lowercase words.\n", source_name="empty.txt")
    assert draft.actors == ()
    assert "No organisation, person or place was found" in render_draft_toml(draft)


def test_write_draft_never_overwrites(tmp_path: Path) -> None:
    """Drafts go to NAME.draft.toml, then NAME.draft-2.toml, ...; reviewed and earlier files stay untouched."""
    reviewed = tmp_path / "militias.toml"
    reviewed.write_text("# reviewed by an analyst\n", encoding="utf-8")
    first = write_draft("one\n", tmp_path, "militias")
    second = write_draft("two\n", tmp_path, "militias")
    third = write_draft("three\n", tmp_path, "militias.toml")
    assert first == tmp_path / "militias.draft.toml"
    assert second == tmp_path / "militias.draft-2.toml"
    assert third == tmp_path / "militias.draft-3.toml"
    assert reviewed.read_text(encoding="utf-8") == "# reviewed by an analyst\n"
    assert [p.read_text(encoding="utf-8") for p in (first, second, third)] == ["one\n", "two\n", "three\n"]


def test_write_draft_creates_the_directory_and_strips_paths_from_the_name(tmp_path: Path) -> None:
    """A missing output directory is created; a name with directories cannot write outside it."""
    written = write_draft("x\n", tmp_path / "new" / "dir", "../../escape")
    assert written == tmp_path / "new" / "dir" / "escape.draft.toml"


def test_write_draft_reports_an_unwritable_directory(tmp_path: Path) -> None:
    """A directory that cannot be created is a SeedError (a MonitorError) naming the path, not a traceback."""
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(SeedError) as caught:
        write_draft("x\n", blocker / "sub", "draft")
    assert isinstance(caught.value, MonitorError)
    assert str(blocker / "sub") in caught.value.one_line()
    with pytest.raises(SeedError, match="not a directory"):
        write_draft("x\n", blocker, "draft")


def test_titles_split_names_and_places() -> None:
    """A title inside a capitalised run starts a person; "X in <place>" is a person and a place."""
    text = (
        "PMF commander Abu Fadak al-Mohammedawi met US Ambassador Alina Romanowski in Baghdad on Monday.\n"
        "Hezbollah Secretary-General Naim Qassem said the group would not disarm.\n"
        "The little-known Saraya Awliya al-Dam denied the attack."
    )
    found = {a.name: a.kind for a in seed_document(text, source_name="t.txt").actors}
    assert found["Alina Romanowski"] == "person"
    assert found["Baghdad"] == "place"
    assert found["Naim Qassem"] == "person"
    assert found["Saraya Awliya al-Dam"] == "organisation"
    assert found["Abu Fadak al-Mohammedawi"] == "person"
    assert "Alina Romanowski in Baghdad" not in found
