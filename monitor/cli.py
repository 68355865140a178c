"""The `monitor` command line (click): the one place that turns errors into messages and exit codes.

Commands stay thin: they load settings, call the service, pipeline or store, and print tables for people or
JSON lines for scripts (built by monitor.jsonout, documented in docs/json.md). Exit codes (also in
`monitor --help`, docs/cli.md and README.md): 0 success; 1 a run or source failed; 2 bad configuration, rules or
usage; 3 database error; 4 `rules test` examples failed; 5 the database file was deleted or replaced under a
running monitor; 6 `run --once`: a target failed or an alert was given up; 70 internal error (a bug: please report
it).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from monitor import __version__, log
from monitor.errors import EXIT_RULE_EXAMPLES, EXIT_UNDELIVERED, ConfigError, MonitorError, SourceError

EXIT_INTERNAL = 70


class Context:
    """What the top-level options set for every command."""

    def __init__(self, config: Path | None, verbose: int, quiet: bool) -> None:
        self.config = config
        self.verbose = verbose
        self.quiet = quiet

    def settings(self, *, required: bool = True) -> Any:
        """The validated settings; without a config file and not `required`, the built-in defaults."""
        from monitor.config import find_config, load_settings

        try:
            path = find_config(self.config)
        except ConfigError:
            if required or self.config is not None:
                raise
            return None
        return load_settings(path)


def _log_level(verbose: int, quiet: bool) -> int:
    if quiet:
        return logging.ERROR
    return logging.DEBUG if verbose > 1 else logging.INFO if verbose == 1 else logging.WARNING


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Exit codes: 0 ok, 1 run or source failed, 2 bad configuration/rules/usage, 3 database error, "
    "4 rule examples failed, 5 database file deleted or replaced, 6 run --once: a target failed or an alert was "
    "given up, 70 internal error. "
    "Docs: README.md and docs/ (docs/cli.md: every command's help; docs/json.md: every --json output).",
)
@click.option(
    "--config",
    "-c",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Configuration file (default: ./monitor.toml, then $MONITOR_CONFIG, then /etc/monitor/monitor.toml).",
)
@click.option("--verbose", "-v", count=True, help="More log lines on stderr (-vv for debug).")
@click.option("--quiet", "-q", is_flag=True, help="Only errors on stderr.")
@click.version_option(__version__, prog_name="monitor")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, verbose: int, quiet: bool) -> None:
    """monitor: watch news feeds for the actors and themes in your rules; alert once per item."""
    ctx.obj = Context(config, verbose, quiet)


def _run_command(ctx: click.Context) -> Context:
    obj = ctx.find_object(Context)
    assert obj is not None
    return obj


@cli.command()
@click.option("--once", is_flag=True, help="Poll every feed once, deliver queued alerts, exit.")
@click.option("--force", is_flag=True, help="With --once: also poll feeds that are backing off after errors.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="With --once: stdout is JSON lines only: one per feed polled, per alert printed, and a summary.",
)
@click.pass_context
def run(ctx: click.Context, once: bool, force: bool, as_json: bool) -> None:
    """Run the daemon (or a single poll with --once).

    Alerts go to the configured [[targets]]; with none, they are printed here (with --json, as JSON objects of
    "type" "alert"). Everything seen is stored in the database, so an item is never alerted twice.

    Exit codes of --once: 0 everything polled was stored and every alert delivered (failing feeds are reported on
    stderr, one line each, and do not change it); 6 a target failed or an alert was given up: the summary names the
    targets, the alerts stay queued for the next run; 2 bad configuration or rules; 3 a database error.
    """
    obj = _run_command(ctx)
    if once:
        # run --once reports each failing feed on one line itself; its log lines are for -v and -vv.
        log.setup(logging.CRITICAL if not obj.verbose else _log_level(obj.verbose, obj.quiet))
    else:
        log.setup(_log_level(obj.verbose + 1, obj.quiet))
    settings = obj.settings()
    if not once:
        from monitor.config import find_config
        from monitor.service import Daemon

        daemon = Daemon(find_config(obj.config), settings)
        import asyncio

        sys.exit(asyncio.run(daemon.run()))

    from monitor import jsonout
    from monitor.service import run_once

    with _progress(len([feed for feed in settings.feeds if feed.enabled]), "Polling feeds", obj.quiet) as step:
        import asyncio

        report = asyncio.run(run_once(settings, force=force, on_done=lambda _outcome: step(), console_json=as_json))
    delivery = report.delivery
    counts = dict.fromkeys(("ok", "not_modified", "unchanged", "skipped", "disabled", "error"), 0)
    for outcome in report.outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    new = sum(outcome.new_entries for outcome in report.outcomes)
    alerts = sum(outcome.alerts for outcome in report.outcomes)
    if as_json:
        for outcome in report.outcomes:
            _echo_json(jsonout.feed_outcome(outcome))
        _echo_json(jsonout.run_summary(report.outcomes, delivery))
    for outcome in report.outcomes:
        if outcome.status == "error":
            click.echo(f"monitor: {outcome.error}", err=True)
    for target in delivery.failing_targets:
        click.echo(
            f"monitor: target {target!r} failed: its alerts stay queued for the next run, except those given up "
            "(`monitor alerts dead`)",
            err=True,
        )
    if not obj.quiet:
        click.echo(
            f"monitor: polled {len(report.outcomes)} feeds: {counts['ok']} new content, "
            f"{counts['not_modified'] + counts['unchanged']} unchanged, {counts['error']} failed, "
            f"{counts['skipped'] + counts['disabled']} skipped; {new} new entries, {alerts} alerts; "
            f"delivered {delivery.sent}, {delivery.failed} to retry, {delivery.dead} dead"
            + (f" (failing: {', '.join(delivery.failing_targets)})" if delivery.failing_targets else "")
            + (f", {delivery.held} held for digests" if delivery.held else "")
            + (f", {delivery.cut_off} cut off mid-send and kept queued" if delivery.cut_off else "")
            + (f", {delivery.held_elsewhere} being sent by another monitor process" if delivery.held_elsewhere else ""),
            err=True,
        )
    if delivery.failed or delivery.dead or delivery.cut_off:
        sys.exit(EXIT_UNDELIVERED)


@contextmanager
def _progress(total: int, label: str, quiet: bool) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr when it is a terminal; silent when piped or quiet."""
    if quiet or total < 2 or not sys.stderr.isatty():
        yield lambda: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield lambda: bar.update(1)


