"""Benchmark: does a draft seeded from one article find its story in real outlet headlines? And the shipped rules?

Run from the repository root:   .venv/bin/python benchmarks/bench_seed.py [--quick] [--split tune|test|both]

For each story of `../shared/seeds/dev/` (read at run time, never copied), as a new user would:
  1. `monitor seed ARTICLE --out DIR` (a whole process), the draft renamed to .toml, unedited;
  2. `monitor match FEED.xml --json --rules DIR` (a whole process) on one RSS file holding the 7,668 real
     headlines of `../shared/realfeeds` (benchmarks/realdata.py writes it to a temporary directory);
  3. precision and recall against the hand labels of benchmarks/labels/stories.csv, on its `tune` and `test`
     halves apart; `M` (borderline) rows count neither way, and are reported apart.
The shipped rules (rules/) are scored the same way on the `iraq` story. Then the cost: `monitor match` on the
6,039 keyword-CSV headlines as one feed file, as a whole process, against feedparser parsing the same file
in a whole process (and both in-process). `--quick` runs everything in-process (for tuning); the recorded
results come from the whole-process run. Results: benchmarks/results/seed.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import harness  # noqa: E402
import realdata  # noqa: E402

LABELS = ROOT / "benchmarks" / "labels" / "stories.csv"
RESULTS = ROOT / "benchmarks" / "results" / "seed.md"
MONITOR = ROOT / ".venv" / "bin" / "monitor"
STORIES = {
    "gaza": "gaza-hostages-ceasefire.txt",
    "quake": "turkey-syria-earthquake.txt",
    "soleimani": "soleimani-killing-aftermath.txt",
    "idlib": "syria-idlib-turkey-assad.txt",
}
SHIPPED = "iraq"


@dataclass
class Score:
    """Counts for one story on one half of the labels."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    borderline_fired: int = 0
    borderline: int = 0
    false_positives: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def read_labels() -> dict[str, dict[str, str]]:
    """row id -> story -> "Y" / "M" (rows relevant to no story are absent)."""
    with LABELS.open(encoding="utf-8", newline="") as handle:
        return {
            record["id"]: {story: record[story] for story in (SHIPPED, *STORIES) if record[story]}
            for record in csv.DictReader(handle)
        }


WINDOW_BEFORE = dt.timedelta(days=30)
WINDOW_AFTER = dt.timedelta(days=180)


def story_window(story: str) -> tuple[str, str]:
    """The days a monitor seeded from the story's article would be watching: 30 days before its date, 180 after.

    The date is the one on the article's `# source:` line (YYYY-MM-DD); the shipped story has no window.
    """
    if story not in STORIES:
        return "", "9999"
    first = (realdata.SEEDS_DEV / STORIES[story]).read_text(encoding="utf-8").splitlines()[0]
    found = re.search(r"\b(\d{4}-\d{2}-\d{2})\b", first)
    if found is None:
        return "", "9999"
    day = dt.date.fromisoformat(found.group(1))
    return (day - WINDOW_BEFORE).isoformat(), (day + WINDOW_AFTER).isoformat()


def score(
    story: str,
    fired: set[str],
    rows: Iterable[realdata.Row],
    labels: dict[str, dict[str, str]],
    half: str,
    *,
    window: bool = False,
) -> Score:
    """Precision and recall of `fired` (row ids a rule fired on) for `story` on one half of the rows (and, with
    `window`, only rows dated within the story's window)."""
    result = Score()
    start, end = story_window(story) if window else ("", "9999")
    for row in rows:
        if half != "both" and realdata.split_of(row.id) != half:
            continue
        if window and not (start <= row.date <= end):
            continue
        label = labels.get(row.id, {}).get(story, "")
        hit = row.id in fired
        if label == "M":
            result.borderline += 1
            result.borderline_fired += hit
        elif label == "Y" and hit:
            result.tp += 1
        elif label == "Y":
            result.fn += 1
            result.misses.append(f"{row.id} | {row.date} | {row.title}")
        elif hit:
            result.fp += 1
            result.false_positives.append(f"{row.id} | {row.date} | {row.title}")
    return result


# --- in-process (tuning) --------------------------------------------------------------------------------------


def fired_in_process(rules_text: str | None, rules_dir: Path | None, rows: list[realdata.Row]) -> set[str]:
    from monitor.match import Matcher
    from monitor.rules import load_rules, rules_from_text

    if rules_text is not None:
        ruleset, errors = rules_from_text(rules_text, Path("draft.toml"))
        if errors or ruleset is None:
            raise SystemExit(f"draft does not load: {errors[0].one_line()}")
    else:
        assert rules_dir is not None
        ruleset = load_rules(rules_dir)
    matcher = Matcher(ruleset)
    return {row.id for row in rows if matcher.match_text(row.title, row.description)}


# --- whole processes (the recorded run) ---------------------------------------------------------------------


