"""One daily cycle end to end: the real arXiv client code against the fake, local ranking, outbox."""

from __future__ import annotations

import datetime as dt
import email
import sqlite3
from email import policy
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.app import app
from newsletter.db import Database, delivery_transitions
from newsletter.db import deliveries as delivery_store
from newsletter.db import subscribers as subscriber_store
from newsletter.models import OutgoingEmail
from tests.conftest import make_site
from tests.fakes.arxiv_server import FakeArxiv

runner = CliRunner()
DAY = "2025-08-28"
READERS = [
    ("ada@example.org", "generation-segmentation-matting.md", "cs.CV", "Europe/Berlin"),
    ("grace@example.org", "spatial-intelligence-embodied.md", "cs.AI;cs.CV", "America/Los_Angeles"),
    ("alan@example.org", "vision-language-seven-topics.md", "cs.AI;cs.CV", "Asia/Tokyo"),
]


@pytest.fixture
def site(tmp_path: Path, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch) -> Path:
    rows = [f"{a},,criteria/{c},{cats},{tz},07:00," for a, c, cats, tz in READERS]
    return make_site(tmp_path, monkeypatch, rows, ARXIV_FEED_URL=fake_arxiv.feed_url,
                     ARXIV_API_URL=fake_arxiv.api_url, PUBLIC_URL="https://digest.example.org",
                     REPLY_DOMAIN="reply.example.org", FROM_EMAIL="digest@example.org")


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["run", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def outbox(site: Path, day: str = DAY) -> dict[str, Path]:
    folder = site / "var" / "outbox" / day
    return {p.stem: p for p in sorted(folder.glob("*.eml"))} if folder.exists() else {}


def test_one_cycle_delivers_one_message_per_reader_and_never_twice(site: Path) -> None:
    code, output = run("--date", DAY)
    assert code == 0, output
    assert "Digest 2025-08-28: 3 due, " in output
    assert f"Digests written to {Path('var') / 'outbox' / DAY}/" in output.replace(str(site) + "/", "")
    messages = outbox(site)
    sent = {address for address, *_ in READERS if address in messages}
    empty = {address for address, *_ in READERS} - sent
    assert sent, output
    for address in sent:
        message = email.message_from_bytes(messages[address].read_bytes(), policy=policy.default)
        assert message.get_content_type() == "multipart/alternative"
        assert message["To"] == address
        assert message["From"] == "arXiv Digest <digest@example.org>"
        assert message["Reply-To"].startswith("u-") and message["Reply-To"].endswith("@reply.example.org")
        token = message["Reply-To"][2:].split("@")[0]
        assert message["List-Unsubscribe"] == (
            f"<https://digest.example.org/unsubscribe/{token}>,"
            f" <mailto:{message['Reply-To']}?subject=unsubscribe>"
        )
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["Message-ID"] and message["Date"] and message["Subject"]
        text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        html = message.get_body(("html",)).get_content()
        assert text.startswith("# Personalized Daily ArXiv Papers 08/28/2025\nTotal relevant papers: ")
        assert "\n## Paper selection prompt\n" in text
        assert "<html" in html.lower()
    db = Database.open(site / "var" / "state.db")
    rows = delivery_store.for_date(db, dt.date(2025, 8, 28))
    assert {a for a, d in rows.items() if d.status == "sent"} == sent
    assert {a for a, d in rows.items() if d.status == "empty"} == empty

    stamps = {a: p.stat().st_mtime_ns for a, p in messages.items()}
    code, output = run("--date", DAY)
    assert (code, output.strip()) == (
        0,
        "Nothing due for 2025-08-28: every active subscriber has had that day's digest.",
    )
    assert {a: p.stat().st_mtime_ns for a, p in outbox(site).items()} == stamps


def test_a_paper_already_sent_is_never_sent_again(site: Path) -> None:
    code, _ = run("--date", DAY, "--dry-run", "--only", "alan@example.org")
    assert code == 0
    preview = (site / "var" / "preview" / DAY / "alan@example.org.md").read_text()
    top = preview.split("](https://arxiv.org/abs/")[1].split(")")[0]
    db = Database.open(site / "var" / "state.db")
    with db.tx() as conn:  # as if an earlier digest (of another day) had carried it
        conn.execute("INSERT INTO delivered_papers VALUES ('ALAN@example.org', ?, '2025-08-27')", (top,))
    code, _ = run("--date", DAY, "--only", "alan@example.org")
    assert code == 0
    sent = outbox(site)["alan@example.org"].read_text()
    assert f"arxiv.org/abs/{top})" not in sent
    assert f"arxiv.org/abs/{top})" in preview
    # a preview now shows what was sent: without the earlier digest's paper, with the day's own
    code, _ = run("--date", DAY, "--dry-run", "--only", "alan@example.org")
    again = (site / "var" / "preview" / DAY / "alan@example.org.md").read_text()
    assert f"arxiv.org/abs/{top})" not in again
    sent_text = email.message_from_string(sent, policy=policy.default).get_body(("plain",)).get_content()
    assert _paper_links(again) == _paper_links(sent_text) != []


def _paper_links(markdown: str) -> list[str]:
    return [line.split("](")[1].split(")")[0] for line in markdown.splitlines() if line.startswith("## ")
            and "](" in line]


def test_dry_run_writes_previews_and_sends_nothing(site: Path) -> None:
    code, output = run("--date", DAY, "--dry-run")
    assert code == 0, output
    folder = site / "var" / "preview" / DAY
    previews = sorted(p.name for p in folder.iterdir())
    assert previews and all(p.endswith((".md", ".html")) for p in previews)
    # a preview holds the reader's unsubscribe link, like the outbox: owner-only
    assert {p.stat().st_mode & 0o777 for p in folder.iterdir()} == {0o600}
    assert (folder.stat().st_mode & 0o777, folder.parent.stat().st_mode & 0o777) == (0o700, 0o700)
    assert outbox(site) == {}
    assert delivery_store.for_date(Database.open(site / "var" / "state.db"), dt.date(2025, 8, 28)) == {}


def test_a_weekend_is_no_digest_and_not_an_error(site: Path) -> None:
    code, output = run("--date", "2025-08-30")
    assert code == 0
    assert output.startswith("No digest: no arXiv announcement is dated ")
    assert outbox(site, "2025-08-30") == {}


def test_an_unsubscribed_reader_gets_nothing_and_a_broken_row_does_not_stop_the_rest(site: Path) -> None:
    db = Database.open(site / "var" / "state.db")
    subscriber_store.suppress(db, "Grace@Example.org", "reply", dt.datetime(2025, 8, 27, tzinfo=dt.UTC))
    with (site / "subscribers.csv").open("a") as roster:
        roster.write("broken@,,criteria/none.md,,,,\n")
    code, output = run("--date", DAY, "--dry-run")
    assert code == 1
    assert "Digest 2025-08-28: 2 due, " in output  # a dry run previews what a real run would send
    assert not list((site / "var" / "preview" / DAY).glob("grace@*"))
    assert "roster: subscribers.csv line 5, column email: 'broken@'" in output
    assert output.rstrip().endswith("error: 1 roster row(s) not served (see `newsletter subscribers check`)")
    code, output = run("--date", DAY)
    assert "grace@example.org" not in outbox(site)
    assert delivery_store.get(db, "grace@example.org", dt.date(2025, 8, 28)) is None


def test_a_reader_gets_the_same_digest_alone_as_with_everyone(site: Path) -> None:
    # kate shares grace's criteria but reads cs.CV only: the criteria text is ranked over both
    # readers' categories either way, so who else is in the run changes nothing for kate.
    with (site / "subscribers.csv").open("a") as roster:
        roster.write("kate@example.org,,criteria/spatial-intelligence-embodied.md,cs.CV,UTC,07:00,\n")
    preview = site / "var" / "preview" / DAY / "kate@example.org.md"
    assert run("--date", DAY, "--dry-run", "--only", "kate@example.org")[0] == 0
    alone = preview.read_text()
    assert run("--date", DAY, "--dry-run")[0] == 0
    assert preview.read_text() == alone
    assert _paper_links(alone)


def test_nothing_due_says_why(site: Path) -> None:
    db = Database.open(site / "var" / "state.db")
    subscriber_store.suppress(db, "grace@example.org", "reply", dt.datetime(2025, 8, 27, tzinfo=dt.UTC))
    assert run("--date", DAY, "--only", "grace@example.org") == (
        0, "Nothing due for 2025-08-28: grace@example.org has unsubscribed.\n")
    for address, _, _, _ in READERS:
        subscriber_store.suppress(db, address, "reply", dt.datetime(2025, 8, 27, tzinfo=dt.UTC))
    assert run("--date", DAY) == (0, "Nothing due for 2025-08-28: every subscriber has unsubscribed.\n")
    assert outbox(site) == {}


def test_one_failing_address_does_not_stop_the_others(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from newsletter.mail.base import PermanentSendError
    from newsletter.mail.outbox import OutboxTransport

    real_send = OutboxTransport.send

    def send(self: OutboxTransport, message: OutgoingEmail) -> str:
        if message.to == "alan@example.org":
            raise PermanentSendError("The to address is not valid (400)")
        return real_send(self, message)

    monkeypatch.setattr(OutboxTransport, "send", send)
    monkeypatch.setenv("NEWSLETTER_SEND_EMPTY", "true")
    code, output = run("--date", DAY)
    assert code == 1
    assert "  failed: alan@example.org: The to address is not valid (400)" in output
    assert output.rstrip().endswith("error: 1 digest(s) failed")
    assert set(outbox(site)) == {"ada@example.org", "grace@example.org"}
    db = Database.open(site / "var" / "state.db")
    assert delivery_store.get(db, "alan@example.org", dt.date(2025, 8, 28)).status == "failed"  # type: ignore[union-attr]
    monkeypatch.setattr(OutboxTransport, "send", real_send)
    code, output = run("--date", DAY)  # the failed one is retried by the next run, the others are not
    assert code == 0, output
    assert set(outbox(site)) == {"ada@example.org", "grace@example.org", "alan@example.org"}


def test_preview_prints_the_paths_of_one_readers_digest(site: Path) -> None:
    result = runner.invoke(app, ["preview", "alan@example.org", "--date", DAY])
    assert result.exit_code == 0, result.output
    md, html = result.output.splitlines()
    assert md.endswith("var/preview/2025-08-28/alan@example.org.md")
    assert html.endswith("var/preview/2025-08-28/alan@example.org.html")
    assert Path(md).read_text().startswith("# Personalized Daily ArXiv Papers 08/28/2025\n")
    result = runner.invoke(app, ["preview", "nobody@example.org", "--date", DAY])
    assert result.exit_code == 1
    assert result.output.startswith("error: nobody@example.org is not a subscriber in subscribers.csv")


def test_a_preview_of_a_broken_row_says_what_is_wrong_with_it(site: Path) -> None:
    roster = site / "subscribers.csv"
    roster.write_text(roster.read_text().replace("Asia/Tokyo", "Asia/Tokio"))
    result = runner.invoke(app, ["preview", "alan@example.org", "--date", DAY], env={"COLUMNS": "300"})
    assert result.exit_code == 1
    flat = " ".join(result.output.split())
    assert flat.startswith("error: alan@example.org's row cannot be served: subscribers.csv line")
    assert "column timezone: 'Asia/Tokio' is not an IANA time zone" in flat


def test_a_preview_with_nothing_selected_shows_the_closest_papers(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_MIN_RELEVANCE", "10")  # nothing of ada's day reaches it
    result = runner.invoke(app, ["preview", "ada@example.org", "--date", DAY], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # stdout carries only paths, and none was written
    lines = result.stderr.splitlines()
    assert lines[:2] == ["Nothing matched ada@example.org's criteria on 2025-08-28.",
                         "The closest papers (relevance/novelty, id, title, comment):"]
    assert lines[2].startswith("  6/5  2508.20020  GS: Generative Segmentation via Label Diffusion"
                               "  (Closest to topic 1: Unified Image/Video Generation and Segmentation")
    assert len(lines) == 5 and [line.split()[0] for line in lines[2:]] == ["6/5", "5/5", "4/5"]
    assert not (site / "var" / "preview" / DAY).exists()  # no empty note: none would be sent

    monkeypatch.setenv("NEWSLETTER_SEND_EMPTY", "true")  # now the reader would get the short note
    result = runner.invoke(app, ["preview", "ada@example.org", "--date", DAY], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert [Path(line).name for line in result.stdout.splitlines()] == ["ada@example.org.md",
                                                                        "ada@example.org.html"]
    assert result.stderr.splitlines() == lines


def test_the_closest_papers_leave_out_one_the_reader_already_had(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database.open(site / "var" / "state.db")
    earlier = dt.datetime(2025, 8, 27, 5, 0, tzinfo=dt.UTC)
    delivery_transitions.begin(db, "ada@example.org", dt.date(2025, 8, 27), paper_ids=("2508.20020",),
                               message_id="<m@x>", now=earlier)
    delivery_transitions.mark_sent(db, "ada@example.org", dt.date(2025, 8, 27), provider_id=None, now=earlier)
    monkeypatch.setenv("NEWSLETTER_MIN_RELEVANCE", "10")
    result = runner.invoke(app, ["preview", "ada@example.org", "--date", DAY], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    closest = result.stderr.splitlines()[2:]
    assert len(closest) == 3 and not any("2508.20020" in line for line in closest)
    assert closest[0].startswith("  5/5  ")  # the paper that came second when GS was there


def test_a_failed_fetch_is_one_line_that_names_the_feed(site: Path, fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.serve_feed(dt.date(2025, 8, 27))  # the feed is behind the day asked for
    code, output = run("--date", DAY)
    assert code == 1
    assert output.count("\n") == 1, output
    assert output.startswith(f"error: {fake_arxiv.feed_url}/cs.AI+cs.CV: the feed is still dated 2025-08-27")


def test_only_takes_several_addresses_in_every_documented_form(site: Path) -> None:
    for args in (["--only", "alan@example.org", "ada@example.org"],
                 ["--only", "alan@example.org", "--only", "ada@example.org"],
                 ["--only", "alan@example.org,ada@example.org"]):
        code, output = run("--date", DAY, "--dry-run", *args)
        assert code == 0, output
        assert "Digest 2025-08-28: 2 due, " in output
    code, output = run("--date", DAY, "--dry-run", "alan@example.org", "ada@example.org")
    assert code == 0, output
    assert "Digest 2025-08-28: 2 due, " in output  # bare addresses, as the usage line shows them
    code, output = run(DAY, "--dry-run")
    assert (code, output.strip()) == (1, f"error: unexpected argument '{DAY}': did you mean --date {DAY}?")
    code, output = run("--date", DAY, "--dry-run", "ada")
    assert output.strip() == "error: unexpected argument 'ada': arguments are subscribers' addresses"


def test_a_locked_state_database_is_one_line_naming_it(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run("--date", DAY)  # creates the database
    monkeypatch.setattr(Database, "busy_timeout", 0.2)
    holder = sqlite3.connect(site / "var" / "state.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    try:
        code, output = run("--date", DAY)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 1
    assert output.strip() == (
        f"error: cannot write the state database {site / 'var' / 'state.db'}: database is locked"
    )


def test_a_run_that_crashes_is_logged_as_failed_not_ok(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from newsletter.daily.cycle import Cycle

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(Cycle, "run", crash)
    assert run("--date", DAY)[0] != 0
    db = Database.open(site / "var" / "state.db")
    [status] = [row["status"] for row in db.read().execute("SELECT status FROM runs")]
    assert status == "failed"


def test_a_run_record_that_cannot_be_stored_still_shows_who_got_what(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsletter.db import DatabaseError
    from newsletter.db import runs as run_log

    def disk_full(*args: object, **kwargs: object) -> None:
        raise DatabaseError("state database x: disk is full")

    monkeypatch.setattr(run_log, "finish_run", disk_full)
    code, output = run("--date", DAY)
    assert code == 1
    assert "Digest 2025-08-28: 3 due, 3 sent" in output
    reason = "the run's record could not be stored: state database x: disk is full"
    assert output.rstrip().endswith(f"error: {reason}")


def test_an_outbox_send_a_crash_interrupted_is_settled_from_the_files(site: Path) -> None:
    """The outbox writes whole files (atomic rename): a file means sent, none means not sent."""
    assert run("--date", DAY)[0] == 0
    files = outbox(site)
    db = Database.open(site / "var" / "state.db")
    with db.tx() as conn:  # killed after ada's rename, and during grace's write, before the records
        conn.execute("UPDATE deliveries SET status='sending' WHERE email IN (?, ?)",
                     ("ada@example.org", "grace@example.org"))
    files["grace@example.org"].unlink()
    partial = files["grace@example.org"].with_name(".grace@example.org.eml.x1y2z3.tmp")
    partial.write_text("half a messa")
    ada_written = files["ada@example.org"].stat().st_mtime_ns

    code, output = run("--date", DAY)

    assert code == 0, output
    assert "unknown" not in output
    assert files["ada@example.org"].stat().st_mtime_ns == ada_written  # not written twice
    assert files["grace@example.org"].exists() and not partial.exists()
    for address in ("ada@example.org", "grace@example.org"):
        assert delivery_store.get(db, address, dt.date(2025, 8, 28)).status == "sent"  # type: ignore[union-attr]


def test_a_run_killed_before_it_finished_is_marked_killed_by_the_next_one(site: Path) -> None:
    """Only the run lock's holder may judge a `running` row dead; the service's `prepare` is not locked."""
    from newsletter.db import runs as run_log

    db = Database.open(site / "var" / "state.db")
    started = dt.datetime(2025, 8, 28, 5, 0, tzinfo=dt.UTC)
    for kind in ("run", "prepare"):
        record = run_log.RunRecord(kind=kind, started_at=started, digest_date=dt.date(2025, 8, 28))
        run_log.start_run(db, record)
    assert run("--date", DAY, "--dry-run")[0] == 0  # a dry run holds no lock and judges nothing
    query = "SELECT kind, status FROM runs ORDER BY id"
    assert [(r["kind"], r["status"]) for r in db.read().execute(query)][:2] == [
        ("run", "running"), ("prepare", "running")
    ]

    assert run("--date", DAY)[0] == 0
    rows = db.read().execute("SELECT kind, status, errors FROM runs ORDER BY id").fetchall()
    assert [(r["kind"], r["status"]) for r in rows] == [
        ("run", "killed"), ("prepare", "running"), ("dry-run", "ok"), ("run", "ok")
    ]
    assert "stopped before the run finished" in rows[0]["errors"]


def test_a_run_without_date_serves_the_day_the_feed_shows_where_the_table_calls_it_closed(
    site: Path, fake_arxiv: FakeArxiv
) -> None:
    # From cron, Friday 2025-06-20 08:00 US Eastern: the table says arXiv closed on Thursday the
    # 19th (no Friday list), but the feed shows one dated Friday. The feed decides.
    from newsletter.daily.run import default_digest_date, run_daily
    from newsletter.daily.wiring import build_adapters
    from newsletter.db.papers import stored_dates
    from newsletter.settings import load_settings

    friday = dt.date(2025, 6, 20)
    fake_arxiv.serve_feed(friday, papers_of=dt.date(2025, 7, 15))
    now = dt.datetime(2025, 6, 20, 12, 0, tzinfo=dt.UTC)
    settings = load_settings()
    db = Database.open(settings.db_path)
    assert default_digest_date(now, settings) == dt.date(2025, 6, 19)  # the table's newest
    adapters = build_adapters(settings, db, None)
    try:
        summary = run_daily(now=now, settings=settings, db=db, adapters=adapters)
    finally:
        adapters.source.close()
    assert summary.digest_date == friday, summary
    assert summary.due == 3 and not summary.fatal
    assert set(delivery_store.for_date(db, friday)) == {a for a, *_ in READERS}
    assert stored_dates(db, dt.date(2025, 6, 1)) == {friday}  # Thursday not rebuilt on the side
    assert fake_arxiv.seen("api") == [] or all("id_list" in r.query for r in fake_arxiv.seen("api"))


def test_a_second_run_says_at_once_that_it_waits_for_the_first_then_gives_up(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from filelock import FileLock

    from newsletter.daily import run as daily_run

    monkeypatch.setattr(daily_run, "RUN_LOCK_WAIT", 0.3)
    lock = FileLock(str(site / "var" / "run.lock"))
    (site / "var").mkdir(exist_ok=True)
    with lock:
        code, output = run("--date", DAY)
    assert code == 1
    lines = " ".join(output.split())  # the console wraps long lines
    assert f"another run holds {site / 'var' / 'run.lock'}; waiting up to 0 minutes" in lines
    assert f"another run holds {site / 'var' / 'run.lock'}; try again when it has finished" in lines
    assert outbox(site) == {}  # nothing was sent by the run that never got the lock


def test_votes_in_the_database_reorder_the_next_digest_and_say_why(site: Path) -> None:
    """Votes cast with `newsletter feedback add` (the same store as a click) reach the ranker:
    the liked kind rises, the disliked kind sinks, and a paper shown for being like a liked one
    says so. (A preview of a day already sent shows that day's papers again.)"""
    assert run("--date", DAY)[0] == 0
    sent = _sections(outbox(site)["grace@example.org"].read_text(encoding="utf-8"))
    liked, disliked = [i for i, _ in sent[-3:]], [i for i, _ in sent[:5]]
    for arxiv_id, vote in [*((i, "up") for i in liked), *((i, "down") for i in disliked)]:
        result = runner.invoke(app, ["feedback", "add", "grace@example.org", arxiv_id, vote])
        assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["preview", "grace@example.org", "--date", DAY]).exit_code == 0
    preview = site / "var" / "preview" / DAY / "grace@example.org.md"
    after = [i for i, _ in _sections(preview.read_text(encoding="utf-8"))]
    before = [i for i, _ in sent]

    def mean_place(order: list[str], ids: list[str]) -> float:
        return sum(order.index(i) if i in order else len(order) for i in ids) / len(ids)

    assert mean_place(after, liked) < mean_place(before, liked)
    assert mean_place(after, disliked) > mean_place(before, disliked)
    comments = [c for _, c in _sections(preview.read_text(encoding="utf-8"), comments=True)]
    assert any(c.startswith("Shown as like *") and ", which you liked; closest to topic" in c
               for c in comments), comments


def _sections(text: str, *, comments: bool = False) -> list[tuple[str, str]]:
    """(arXiv id, title or comment) of each paper section of a digest's text part, in order."""
    if "Content-Type" in text.split("\n\n", 1)[0]:  # a whole message: its plain part
        message = email.message_from_string(text, policy=policy.default)
        text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    out = []
    for section in text.split("\n## ")[1:-1]:
        title = section.split("](", 1)[0].split(". [", 1)[1]
        arxiv_id = section.split("**ArXiv ID:** ", 1)[1].split("\n", 1)[0]
        comment = section.split("**Comment:** ", 1)[1].split("\n", 1)[0]
        out.append((arxiv_id, comment if comments else title))
    return out


def test_a_seed_paper_never_comes_back_as_new(site: Path) -> None:
    """db/votes.py `seed_ids`: a paper the reader named as a seed is one they know; the digest of
    the day it was announced leaves it out, in the run and in the preview alike."""
    from newsletter.db.papers import papers_by_id
    from newsletter.readers.seeds import record_seeds

    assert runner.invoke(app, ["preview", "grace@example.org", "--date", DAY]).exit_code == 0
    preview = site / "var" / "preview" / DAY / "grace@example.org.md"
    first, second = [i for i, _ in _sections(preview.read_text(encoding="utf-8"))][:2]
    db = Database.open(site / "var" / "state.db")
    try:
        papers = papers_by_id(db, [first])
        record_seeds(db, "grace@example.org", papers.values(), dt.datetime(2025, 8, 1, tzinfo=dt.UTC))
    finally:
        db.close()
    assert runner.invoke(app, ["preview", "grace@example.org", "--date", DAY]).exit_code == 0
    previewed = [i for i, _ in _sections(preview.read_text(encoding="utf-8"))]
    assert first not in previewed and second in previewed
    assert run("--date", DAY)[0] == 0
    sent = [i for i, _ in _sections(outbox(site)["grace@example.org"].read_text(encoding="utf-8"))]
    assert first not in sent and second in sent
