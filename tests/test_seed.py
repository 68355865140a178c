"""monitor.seed: one pasted article -> a draft rule file for a new story, in English or Arabic.

The articles are written for these tests (tests/data/seed/README.md), about stories the shipped rules do not
cover, so nothing here passes because a built-in list already knows the story.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from monitor.errors import MonitorError
from monitor.match import Matcher
from monitor.normalize import fold
from monitor.rules import load_rules, rules_from_text, run_examples, shipped_rules_dir
from monitor.seed import CONTEXT, CORE, DRAFT_HEADER, Actor, SeedDraft, SeedError, seed_document, write_draft
from monitor.seed.lexicon import transliteration
from monitor.seed.variants import spellings
from tests.feedgen import item, rss
from tests.feedserver import FeedServer
from tests.test_cli import monitor
from tests.test_end_to_end import IRRELEVANT, RELEVANT, make_config

DATA = Path(__file__).resolve().parent / "data" / "seed"
TARHUNA = DATA / "tarhuna-graves.txt"
DERNA = DATA / "derna-floods-ar.txt"


@pytest.fixture(scope="module")
def tarhuna() -> SeedDraft:
    """The draft seeded from the English fixture article."""
    return seed_document(TARHUNA.read_text(encoding="utf-8"), source_name=TARHUNA.name)


@pytest.fixture(scope="module")
def derna() -> SeedDraft:
    """The draft seeded from the Arabic fixture article."""
    return seed_document(DERNA.read_text(encoding="utf-8"), source_name=DERNA.name)


def named(draft: SeedDraft, name: str) -> Actor:
    """The draft's actor with this name (fails the test when missing)."""
    found = {actor.name: actor for actor in draft.actors}
    assert name in found, f"{name!r} not in {sorted(found)}"
    return found[name]


def fired(draft: SeedDraft, title: str, summary: str = "") -> set[str]:
    """The draft's rules (without their story prefix) that fire on a headline."""
    ruleset, errors = rules_from_text(draft.text, Path("draft.toml"))
    assert ruleset is not None, errors
    return {match.rule.removeprefix(draft.story + "-") for match in Matcher(ruleset).match_text(title, summary)}


def test_single_word_names_of_the_story_are_core(tarhuna: SeedDraft) -> None:
    """A one-word group and a one-word town the article keeps naming are core names: they alert alone."""
    assert named(tarhuna, "Kaniyat").scope == CORE
    assert named(tarhuna, "Tarhuna").scope == CORE
    assert fired(tarhuna, "Kaniyat commander arrested in Misrata") == {"core"}
    assert fired(tarhuna, "Families of Tarhuna's missing march on parliament") == {"core"}


def test_a_nickname_the_article_defines_is_an_alias(tarhuna: SeedDraft) -> None:
    """ "known universally by his sobriquet Abu Tahseen" makes Abu Tahseen an alias of the man."""
    leader = named(tarhuna, "Mohammed al-Kani")
    assert leader.scope == CORE
    assert "Abu Tahseen" in leader.nicknames
    assert "core" in fired(tarhuna, "Abu Tahseen's brother captured, officials say")


def test_broad_actors_are_context_and_never_alert_alone(tarhuna: SeedDraft) -> None:
    """A country and a head of government alert only with the story's words in the same sentence."""
    assert named(tarhuna, "Libya").scope == CONTEXT
    assert named(tarhuna, "Abdul Hamid Dbeibah").scope == CONTEXT
    assert fired(tarhuna, "Libya signs oil deal with Italian firm") == set()
    assert fired(tarhuna, "Dbeibah opens new hospital in Misrata") == set()
    core = next(rule for rule in tarhuna.rules if rule.id.endswith("-core"))
    context_ids = {term.id for term in tarhuna.terms if term.comment.startswith("context")}
    assert not context_ids & set(core.any_of)


def test_a_persons_surname_alone_is_an_alias_without_al(tarhuna: SeedDraft) -> None:
    """A person is named by surname on second mention ("Dbeibah"), "al-" or not."""
    term = tarhuna.term(f"{tarhuna.story}-abdul-hamid-dbeibah")
    assert term is not None
    assert "Dbeibah" in term.forms


def test_demonyms_are_not_glued_to_names(tarhuna: SeedDraft) -> None:
    """ "Libyan Kaniyat fighters" names the Kaniyat (and Libya), never an actor "Libyan Kaniyat"."""
    from monitor.seed.text import read_document

    names = {actor.name for actor in tarhuna.actors}
    assert not any(name.startswith("Libyan ") for name in names)
    sentences = read_document(TARHUNA.read_text(encoding="utf-8")).sentences
    fighters = next(sentence.index for sentence in sentences if "Libyan Kaniyat fighters" in sentence.text)
    assert fighters in named(tarhuna, "Kaniyat").sentences


