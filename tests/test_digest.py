"""digest.py (delivery policy: digest slots, quiet hours, break-through, storm control) and digest rendering.

Pure functions with an injected `now`; the real-server behaviour is in test_delivery.py. Regenerate the digest
golden files after an intended change: `UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_digest.py`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor import digest
from monitor.digest import Hold, Item, Policy, RuleHistory, Schedule, plan
from monitor.errors import ConfigError
from monitor.model import Alert, Hit, StoryReport
from monitor.render import Templates, render_alert, render_digest
from monitor.templates import load_templates
from tests.test_render import ALLOWED_ATTRIBUTES, check_golden, parse_html

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")
BAGHDAD = ZoneInfo("Asia/Baghdad")


def item(n: int, *, rule: str = "kh", severity: str = "medium", at: datetime = NOW, **changes: object) -> Item:
    """A due delivery numbered `n` raised at `at`."""
    return Item(n, rule, severity, at, changes.get("batch"), changes.get("held_until"))  # type: ignore[arg-type]


# --- parsing ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", Schedule(every=1800.0)),
        ("every 2h", Schedule(every=7200.0)),
        ("1h30m", Schedule(every=5400.0)),
        ("hourly", Schedule(every=3600.0)),
        ("daily 08:00", Schedule(times=(480,))),
        ("Daily 18:30, 08:00", Schedule(times=(480, 1110))),
    ],
)
def test_parse_schedule_accepts_periods_and_times_of_day(text: str, expected: Schedule) -> None:
    """Digest schedules are a period ("30m", "hourly") or daily times ("daily 08:00, 18:30")."""
    assert digest.parse_schedule(text) == expected


@pytest.mark.parametrize("text", ["", "weekly", "0m", "30s", "25h", "daily", "daily 25:00", "daily 8", "every"])
def test_parse_schedule_rejects_nonsense(text: str) -> None:
    """Anything else is a ValueError with a hint (config.py turns it into a file:line error)."""
    with pytest.raises(ValueError, match=r"\w"):
        digest.parse_schedule(text)


def test_parse_quiet_hours() -> None:
    """Quiet hours are "HH:MM-HH:MM" local time; start and end must differ."""
    assert digest.parse_quiet_hours("22:00-07:00") == (1320, 420)
    assert digest.parse_quiet_hours("09:30 - 17:00") == (570, 1020)
    for bad in ("22:00", "22:00-22:00", "late-early", "22-07"):
        with pytest.raises(ValueError, match=r"\w"):
            digest.parse_quiet_hours(bad)


def test_schedule_describes_itself() -> None:
    """A schedule reads back the way a person writes it (used in digest notices)."""
    assert Schedule(every=3600).describe() == "hourly"
    assert Schedule(every=1800).describe() == "every 30m"
    assert Schedule(every=5400).describe() == "every 1h30m"
    assert Schedule(times=(480, 1110)).describe() == "daily 08:00, 18:30"


# --- time arithmetic ----------------------------------------------------------------------------------------


def test_next_slot_every_30_minutes_aligned_on_local_midnight() -> None:
    """Period digests fall on multiples of the period from local midnight, strictly after the given time."""
    half_hour = Schedule(every=1800)
    assert digest.next_slot(datetime(2026, 11, 24, 10, 5, tzinfo=UTC), half_hour, UTC) == NOW + timedelta(minutes=30)
    assert digest.next_slot(NOW, half_hour, UTC) == NOW + timedelta(minutes=30)
    assert digest.next_slot(datetime(2026, 11, 24, 23, 50, tzinfo=UTC), half_hour, UTC) == datetime(
        2026, 11, 25, 0, 0, tzinfo=UTC
    )


def test_next_slot_daily_in_the_target_time_zone() -> None:
    """ "daily 08:00" in Asia/Baghdad (UTC+3) is 05:00 UTC, today or tomorrow."""
    daily = Schedule(times=(480,))
    assert digest.next_slot(datetime(2026, 11, 24, 4, 0, tzinfo=UTC), daily, BAGHDAD) == datetime(
        2026, 11, 24, 5, 0, tzinfo=UTC
    )
    assert digest.next_slot(datetime(2026, 11, 24, 5, 0, tzinfo=UTC), daily, BAGHDAD) == datetime(
        2026, 11, 25, 5, 0, tzinfo=UTC
    )


def test_next_slot_follows_the_wall_clock_across_a_dst_change() -> None:
    """London's daily 08:00 digest is 08:00 UTC in winter and 07:00 UTC after the clocks go forward."""
    daily = Schedule(times=(480,))
    before = datetime(2026, 3, 28, 9, 0, tzinfo=UTC)  # the clocks go forward on 29 March 2026
    assert digest.next_slot(before, daily, LONDON) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert digest.next_slot(datetime(2026, 3, 27, 9, 0, tzinfo=UTC), daily, LONDON) == datetime(
        2026, 3, 28, 8, 0, tzinfo=UTC
    )