def seed_whole_process(article: Path, out: Path, semantic: bool) -> tuple[Path, float]:
    """`monitor seed` as a user runs it; the draft renamed to .toml. Returns the rules directory and seconds."""
    started = time.perf_counter()
    flag = "--semantic" if semantic else "--no-semantic"
    subprocess.run([str(MONITOR), "seed", str(article), "--out", str(out), flag], check=True, capture_output=True)
    elapsed = time.perf_counter() - started
    drafts = sorted(out.glob("*.draft.toml"))
    for draft in drafts:
        draft.rename(draft.with_name(draft.name.replace(".draft.toml", ".toml")))
    return out, elapsed


def match_whole_process(feed: Path, rules_dir: Path) -> tuple[set[str], float]:
    started = time.perf_counter()
    done = subprocess.run(
        [str(MONITOR), "match", str(feed), "--json", "--rules", str(rules_dir)],
        check=False,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"monitor match failed ({done.returncode}): {done.stderr.strip()[:500]}")
    fired = set()
    for line in done.stdout.splitlines():
        row_id = realdata.row_id_of(json.loads(line)["link"])
        if row_id is not None:
            fired.add(row_id)
    return fired, elapsed


VARIANTS = {"keywords": False, "semantic": True}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="in-process only (tuning), no result file")
    parser.add_argument("--split", default="both", choices=("tune", "test", "both"))
    parser.add_argument("--show", type=int, default=0, help="list this many misses and false alerts per story")
    parser.add_argument("--story", action="append", help="only these stories")
    parser.add_argument("--variant", action="append", choices=tuple(VARIANTS), help="only these drafts (default: both)")
    arguments = parser.parse_args()
    if not realdata.available():
        raise SystemExit(f"{realdata.HEADLINES_CSV} not found: this benchmark reads ../shared at run time")
    from monitor.seed import seed_document
    from monitor.semantic import available as semantic_available

    rows = realdata.load_rows()
    labels = read_labels()
    wanted = arguments.story or [SHIPPED, *STORIES]
    variants = arguments.variant or [name for name in VARIANTS if semantic_available() or not VARIANTS[name]]
    halves = ["tune", "test"] if arguments.split == "both" else [arguments.split]
    report: dict[tuple[str, str, bool], dict[str, Score]] = {}
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-seed-") as temporary:
        work = Path(temporary)
        feed = work / "headlines.xml"
        feed.write_bytes(realdata.feed_xml(rows))
        runs = [(SHIPPED, "shipped")] if SHIPPED in wanted else []
        runs += [(story, variant) for story in wanted if story != SHIPPED for variant in variants]
        for story, variant in runs:
            if arguments.quick:
                if story == SHIPPED:
                    fired = fired_in_process(None, ROOT / "rules", rows)
                else:
                    article = realdata.SEEDS_DEV / STORIES[story]
                    draft = seed_document(
                        article.read_text(encoding="utf-8"), source_name=article.name, semantic=VARIANTS[variant]
                    )
                    fired = fired_in_process(draft.text, None, rows)
            else:
                if story == SHIPPED:
                    rules_dir = ROOT / "rules"
                else:
                    rules_dir, timings[f"seed {story} ({variant})"] = seed_whole_process(
                        realdata.SEEDS_DEV / STORIES[story], work / f"{story}-{variant}", VARIANTS[variant]
                    )
                fired, timings[f"match {story} ({variant})"] = match_whole_process(feed, rules_dir)
            for windowed in (False, True) if story != SHIPPED else (False,):
                by_half = {half: score(story, fired, rows, labels, half, window=windowed) for half in halves}
                report[(story, variant, windowed)] = by_half
                for half in halves:
                    result = by_half[half]
                    print(
                        f"{story:10} {variant:8} {'window' if windowed else 'all':6} {half:5} "
                        f"P={result.precision:.3f} R={result.recall:.3f} "
                        f"tp={result.tp} fp={result.fp} fn={result.fn} "
                        f"borderline fired {result.borderline_fired}/{result.borderline}"
                    )
                    if arguments.show:
                        for line in result.false_positives[: arguments.show]:
                            print("   FP", line[:150])
                        for line in result.misses[: arguments.show]:
                            print("   FN", line[:150])
        if not arguments.quick:
            cost = measure_cost(work)
            write_results(report, timings, cost, halves)