def test_bylines_credits_datelines_and_outlets_are_not_actors(tarhuna: SeedDraft) -> None:
    """The byline, the photo credit, the agency of the dateline and a newspaper cited are left out."""
    names = {fold(actor.name) for actor in tarhuna.actors}
    for left_out in ("Jane Doe", "Omar Farouk", "John Smith", "AP", "Libya Observer", "TRIPOLI", "Read more"):
        assert fold(left_out) not in names, left_out
    acronyms = {acronym for term in tarhuna.terms for acronym in term.acronyms}
    assert "AP" not in acronyms


def test_ids_carry_the_story_name_and_the_draft_loads_beside_the_shipped_rules(
    tarhuna: SeedDraft, tmp_path: Path
) -> None:
    """Every id starts with the story's name, so the draft renamed into the shipped rules collides with none."""
    assert tarhuna.story == "tarhuna-graves"
    assert all(term.id.startswith("tarhuna-graves-") for term in tarhuna.terms)
    assert all(rule.id.startswith("tarhuna-graves-") for rule in tarhuna.rules)
    rules = tmp_path / "rules"
    shutil.copytree(shipped_rules_dir(), rules)
    written = write_draft(tarhuna.text, rules, "tarhuna-graves")
    written.rename(rules / "tarhuna-graves.toml")
    ruleset = load_rules(rules)
    assert {rule.name for rule in ruleset.rules} >= {rule.id for rule in tarhuna.rules}


def test_the_draft_passes_its_own_examples(tarhuna: SeedDraft, derna: SeedDraft) -> None:
    """The file starts with the DRAFT header, loads alone, has examples, and every example passes."""
    for draft in (tarhuna, derna):
        assert draft.text.startswith(DRAFT_HEADER + "\n")
        ruleset, errors = rules_from_text(draft.text, Path("draft.toml"))
        assert ruleset is not None, errors
        results = run_examples(ruleset, Matcher(ruleset))
        assert results
        assert [result for result in results if not result.passed] == []


def test_the_story_terms_and_their_synonyms_make_a_broad_actor_alert(tarhuna: SeedDraft) -> None:
    """A country with a story phrase of the article ("mass graves") alerts; with other words it does not."""
    assert fired(tarhuna, "Libya: mass grave found near Misrata") == {"context"}
    assert fired(tarhuna, "Libya's parliament meets in Sirte") == set()


def test_transliteration_variants_and_arabic_script() -> None:
    """Known name words come in every spelling and in Arabic script; unknown ones get the usual alternations."""
    table = transliteration()
    kataib = spellings("Kataib Hezbollah", table)
    assert "كتائب حزب الله" in kataib
    assert {"Kataeb Hezbollah", "Kataib Hizbollah", "Kataib Hizballah"} <= set(kataib)
    assert {"Gaddafi", "Kaddafi"} <= set(spellings("Qaddafi", table))
    assert "Edlib" in spellings("Idlib", table)
    assad = spellings("al-Assad", table)
    assert "al-Asad" in assad
    keys = [" ".join(w for w in fold(form).split() if w not in ("al", "el")) for form in assad]
    assert len(keys) == len(set(keys))
    assert "assad" not in keys


def test_transliterations_the_draft_makes_match_other_spellings() -> None:
    """A draft seeded with "Moammar Qaddafi" alerts on Gaddafi and Kadhafi (a spelling plus the fuzzy stage)."""
    text = (
        "Qaddafi's son seeks Libyan presidency\n\n"
        "Saif al-Islam Qaddafi, the son of Moammar Qaddafi, registered on Sunday as a candidate. "
        "Qaddafi loyalists in Sirte welcomed the move, officials said. The younger Qaddafi is wanted by the "
        "International Criminal Court."
    )
    draft = seed_document(text, source_name="qaddafi.txt")
    assert fired(draft, "Gaddafi's son barred from election")
    assert fired(draft, "Kadhafi loyalists protest in Sirte")


def test_arabic_article_finds_its_place_country_and_event_words(derna: SeedDraft) -> None:
    """An Arabic article gives a core place, its country as context (through "وتركيا"-style clitics) and the
    flood words of the thesaurus, in Arabic."""
    assert derna.language == "ar"
    assert named(derna, "درنة").scope == CORE
    assert named(derna, "Libya").scope == CONTEXT
    assert "Turkey" in {actor.name for actor in derna.actors}  # written "وتركيا" in the article
    assert fired(derna, "ارتفاع حصيلة ضحايا الفيضانات في درنة") == {"core"}
    assert fired(derna, "ليبيا: السيول تجرف أحياء كاملة") == {"context"}
    assert fired(derna, "ليبيا توقع اتفاقا نفطيا") == set()