def test_quiet_hours_wrap_midnight_and_end_at_the_next_end_time() -> None:
    """22:00-07:00 covers late evening and early morning, not the day; it ends at the next 07:00 local."""
    quiet = (1320, 420)
    at = lambda hour, minute=0: datetime(2026, 11, 24, hour, minute, tzinfo=UTC)  # noqa: E731
    assert [digest.in_quiet_hours(at(h), quiet, UTC) for h in (21, 22, 23, 0, 6, 7, 12)] == [
        False,
        True,
        True,
        True,
        True,
        False,
        False,
    ]
    assert digest.quiet_end(at(23), quiet, UTC) == datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    assert digest.quiet_end(at(3), quiet, UTC) == at(7)
    assert not digest.in_quiet_hours(at(3), None, UTC)
    assert digest.in_quiet_hours(at(20), quiet, BAGHDAD)  # 23:00 in Baghdad


# --- the plan -----------------------------------------------------------------------------------------------


def test_immediate_target_sends_everything_alone() -> None:
    """Without digest, quiet hours or storm control every due delivery is sent alone, oldest first."""
    result = plan(NOW, Policy(), [item(2, at=NOW), item(1, at=NOW - timedelta(minutes=1))], {})
    assert result.alone == (1, 2)
    assert result.digest is None
    assert result.holds == ()


def test_digest_target_holds_until_the_next_slot_then_sends_one_digest() -> None:
    """A digest target holds alerts until the first slot after they were raised, then sends them together."""
    policy = Policy(mode="digest", schedule=Schedule(every=3600))
    raised = [item(1, at=NOW + timedelta(minutes=5)), item(2, at=NOW + timedelta(minutes=20))]
    held = plan(NOW + timedelta(minutes=30), policy, raised, {})
    assert held.alone == ()
    assert held.digest is None
    assert held.holds == (Hold(1, "digest", NOW + timedelta(hours=1)), Hold(2, "digest", NOW + timedelta(hours=1)))
    due = [item(n, at=NOW, batch="digest", held_until=NOW + timedelta(hours=1)) for n in (1, 2)]
    sent = plan(NOW + timedelta(hours=1, seconds=30), policy, due, {})
    assert sent.digest is not None
    assert sent.digest.delivery_ids == (1, 2)
    assert sent.digest.kinds == ("digest",)
    assert sent.holds == ()


def test_digest_slot_already_passed_goes_out_now() -> None:
    """An alert whose digest slot passed while nobody was delivering (daemon down) goes in this round's digest."""
    policy = Policy(mode="digest", schedule=Schedule(every=3600))
    result = plan(NOW + timedelta(hours=3), policy, [item(1, at=NOW + timedelta(minutes=5))], {})
    assert result.digest is not None
    assert result.digest.delivery_ids == (1,)