@cli.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--rules", "rules_dir", type=click.Path(path_type=Path, file_okay=False), help="Rules directory.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per matching entry, explained.")
@click.option("--all", "show_all", is_flag=True, help="List entries that matched nothing too.")
@click.pass_context
def match(ctx: click.Context, sources: tuple[str, ...], rules_dir: Path | None, as_json: bool, show_all: bool) -> None:
    """Dry run: match feed files or URLs against the rules. Stores and sends nothing.

    SOURCE is a feed file path, or an http(s) URL fetched once. Exit 1 if a source could not be read.
    """
    obj = _run_command(ctx)
    log.setup(_log_level(obj.verbose, obj.quiet))
    from monitor import jsonout
    from monitor.match import Matcher
    from monitor.model import FetchSettings
    from monitor.redact import redact_url
    from monitor.rules import load_rules, shipped_rules_dir

    settings = obj.settings(required=False)
    directory = rules_dir or (settings.rules_dir if settings else shipped_rules_dir())
    matcher = Matcher(load_rules(directory))
    fetch_settings = settings.fetch if settings else FetchSettings()
    failures = 0
    rows: list[list[str]] = []
    for source in sources:
        shown = redact_url(source)  # a URL given here may carry credentials: fetched with them, shown without
        try:
            entries = _read_source(source, fetch_settings)
        except MonitorError as error:
            click.echo(f"monitor: error: {error.one_line()}", err=True)
            failures += 1
            continue
        for entry in entries:
            found = matcher.match(entry)
            if not found and not show_all:
                continue
            if as_json:
                _echo_json(jsonout.match_result(shown, entry, found))
            else:
                rows.append(
                    [
                        ", ".join(f"{m.rule}({m.score:.0f})" for m in found) or "-",
                        "; ".join(dict.fromkeys(t for m in found for t in m.matched)) or "-",
                        _clip(entry.title, 70),
                    ]
                )
    if not as_json:
        if rows:
            click.echo(format_table(["RULES", "MATCHED", "TITLE"], rows))
        elif not obj.quiet:
            click.echo("no entry matched", err=True)
    if failures:
        sys.exit(1)


