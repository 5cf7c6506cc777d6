"""Weekly digests, pauses and changes of frequency through the real daily cycle, over two
simulated weeks of stored announcement days with a fake clock: every paper a reader's settings
include goes out exactly once, whichever frequency they had that day."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from newsletter.daily.run import run_daily
from newsletter.daily.span import LOOK_BACK_DAYS, cadence_allows, first_date
from newsletter.daily.wiring import Adapters
from newsletter.db import Database
from newsletter.db import deliveries as delivery_store
from newsletter.db.papers import save_day, stored_dates
from newsletter.models import AnnouncementDay, OutgoingEmail, Paper, Score, Subscriber
from newsletter.ranking.local import llm_candidates
from newsletter.readers.roster import Roster
from newsletter.service.schedule import due_checker, due_now
from newsletter.settings import Settings, load_settings

MON = dt.date(2026, 11, 30)  # two weeks of announcements: Mon 30 Nov … Fri 11 Dec 2026
DAYS = [MON + dt.timedelta(days=n) for n in range(12) if (MON + dt.timedelta(days=n)).weekday() < 5]
CRITERIA = "Papers about image segmentation."
ABSTRACTS = {True: "Image segmentation of images.", False: "Galaxies, stars and comets."}


def papers_of(day: dt.date) -> tuple[Paper, ...]:
    """Six papers a day: three that match the criteria (by title, see `TitleRanker`), three not;
    the last match is announced again the next day as a new version (a replacement)."""
    stamp = day.strftime("%m%d")
    papers = [
        Paper(f"2612.{stamp}{n}", f"{'Segmentation' if n < 3 else 'Unrelated'} study {stamp}-{n}",
              ("A. Author",), ABSTRACTS[n < 3], ("cs.CV",))
        for n in range(6)
    ]
    before = day - dt.timedelta(days=3 if day.weekday() == 0 else 1)
    if before >= MON:
        old = before.strftime("%m%d")
        papers.append(Paper(f"2612.{old}2", f"Segmentation study {old}-2", ("A. Author",),
                            ABSTRACTS[True], ("cs.CV",), version=2, announce_type="replace"))
    return tuple(papers)


def qualifying(days: Sequence[dt.date]) -> set[str]:
    return {p.arxiv_id for d in days for p in papers_of(d) if p.title.startswith("Segmentation")}


class TitleRanker:
    """Relevance 8 for a title about segmentation, 2 otherwise: which papers qualify is known."""

    def rank(self, criteria: str, papers: Sequence[Paper], history: Sequence[tuple[Paper, int]] = (),
             votes: Sequence[tuple[Paper, int]] = ()) -> list[Score]:
        return [Score(p.arxiv_id, 8 if p.title.startswith("Segmentation") else 2, 6, "fits")
                for p in papers]


class NoFetch:
    """Every day is stored before its tick: the cycle must never ask arXiv."""

    def fetch_day(self, **_: object) -> AnnouncementDay:
        raise AssertionError("fetched a day that is stored")

    def fetch_latest(self, categories: Sequence[str]) -> AnnouncementDay:
        raise AssertionError("looked at the feed")

    def close(self) -> None:
        pass


@dataclass
class Recorder:
    sent: list[OutgoingEmail] = field(default_factory=list)

    def send(self, email: OutgoingEmail) -> str:
        self.sent.append(email)
        return f"id-{len(self.sent)}"


def reader(email: str, criteria: str = CRITERIA, **settings: object) -> Subscriber:
    return replace(Subscriber(email, criteria, Path("criteria.md"), categories=("cs.CV",)),
                   **settings)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in {"SUBSCRIBERS": str(tmp_path / "subscribers.csv"), "MAX_PAPERS": "50",
                        "PUBLIC_URL": "https://digest.example.org", "REPLY_DOMAIN": "reply.example.org",
                        "FROM_EMAIL": "digest@example.org"}.items():
        monkeypatch.setenv(f"NEWSLETTER_{name}", value)
    return load_settings()


Plan = Callable[[dt.date], Sequence[Subscriber]]  # the roster as it stands on a (UTC) date


def simulate(settings: Settings, plan: Plan, *, through: dt.date) -> tuple[Recorder, Database]:
    """The service's delivery ticks (07:30 and 15:00 UTC) from MON to `through`, each day's
    announcement stored when it appears: `due_now` picks the digests, `run_daily` sends them."""
    db = Database.open(settings.db_path)
    recorder = Recorder()
    day = MON
    while day <= through:
        if day in DAYS:
            save_day(db, AnnouncementDay(day, ("cs.CV",), papers_of(day)), source="test")
        for hour in (7, 15):
            now = dt.datetime.combine(day, dt.time(hour, 30), tzinfo=dt.UTC)
            fetched = stored_dates(db, MON)
            roster = Roster(Path("subscribers.csv"), list(plan(day)))
            for digest_date, readers in sorted(due_now(roster.subscribers, now, fetched).items()):
                adapters = Adapters(source=NoFetch(), ranker=TitleRanker(), judge=None, cache=None,
                                    cut=llm_candidates, transport=recorder, clock=lambda now=now: now)
                summary = run_daily(now=now, settings=settings, db=db, adapters=adapters,
                                    date=digest_date, only=[r.email for r in readers],
                                    is_due=due_checker(fetched), roster=roster)
                assert not summary.failed and not summary.fatal, summary.reason
        day += dt.timedelta(days=1)
    return recorder, db


def ids_in(message: OutgoingEmail) -> list[str]:
    return re.findall(r"^## \d+\. \[[^\]]*\]\(https://arxiv\.org/abs/([^)]+)\)", message.text, re.M)


def mail_to(recorder: Recorder, address: str) -> list[OutgoingEmail]:
    return [m for m in recorder.sent if m.to == address]


def test_switching_daily_weekly_daily_mid_week_sends_every_paper_exactly_once(settings: Settings) -> None:
    def plan(day: dt.date) -> list[Subscriber]:
        daily = reader("steady@example.org")
        if day < dt.date(2026, 12, 2) or dt.date(2026, 12, 9) <= day < dt.date(2026, 12, 10):
            switching = reader("switch@example.org")  # daily Mon–Tue, and again Wed of week two
        elif day < dt.date(2026, 12, 9):
            switching = reader("switch@example.org", frequency="weekly", weekday=4)  # Fridays
        else:
            switching = reader("switch@example.org", frequency="weekly", weekday=5)  # Saturdays
        return [daily, switching]

    recorder, db = simulate(settings, plan, through=dt.date(2026, 12, 13))

    wanted = qualifying(DAYS)
    for address in ("steady@example.org", "switch@example.org"):
        got = Counter(i for m in mail_to(recorder, address) for i in ids_in(m))
        assert set(got) == wanted, address
        assert max(got.values()) == 1, [i for i, n in got.items() if n > 1]
    steady = mail_to(recorder, "steady@example.org")
    assert len(steady) == len(DAYS)  # one digest a day, each of its own day, as ever
    assert all(m.text.startswith("# Personalized Daily ArXiv Papers ") and "–" not in m.text.split("\n")[0]
               for m in steady)
    heads = [(m.date.date(), m.text.split("\n")[0], m.subject.split(" · ")[1])
             for m in mail_to(recorder, "switch@example.org")]
    assert heads == [
        (dt.date(2026, 11, 30), "# Personalized Daily ArXiv Papers 11/30/2026", "Mon 30 Nov 2026"),
        (dt.date(2026, 12, 1), "# Personalized Daily ArXiv Papers 12/01/2026", "Tue 1 Dec 2026"),
        (dt.date(2026, 12, 4), "# Personalized Weekly ArXiv Papers 12/02/2026–12/04/2026", "2–4 Dec 2026"),
        (dt.date(2026, 12, 9), "# Personalized Daily ArXiv Papers 12/07/2026–12/09/2026", "7–9 Dec 2026"),
        (dt.date(2026, 12, 12), "# Personalized Weekly ArXiv Papers 12/10/2026–12/11/2026",
         "10–11 Dec 2026"),
    ]
    # what was delivered is what says where the next digest starts
    assert delivery_store.covered_through(db, "switch@example.org", before=dt.date(2026, 12, 31)) == DAYS[-1]


def test_a_paused_reader_gets_nothing_and_the_paused_days_never_pile_up(settings: Settings) -> None:
    resume = dt.date(2026, 12, 7)

    def plan(day: dt.date) -> list[Subscriber]:
        paused = dt.date(2026, 12, 2) <= day  # the reader pauses on Wednesday until next Monday
        return [reader("away@example.org", paused_until=resume if paused else None),
                reader("weekly@example.org", frequency="weekly", weekday=2,
                       paused_until=dt.date(2026, 12, 3) if paused else None)]

    recorder, _ = simulate(settings, plan, through=dt.date(2026, 12, 11))

    away = mail_to(recorder, "away@example.org")
    assert [m.date.date() for m in away] == [DAYS[0], DAYS[1], *DAYS[5:]]
    got = Counter(i for m in away for i in ids_in(m))
    # (12-04's third match is announced again on 12-07, after the pause: that day's, so it goes)
    assert set(got) == qualifying(DAYS[:2] + DAYS[5:]) and "2612.12042" in got
    assert max(got.values()) == 1
    assert away[2].text.startswith("# Personalized Daily ArXiv Papers 12/07/2026\n")  # the day alone
    # A weekly reader paused over their weekday (Wednesday) skips that week; the next Wednesday's
    # digest starts at the pause's end (Thursday), not at their last digest.
    weekly = mail_to(recorder, "weekly@example.org")
    assert [(m.date.date(), m.text.split("\n")[0]) for m in weekly] == [
        (dt.date(2026, 12, 9), "# Personalized Weekly ArXiv Papers 12/03/2026–12/09/2026"),
    ]
    assert set(ids_in(weekly[0])) == qualifying(DAYS[3:8])


def test_the_look_back_bounds_a_digest_after_a_long_gap() -> None:
    daily, weekly = reader("a@example.org"), reader("b@example.org", frequency="weekly")
    day = dt.date(2026, 12, 11)
    assert first_date(daily, day, None) == day  # a new daily reader: the day alone, as ever
    assert first_date(weekly, day, None) == dt.date(2026, 12, 5)  # a new weekly reader: the week
    assert first_date(daily, day, dt.date(2026, 12, 10)) == day
    assert first_date(daily, day, dt.date(2026, 10, 1)) == day - dt.timedelta(days=LOOK_BACK_DAYS - 1)
    assert first_date(replace(daily, paused_until=dt.date(2026, 12, 9)), day, dt.date(2026, 12, 1)) == (
        dt.date(2026, 12, 9))
    assert first_date(daily, day, day) == day  # an admin's --date run of an older day still has it


def test_cadence_pauses_on_the_readers_own_date_and_serves_weekly_readers_on_their_weekday() -> None:
    tokyo = reader("t@example.org", timezone="Asia/Tokyo", paused_until=dt.date(2026, 12, 8))
    late_monday = dt.datetime(2026, 12, 7, 14, 59, tzinfo=dt.UTC)  # 23:59 on Monday in Tokyo
    assert not cadence_allows(tokyo, dt.date(2026, 12, 8), late_monday)
    assert cadence_allows(tokyo, dt.date(2026, 12, 8), late_monday + dt.timedelta(minutes=1))
    assert not cadence_allows(tokyo, dt.date(2026, 12, 7), late_monday + dt.timedelta(minutes=1))
    friday = reader("f@example.org", frequency="weekly", weekday=4, timezone="America/Los_Angeles")
    assert cadence_allows(friday, dt.date(2026, 12, 4), dt.datetime(2026, 12, 5, 7, 0, tzinfo=dt.UTC))
    assert not cadence_allows(friday, dt.date(2026, 12, 4), dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC))
    assert cadence_allows(reader("d@example.org"), dt.date(2026, 12, 4),
                          dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC))


def test_a_run_without_the_service_serves_weekly_readers_on_their_weekday_and_no_paused_reader(
    settings: Settings,
) -> None:
    """`newsletter run` (cron) has no send windows: a weekly reader is served by the run made on
    their weekday, a paused one by none, and a run with nobody else due says why, as no failure."""
    db = Database.open(settings.db_path)
    readers = [reader("daily@example.org"), reader("friday@example.org", frequency="weekly", weekday=4),
               reader("away@example.org", paused_until=dt.date(2026, 12, 7))]
    roster = Roster(Path("subscribers.csv"), readers)
    recorder = Recorder()
    adapters = Adapters(source=NoFetch(), ranker=TitleRanker(), judge=None, cache=None,
                        cut=llm_candidates, transport=recorder)
    sent = {}
    for day in DAYS[:5]:
        save_day(db, AnnouncementDay(day, ("cs.CV",), papers_of(day)), source="test")
        now = dt.datetime.combine(day, dt.time(9, 0), tzinfo=dt.UTC)
        summary = run_daily(now=now, settings=settings, db=db, adapters=adapters, date=day, roster=roster)
        sent[day] = sorted(summary.sent)
    assert sent == {**{d: ["daily@example.org"] for d in DAYS[:4]},
                    DAYS[4]: ["daily@example.org", "friday@example.org"]}
    (weekly,) = mail_to(recorder, "friday@example.org")
    assert set(ids_in(weekly)) == qualifying(DAYS[:5])  # a first weekly digest: the week
    later = dt.datetime(2026, 12, 4, 18, 0, tzinfo=dt.UTC)
    again = run_daily(now=later, settings=settings, db=db, adapters=adapters, date=DAYS[4],
                      roster=Roster(Path("subscribers.csv"), readers[1:]))
    assert again.nothing_due == ("every active subscriber has had that day's digest or is not due"
                                 " today (1 paused or weekly on another day)")
    assert again.outcome.kind == "nothing due" and not again.failed
