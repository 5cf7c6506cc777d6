"""The preferences page over HTTP: GET changes nothing; each form changes only what it names and
confirms it with an undo; forged, expired, other readers' and replayed requests change nothing."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest
from starlette.testclient import TestClient

from newsletter.db import Database, delivery_transitions, feed
from newsletter.db import preferences as store
from newsletter.db import subscribers as subs
from newsletter.models import DigestEntry, Paper, Score, Subscriber
from newsletter.readers.preference_links import preferences_url
from newsletter.settings import load_settings
from newsletter.web.app import create_app
from newsletter.web.preview import PreviewResult
from tests.conftest import make_site

PUBLIC = "https://digest.example.org"
ADA, GRACE = "ada@example.org", "grace@example.org"
MAILED = dt.datetime(2026, 12, 1, 7, 0, tzinfo=dt.UTC)
CRITERIA = "criteria/generation-segmentation-matting.md"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


class FakePreviewer:
    """Records what it was asked; answers with one paper."""

    def __init__(self) -> None:
        self.asked: list[Subscriber] = []

    def __call__(self, subscriber: Subscriber) -> PreviewResult:
        self.asked.append(subscriber)
        paper = Paper("2512.00001", "Matting <b>anything</b>", ("A. Author",), "abstract", ("cs.CV",))
        entry = DigestEntry(paper, Score(paper.arxiv_id, 8, 6, "fits"))
        return PreviewResult(dt.date(2026, 12, 4), (entry,), 40)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_site(tmp_path, monkeypatch, [f"{ADA},Ada,{CRITERIA},cs.CV,Europe/Berlin,07:00,",
                                             f"{GRACE},Grace,{CRITERIA},cs.CV,UTC,08:00,"],
                     PUBLIC_URL=PUBLIC)


@pytest.fixture
def db(site: Path) -> Iterator[Database]:
    database = Database.open(load_settings().db_path)
    yield database
    database.close()


@pytest.fixture
def previewer() -> FakePreviewer:
    return FakePreviewer()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(db: Database, clock: Clock, previewer: FakePreviewer) -> Iterator[TestClient]:
    app = create_app(load_settings(), db, clock=clock, previewer=previewer)
    with TestClient(app, base_url=PUBLIC) as test_client:
        yield test_client


def link(db: Database, email: str = ADA, when: dt.datetime = MAILED) -> str:
    return preferences_url(PUBLIC, subs.token_for(db, email, when), when).removeprefix(PUBLIC)


def form(client: TestClient | str, path: str, purpose: str, **values: str) -> dict[str, str]:
    """The fields of the `purpose` form of the page at `path` (or of this page's HTML), with
    `values` filled in (as a browser posts them)."""
    page = lxml.html.fromstring(client if isinstance(client, str) else client.get(path).text)
    (found,) = [f for f in page.forms if f.fields.get("form") == purpose and
                (not values.get("action") or f.xpath(f'.//button[@value="{values["action"]}"]'))]
    fields = dict(found.form_values())
    fields.update(values)
    return fields


def stored(db: Database, email: str = ADA) -> dict[str, str]:
    return {name: o.value for name, o in store.overrides(db, email).items()}


def test_get_shows_the_settings_and_changes_nothing(db: Database, client: TestClient) -> None:
    response = client.get(link(db))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "every day at 07:00 (Europe/Berlin)" in response.text
    for label in ("Pause until", "How often", "Time zone", "Send time", "Max papers", "Min relevance",
                  "Max papers per topic", "Followed authors", "What you want to read"):
        assert label in response.text
    assert "<script" not in response.text
    assert stored(db) == {} and store.revision(db, ADA) == 0


def test_switching_to_weekly_is_stored_confirmed_and_undone(db: Database, client: TestClient) -> None:
    path = link(db)
    response = client.post(path, data=form(client, path, "frequency", frequency="weekly", weekday="4"))
    assert response.status_code == 200
    assert "Saved. Frequency: weekly; Weekday: Friday. This counts from your next digest." in response.text
    assert "every Friday at 07:00" in response.text
    assert stored(db) == {"frequency": "weekly", "weekday": "4"}
    undone = client.post(path, data=form(response.text, path, "undo"))
    assert "Undone." in undone.text and stored(db) == {}


def test_pause_and_resume_set_the_end_of_the_pause(db: Database, client: TestClient) -> None:
    path = link(db)
    paused = client.post(path, data=form(client, path, "pause", paused_until="2026-12-24", action="pause"))
    assert "Paused until Thursday 24 December 2026" in paused.text
    assert stored(db) == {"paused_until": "2026-12-24"}
    client.post(path, data=form(client, path, "pause", action="resume"))
    assert stored(db) == {"paused_until": "2026-12-07"}  # resuming ends the pause today (Berlin)


def test_bad_input_says_what_is_wrong_and_changes_nothing(db: Database, client: TestClient) -> None:
    path = link(db)
    response = client.post(path, data=form(client, path, "time", timezone="Mars/Olympus", send_at="07:00"))
    assert response.status_code == 400
    assert "Time zone: is not an IANA time zone (e.g. Europe/Berlin). Nothing changed." in response.text
    response = client.post(path, data=form(client, path, "pause", paused_until="2026-12-01", action="pause"))
    assert "is not after today" in response.text
    bad = form(client, path, "criteria", criteria="1. Matting\x1b", action="save")
    response = client.post(path, data=bad)
    assert response.status_code == 400 and "control character" in response.text
    assert "1. Matting" in lxml.html.fromstring(response.text).get_element_by_id("criteria").text  # kept
    assert stored(db) == {} and store.revision(db, ADA) == 0


def test_an_unchanged_form_stores_nothing(db: Database, client: TestClient) -> None:
    path = link(db)
    response = client.post(path, data=form(client, path, "time"))
    assert "Nothing changed: those are your settings already." in response.text
    assert store.revision(db, ADA) == 0


def test_limits_set_and_emptied(db: Database, client: TestClient) -> None:
    path = link(db)
    client.post(path, data=form(client, path, "amount", max_papers="10", min_relevance="6",
                                max_per_topic="3"))
    assert stored(db) == {"max_papers": "10", "min_relevance": "6", "max_per_topic": "3"}
    client.post(path, data=form(client, path, "amount", max_per_topic=""))
    assert stored(db) == {"max_papers": "10", "min_relevance": "6"}


def test_preview_ranks_the_new_text_and_stores_nothing(
    db: Database, client: TestClient, previewer: FakePreviewer
) -> None:
    path = link(db)
    response = client.post(path, data=form(client, path, "criteria", criteria="1. Alpha matting",
                                           action="preview"))
    assert response.status_code == 200
    assert [s.criteria for s in previewer.asked] == ["1. Alpha matting"]
    assert "Preview: Friday 04 December 2026" in response.text and "no LLM is asked" in response.text
    assert "Matting &lt;b&gt;anything&lt;/b&gt;" in response.text  # paper text escaped
    # a local score is shown for what it is: an estimate, with no novelty judged
    assert "estimated relevance 8 · local ranker" in response.text and "novelty" not in response.text
    assert stored(db) == {}
    client.post(path, data=form(client, path, "criteria", criteria="1. Alpha matting", action="save"))
    assert stored(db) == {"criteria": "1. Alpha matting"}


@pytest.mark.parametrize(("change", "status", "words"), [
    (lambda p: p[:-1] + ("a" if p[-1] != "a" else "b"), 404, "This link has been altered"),
    (lambda p: p.replace("/preferences/", "/preferences/zz"), 404, "This link is not valid"),
])
def test_an_altered_link_is_refused(db: Database, client: TestClient, change: object, status: int,
                                    words: str) -> None:
    response = client.get(change(link(db)))  # type: ignore[operator]
    assert (response.status_code, words in response.text) == (status, True)


def test_another_readers_mark_and_an_old_link_are_refused(db: Database, client: TestClient) -> None:
    ada, grace = link(db, ADA), link(db, GRACE)
    mixed = ada.rsplit("/", 1)[0] + "/" + grace.rsplit("/", 1)[1]
    assert client.get(mixed).status_code == 404
    old = link(db, ADA, MAILED - dt.timedelta(days=400))
    response = client.get(old)
    assert response.status_code == 410 and "This link has expired" in response.text


def test_posts_without_a_valid_form_token_change_nothing(
    db: Database, client: TestClient, clock: Clock
) -> None:
    path = link(db)
    good = form(client, path, "frequency", frequency="weekly")
    for fields in ({**good, "csrf": ""}, {k: v for k, v in good.items() if k != "csrf"},
                   {**good, "form": "time"}, {**good, "rev": "7"}):
        response = client.post(path, data=fields)
        assert response.status_code == 403 and "did not come from your settings page" in response.text
    response = client.post(path, data=good, headers={"sec-fetch-site": "cross-site"})
    assert response.status_code == 403
    grace_form = form(client, link(db, GRACE), "frequency", frequency="weekly")
    assert client.post(path, data=grace_form).status_code == 403  # Grace's token on Ada's page
    clock.now += dt.timedelta(hours=25)
    response = client.post(path, data=good)
    assert response.status_code == 403 and "This page has expired" in response.text
    assert stored(db) == {} and stored(db, GRACE) == {}


def test_a_replayed_or_stale_form_changes_nothing(db: Database, client: TestClient) -> None:
    path = link(db)
    weekly = form(client, path, "frequency", frequency="weekly")
    later = form(client, path, "time", send_at="06:00")
    saved = client.post(path, data=weekly)
    assert saved.status_code == 200
    undo = form(saved.text, path, "undo")
    assert client.post(path, data=undo).status_code == 200
    for replay in (weekly, undo, later):
        response = client.post(path, data=replay)
        assert response.status_code == 409 and "This form was already sent" in response.text
    assert stored(db) == {}


def test_self_service_off_refuses_every_route(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SELF_SERVICE", "false")
    with TestClient(create_app(load_settings(), db), base_url=PUBLIC) as client:
        path = link(db)
        answers = (client.get(path), client.get(path + "/archive"), client.post(path, data={"form": "x"}))
        for response in answers:
            assert response.status_code == 404 and "switched off" in response.text


def test_leave_unsubscribes_like_the_one_click_link(db: Database, client: TestClient) -> None:
    path = link(db)
    response = client.post(path, data=form(client, path, "leave"))
    assert response.status_code == 200 and "a***@example.org will get no more digests" in response.text
    assert subs.suppressions(db)[ADA].source == "one-click"
    assert client.get(path).status_code == 410


def test_a_reader_the_admin_removed_is_told_and_their_settings_kept(
    db: Database, client: TestClient, site: Path
) -> None:
    store.change(db, ADA, {"send_at": "06:00"}, now=MAILED, expected_revision=0)
    (site / "subscribers.csv").write_text("email,criteria\n" + f"{GRACE},{CRITERIA}\n")
    response = client.get(link(db))
    assert response.status_code == 404 and "no longer on this digest's list" in response.text
    assert stored(db) == {"send_at": "06:00"}


def test_the_archive_lists_sent_digests_newest_first(db: Database, client: TestClient) -> None:
    days = ((dt.date(2026, 12, 3), ("2512.00001",)), (dt.date(2026, 12, 4), ("2512.00002", "2512.00003")))
    for day, ids in days:
        delivery_transitions.begin(db, ADA, day, paper_ids=ids, message_id=f"<{day}>", now=MAILED)
        feed.record(db, ADA, day,
                    [feed.FeedEntry(i, "cs.CV", f"Title <{i}>", ("A",), 7, 5, "", "llm") for i in ids])
        delivery_transitions.mark_sent(db, ADA, day, provider_id="x", now=MAILED)
    delivery_transitions.begin(db, GRACE, dt.date(2026, 12, 4), paper_ids=("2512.00009",), message_id="<g>",
                               now=MAILED)
    delivery_transitions.mark_sent(db, GRACE, dt.date(2026, 12, 4), provider_id="x", now=MAILED)
    page = client.get(link(db) + "/archive")
    assert page.status_code == 200
    text = page.text
    assert text.index("Friday 04 December 2026") < text.index("Thursday 03 December 2026")
    assert "2 papers" in text and "1 paper<" in text and "Title &lt;2512.00002&gt;" in text
    assert "2512.00009" not in text  # Grace's digest is not Ada's


def test_the_archive_and_the_way_back_are_relative_links_that_resolve(
    db: Database, client: TestClient
) -> None:
    from urllib.parse import urljoin

    path = link(db)
    href = lxml.html.fromstring(client.get(path).text).xpath('//a[text()="Your past digests"]/@href')[0]
    assert urljoin(path, href) == path + "/archive"
    archive = lxml.html.fromstring(client.get(path + "/archive").text)
    back = archive.xpath('//a[text()="Back to your settings"]/@href')[0]
    assert urljoin(path + "/archive", back) == path


def test_a_later_visit_can_still_undo_the_last_change(db: Database, client: TestClient) -> None:
    path = link(db)
    assert "Undo" not in client.get(path).text  # nothing to undo yet
    client.post(path, data=form(client, path, "time", send_at="06:30"))
    page = client.get(path).text
    assert "Your last change (2026-12-07): Send time: 06:30." in page
    client.post(path, data=form(client, path, "undo"))
    assert stored(db) == {}


def test_a_criteria_text_over_the_limit_is_refused_as_too_long_not_as_forged(
    db: Database, client: TestClient
) -> None:
    """A pasted paper (far over the form cap) is told it is too long; the textarea caps typing."""
    path = link(db)
    page = lxml.html.fromstring(client.get(path).text)
    assert page.get_element_by_id("criteria").get("maxlength") == "10000"
    response = client.post(path, data=form(client, path, "criteria", criteria="matting " * 30_000,
                                           action="save"))
    assert response.status_code == 413
    assert "too long" in response.text and "did not come from your settings page" not in response.text
    assert stored(db) == {} and store.revision(db, ADA) == 0


def test_ten_thousand_characters_of_a_non_latin_script_can_be_saved(db: Database, client: TestClient) -> None:
    """The form cap leaves room for the whole allowed text even at 9 percent-encoded bytes a character."""
    path = link(db)
    text = "1. 图像抠图" + "与视频分割" * 1_998
    assert len(text) <= 10_000
    response = client.post(path, data=form(client, path, "criteria", criteria=text, action="save"))
    assert response.status_code == 200 and "Saved." in response.text
    assert stored(db)["criteria"] == text


def test_previews_past_the_limit_get_a_429_page_that_keeps_the_text(
    db: Database, client: TestClient, previewer: FakePreviewer, clock: Clock
) -> None:
    """Each preview costs CPU and the link is the only credential: five a minute per reader, then
    a plain page (no script needed) with 429, Retry-After and the reader's text kept; another
    reader is not held back, and a minute later (the app's clock) previews work again."""
    path = link(db)
    fields = form(client, path, "criteria", criteria="1. Alpha matting", action="preview")
    for _ in range(5):
        assert client.post(path, data=fields).status_code == 200
    refused = client.post(path, data=fields)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert "press Preview again in 60 seconds" in refused.text and "<script" not in refused.text
    assert "1. Alpha matting" in lxml.html.fromstring(refused.text).get_element_by_id("criteria").text
    assert len(previewer.asked) == 5 and stored(db) == {}  # not ranked, nothing saved

    other = link(db, GRACE)
    assert client.post(other, data=form(client, other, "criteria", criteria="1. Depth",
                                        action="preview")).status_code == 200

    clock.now += dt.timedelta(seconds=20)
    assert client.post(path, data=fields).headers["retry-after"] == "40"
    clock.now += dt.timedelta(seconds=40)
    assert client.post(path, data=fields).status_code == 200


def test_a_preview_past_the_limit_is_logged_naming_the_reader(
    db: Database, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The admin reading the log can tell whose link is pressed that often (it may have leaked)."""
    caplog.set_level(logging.INFO)
    path = link(db)
    fields = form(client, path, "criteria", criteria="1. Alpha matting", action="preview")
    for _ in range(6):
        client.post(path, data=fields)
    said = [r.getMessage() for r in caplog.records if "preview limit" in r.getMessage()]
    assert said == [f"preferences: {ADA} is past the preview limit; the next in 60 s"]


def test_previews_are_capped_per_hour_too(db: Database, client: TestClient, clock: Clock) -> None:
    """Five a minute all hour would still be 300 rankings: thirty an hour is the cap."""
    path = link(db)
    fields = form(client, path, "criteria", criteria="1. Alpha matting", action="preview")
    for _ in range(6):
        for _ in range(5):
            assert client.post(path, data=fields).status_code == 200
        clock.now += dt.timedelta(minutes=1)
    refused = client.post(path, data=fields)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == str(54 * 60)  # the hour's first preview leaves at 10:00
    assert "press Preview again in 54 minutes" in refused.text
    clock.now = dt.datetime(2026, 12, 7, 10, 0, 1, tzinfo=dt.UTC)
    assert client.post(path, data=fields).status_code == 200