def _read_source(source: str, fetch_settings: Any) -> list[Any]:
    from monitor.parse import FEED_LIMITS, FILE_LIMITS, parse_feed
    from monitor.redact import redact_url, without_credentials

    shown = redact_url(source)
    if source.startswith(("http://", "https://")):
        from monitor.fetch import Fetcher

        async def fetch() -> Any:
            fetcher = Fetcher(fetch_settings)
            try:
                return await fetcher.fetch(source, name=shown)
            finally:
                await fetcher.aclose()

        import asyncio

        result = asyncio.run(fetch())
        body, url, headers = result.body, without_credentials(result.url), result.headers
    else:
        path = Path(source)
        limit = fetch_settings.max_bytes  # a file gets the same body cap as a fetch
        try:
            with path.open("rb") as handle:
                body = handle.read(limit + 1)
        except FileNotFoundError:
            raise SourceError("file not found", location=source) from None
        except OSError as error:
            raise SourceError(f"cannot read: {error.strerror}", location=source) from None
        if len(body) > limit:
            raise SourceError(f"larger than the {limit}-byte limit", location=source, hint="raise [fetch] max_size")
        url, headers = path.resolve().as_uri(), {}
    remote = source.startswith(("http://", "https://"))
    limits = FEED_LIMITS if remote else FILE_LIMITS  # a file given on purpose may hold a whole archive
    parsed = parse_feed(body, url=url, headers=headers, limits=limits)
    if parsed.dropped:
        more = "; save it to a file to match up to 10 times more" if remote else ""
        click.echo(
            f"monitor: {shown}: {parsed.dropped} items left out (at most {limits.max_entries:,} items and "
            f"{limits.markup_budget:,} tags of one document are parsed{more})",
            err=True,
        )
    if not parsed.is_feed:
        hint = f"the page links to a feed: {parsed.feed_links[0]}" if parsed.feed_links else None
        raise SourceError("not an RSS or Atom feed", location=shown, hint=hint)
    return list(parsed.entries)


@cli.group()
def rules() -> None:
    """Check and test watch rule files."""


def _rules_dir(ctx: click.Context, directory: Path | None) -> Path:
    if directory is not None:
        return directory
    from monitor.rules import shipped_rules_dir

    settings = _run_command(ctx).settings(required=False)
    return settings.rules_dir if settings else shipped_rules_dir()


@rules.command("check")
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--history",
    metavar="SINCE",
    help="Also run the rules over the entries stored since SINCE (30d, 12h, 2026-11-01): what each would alert on.",
)
@click.option("--json", "as_json", is_flag=True, help="With --history: one JSON object per rule.")
@click.pass_context
def rules_check(ctx: click.Context, directory: Path | None, history: str | None, as_json: bool) -> None:
    """Validate the rule files in DIRECTORY (default: the configured or shipped rules). Exit 2 on errors.

    With --history, show for every rule how many stored entries it would have alerted on, a few of them, and
    which rules would alert on a large share (too broad). Reads the database only.
    """
    from monitor.rules import check_rules, load_rules

    directory = _rules_dir(ctx, directory)
    errors = check_rules(directory)
    for error in errors:
        click.echo(f"monitor: error: {error.one_line()}", err=True)
    if errors:
        sys.exit(2)
    ruleset = load_rules(directory)
    if not as_json:
        click.echo(
            f"{directory}: {len(ruleset.rules)} rules, {len(ruleset.terms)} terms in {len(ruleset.files)} files: ok"
        )
    if history is not None:
        _history_check(ctx, ruleset, history, as_json)