def test_the_seed_article_of_the_shipped_story_drafts_its_militias(tmp_path: Path) -> None:
    """The shipped story's own article: its militias (named once, in a list of groups) are core names."""
    article = Path(__file__).resolve().parent.parent / "seeds" / "iraq-militias-disarmament.txt"
    draft = seed_document(article.read_text(encoding="utf-8"), source_name=article.name)
    core = {actor.name for actor in draft.actors if actor.scope == CORE}
    assert {"Kataeb Hezbollah", "al-Nujaba", "Ansar Allah al-Awfiya"} <= core
    assert {"Iraq", "Iran"} <= {actor.name for actor in draft.actors if actor.scope == CONTEXT}
    assert "Trump" not in core
    assert "United States" not in core
    assert fired(draft, "Kata'ib Hizballah says it will not disarm") >= {"core"}


def test_seeding_is_deterministic() -> None:
    """The same text gives the same draft text."""
    text = TARHUNA.read_text(encoding="utf-8")
    assert seed_document(text, source_name="x.txt").text == seed_document(text, source_name="x.txt").text


def test_a_document_without_names_renders_an_empty_draft() -> None:
    """No names and no story words: no rules, and the draft says so instead of inventing some."""
    draft = seed_document("nothing to see here, only lowercase words.\n", source_name="empty.txt")
    assert draft.rules == ()
    assert "nothing to watch yet" in draft.text


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


def _stored_headlines(tmp_path: Path, feed_server: FeedServer, titles: list[str]) -> Path:
    """A configuration whose database holds `titles`, stored by a real `monitor run --once` of a local feed."""
    feed_server.set_feed("/wire.xml", rss([item(title, guid=f"g{number}") for number, title in enumerate(titles)]))
    config = make_config(tmp_path, [feed_server.url("/wire.xml")], [])
    done = monitor("--config", str(config), "run", "--once", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return config


def test_seed_checks_the_draft_against_stored_entries(tmp_path: Path, feed_server: FeedServer) -> None:
    """With stored entries, `monitor seed` shows each drafted rule's alerts among them and flags a broad rule."""
    titles = [f"Libya: mass grave found near town number {number}" for number in range(8)]
    titles += ["Kaniyat commander arrested", *(f"Weather in Tripoli on day {number}" for number in range(20))]
    config = _stored_headlines(tmp_path, feed_server, titles)
    done = monitor("--config", str(config), "seed", str(TARHUNA), "--out", str(tmp_path / "drafts"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "drafts" / "tarhuna-graves.draft.toml").is_file()
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.startswith("tarhuna-graves-")}
    assert rows["tarhuna-graves-core"].split()[1] == "1"
    assert "TOO BROAD" in rows["tarhuna-graves-context"]  # 8 of 29 entries
    assert "29 entries" in done.stderr


def test_rules_check_history_json_and_an_empty_database(tmp_path: Path, feed_server: FeedServer) -> None:
    """`rules check --history 30d --json` gives one object per rule; with no entries it says so."""
    config = _stored_headlines(tmp_path, feed_server, [RELEVANT, IRRELEVANT])
    done = monitor("--config", str(config), "rules", "check", "--history", "30d", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert records
    assert {"rule", "alerts", "entries", "share", "too_broad", "samples"} <= set(records[0])
    fired = {record["rule"]: record for record in records if record["alerts"]}
    assert fired
    assert all(record["samples"] == [RELEVANT] for record in fired.values())
    (tmp_path / "empty").mkdir()
    empty = make_config(tmp_path / "empty", [], [])
    done = monitor("--config", str(empty), "rules", "check", "--history", "30d", cwd=tmp_path)
    assert done.returncode == 0
    assert "no database yet" in done.stderr


def test_match_reads_a_whole_archive_file_and_says_what_a_cap_left_out(tmp_path: Path) -> None:
    """A file of 2,500 items is matched whole (a feed gives 1,000); past the file limit a line says how many
    items were left out, and --json output stays pure JSON."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.toml").write_text('[actors.k]\nname = "Kaniyat"\n[rules.k]\nany = ["k"]\n', encoding="utf-8")
    archive = tmp_path / "archive.xml"
    archive.write_bytes(rss([item(f"Kaniyat report {number}", guid=f"a{number}") for number in range(2_500)]))
    done = monitor("match", str(archive), "--json", "--rules", str(rules), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 2_500
    huge = tmp_path / "huge.xml"
    huge.write_bytes(rss([item(f"Kaniyat report {number}", guid=f"h{number}") for number in range(10_400)]))
    done = monitor("match", str(huge), "--json", "--rules", str(rules), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()]  # pure JSON lines
    assert "400 items left out" in done.stderr