def test_empty_round_sends_no_digest() -> None:
    """No due delivery: nothing to send, no digest at all (an empty digest is never sent)."""
    assert plan(NOW, Policy(mode="digest", schedule=Schedule(every=3600)), [], {}) == digest.Plan()


def test_break_through_severity_skips_the_digest() -> None:
    """On a digest target, alerts at or above `break_through` go at once; the rest wait for the digest."""
    policy = Policy(mode="digest", schedule=Schedule(every=3600), break_through="high")
    result = plan(NOW, policy, [item(1, severity="medium"), item(2, severity="high"), item(3, severity="critical")], {})
    assert result.alone == (2, 3)
    assert [hold.delivery_id for hold in result.holds] == [1]


def test_quiet_hours_hold_everything_but_break_through() -> None:
    """During quiet hours low alerts are held until they end; alerts at the break-through severity go at once."""
    policy = Policy(quiet=(1320, 420), break_through="high")
    night = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    result = plan(night, policy, [item(1, severity="medium", at=night), item(2, severity="high", at=night)], {})
    assert result.alone == (2,)
    assert result.holds == (Hold(1, "quiet", datetime(2026, 11, 25, 7, 0, tzinfo=UTC)),)


def test_held_deliveries_are_sent_as_a_digest_when_quiet_hours_end() -> None:
    """At the end of quiet hours the held alerts come due together and form one digest saying why."""
    policy = Policy(quiet=(1320, 420))
    morning = datetime(2026, 11, 25, 7, 0, 30, tzinfo=UTC)
    held = [item(n, batch="quiet", held_until=morning.replace(second=0)) for n in (1, 2)]
    result = plan(morning, policy, held, {})
    assert result.digest is not None
    assert result.digest.kinds == ("quiet",)
    assert digest.notices(result.digest, policy) == ["Held during quiet hours 22:00-07:00 (UTC)."]


def test_a_digest_due_in_quiet_hours_waits_for_their_end() -> None:
    """A scheduled digest that comes due at night keeps its reason and moves to the end of quiet hours."""
    policy = Policy(mode="digest", schedule=Schedule(every=3600), quiet=(1320, 420))
    night = datetime(2026, 11, 24, 23, 0, 10, tzinfo=UTC)
    result = plan(night, policy, [item(1, batch="digest", held_until=night.replace(second=0))], {})
    assert result.holds == (Hold(1, "digest", datetime(2026, 11, 25, 7, 0, tzinfo=UTC)),)


def test_storm_control_sends_max_alone_then_holds_the_rest_of_the_window() -> None:
    """More than `storm_max` alerts of a rule in the window: the first go alone, the rest wait for the window end."""
    policy = Policy(storm_max=3, storm_window=3600)
    result = plan(NOW, policy, [item(n) for n in range(1, 6)] + [item(9, rule="other")], {})
    assert result.alone == (1, 2, 3, 9)
    assert result.holds == (Hold(4, "storm", NOW + timedelta(hours=1)), Hold(5, "storm", NOW + timedelta(hours=1)))


def test_storm_window_counts_earlier_rounds_and_joins_a_running_storm() -> None:
    """Sends from earlier rounds count; once a storm runs, every later alert of the rule joins it."""
    policy = Policy(storm_max=3, storm_window=3600)
    earlier = RuleHistory(sent_alone=(NOW - timedelta(minutes=50), NOW - timedelta(minutes=40), NOW))
    result = plan(NOW + timedelta(minutes=1), policy, [item(1)], {"kh": earlier})
    assert result.holds == (Hold(1, "storm", NOW + timedelta(minutes=10)),)
    running = RuleHistory(storm_until=NOW + timedelta(minutes=10))
    assert plan(NOW + timedelta(minutes=5), policy, [item(2)], {"kh": running}).holds == (
        Hold(2, "storm", NOW + timedelta(minutes=10)),
    )