def _history_check(ctx: click.Context, ruleset: Any, since: str, as_json: bool) -> None:
    """The rules of `ruleset` over the stored entries: a table (or JSON lines), too broad rules marked."""
    from monitor import jsonout
    from monitor.match import Matcher
    from monitor.replay import BROAD_SHARE, rule_history
    from monitor.store import Store

    obj = _run_command(ctx)
    start = _since(since)
    assert start is not None
    settings = obj.settings(required=False)
    if settings is None:
        click.echo("monitor: no configuration found: the rules were not checked against stored entries", err=True)
        return
    if not settings.database.exists():
        click.echo(
            f"monitor: {settings.database}: no database yet: nothing to check the rules against "
            "(run `monitor run` for a while, then `monitor rules check --history 30d DIR`)",
            err=True,
        )
        return
    matcher = Matcher(ruleset)
    with Store.open(settings.database) as store:
        total = store.count_entries_since(start)
        with _progress(total, "Checking", obj.quiet) as step:
            report = rule_history(store, matcher, start, on_entry=step)
    if report.entries == 0:
        click.echo(
            f"monitor: the database holds no entries first seen since {_when(start)}: nothing to check the rules "
            "against (run `monitor run` for a while, then `monitor rules check --history 30d DIR`)",
            err=True,
        )
        return
    broad = [rule for rule in report.rules if rule.too_broad(report.entries)]
    if as_json:
        for rule in report.rules:
            _echo_json(jsonout.rule_history(rule, report.entries))
    else:
        rows = [
            [
                rule.rule,
                str(rule.alerts),
                f"{100 * rule.share(report.entries):.1f}%",
                "TOO BROAD" if rule in broad else "",
                _clip(rule.samples[0], 60) if rule.samples else "-",
            ]
            for rule in report.rules
        ]
        click.echo(format_table(["RULE", "ALERTS", "SHARE", "", "FOR EXAMPLE"], rows))
        for rule in report.rules:
            for sample in rule.samples[1:]:
                click.echo(f"  {rule.rule}: {_clip(sample, 100)}")
    if not obj.quiet:
        verdict = (
            f"{len(broad)} would alert on more than {100 * BROAD_SHARE:.0f}% of them (too broad: narrow or delete)"
            if broad
            else f"none would alert on more than {100 * BROAD_SHARE:.0f}% of them"
        )
        click.echo(
            f"monitor: {len(report.rules)} rules run over {report.entries} entries first seen since {_when(start)}: "
            f"{verdict}; nothing was stored or sent",
            err=True,
        )


@rules.command("test")
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON line per example.")
@click.pass_context
def rules_test(ctx: click.Context, directory: Path | None, as_json: bool) -> None:
    """Run every rule's must-match / must-not-match examples. Exit 4 if any fails."""
    from monitor import jsonout
    from monitor.match import Matcher
    from monitor.rules import load_rules, run_examples

    ruleset = load_rules(_rules_dir(ctx, directory))
    results = run_examples(ruleset, Matcher(ruleset))
    failed = [result for result in results if result.matched != result.should_match]
    if as_json:
        for result in results:
            _echo_json(jsonout.example_result(result))
    else:
        for result in failed:
            expected = "should match" if result.should_match else "should not match"
            click.echo(f"FAIL {result.location} rule {result.rule!r} {expected}: {result.text}")
        click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        sys.exit(EXIT_RULE_EXAMPLES)


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed.")
@click.pass_context
def feeds(ctx: click.Context, as_json: bool) -> None:
    """The feeds, problem feeds first: last success, last error, entries seen, next check.

    Subcommands import an OPML subscription list into the configuration and export the feeds as OPML.
    """
    if ctx.invoked_subcommand is not None:
        return
    from monitor.store import Store

    settings = _settings_without_secrets(ctx)
    store = Store.open(settings.database)
    try:
        store.sync_feeds(settings.feeds, datetime.now(UTC))
        states = sorted(store.feed_states(), key=lambda s: (not s.disabled, s.error_count == 0, s.name.lower()))
    finally:
        store.close()
    if as_json:
        from monitor import jsonout

        for state in states:
            _echo_json(jsonout.feed_state(state))
        return
    rows = [
        [
            _clip(state.name, 28),
            "disabled" if state.disabled else f"failing x{state.error_count}" if state.error_count else "ok",
            _when(state.last_success),
            _clip(state.last_error or "-", 40) if state.error_count or state.disabled else "-",
            str(state.entries_seen),
            "-" if state.disabled else _when(state.next_check),
        ]
        for state in states
    ]
    click.echo(format_table(["FEED", "STATUS", "LAST SUCCESS", "LAST ERROR", "ENTRIES", "NEXT CHECK"], rows))


def _settings_without_secrets(ctx: click.Context) -> Any:
    """The configuration for commands that never send: ${VAR} in target URLs need not be set."""
    from monitor.config import PlaceholderEnvironment, find_config, load_settings

    return load_settings(find_config(_run_command(ctx).config), env=PlaceholderEnvironment())


