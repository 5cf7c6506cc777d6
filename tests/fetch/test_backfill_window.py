"""What a backfill asks the API: the widened window, run-time holidays, batched id lookups, feed order."""

from __future__ import annotations

import datetime as dt

import pytest

from newsletter.fetch import NoAnnouncementError
from tests.fakes.arxiv_server import FakeArxiv
from tests.fakes.atom import load_day

CATS = ("cs.CV", "cs.AI")
DAY = dt.date(2025, 8, 28)  # Thursday: Tuesday 14:00 to Wednesday 14:00 US Eastern (18:00 UTC)


def test_the_query_is_widened_by_the_overlap_on_both_sides(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.source().backfill(CATS, DAY)  # the default overlap: one hour
    [call] = fake_arxiv.seen("api")
    assert "submittedDate:[202508261700 TO 202508271900]" in call.query["search_query"]


def test_an_extra_holiday_widens_the_window_it_closes(fake_arxiv: FakeArxiv) -> None:
    # No freeze on Tuesday 2025-08-26: Thursday's list carries Monday 14:00 to Wednesday 14:00.
    source = fake_arxiv.source(extra_holidays=[dt.date(2025, 8, 26)], overlap=dt.timedelta(0))
    source.backfill(CATS, DAY)
    [call] = fake_arxiv.seen("api")
    assert "submittedDate:[202508251800 TO 202508271800]" in call.query["search_query"]


@pytest.mark.parametrize(
    ("day", "holidays"),
    [(dt.date(2025, 8, 30), ()), (dt.date(2025, 8, 27), (dt.date(2025, 8, 26),))],
    ids=["saturday", "extra-holiday"],
)
def test_a_backfill_of_a_day_without_a_list_is_no_announcement(
    fake_arxiv: FakeArxiv, day: dt.date, holidays: tuple[dt.date, ...]
) -> None:
    with pytest.raises(NoAnnouncementError):
        fake_arxiv.source(extra_holidays=holidays).backfill(CATS, day)
    assert fake_arxiv.requests == []


def test_backfilled_papers_come_in_the_feeds_order_new_first(fake_arxiv: FakeArxiv) -> None:
    papers = fake_arxiv.source().backfill(CATS, DAY).papers
    kinds = [p.announce_type for p in papers]
    assert kinds == sorted(kinds, key=lambda kind: kind != "new")
    assert kinds[0] == "new" and kinds[-1] == "cross"


def test_a_long_lookup_is_split_into_batches_of_100_ids(fake_arxiv: FakeArxiv) -> None:
    ids = [p.arxiv_id for p in load_day(DAY)][:150]
    assert len(set(ids)) == 150
    found = fake_arxiv.source(api_delay=0).lookup(ids)
    assert set(found) == set(ids)
    calls = fake_arxiv.seen("api")
    assert [len(call.query["id_list"].split(",")) for call in calls] == [100, 50]
    assert [i for call in calls for i in call.query["id_list"].split(",")] == ids


def test_a_shown_day_the_table_calls_closed_has_its_own_window_and_narrows_the_next() -> None:
    from newsletter.fetch import submission_window

    # The table: no freeze on Thursday 2025-06-19, so no Friday list and Monday's spans two
    # freezes. A feed that showed Friday proves Thursday's freeze: each list gets one freeze.
    friday, monday = dt.date(2025, 6, 20), dt.date(2025, 6, 23)
    utc = dt.UTC
    assert submission_window(friday, shown=[friday]) == (
        dt.datetime(2025, 6, 18, 18, tzinfo=utc), dt.datetime(2025, 6, 19, 18, tzinfo=utc))
    assert submission_window(monday, shown=[friday]) == (
        dt.datetime(2025, 6, 19, 18, tzinfo=utc), dt.datetime(2025, 6, 20, 18, tzinfo=utc))
    assert submission_window(monday)[0] == dt.datetime(2025, 6, 18, 18, tzinfo=utc)
    with pytest.raises(ValueError, match="not an arXiv announcement date"):
        submission_window(friday)