def test_storm_digest_says_so_and_counting_restarts_after_it() -> None:
    """The storm digest names the rule and limit; after the window, alerts of the rule go alone again."""
    policy = Policy(storm_max=2, storm_window=3600)
    end = NOW + timedelta(hours=1)
    result = plan(end, policy, [item(1, batch="storm", held_until=end)], {})
    assert result.digest is not None
    assert result.digest.storm_rules == ("kh",)
    assert digest.notices(result.digest, policy) == [
        "Storm control: more than 2 alerts of rule kh within 1h; the rest of that window is collected in this digest."
    ]
    history = {"kh": RuleHistory(sent_alone=(NOW, NOW + timedelta(minutes=1)), storm_until=end)}
    assert plan(end + timedelta(minutes=5), policy, [item(2)], history).alone == (2,)


def test_policy_for_target_uses_its_zone_or_the_default() -> None:
    """A target without its own time zone uses the configured one; the console sends everything at once."""
    from monitor.model import TargetConfig

    target = TargetConfig(
        "mail", "mailto://x", "mailto://x", mode="digest", digest_times=(480,), timezone="Asia/Baghdad"
    )
    assert Policy.for_target(target, UTC).tz == BAGHDAD
    assert Policy.for_target(None, LONDON) == Policy(tz=LONDON)


# --- digest rendering ---------------------------------------------------------------------------------------


def alert(n: int, **changes: object) -> Alert:
    """A plain alert numbered `n`; keyword arguments replace fields."""
    base = Alert(
        alert_id=n,
        rule="kataib-hezbollah",
        severity="high",
        title=f"Headline {n}",
        link=f"https://news.example.org/{n}",
        summary="",
        feed_name="Example Wire",
        published=NOW,
        matched=("KH",),
        created_at=NOW + timedelta(minutes=n),
    )
    from dataclasses import replace

    return replace(base, **changes)  # type: ignore[arg-type]


HOSTILE_FEED = 'Feed <script>x()</script>&amp; "co"'


def digest_alerts() -> list[Alert]:
    """A rule with a story reported twice (an update) plus a second rule; one hostile outlet."""
    title = "Kata'ib Hizballah claims drone strike & raid <b>now</b>"
    hit = Hit("kataib-hezbollah", "actor", "Kataeb Hezbollah", "title", 0, 17, "Kata'ib Hizballah", 87.0)
    return [
        alert(
            1,
            title=title,
            story_id=5,
            hits=(hit,),
            matched=("Kata'ib Hizballah",),
            also_reported=(
                StoryReport("Reuters", "KH claims strike", "https://reuters.example/kh"),
                StoryReport(HOSTILE_FEED, "x", "javascript:alert(1)"),
            ),
        ),
        alert(2, title="KH strike: Pentagon confirms damage", story_id=5, update=True, feed_name="Reuters"),
        alert(3, rule="pmf-law", severity="medium", title="Parliament delays PMF law", link="ftp://x/y"),
        alert(4, title="Kataib Hezbollah names new leader", summary="<p>The group <i>named</i> a leader.</p>"),
    ]


def test_digest_groups_by_rule_then_story() -> None:
    """The digest lists the most severe rule first, a story's update under its first alert, and other outlets."""
    message = render_digest(digest_alerts(), tz=BAGHDAD, notices=["Digest (hourly, Asia/Baghdad)."])
    text = message.text
    assert message.title == "[high] digest: 4 alerts for kataib-hezbollah, pmf-law"
    assert text.index("== kataib-hezbollah (severity high): 3 alerts ==") < text.index("== pmf-law")
    assert "Update: KH strike: Pentagon confirms damage (Reuters · 2026-11-24 13:00 +03)" in text
    assert 'Also reported by: Feed & "co"' in text  # Reuters wrote the update: not repeated
    assert text.count("* ") == 3  # two stories of kataib-hezbollah, one of pmf-law
    assert "Digest (hourly, Asia/Baghdad)." in text.splitlines()[1]
    assert "Link (not a web link, not opened): ftp://x/y" in text