def measure_cost(work: Path) -> dict[str, float]:
    """`monitor match` on the 6,039 CSV headlines as one file against feedparser parsing it, whole processes."""
    rows = realdata.load_rows(csv_only=True)
    feed = work / "csv-headlines.xml"
    feed.write_bytes(realdata.feed_xml(rows))
    python = sys.executable
    parse_script = (
        "import sys, feedparser; d = feedparser.parse(open(sys.argv[1], 'rb').read(), "
        "sanitize_html=False, resolve_relative_uris=False); print(len(d.entries))"
    )
    results: dict[str, float] = {"entries": float(len(rows))}
    runs = 5
    best: dict[str, list[float]] = {"match": [], "parse": [], "startup": []}
    for _ in range(runs):
        for name, command in (
            ("parse", [python, "-c", parse_script, str(feed)]),
            ("match", [str(MONITOR), "match", str(feed), "--json", "--rules", str(ROOT / "rules")]),
            ("startup", [python, "-c", "import feedparser"]),
        ):
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            best[name].append(time.perf_counter() - started)
    for name, values in best.items():
        values.sort()
        results[f"{name}_min"] = values[0]
        results[f"{name}_median"] = values[len(values) // 2]
    from monitor.match import Matcher
    from monitor.parse import FILE_LIMITS, parse_feed
    from monitor.rules import load_rules

    body = feed.read_bytes()
    started = time.process_time()
    parsed = parse_feed(body, url=feed.as_uri(), headers={}, limits=FILE_LIMITS)
    results["parse_in_process"] = time.process_time() - started
    matcher = Matcher(load_rules(ROOT / "rules"))
    started = time.process_time()
    for entry in parsed.entries:
        matcher.match(entry)
    results["match_in_process"] = time.process_time() - started
    results["parsed_entries"] = float(len(parsed.entries))
    return results


def write_results(
    report: dict[tuple[str, str, bool], dict[str, Score]],
    timings: dict[str, float],
    cost: dict[str, float],
    halves: list[str],
) -> None:
    machine = harness.machine_info()
    windows = {story: story_window(story) for story in STORIES}
    lines = [
        "# Seeding and matching quality on real outlet headlines",
        "",
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine['cpus']} x {machine['cpu_model']}, {machine['memory']}, {machine['kernel']}, "
        f"Python {machine['python']}",
        f"- command: `.venv/bin/python benchmarks/bench_seed.py` (load average {os.getloadavg()[0]:.2f} at the end)",
        "- headlines: 7,668 real outlet items of ../shared/realfeeds (read at run time), one RSS file;",
        "  labels: benchmarks/labels/stories.csv (by hand; see benchmarks/labels/README.md)",
        "",
        "Each story's draft is `monitor seed ARTICLE --out DIR` renamed to .toml, unedited, run by",
        "`monitor match FILE --json --rules DIR`, both as whole processes. `keywords` is the draft of the default",
        "install (`--no-semantic`); `semantic` adds the article as a story and a rule firing on items close to it in",
        "meaning (`pip install 'monitor[semantic]'`). Borderline (`M`) rows count neither way; `fired/M` says how",
        "many of them alerted. `test` is the half nothing was tuned on.",
        "",
        "`all` scores every headline of the archive, 2016-2026. `window` scores only the headlines dated from 30",
        "days before the article to 180 days after it: what a monitor seeded from that article that day would",
        "have read. The archive holds years of other events with the same countries and leaders (other US-Iran",
        "strikes, other Idlib offensives), which no live monitor started on that day meets. Windows: "
        + ", ".join(f"{story} {start} to {end}" for story, (start, end) in windows.items())
        + ".",
        "",
        "| story | rules | headlines | half | precision | recall | TP | FP | FN | fired/M |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for (story, variant, windowed), by_half in report.items():
        rules = "shipped rules/" if story == SHIPPED else f"{variant} draft"
        for half in halves:
            result = by_half[half]
            lines.append(
                f"| {story} | {rules} | {'window' if windowed else 'all'} | {half} | {result.precision:.2f} | "
                f"{result.recall:.2f} | {result.tp} | {result.fp} | {result.fn} | "
                f"{result.borderline_fired}/{result.borderline} |"
            )
    lines += [
        "",
        "## Cost of matching",
        "",
        f"`monitor match` on the {int(cost['entries']):,} keyword-CSV headlines as one RSS file (shipped rules),",
        "against feedparser parsing the same file in its own process",
        "(`python -c 'import feedparser; feedparser.parse(...)'`), 5 runs each, interleaved:",
        "",
        "| what | min | median |",
        "|---|---:|---:|",
        f"| feedparser parse, whole process | {cost['parse_min']:.2f} s | {cost['parse_median']:.2f} s |",
        f"| `monitor match --json`, whole process | {cost['match_min']:.2f} s | {cost['match_median']:.2f} s |",
        f"| python + `import feedparser` alone | {cost['startup_min']:.2f} s | {cost['startup_median']:.2f} s |",
        "",
        f"Ratio (median, whole process): **{cost['match_median'] / cost['parse_median']:.2f}x** feedparser's parse. "
        f"In-process CPU: parse {cost['parse_in_process']:.2f} s ({int(cost['parsed_entries']):,} entries), "
        f"matching {cost['match_in_process']:.2f} s "
        f"({100 * cost['match_in_process'] / cost['parse_in_process']:.0f} % of the parse).",
        "",
        "Whole-process times of the other steps: "
        + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timings.items())
        + ".",
    ]
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
