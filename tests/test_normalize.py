"""Text folding: what counts as "the same word" for rules and entries, and where folded words sit."""

from __future__ import annotations

import pytest

from monitor.normalize import WordSpans, fold, fold_with_offsets, fold_words, strip_html

SAMPLES = [
    "Kata'ib Hizballah claims drone strike on US base",
    "Kata’ib Sayyid al-Shuhada — “the martyrs’ masters”",
    "Sudan's army clashes with RSF; Hezbollah’s leader spoke",
    "كَتَائِبُ حِزْبِ اللهِ تعلن",
    "ـالحشـد الشعبي، أمس؟ إيران وآية الله",
    "İstanbul STRASSE ß ﬁnal ＫＨ",
    "Nujaba\u0301 said \u200cthe soft\u00adhyphen",
    "½ price: 3.5% up… U.S.-led",
    "'quoted' and ``backticked´´",
    "   \t\n  ",
    "",
    "Ḥizballah Ṣadr ʿAṣāʾib Ahl al-Ḥaqq",
    "٢٠٢٤ و۱۴۰۳",
]


def test_fold_lowercases_and_drops_diacritics() -> None:
    """Case and Latin diacritics disappear: "Ḥizballah" and "HIZBALLAH" fold alike."""
    assert fold("Ḥizballah") == "hizballah"
    assert fold("HIZBALLAH") == "hizballah"
    assert fold("ʿAṣāʾib Ahl al-Ḥaqq") == "asaib ahl al haqq"


@pytest.mark.parametrize("mark", ["'", "’", "‘", "ʿ", "ʾ", "ʼ", "`", "´", "ʻ"])
def test_fold_deletes_apostrophe_like_marks(mark: str) -> None:
    """Every apostrophe-like mark is deleted inside a word, so "Kata'ib" folds to "kataib"."""
    assert fold(f"Kata{mark}ib") == "kataib"


@pytest.mark.parametrize("dash", ["-", "–", "—", "‐", "‑", "‒", "―", "−"])
def test_fold_turns_hyphens_and_dashes_into_spaces(dash: str) -> None:
    """Hyphens and dashes separate words: "al-Nujaba" folds to "al nujaba"."""
    assert fold(f"al{dash}Nujaba") == "al nujaba"


def test_fold_turns_punctuation_into_single_spaces() -> None:
    """Punctuation and runs of whitespace become one space; the ends are trimmed."""
    assert fold("  Hello,   world!\n(Iraq)  ") == "hello world iraq"
    assert fold("U.S.-led") == "u s led"


def test_fold_applies_compatibility_forms() -> None:
    """NFKD compatibility forms fold to plain letters: ligatures, full-width letters, ß."""
    assert fold("ﬁnal ＫＨ STRASSE ß") == "final kh strasse ss"


def test_fold_drops_invisible_format_characters() -> None:
    """Soft hyphens, zero-width joiners and direction marks vanish instead of splitting words."""
    assert fold("soft\u00adhyphen") == "softhyphen"
    assert fold("a\u200cb\u200fc") == "abc"


def test_fold_drops_arabic_diacritics_and_tatweel() -> None:
    """Arabic harakat, shadda, sukun and tatweel are dropped: "كتائب حزب الله" with or without them."""
    assert fold("كَتَائِبُ حِزْبِ اللهِ") == fold("كتائب حزب الله")
    assert fold("حـــزب") == fold("حزب")


def test_fold_unifies_arabic_letter_forms() -> None:
    """Alef forms become ا, ى -> ي, ة -> ه, ؤ -> و, ئ -> ي, Persian ک -> ك and ی -> ي."""
    assert fold("أ إ آ ٱ") == "ا ا ا ا"
    assert fold("ى ة ؤ ئ") == "ي ه و ي"
    assert fold("ک ی") == "ك ي"
    assert fold("مصطفى") == fold("مصطفي")
    assert fold("كتائب") == "كتايب"


def test_fold_treats_arabic_punctuation_as_separators() -> None:
    """The Arabic comma and question mark separate words like their Latin counterparts."""
    assert fold("الحشد، الشعبي؟") == "الحشد الشعبي"


def test_fold_maps_arabic_indic_digits() -> None:
    """Arabic-Indic and Persian digits fold to 0-9."""
    assert fold("٢٠٢٤ ۱۴۰۳") == "2024 1403"


def test_fold_drops_a_possessive_s() -> None:
    """A possessive "'s" ends with the word: "Sudan's" folds to "sudan", not "sudans"."""
    assert fold("Sudan's army") == "sudan army"
    assert fold("Hezbollah’s leader") == "hezbollah leader"
    assert fold("Sudan's army", keep_possessive=True) == "sudans army"


