"""The docs match the code: the README's test command is what CI runs and its tour's rule file works; docs/cli.md
is what cog generates from every command's --help; docs/json.md documents every key of every --json output."""

from __future__ import annotations

import inspect
import json
import re
import shutil
import subprocess
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest
from cogapp import Cog

from monitor import jsonout
from monitor.cli import cli
from monitor.health import StatusReport
from monitor.match import Matcher
from monitor.model import Alert, Entry, FeedState, Hit, Match
from monitor.pipeline import DeliveryReport, PollOutcome
from monitor.replay import ReplayChange, RuleHistory
from monitor.rules import ExampleResult, load_rules, run_examples
from monitor.store import DaemonStatus, DeadDelivery
from tests.feedgen import item, rss
from tests.feedserver import FeedServer
from tests.test_cli import monitor
from tests.test_end_to_end import IRRELEVANT, RELEVANT, make_config

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run extracts exactly the README's test command, which installs the test extra and runs pytest."""
    extracted = subprocess.run(
        ["awk", "/^Install and pass the tests/ {found=1} found && /^python3 / {print; exit}", "README.md"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert extracted.startswith("python3 -m venv .venv")
    assert "'.[test]'" in extracted
    assert "pytest" in extracted
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "/^Install and pass the tests/" in ci
    assert 'eval "$test_command"' in ci


def test_tour_rule_file_loads_and_its_examples_pass(tmp_path: Path) -> None:
    """The rule file shown in the README's tour loads beside the shipped rules and its examples pass."""
    block = README.split("A file `rules/badr.toml`:")[1].split("```toml")[1].split("```")[0]
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    (rules / "badr.toml").write_text(block, encoding="utf-8")
    ruleset = load_rules(rules)
    results = [result for result in run_examples(ruleset, Matcher(ruleset)) if result.rule == "badr"]
    assert len(results) == 2
    assert all(result.passed for result in results)


# -- docs/cli.md: generated from the commands' --help ---------------------------------------------------------

CLI_DOC = REPO / "docs" / "cli.md"
STALE = "docs/cli.md is stale: run `cog -r docs/cli.md`"


def command_paths() -> list[tuple[list[str], click.Command]]:
    """Every command of the CLI with its path from the root, e.g. (["monitor", "alerts", "dead"], command)."""
    found: list[tuple[list[str], click.Command]] = []

    def walk(command: click.Command, path: list[str]) -> None:
        found.append((path, command))
        if isinstance(command, click.Group):
            context = click.Context(command, info_name=path[-1])
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                if sub is not None and not sub.hidden:
                    walk(sub, [*path, name])

    walk(cli, ["monitor"])
    return found


def markdown_sections(text: str) -> dict[str, str]:
    """The text under each Markdown heading (up to the next heading), keyed by the heading's text."""
    sections: dict[str, str] = {}
    heading = ""
    in_fence = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        if not in_fence and line.startswith("#"):
            heading = line.lstrip("#").strip()
            sections[heading] = ""
        elif heading:
            sections[heading] += line + "\n"
    return sections


def test_cli_reference_is_what_cog_generates() -> None:
    """docs/cli.md is exactly what its cog block generates from the commands' --help (cog --check)."""
    assert Cog().main(["cog", "--check", str(CLI_DOC)]) == 0, STALE


def test_cog_check_fails_on_a_stale_cli_reference(tmp_path: Path) -> None:
    """The check above can fail: a copy of docs/cli.md with one help line changed does not pass cog --check."""
    text = CLI_DOC.read_text(encoding="utf-8")
    assert "  --json " in text
    stale = tmp_path / "cli.md"
    stale.write_text(text.replace("  --json ", "  --jsn ", 1), encoding="utf-8")
    assert Cog().main(["cog", "--check", str(stale)]) != 0


def test_every_command_and_option_is_in_the_cli_reference() -> None:
    """Each command has its section in docs/cli.md, and that section names each of its options."""
    sections = markdown_sections(CLI_DOC.read_text(encoding="utf-8"))
    for path, command in command_paths():
        name = " ".join(path)
        assert name in sections, f"{name} has no section: {STALE}"
        assert f"Usage: {name} " in sections[name], f"{name}: no usage line: {STALE}"
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                for option in (*param.opts, *param.secondary_opts):
                    assert option in sections[name], f"{name} {option} is not in docs/cli.md: {STALE}"


def test_readme_command_table_matches_the_commands() -> None:
    """The README's command table names every command and subcommand, and only options those commands have."""
    section = README.split("\n## Commands\n")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| `monitor")]
    assert len(rows) >= 10
    commands = {" ".join(path): command for path, command in command_paths()}
    named: set[str] = set()
    for row in rows:
        for usage in re.findall(r"`(monitor [^`]+)`", row.split(" | ")[0]):
            words = usage.split()
            path = [words[0]]
            while len(words) > len(path) and " ".join([*path, words[len(path)]]) in commands:
                path.append(words[len(path)])
            name = " ".join(path)
            named.add(name)
            options = {opt for param in commands[name].params for opt in getattr(param, "opts", [])}
            options |= {opt for param in commands[name].params for opt in getattr(param, "secondary_opts", [])}
            for option in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", usage):
                assert option in options, f"README command table: `{usage}`: {name} has no option {option}"
    # A group that only holds subcommands (`monitor`, `monitor rules`) is named through them.
    runnable = {name for name, command in commands.items() if getattr(command, "invoke_without_command", True)}
    missing = sorted(runnable - named)
    assert not missing, f"README command table does not name {missing} (docs/cli.md has them all)"


def test_readme_links_the_references() -> None:
    """The README links the generated CLI reference and the JSON reference."""
    assert "(docs/cli.md)" in README
    assert "(docs/json.md)" in README


# -- docs/json.md: every key of every --json output --------------------------------------------------------------

JSON_DOC = REPO / "docs" / "json.md"
WHEN = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
FEED_LINES = 'Feed lines (`"type": "feed"`)'
ALERT_LINES = 'Alert lines (`"type": "alert"`)'
SUMMARY_LINE = 'The summary line (`"type": "summary"`)'
STATUS = "`monitor status --json`"
FEEDS = "`monitor feeds --json`"
MATCH = "`monitor match --json`"
ALERTS = "`monitor alerts --json`"
DEAD = "`monitor alerts dead --json`"
REPLAY = "`monitor replay --json`"
HISTORY = "`monitor rules check --history SINCE --json`, `monitor seed --json`"
RULES_TEST = "`monitor rules test --json`"
NOT_EXPANDED = {DEAD: {"alert"}}  # documented as "the keys of `alerts --json`" (checked below)


def sample_records() -> dict[str, list[dict[str, Any]]]:
    """Objects each serialiser of monitor.jsonout makes from real data, by the docs/json.md section of its output.

    Each output is made twice where it matters: with every optional value set, and with the optional values
    empty (null, no daemon), so both the keys and their documented types are checked.
    """
    hit = Hit("kataib-hezbollah", "actor", "Kata'ib Hezbollah", "title", 0, 17, "Kata'ib Hizballah", 96.84)
    match = Match("kataib-hezbollah", "high", 96.84, (hit,))
    entry = Entry("a1", "Kata'ib Hizballah claims a drone strike", "https://example.org/a1", published=WHEN)
    alert = Alert(
        7, "kataib-hezbollah", "high", entry.title, entry.link, "", "Wire", WHEN, ("Kata'ib",), created_at=WHEN
    )
    bare_alert = Alert(8, "kataib-hezbollah", "high", entry.title, "", "", "Wire", None, (), created_at=WHEN)
    daemon = DaemonStatus(
        pid=42,
        hostname="desk",
        started_at=WHEN,
        heartbeat=WHEN,
        heartbeat_every=15.0,
        stopped_at=WHEN,
        config="/etc/monitor/monitor.toml",
        feeds=3,
        rules=25,
        rules_loaded_at=WHEN,
        last_reload_at=WHEN,
        last_reload_error="rules/x.toml:3: bad severity",
        last_poll_at=WHEN,
        polls=9,
        health="127.0.0.1:9464",
    )
    statuses: list[StatusReport] = [
        StatusReport("db", daemon, True, "alive", 2, ["Broken"], ["Gone"], WHEN, {"pending": 1, "dead": 2}, 5, WHEN),
        StatusReport("db", None, False, "no database yet", 0, [], [], None, {}, 0, WHEN),
    ]
    failed = PollOutcome("Broken", "https://example.org/f", "error", error="refused", error_kind="network")
    outcomes = [PollOutcome("Wire", "https://example.org/w", "ok", new_entries=2, alerts=1), failed]
    delivery = DeliveryReport(sent=1, failed=1, dead=0, failing_targets=["slack"], held=1)
    full_state = FeedState(
        feed_id=1,
        config_url="https://user:pw@example.org/w",
        url="https://example.org/w2",
        name="Wire",
        etag='"v1"',
        last_modified="Tue, 24 Nov 2026 10:00:00 GMT",
        body_hash="ab12",
        error_count=1,
        last_error="HTTP 500",
        last_error_at=WHEN,
        last_success=WHEN,
        next_check=WHEN,
        entries_seen=12,
        last_polled=WHEN,
    )
    history = RuleHistory("kataib-hezbollah", alerts=2, samples=["a title"])
    dead = DeadDelivery(3, "slack", 20, "HTTP 500", WHEN, WHEN, alert)
    bare_dead = DeadDelivery(4, "gone", 1, None, None, None, bare_alert)
    bare_state = FeedState(2, "https://example.org/", "https://example.org/", "Example", entries_seen=0)
    return {
        FEED_LINES: [jsonout.feed_outcome(outcome) for outcome in outcomes],
        ALERT_LINES: [jsonout.console_alert("[high] kataib-hezbollah: a title", "text\nlines")],
        SUMMARY_LINE: [jsonout.run_summary(outcomes, delivery), jsonout.run_summary([], DeliveryReport())],
        STATUS: [jsonout.status(report) for report in statuses],
        FEEDS: [jsonout.feed_state(full_state), jsonout.feed_state(bare_state)],
        MATCH: [jsonout.match_result("feed.xml", entry, [match]), jsonout.match_result("f", Entry("b", "t", ""), [])],
        ALERTS: [jsonout.alert(alert), jsonout.alert(bare_alert)],
        DEAD: [jsonout.dead_delivery(dead, "slack://***"), jsonout.dead_delivery(bare_dead, None)],
        REPLAY: [
            jsonout.replay_change(ReplayChange("new", "r", "Wire", "t", "l", WHEN, False, "high", ("Kata'ib",))),
            jsonout.replay_change(ReplayChange("gone", "r", "Wire", "t", "l", WHEN, True)),
        ],
        HISTORY: [jsonout.rule_history(history, 10), jsonout.rule_history(RuleHistory("r"), 0)],
        RULES_TEST: [jsonout.example_result(ExampleResult("r", "text", True, False, "rules/r.toml:3"))],
    }


SERIALISERS_SAMPLED = {
    "feed_outcome", "console_alert", "run_summary", "status", "feed_state", "match_result", "match_detail", "hit",
    "alert", "dead_delivery", "replay_change", "rule_history", "example_result",
}  # fmt: skip


def documented_keys(section: str) -> dict[str, str]:
    """The keys a docs/json.md section's table lists, with their documented type: {"daemon.pid": "integer"}."""
    keys = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if len(cells) == 3 and cells[0].startswith("`") and cells[0] != "`key`":
            keys[cells[0].strip("`")] = cells[1]
    return keys


def flat_keys(record: dict[str, Any], prefix: str = "", keep: Collection[str] = ()) -> dict[str, Any]:
    """Every key path of a JSON object ("daemon.pid", "matches[].hits[].term") with a value found there."""
    found: dict[str, Any] = {}
    for key, value in record.items():
        path = prefix + key
        found[path] = value
        if key in keep:
            continue
        if isinstance(value, dict):
            found.update(flat_keys(value, path + "."))
        elif isinstance(value, list):
            for element in value:
                if isinstance(element, dict):
                    found.update(flat_keys(element, path + "[]."))
    return found


def json_type(value: object) -> str:
    """The JSON type name of a value as docs/json.md writes it."""
    if value is None:
        return "null"
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "list")):
        if isinstance(value, kind):
            return name
    return "object"


def json_sections() -> dict[str, str]:
    """docs/json.md's sections by heading."""
    return markdown_sections(JSON_DOC.read_text(encoding="utf-8"))


def test_every_serialiser_is_sampled() -> None:
    """Every public function of monitor.jsonout is exercised by sample_records (a new --json output needs docs)."""
    public = {
        name
        for name, value in vars(jsonout).items()
        if inspect.isfunction(value) and value.__module__ == jsonout.__name__ and not name.startswith("_")
    }
    assert public == SERIALISERS_SAMPLED


@pytest.mark.parametrize("section", list(sample_records()))
def test_every_json_key_is_documented_with_its_type(section: str) -> None:
    """The keys a serialiser writes are exactly those its docs/json.md table lists, each of the documented type."""
    documented = documented_keys(json_sections()[section])
    produced: dict[str, set[str]] = {}
    for record in sample_records()[section]:
        for key, value in flat_keys(record, keep=NOT_EXPANDED.get(section, set())).items():
            produced.setdefault(key, set()).add(json_type(value))
    assert sorted(set(produced) - set(documented)) == [], f"keys written but not documented in docs/json.md {section}"
    assert sorted(set(documented) - set(produced)) == [], f"keys documented in docs/json.md {section} but not written"
    for key, kinds in produced.items():
        for kind in kinds:
            accepted = documented[key].replace("integer", "integer number")  # an integer is a number too
            assert kind in accepted, f"{section}: {key} is {kind}, documented as {documented[key]!r}"


def test_dead_delivery_alert_is_the_alerts_object() -> None:
    """`alerts dead --json`'s "alert" (documented by reference) is exactly `alerts --json`'s object."""
    alert = Alert(7, "r", "high", "t", "l", "", "Wire", WHEN, ("x",), created_at=WHEN)
    dead = DeadDelivery(3, "slack", 20, "HTTP 500", WHEN, WHEN, alert)
    assert jsonout.dead_delivery(dead, None)["alert"] == jsonout.alert(alert)
    [row] = [line for line in json_sections()[DEAD].splitlines() if line.startswith("| `alert` |")]
    assert "`monitor alerts --json`" in row


def example_lines(text: str) -> list[dict[str, Any]]:
    """The JSON objects of every ```json block in `text` (a line each, or one indented object per block)."""
    records = []
    for block in re.findall(r"```json\n(.*?)```", text, re.S):
        try:
            records.append(json.loads(block))
        except json.JSONDecodeError:
            records.extend(json.loads(line) for line in block.splitlines() if line.strip())
    return records


def assert_documented(record: dict[str, Any], where: str) -> None:
    """`record` is an object docs/json.md documents: its keys are one section's, nested keys included."""
    tables = {heading: documented_keys(body) for heading, body in json_sections().items()}
    for heading, keys in tables.items():
        top = {key for key in keys if "." not in key and "[]" not in key}
        if keys and set(record) == top:
            flat = flat_keys(record, keep=NOT_EXPANDED.get(heading, set()))
            assert set(flat) <= set(keys), f"{where}: {sorted(set(flat) - set(keys))} not in docs/json.md {heading}"
            return
    raise AssertionError(f"{where}: no section of docs/json.md documents an object with keys {sorted(record)}")


def test_json_examples_are_documented_objects() -> None:
    """Every example in docs/json.md, and docs/rules.md's `match --json` example, has exactly the documented keys."""
    examples = example_lines(JSON_DOC.read_text(encoding="utf-8"))
    assert len(examples) >= 12
    for record in examples:
        assert_documented(record, "docs/json.md example")
    rules_doc = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    [match_example] = example_lines(rules_doc.split("`--json` prints, per matching item")[1].split("\n4. ")[0])
    assert_documented(match_example, "docs/rules.md example")
    assert match_example["matches"][0]["hits"], "the rules.md example shows a hit"


def test_real_json_output_is_documented(tmp_path: Path, feed_server: FeedServer) -> None:
    """What real `monitor` processes print with --json (run --once with its alert lines, match, rules test)
    has exactly the documented keys."""
    feed_server.set_feed("/wire.xml", rss([item(RELEVANT, guid="j1", link="https://example.org/j1")]))
    config = make_config(tmp_path, [feed_server.url("/wire.xml")], [])
    (tmp_path / "wire.xml").write_bytes(rss([item(RELEVANT, guid="j1"), item(IRRELEVANT, guid="j2")]))
    runs = [
        monitor("--config", str(config), "run", "--once", "--json", cwd=tmp_path),
        monitor("--config", str(config), "match", "wire.xml", "--json", "--all", cwd=tmp_path),
        monitor("--config", str(config), "rules", "test", "--json", cwd=tmp_path),
    ]
    kinds = set()
    for done in runs:
        assert done.returncode == 0, done.stderr
        for line in done.stdout.splitlines():
            record = json.loads(line)
            kinds.add(record.get("type", "?"))
            assert_documented(record, " ".join(done.args[4:]))
    assert {"feed", "alert", "summary"} <= kinds