def _since(value: str | None) -> datetime | None:
    from monitor.replay import parse_since

    if value is None:
        return None
    try:
        return parse_since(value, datetime.now(UTC))
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since") from None


@feeds.command("import")
@click.argument("opml_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Print the [[feeds]] tables instead of adding them to the config file.")
@click.pass_context
def feeds_import(ctx: click.Context, opml_file: Path, dry_run: bool) -> None:
    """Add the feeds of an OPML file (Feedly, Inoreader, Miniflux, ... export) to the configuration file.

    New feeds are appended as [[feeds]] tables, their folder kept as `category`; feeds already configured are
    skipped; the file's comments and layout stay. The result is validated before the file is replaced. A
    running daemon picks the new feeds up within seconds.
    """
    from monitor.opml import append_to_config, parse_opml, plan_import
    from monitor.redact import redact_url

    settings = _settings_without_secrets(ctx)
    try:
        data = opml_file.read_bytes()
    except FileNotFoundError:
        raise SourceError("file not found", location=str(opml_file)) from None
    except OSError as error:
        raise SourceError(f"cannot read: {error.strerror}", location=str(opml_file)) from None
    found = parse_opml(data, str(opml_file))
    if not found:
        raise SourceError("no feeds in this OPML file (no outline has an xmlUrl)", location=str(opml_file))
    plan = plan_import(found, settings.feeds, source=opml_file.name, now=datetime.now(UTC))
    for feed, reason in plan.invalid:
        click.echo(f"monitor: skipped {feed.title!r} <{redact_url(feed.url)}>: {reason}", err=True)
    if dry_run:
        click.echo(plan.addition, nl=False)
    elif plan.new:
        append_to_config(settings.path, plan.addition)
    click.echo(
        f"{opml_file.name}: {'would add' if dry_run else 'added'} {len(plan.new)} feeds to {settings.path}, "
        f"{len(plan.duplicates)} already configured, {len(plan.invalid)} skipped",
        err=dry_run,
    )