def test_fold_keeps_apostrophe_s_inside_words_and_alone() -> None:
    """Only a word-final "'s" after a letter is a possessive: "Mas'ud" and a lone "'s" are not."""
    assert fold("Mas'ud") == "masud"
    assert fold("the 's thing") == "the s thing"


@pytest.mark.parametrize("text", SAMPLES)
def test_fold_words_splits_fold(text: str) -> None:
    """`fold_words` gives the words of `fold`."""
    assert fold_words(text) == fold(text).split()


@pytest.mark.parametrize("text", SAMPLES)
def test_fold_with_offsets_gives_the_same_text(text: str) -> None:
    """`fold_with_offsets` folds exactly like `fold` and gives one offset per folded character."""
    folded, offsets = fold_with_offsets(text)
    assert folded == fold(text)
    assert len(offsets) == len(folded)
    assert offsets == sorted(offsets)


@pytest.mark.parametrize("text", SAMPLES)
def test_fold_with_offsets_points_at_the_source_characters(text: str) -> None:
    """Each folded letter comes from the original character its offset names."""
    folded, offsets = fold_with_offsets(text)
    for char, offset in zip(folded, offsets, strict=True):
        if char != " ":
            assert char in fold(text[offset], keep_possessive=True)


def test_fold_with_offsets_of_a_simple_title() -> None:
    """Offsets skip deleted apostrophes: "Kata'ib" -> "kataib" with offsets 0-3, 5, 6."""
    folded, offsets = fold_with_offsets("Kata'ib X")
    assert folded == "kataib x"
    assert offsets == [0, 1, 2, 3, 5, 6, 7, 8]


@pytest.mark.parametrize("text", SAMPLES)
def test_word_spans_slice_each_folded_word(text: str) -> None:
    """Each folded word is the fold of the original slice `WordSpans.span` gives."""
    words = fold_words(text)
    spans = WordSpans(text)
    assert len(spans) == len(words)
    for number, word in enumerate(words):
        start, end = spans.span(number)
        assert word in fold(text[start:end]).split() or word == fold(text[start:end]).replace(" ", "")


def test_word_spans_leave_out_apostrophes_and_possessives() -> None:
    """Quotes around a word and a possessive "'s" are outside its span; inner apostrophes are inside."""
    text = "'Kata'ib' Hezbollah's men"
    spans = WordSpans(text)
    assert [text[slice(*spans.span(i))] for i in range(len(spans))] == ["Kata'ib", "Hezbollah", "men"]


def test_word_spans_keep_trailing_combining_marks() -> None:
    """A word written with a combining accent keeps the accent in its span."""
    text = "Nujaba\u0301 said"
    spans = WordSpans(text)
    assert text[slice(*spans.span(0))] == "Nujaba\u0301"


def test_word_spans_of_a_character_that_folds_to_two_words() -> None:
    """A character like "½" (folds to "1 2") takes the exact slow path and still gives every word a span."""
    text = "half ½ off"
    spans = WordSpans(text)
    assert len(spans) == len(fold_words(text)) == 4
    assert text[slice(*spans.span(3))] == "off"


def test_word_spans_find_the_word_at_an_offset() -> None:
    """`word_at` gives the word containing an original offset."""
    spans = WordSpans("one, two three")
    assert spans.word_at(0) == 0
    assert spans.word_at(6) == 1
    assert spans.word_at(13) == 2


def test_strip_html_removes_tags_and_decodes_entities() -> None:
    """Tags go, entities are decoded, inline tags do not split words."""
    assert strip_html("<b>Kata</b>&rsquo;ib <a href='x'>Hezbollah</a> &amp; co") == "Kata’ib Hezbollah & co"


def test_strip_html_turns_blocks_into_line_breaks() -> None:
    """Paragraphs, line breaks and list items become line breaks (they end sentences)."""
    assert strip_html("<p>one</p><p>two<br/>three</p><ul><li>four</li></ul>").split() == [
        "one",
        "two",
        "three",
        "four",
    ]
    assert "\n" in strip_html("one<br>two")


def test_strip_html_drops_scripts_styles_and_comments() -> None:
    """Script and style contents and comments are not text."""
    text = strip_html("a<script>var KH = 1;</script>b<style>p{}</style>c<!-- KH -->d")
    assert "KH" not in text
    assert fold(text) == "a b c d"


def test_strip_html_leaves_plain_text_alone() -> None:
    """Text without markup is returned unchanged (offsets into it stay valid)."""
    text = "Plain title, no markup: 5 > 3"
    assert strip_html(text) is text