def test_digest_html_is_well_formed_escaped_and_links_only_http() -> None:
    """Digest HTML parses as XML, keeps feed markup as text, and links only http(s) URLs."""
    html = render_digest(digest_alerts(), notices=["<b>notice</b> & co"]).html
    ET.fromstring(f"<root>{html}</root>")
    parsed = parse_html(html)
    assert {tag for tag, _ in parsed.tags} <= {"div", "p", "strong", "h2", "ul", "li", "a", "mark", "br"}
    for _, attributes in parsed.tags:
        assert set(attributes) <= ALLOWED_ATTRIBUTES
        assert (attributes.get("href") or "https:").startswith(("https:", "http:"))
    assert "&lt;b&gt;notice&lt;/b&gt; &amp; co" in html
    assert "<script" not in html
    assert "javascript:" not in html
    assert "claims drone strike &amp; raid now" in html
    assert "<mark>Kata&#x27;ib Hizballah</mark>" in html


def test_digest_slack_is_escaped() -> None:
    """Digest mrkdwn escapes & < > from feeds and uses <url|text> links only for http(s)."""
    markdown = render_digest(digest_alerts()).markdown
    assert "<https://news.example.org/1|Kata'ib Hizballah claims drone strike &amp; raid now>" in markdown
    assert "<script" not in markdown
    assert "javascript:" not in markdown
    assert 'Also reported by: Feed &amp; "co"' in markdown


def test_an_empty_digest_cannot_be_rendered() -> None:
    """render_digest refuses no alerts: an empty digest is never sent."""
    with pytest.raises(ValueError, match="empty"):
        render_digest([])


def test_single_alert_names_other_outlets_and_updates() -> None:
    """An alert whose story other outlets reported says so, linked; an update says it is one."""
    first = digest_alerts()[0]
    message = render_alert(first)
    assert "Also reported by: Reuters, Feed" in message.text
    assert '<a href="https://reuters.example/kh">Reuters</a>' in message.html
    assert "<https://reuters.example/kh|Reuters>" in message.markdown
    update = render_alert(digest_alerts()[1])
    assert update.title.startswith("[high] kataib-hezbollah (update): ")
    assert "Update: a later report" in update.text
    ET.fromstring(f"<root>{message.html}{update.html}</root>")


def golden_digest() -> list[str]:
    message = render_digest(digest_alerts(), tz=BAGHDAD, notices=["Digest (hourly, Asia/Baghdad)."])
    return [message.html, message.markdown]


def test_digest_html_matches_golden_file() -> None:
    """The HTML of a reference digest is exactly tests/golden/digest_email.html."""
    check_golden("digest_email.html", golden_digest()[0])


def test_digest_slack_matches_golden_file() -> None:
    """The Slack body of a reference digest is exactly tests/golden/digest_slack.md."""
    check_golden("digest_slack.md", golden_digest()[1])


# --- user templates -----------------------------------------------------------------------------------------


def test_user_templates_get_escaped_values(tmp_path: Path) -> None:
    """A user's alert.html and digest.subject are used; feed text reaches them escaped for their form."""
    (tmp_path / "alert.html").write_text("<h1>$headline</h1><p>$source · $published</p>\n", encoding="utf-8")
    (tmp_path / "alert.subject").write_text("ALERT $rule\n: $title", encoding="utf-8")
    (tmp_path / "digest.txt").write_text("$count\n$notices\n$items\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("not a template", encoding="utf-8")
    templates = load_templates(tmp_path)
    hostile = alert(1, title="<script>x()</script>Strike & raid", feed_name=HOSTILE_FEED)
    message = render_alert(hostile, templates=templates)
    assert message.html.startswith('<h1><a href="https://news.example.org/1">Strike &amp; raid</a></h1>')
    assert "&quot;co&quot;" in message.html
    assert "<script" not in message.html
    assert message.title == "ALERT kataib-hezbollah : Strike & raid"  # one line: no header injection
    assert message.text == render_alert(hostile).text  # no alert.txt: the built-in layout
    text = render_digest([hostile], notices=["n1"], templates=templates).text
    assert text.startswith("1 alert\nn1\n")


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("alert.html", "<p>$headline</p>\n<p>$secret</p>\n", "alert.html:2: unknown placeholder $secret"),
        ("digest.txt", "ok\ncosts 5$ each\n", "digest.txt:2: a '$' that starts no placeholder"),
        ("mail.html", "hi", "mail.html: not a template name"),
    ],
)
def test_bad_templates_are_config_errors_with_file_and_line(
    tmp_path: Path, name: str, content: str, words: str
) -> None:
    """Unknown placeholders, stray dollars and unknown file names stop the configuration, naming file and line."""
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_templates(tmp_path)
    assert words in raised.value.one_line()