@feeds.command("export")
@click.option(
    "--with-credentials",
    is_flag=True,
    help="Write feed URLs as configured, passwords, tokens and secret parameters included (to move a setup).",
)
@click.pass_context
def feeds_export(ctx: click.Context, with_credentials: bool) -> None:
    """Print the configured feeds as OPML 2.0 (categories become folders), for other feed readers.

    URLs are written redacted (user-info and secret parameters as ***) unless --with-credentials is given.
    """
    from monitor.opml import render_opml
    from monitor.redact import has_secrets

    settings = _settings_without_secrets(ctx)
    title = f"monitor feeds ({settings.path.name})"
    now = datetime.now(UTC)
    click.echo(render_opml(settings.feeds, title=title, now=now, with_credentials=with_credentials), nl=False)
    hidden = 0 if with_credentials else sum(1 for feed in settings.feeds if has_secrets(feed.url))
    if hidden:
        click.echo(
            f"monitor: credentials left out of {hidden} feed URLs (written as ***); --with-credentials keeps them",
            err=True,
        )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Is the daemon running? Last poll, feeds ok/failing, queue, dead letters, rules and their last reload.

    Reads the heartbeat row the daemon keeps in the database. Exit 0 when the daemon is alive, 1 when not.
    """
    from monitor import jsonout
    from monitor.health import gather_status, render_status

    settings = _settings_without_secrets(ctx)
    report = gather_status(settings.database, datetime.now(UTC))
    if as_json:
        _echo_json(jsonout.status(report))
    else:
        click.echo(render_status(report))
    if not report.alive:
        sys.exit(1)


@cli.command()
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="The rule set to try (default: the configured rules).",
)
@click.option("--since", default="30d", show_default=True, help="Entries first seen since: 30d, 12h or 2026-11-01.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per difference.")
@click.pass_context
def replay(ctx: click.Context, rules_dir: Path | None, since: str, as_json: bool) -> None:
    """Run a rule set over stored entries: what would alert now that did not, and what no longer would.

    Only reads the database: nothing is stored or sent. "+" rows would have alerted with these rules and did
    not; "-" rows matched when they arrived and would not now.
    """
    from monitor import jsonout
    from monitor.match import Matcher
    from monitor.replay import replay as run_replay
    from monitor.rules import load_rules
    from monitor.store import Store

    obj = _run_command(ctx)
    settings = _settings_without_secrets(ctx)
    start = _since(since)
    assert start is not None
    directory = rules_dir or settings.rules_dir
    matcher = Matcher(load_rules(directory))
    with Store.open(settings.database) as store:
        total = store.count_entries_since(start)
        with _progress(total, "Replaying", obj.quiet) as step:
            report = run_replay(store, matcher, start, on_entry=step)
    if as_json:
        for change in report.changes:
            _echo_json(jsonout.replay_change(change))
    elif report.changes:
        rows = [
            [
                "+ would alert" if change.change == "new" else "- no longer" + (" (alerted)" if change.alerted else ""),
                change.rule,
                _clip(change.feed, 20),
                _when(change.first_seen),
                _clip(change.title, 60),
            ]
            for change in report.changes
        ]
        click.echo(format_table(["CHANGE", "RULE", "FEED", "FIRST SEEN", "TITLE"], rows))
    if not obj.quiet:
        click.echo(
            f"monitor: replayed {report.entries} entries first seen since {_when(start)} with {directory}: "
            f"{len(report.new)} would alert now and did not, {len(report.gone)} matched then and would not now "
            f"({sum(change.alerted for change in report.gone)} of them alerted), {report.unchanged} unchanged; "
            "nothing was stored or sent",
            err=True,
        )


@cli.group(invoke_without_command=True)
@click.option("--limit", default=50, show_default=True, help="How many alerts to list.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per alert.")
@click.option("--since", help="Only alerts raised since: a duration (7d, 12h) or a date (2026-11-01).")
@click.option("--rule", "rule_names", multiple=True, help="Only alerts of this rule (repeat for several).")
@click.option("--search", help="Full-text search of title, summary, matched names, rule and feed (accents folded).")
@click.pass_context
def alerts(
    ctx: click.Context, limit: int, as_json: bool, since: str | None, rule_names: tuple[str, ...], search: str | None
) -> None:
    """The alerts raised, newest first (subcommands inspect and re-queue deliveries)."""
    if ctx.invoked_subcommand is not None:
        return
    from monitor.store import Store

    settings = _settings_without_secrets(ctx)
    with Store.open(settings.database) as store:
        found = store.search_alerts(since=_since(since), rules=rule_names, text=search, limit=limit)
    if as_json:
        from monitor import jsonout

        for alert in found:
            _echo_json(jsonout.alert(alert))
        return
    rows = [
        [_when(alert.created_at), alert.severity, alert.rule, _clip(alert.feed_name, 20), _clip(alert.title, 60)]
        for alert in found
    ]
    click.echo(format_table(["CREATED", "SEVERITY", "RULE", "FEED", "TITLE"], rows))


@alerts.command("dead")
@click.option("--limit", default=500, show_default=True, help="How many dead deliveries to list.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per dead delivery.")
@click.pass_context
def alerts_dead(ctx: click.Context, limit: int, as_json: bool) -> None:
    """Deliveries given up after too many attempts or too long: target (secrets masked), last error, alert.

    Re-queue them with `monitor alerts retry ID...` or `monitor alerts retry --all-dead`.
    """
    from monitor.store import Store

    settings = _settings_without_secrets(ctx)
    displays = {target.name: target.display for target in settings.targets}
    with Store.open(settings.database) as store:
        dead = store.dead_deliveries(limit=limit)
    if as_json:
        from monitor import jsonout

        for delivery in dead:
            _echo_json(jsonout.dead_delivery(delivery, displays.get(delivery.target)))
        return
    if not dead:
        click.echo("no dead deliveries", err=True)
        return
    rows = [
        [
            str(delivery.delivery_id),
            _clip(f"{delivery.target} <{displays.get(delivery.target, 'not configured')}>", 40),
            str(delivery.attempts),
            _when(delivery.last_attempt_at),
            _clip(delivery.last_error or "-", 50),
            delivery.alert.rule,
            _clip(delivery.alert.title, 50),
        ]
        for delivery in dead
    ]
    click.echo(format_table(["ID", "TARGET", "ATTEMPTS", "LAST TRY", "LAST ERROR", "RULE", "TITLE"], rows))


@alerts.command("retry")
@click.argument("delivery_ids", nargs=-1, type=int, metavar="[ID]...")
@click.option("--all-dead", is_flag=True, help="Re-queue every dead delivery.")
@click.pass_context
def alerts_retry(ctx: click.Context, delivery_ids: tuple[int, ...], all_dead: bool) -> None:
    """Re-queue dead (or failing) deliveries by ID (from `monitor alerts dead`), or all dead ones.

    They are due at once with a fresh attempt count; the running daemon sends them within its next delivery
    round (`monitor run --once` sends them now). Exit 1 if an ID was not re-queued (delivered or unknown).
    """
    from monitor.store import Store

    if all_dead == bool(delivery_ids):
        raise click.UsageError("give delivery IDs or --all-dead (one of the two)")
    settings = _settings_without_secrets(ctx)
    with Store.open(settings.database) as store:
        done = store.requeue_deliveries(None if all_dead else delivery_ids, datetime.now(UTC))
    click.echo(f"re-queued {len(done)} deliveries" + (f": {', '.join(map(str, done))}" if done else ""))
    missed = sorted(set(delivery_ids) - set(done))
    if missed:
        click.echo(f"monitor: not re-queued (delivered or unknown): {', '.join(map(str, missed))}", err=True)
        sys.exit(1)


@cli.command()
@click.argument("document", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("rules"),
    show_default=True,
    help="Directory for the draft rule file.",
)
@click.option("--name", help="The story's name: the draft's file name and its ids' prefix (default: the document's).")
@click.option(
    "--history",
    metavar="SINCE",
    default="30d",
    show_default=True,
    help="Check the draft against the entries stored since SINCE (when the database has any).",
)
@click.option(
    "--semantic/--no-semantic",
    default=None,
    help="Add the article and a rule for items close to it in meaning (default: when the semantic extra is installed).",
)
@click.option("--json", "as_json", is_flag=True, help="The history check as one JSON object per rule.")
@click.pass_context
def seed(
    ctx: click.Context,
    document: Path,
    out: Path,
    name: str | None,
    history: str,
    semantic: bool | None,
    as_json: bool,
) -> None:
    """Draft watch rules for a new story from one article (English or Arabic): its core names, the broad actors
    (countries, leaders) that alert only with the story's words, spellings and Arabic script.

    Writes NAME.draft.toml for review (never overwrites a file); drafts are not loaded until renamed to .toml.
    When the database holds entries, shows what each drafted rule would have alerted on among them.
    """
    from monitor.rules import rules_from_text
    from monitor.seed import seed_document, write_draft

    try:
        text = document.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError("file not found", location=str(document)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise SourceError(f"cannot read as UTF-8 text: {error}", location=str(document)) from None
    story = name or document.stem
    if semantic:
        from monitor.semantic import INSTALL_HINT, available

        if not available():
            raise click.UsageError(f"--semantic: {INSTALL_HINT}")
    draft = seed_document(text, source_name=document.name, story=story, semantic=semantic)
    written = write_draft(draft.text, out, story)
    core = sum(1 for actor in draft.actors if actor.scope == "core")
    context = sum(1 for actor in draft.actors if actor.scope == "context")
    click.echo(
        f"wrote {written}: {len(draft.rules)} rules, {core} core and {context} context names, "
        f"{len(draft.themes)} story terms; review it, then rename it to .toml to use it",
        err=as_json,
    )
    ruleset, errors = rules_from_text(draft.text, written)
    if ruleset is not None and not errors:
        _history_check(ctx, ruleset, history, as_json)


def _echo_json(record: dict[str, Any]) -> None:
    """One JSON line on stdout (non-ASCII text as is); the record comes from monitor.jsonout."""
    click.echo(json.dumps(record, ensure_ascii=False))


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, for people (scripts use --json)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip()
        for row in [headers, *rows]
    ]
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the CLI and turn every monitor error into one line on stderr and its exit code."""
    try:
        code = cli.main(args=list(argv) if argv is not None else None, prog_name="monitor", standalone_mode=False)
        if isinstance(code, int):
            sys.exit(code)
    except click.exceptions.Abort:
        click.echo("monitor: aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(2 if isinstance(error, click.UsageError) else error.exit_code)
    except MonitorError as error:
        from monitor.redact import redact_text

        click.echo(f"monitor: error: {redact_text(error.one_line())}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as error:
        if "-vv" in (argv or sys.argv):
            raise
        click.echo(
            f"monitor: internal error: {type(error).__name__}: {error} (hint: rerun with -vv for a traceback "
            "and report it)",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)
