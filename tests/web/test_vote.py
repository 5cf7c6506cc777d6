"""The vote links' bad input: forged, expired, another reader's, a paper never sent, a POST not
from the page, a stale page; each records nothing and says so."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import lxml.html
import pytest
from starlette.testclient import TestClient

from newsletter.db import Database, delivery_transitions
from newsletter.db import subscribers as subs
from newsletter.db import votes as vote_store
from newsletter.readers import leave
from newsletter.readers.votes import form_token, vote_url
from newsletter.settings import load_settings
from newsletter.web.app import create_app

PUBLIC = "https://digest.example.org"
ADA, GRACE = "ada@example.org", "grace@example.org"
SENT = dt.datetime(2025, 8, 28, 7, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = SENT + dt.timedelta(hours=2)

    def __call__(self) -> dt.datetime:
        return self.now


def _send(db: Database, email: str, day: dt.date, papers: tuple[str, ...]) -> None:
    delivery_transitions.begin(db, email, day, paper_ids=papers, message_id=f"<{email}.{day}>", now=SENT)
    delivery_transitions.mark_sent(db, email, day, provider_id="x", now=SENT)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "state.db")
    _send(database, ADA, dt.date(2025, 8, 28), ("2508.00001", "2508.00002"))
    _send(database, GRACE, dt.date(2025, 8, 28), ("2508.00003",))
    yield database
    database.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(db: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("NEWSLETTER_PUBLIC_URL", PUBLIC)
    with TestClient(create_app(load_settings(), db, clock=clock), base_url=PUBLIC) as test_client:
        yield test_client


def _path(db: Database, email: str, arxiv_id: str, vote: str = "up") -> str:
    return vote_url(PUBLIC, subs.token_for(db, email, SENT), arxiv_id, vote).removeprefix(PUBLIC)  # type: ignore[arg-type]


def _button(client: TestClient, path: str) -> dict[str, str]:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return dict(lxml.html.fromstring(page.text).forms[0].form_values())


def _refused(response: object, status: int, words: str) -> None:
    assert response.status_code == status  # type: ignore[attr-defined]
    assert words in response.text and "no vote was recorded" in response.text.lower()  # type: ignore[attr-defined]


def test_a_valid_click_records_the_vote_with_its_digest(db: Database, client: TestClient) -> None:
    path = _path(db, ADA, "2508.00002", "down")
    assert client.post(path, data=_button(client, path)).status_code == 200
    vote = vote_store.get(db, ADA, "2508.00002")
    assert vote is not None
    assert (vote.vote, vote.source, vote.digest_date) == ("down", "click", dt.date(2025, 8, 28))


def _with_mark(path: str, change: Callable[[str], str]) -> str:
    """The link with its `u|d + signature` part changed."""
    root, token, mark, arxiv_id = path.split("/", 4)[1:]
    return "/".join(("", root, token, change(mark), arxiv_id))


@pytest.mark.parametrize("tamper", [
    lambda p: _with_mark(p, lambda m: "d" + m[1:]),           # the direction changed, the MAC kept
    lambda p: p.replace("2508.00001", "2508.00002"),          # another paper of the same digest
    lambda p: _with_mark(p, lambda m: m[:-1] + ("a" if m[-1] != "a" else "b")),  # one MAC character
    lambda p: _with_mark(p, lambda m: "x" + m[1:]),           # neither u nor d
    lambda p: _with_mark(p, lambda m: m[:1]),                  # no MAC at all
    lambda p: _with_mark(p, lambda m: m[:1] + "é" * 8),        # a non-ASCII MAC
])
def test_a_forged_link_records_nothing_and_says_so(db: Database, client: TestClient, tamper: object) -> None:
    good = _path(db, ADA, "2508.00001")
    button = _button(client, good)
    forged = tamper(good)  # type: ignore[operator]
    _refused(client.get(forged), 404, "altered")
    _refused(client.post(forged, data=button), 404, "altered")
    assert vote_store.select(db) == []


def test_an_unknown_or_rotated_token_records_nothing(db: Database, client: TestClient) -> None:
    old = _path(db, ADA, "2508.00001")
    button = _button(client, old)
    subs.rotate_token(db, ADA, SENT)  # the old links die with the old token
    _refused(client.get(old), 404, "not valid")
    _refused(client.post(old, data=button), 404, "not valid")
    _refused(client.get(old.replace(old.split("/")[2], "b" * 32)), 404, "not valid")
    assert vote_store.select(db) == []


def test_another_readers_token_cannot_vote_on_a_paper_it_never_got(db: Database, client: TestClient) -> None:
    # Grace's own, correctly signed link, but for a paper only Ada's digest carried
    path = _path(db, GRACE, "2508.00001")
    _refused(client.get(path), 404, "never in your digest")
    forged_form = {"csrf": form_token(subs.token_for(db, GRACE, SENT), "2508.00001", SENT), "action": "vote"}
    _refused(client.post(path, data=forged_form), 404, "never in your digest")
    # and a paper that was in no digest at all
    _refused(client.get(_path(db, ADA, "2508.99999")), 404, "never in your digest")
    assert vote_store.select(db) == []


def test_an_expired_link_records_nothing(db: Database, client: TestClient, clock: Clock) -> None:
    path = _path(db, ADA, "2508.00001")
    clock.now = SENT + dt.timedelta(days=366)
    _refused(client.get(path), 410, "expired")
    token = subs.token_for(db, ADA, SENT)
    fresh_form = {"csrf": form_token(token, "2508.00001", clock.now), "action": "vote"}
    _refused(client.post(path, data=fresh_form), 410, "expired")
    assert vote_store.select(db) == []


def test_a_post_not_made_from_the_page_records_nothing(
    db: Database, client: TestClient, clock: Clock
) -> None:
    path = _path(db, ADA, "2508.00001")
    button = _button(client, path)
    assert client.post(path).status_code == 403  # a scanner POSTing the bare URL
    assert client.post(path, data={**button, "csrf": "1756364400.aaaaaaaaaaaaa"}).status_code == 403
    # the button of another paper's page
    other = _button(client, _path(db, ADA, "2508.00002"))
    assert client.post(path, data=other).status_code == 403
    # a browser saying the form was on another site
    assert client.post(path, data=button, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.post(path, content=b"csrf=" + b"x" * 5000).status_code == 403
    # the page left open for more than a day
    clock.now += dt.timedelta(hours=25)
    response = client.post(path, data=button)
    assert response.status_code == 403 and "open the link in your digest again" in response.text
    assert vote_store.select(db) == []
    assert client.post(path, data=_button(client, path)).status_code == 200  # a fresh page works
    assert len(vote_store.select(db)) == 1


def test_the_page_escapes_the_paper_title(db: Database, client: TestClient) -> None:
    db.read().execute(
        "INSERT INTO papers(arxiv_id, version, title, authors, abstract, categories)"
        " VALUES ('2508.00001', 1, '<script>alert(1)</script> & co', '[]', '', '[\"cs.CV\"]')"
    )
    page = client.get(_path(db, ADA, "2508.00001")).text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page


@pytest.mark.browser
@pytest.mark.parametrize("width", [375, 1280])
def test_the_vote_page_fits_a_phone_and_a_desktop(db: Database, client: TestClient, tmp_path: Path,
                                                   width: int) -> None:
    from tests.render.test_browser import _chromium, _measure

    browser = _chromium()
    long_title = "Supercalifragilistic-" * 12 + " and a long title " * 8
    with db.tx() as conn:
        conn.execute("INSERT INTO papers(arxiv_id, version, title, authors, abstract, categories)"
                     " VALUES ('2508.00001', 1, ?, '[]', '', '[\"cs.CV\"]')", (long_title,))
    path = _path(db, ADA, "2508.00001")
    for name, text in (("ask", client.get(path).text),
                       ("done", client.post(path, data=_button(client, path)).text)):
        page = tmp_path / f"{name}.html"
        page.write_text(text, encoding="utf-8")
        report = _measure(browser, page, tmp_path / f"profile-{name}", width)
        assert report["scrollWidth"] <= width and report["overflowing"] == [], (name, report)


def test_a_link_is_as_old_as_its_mail_not_its_announcement(db: Database, client: TestClient) -> None:
    """`newsletter run --date` of a day long past (the Quickstart's bundled day) mails links that work."""
    old_day = (SENT - dt.timedelta(days=500)).date()
    _send(db, ADA, old_day, ("2401.00001",))
    assert client.get(_path(db, ADA, "2401.00001")).status_code == 200


def test_the_other_links_page_says_it_changes_the_earlier_vote(db: Database, client: TestClient) -> None:
    more = _path(db, ADA, "2508.00002", "up")
    assert "before" not in client.get(more).text
    assert client.post(more, data=_button(client, more)).status_code == 200
    page = client.get(_path(db, ADA, "2508.00002", "down")).text
    assert "You said <em>more like this</em> before; this changes it." in page
    assert vote_store.get(db, ADA, "2508.00002").vote == "up"  # type: ignore[union-attr]  # GET changed nothing


def test_a_reader_who_unsubscribed_is_told_so_and_nothing_is_recorded(
    db: Database, client: TestClient
) -> None:
    """No "your digest will learn from this" for a digest that no longer comes: the page says why."""
    path = _path(db, ADA, "2508.00001")
    button = _button(client, path)
    leave.unsubscribe(db, ADA, "one-click", SENT + dt.timedelta(hours=1))
    _refused(client.get(path), 410, "gets no more digests")
    _refused(client.post(path, data=button), 410, "gets no more digests")
    assert vote_store.select(db) == []
    forged = _with_mark(path, lambda m: "d" + m[1:])
    _refused(client.get(forged), 404, "altered")  # the state is only said to a valid link