def test_no_templates_directory_means_built_in_layout() -> None:
    """Without a templates directory every form is the built-in one."""
    assert load_templates(None) == Templates()


# --- configuration ------------------------------------------------------------------------------------------


def write_config(tmp_path: Path, target_lines: str, top: str = "") -> Path:
    """A monitor.toml with one json target carrying `target_lines`."""
    path = tmp_path / "monitor.toml"
    path.write_text(f'{top}\n[[targets]]\nname = "t"\nurl = "json://127.0.0.1:9/x"\n{target_lines}\n', encoding="utf-8")
    return path


def test_target_delivery_keys_are_read(tmp_path: Path) -> None:
    """mode, digest, timezone, quiet_hours, break_through and storm become the target's policy."""
    from monitor.config import load_settings

    lines = (
        'digest = "daily 08:00, 18:00"\ntimezone = "Asia/Baghdad"\nquiet_hours = "22:00-07:00"\n'
        'break_through = "high"\nstorm = { max = 5, window = "30m" }'
    )
    settings = load_settings(write_config(tmp_path, lines, '[stories]\nwindow = "12h"'), env={})
    [target] = settings.targets
    assert (target.mode, target.digest_times, target.timezone) == ("digest", (480, 1080), "Asia/Baghdad")
    assert (target.quiet_hours, target.break_through, target.storm_max, target.storm_window) == (
        (1320, 420),
        "high",
        5,
        1800,
    )
    assert settings.story_window == 12 * 3600
    assert Policy.for_target(target).schedule == Schedule(times=(480, 1080))


@pytest.mark.parametrize(
    ("lines", "words"),
    [
        ('digest = "weekly"', "monitor.toml:5: targets.digest:"),
        ('mode = "digest"', "monitor.toml:5: targets.mode: a digest target needs digest"),
        ('mode = "immediate"\ndigest = "1h"', "monitor.toml:6: targets.digest: only for mode"),
        ('mode = "sometimes"', "monitor.toml:5: targets.mode: 'sometimes' is not immediate or digest"),
        ('timezone = "Mars/Olympus"', "monitor.toml:5: targets.timezone: unknown time zone"),
        ('quiet_hours = "late"', "monitor.toml:5: targets.quiet_hours:"),
        ('break_through = "urgent"', "monitor.toml:5: targets.break_through: 'urgent' is not one of"),
        ("storm = { max = 0 }", "monitor.toml:5: targets.storm: max must be"),
        ('storm = { max = 3, window = "5s" }', "monitor.toml:5: targets.storm: window"),
        ("storm = { limit = 3 }", "monitor.toml:5: targets.storm: unknown key 'limit'"),
    ],
)
def test_bad_target_delivery_keys_name_file_line_and_key(tmp_path: Path, lines: str, words: str) -> None:
    """Every bad delivery key is a one-line ConfigError naming the file, line and key."""
    from monitor.config import load_settings

    with pytest.raises(ConfigError) as raised:
        load_settings(write_config(tmp_path, lines), env={})
    assert words in raised.value.one_line()
