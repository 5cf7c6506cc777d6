"""GET /feed/{key}.xml over the app's HTTP interface, read by a real feed parser (feedparser)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import feedparser
import lxml.etree
import pytest
from starlette.testclient import TestClient

from newsletter.daily.stages import feed_entries
from newsletter.db import Database, delivery_transitions
from newsletter.db import feed as feed_store
from newsletter.db import subscribers as subs
from newsletter.mail.compose import feed_url
from newsletter.models import DigestEntry, Paper, Score
from newsletter.settings import Settings, load_settings
from newsletter.web.app import create_app
from tests.fakes.render_data import seed_digest

ADA = "ada@example.org"
NOW = dt.datetime(2025, 8, 28, 9, 30, tzinfo=dt.UTC)
TODAY = NOW.date()


def entry(arxiv_id: str, title: str = "", authors: tuple[str, ...] = ("Ada Lovelace", "Alan Turing"),
          comment: str = "Fits criterion 2.", relevance: int = 8) -> feed_store.FeedEntry:
    return feed_store.FeedEntry(arxiv_id, "cs.CV", title or f"Paper {arxiv_id}", authors, relevance, 6,
                                comment, "llm")


def send(db: Database, day: dt.date, entries: list[feed_store.FeedEntry], *, email: str = ADA,
         status: str = "sent", at: dt.datetime | None = None) -> None:
    """What digest_stage and the sender leave behind for one digest."""
    at = at or dt.datetime.combine(day, dt.time(7), tzinfo=dt.UTC)
    feed_store.record(db, email, day, entries)
    delivery_transitions.begin(db, email, day, paper_ids=tuple(e.arxiv_id for e in entries), message_id="<m>",
                               now=at)
    if status == "sent":
        delivery_transitions.mark_sent(db, email, day, provider_id="p", now=at)
    else:
        delivery_transitions.mark_failed(db, email, day, error="boom", now=at)


@pytest.fixture
def settings() -> Settings:
    return load_settings(public_url="https://digest.example.org", from_name="arXiv Digest")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "state.db")
    yield database
    database.close()


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db, clock=lambda: NOW)) as test_client:
        yield test_client


def path_of(db: Database, settings: Settings, email: str = ADA) -> str:
    url = feed_url(subs.token_for(db, email, NOW), settings)
    assert url.startswith(settings.public_url + "/feed/") and url.endswith(".xml")
    return url.removeprefix(settings.public_url)


ATOM = "{http://www.w3.org/2005/Atom}"


def atom_complete(body: bytes) -> None:
    """What RFC 4287 requires (§4.1.1, §4.1.2): a feed id, title, updated and author (or one on
    every entry); each entry an id, title, updated, an alternate link or content, and a summary
    (required when there is no content); at most one alternate link per type."""
    root = lxml.etree.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated", "author/" + ATOM + "name"):
        assert (root.findtext(ATOM + name) or "").strip(), name
    for element in root.iterfind(f"{ATOM}entry"):
        for name in ("id", "title", "updated", "summary"):
            assert (element.findtext(ATOM + name) or "").strip(), name
        alternates = [link for link in element.iterfind(f"{ATOM}link")
                      if link.get("rel", "alternate") == "alternate"]
        assert len(alternates) == 1 and alternates[0].get("href", "").startswith("https://arxiv.org/abs/")
        dt.datetime.fromisoformat(element.findtext(f"{ATOM}updated") or "")  # RFC 3339


def parsed(body: bytes) -> feedparser.FeedParserDict:
    atom_complete(body)
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


def test_every_paper_of_the_sent_digests_newest_first(client: TestClient, db: Database,
                                                      settings: Settings) -> None:
    path = path_of(db, settings)
    send(db, TODAY - dt.timedelta(days=1), [entry("2508.00001"), entry("2508.00002", comment="")])
    send(db, TODAY, [entry("2508.00003", authors=("Grace Hopper",), relevance=10)])
    send(db, TODAY - dt.timedelta(days=2), [entry("2508.00009")], status="failed")  # never reached Ada
    send(db, TODAY, [entry("2508.00004")], email="grace@example.org")  # someone else's

    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "no-cache" in response.headers["cache-control"] and "private" in response.headers["cache-control"]
    feed = parsed(response.content)
    assert feed.feed.title == "arXiv Digest: your papers"
    assert feed.feed.id.startswith("tag:digest.example.org,2025:feed/")
    assert feed.feed.author == "arXiv Digest"
    assert feed.feed.updated_parsed[:6] == (2025, 8, 28, 7, 0, 0)
    assert any(link.rel == "self" and link.href == settings.public_url + path for link in feed.feed.links)
    assert ADA not in response.text  # the address never shows, not even in the ids

    assert [e.link for e in feed.entries] == [
        "https://arxiv.org/abs/2508.00003", "https://arxiv.org/abs/2508.00001",
        "https://arxiv.org/abs/2508.00002",
    ]
    first, second, third = feed.entries
    assert first.title == "Paper 2508.00003"
    assert [a.name for a in first.authors] == ["Grace Hopper"]
    assert [a.name for a in second.authors] == ["Ada Lovelace", "Alan Turing"]
    assert "Relevance 10/10 · Novelty 6/10 — Fits criterion 2." in first.summary
    assert "Relevance 8/10 · Novelty 6/10 (digest of" in third.summary  # no comment: no dash
    assert first.updated_parsed[:4] == (2025, 8, 28, 7)
    assert len({e.id for e in feed.entries}) == 3
    assert all(e.id.startswith("tag:digest.example.org,2025:digest/") for e in feed.entries)
    assert [link.href for link in second.links] == ["https://arxiv.org/abs/2508.00001"]
    assert second.tags[0].term == "cs.CV"


def test_a_reader_without_digests_gets_a_valid_empty_feed(client: TestClient, db: Database,
                                                          settings: Settings) -> None:
    feed = parsed(client.get(path_of(db, settings)).content)
    assert feed.entries == []
    assert feed.feed.updated_parsed[:3] == (2025, 8, 28)  # when the token was made


def test_conditional_get(client: TestClient, db: Database, settings: Settings) -> None:
    path = path_of(db, settings)
    send(db, TODAY - dt.timedelta(days=1), [entry("2508.00001")])
    first = client.get(path)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert etag.startswith('"') and modified == "Wed, 27 Aug 2025 07:00:00 GMT"
    assert client.get(path).headers["etag"] == etag  # the same document, the same tag

    for headers in ({"If-None-Match": etag}, {"If-None-Match": f'"other", W/{etag}'},
                    {"If-None-Match": "*"}, {"If-Modified-Since": modified},
                    {"If-Modified-Since": "Thu, 28 Aug 2025 00:00:00 GMT"}):
        again = client.get(path, headers=headers)
        assert again.status_code == 304, headers
        assert again.content == b""
        assert again.headers["etag"] == etag and again.headers["last-modified"] == modified
    for headers in ({"If-None-Match": '"other"'}, {"If-Modified-Since": "Tue, 26 Aug 2025 07:00:00 GMT"},
                    {"If-Modified-Since": "not a date"},
                    # If-None-Match decides alone when both are sent (RFC 9110 §13.2.2)
                    {"If-None-Match": '"other"', "If-Modified-Since": modified}):
        assert client.get(path, headers=headers).status_code == 200, headers

    send(db, TODAY, [entry("2508.00002")])  # a new digest: a new tag and date, the full feed again
    newer = client.get(path, headers={"If-None-Match": etag, "If-Modified-Since": modified})
    assert newer.status_code == 200
    assert newer.headers["etag"] != etag
    assert newer.headers["last-modified"] == "Thu, 28 Aug 2025 07:00:00 GMT"
    assert len(parsed(newer.content).entries) == 2
    assert client.get(path, headers={"If-Modified-Since": modified}).status_code == 200


@pytest.mark.parametrize("key", [
    "0" * 40,  # well-formed, nobody's
    "A" * 40,  # not the key's alphabet
    "abc",
    "0" * 41,
    "..%2F..%2Fetc%2Fpasswd",
    "%00" + "0" * 37,
])
def test_an_unknown_or_malformed_key_is_a_bare_404(client: TestClient, db: Database, settings: Settings,
                                                   key: str) -> None:
    send(db, TODAY, [entry("2508.00001")])
    path_of(db, settings)
    response = client.get(f"/feed/{key}.xml")
    assert response.status_code == 404
    assert response.text in ("Not found.", "Not Found")  # ours, or the router's for a path with "/"
    assert "ada" not in response.text and "2508" not in response.text
    assert "set-cookie" not in response.headers


def test_the_unsubscribe_token_does_not_open_the_feed(client: TestClient, db: Database,
                                                      settings: Settings) -> None:
    """The feed key is a one-way form of the token: the token is no key, and the key cannot
    unsubscribe (it is not a token)."""
    path = path_of(db, settings)
    token = subs.token_for(db, ADA, NOW)
    key = path.removeprefix("/feed/").removesuffix(".xml")
    assert token not in path
    assert client.get(f"/feed/{token}.xml").status_code == 404
    assert subs.email_for_token(db, key) is None
    assert client.get(path.upper().replace("/FEED/", "/feed/").replace(".XML", ".xml")).status_code == 404


def test_a_reader_who_left_gets_410_and_a_rotated_token_ends_the_old_key(
    client: TestClient, db: Database, settings: Settings
) -> None:
    path = path_of(db, settings)
    send(db, TODAY, [entry("2508.00001")])
    subs.suppress(db, ADA, "one-click", NOW)
    gone = client.get(path)
    assert gone.status_code == 410
    assert ADA not in gone.text and "2508" not in gone.text
    subs.unsuppress(db, ADA)
    assert client.get(path).status_code == 200
    subs.rotate_token(db, ADA, NOW)
    assert client.get(path).status_code == 404
    assert client.get(path_of(db, settings)).status_code == 200


def test_only_get_and_it_changes_nothing(client: TestClient, db: Database, settings: Settings) -> None:
    path = path_of(db, settings)
    send(db, TODAY, [entry("2508.00001")])
    before = list(db.read().iterdump())
    assert client.get(path).status_code == 200
    assert client.head(path).status_code == 200
    assert list(db.read().iterdump()) == before
    for method in ("post", "put", "delete"):
        assert client.request(method, path).status_code == 405


def test_the_feed_shows_the_last_30_days(client: TestClient, db: Database, settings: Settings) -> None:
    path = path_of(db, settings)
    for age in (31, 30, 29, 0):
        send(db, TODAY - dt.timedelta(days=age), [entry(f"2508.000{age:02d}")])
    links = [e.link for e in parsed(client.get(path).content).entries]
    assert links == [f"https://arxiv.org/abs/2508.000{age:02d}" for age in (0, 29, 30)]


def test_a_digest_with_hostile_text_stays_well_formed(client: TestClient, db: Database,
                                                      settings: Settings) -> None:
    """As digest_stage stores it (`feed_entries`): control and bidi characters dropped, markup kept
    as text and escaped by the XML library."""
    title = "A <b>bold</b> & \"quoted\" ]]> </title><script>alert(1)</script>\x00\x1b\u202e claim"
    paper = Paper("2508.99999", title, ("Zoë <Admin> O'Neil\x07", "]]>&amp;"), "Abstract & <i>x</i>",
                  ("cs.CV",))
    score = Score("2508.99999", 9, 4, "Fits <criterion 1> & 2 because x<y.\x0c", source="llm")
    base = seed_digest("2025-08-28")
    digest = dataclasses.replace(base, entries=(DigestEntry(paper, score), *base.entries))
    path = path_of(db, settings)
    send(db, TODAY, list(feed_entries(digest)))

    body = client.get(path).content
    root = lxml.etree.fromstring(body)  # well-formed, or this raises
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    assert b"<script>" not in body and b"<b>" not in body
    feed = parsed(body)
    assert len(feed.entries) == len(digest.entries)
    hostile = feed.entries[0]
    assert hostile.title_detail.type == "text/plain"
    assert hostile.title == 'A <b>bold</b> & "quoted" ]]> </title><script>alert(1)</script> claim'
    assert [a.name for a in hostile.authors] == ["Zoë <Admin> O'Neil", "]]>&amp;"]
    assert "Fits <criterion 1> & 2 because x<y." in hostile.summary
    for parsed_entry, shown in zip(feed.entries[1:], base.entries, strict=True):
        assert parsed_entry.link == shown.paper.abs_url
        assert [a.name for a in parsed_entry.authors] == list(shown.paper.authors)


def test_a_large_collaboration_keeps_25_names(client: TestClient, db: Database, settings: Settings) -> None:
    names = tuple(f"Author {n}" for n in range(3000))
    path = path_of(db, settings)
    send(db, TODAY, [entry("2508.00001", authors=names)])
    authors = [a.name for a in parsed(client.get(path).content).entries[0].authors]
    assert authors == [*names[:24], "… and 2,976 more"]


def test_a_token_made_before_the_feed_gets_its_key_when_next_used(db: Database, settings: Settings) -> None:
    token = subs.token_for(db, ADA, NOW)
    with db.tx() as conn:
        conn.execute("UPDATE subscriber_tokens SET feed_key=NULL")  # as migration 0012 leaves them
    assert subs.reader_for_feed_key(db, subs.feed_key(token)) is None
    assert subs.token_for(db, ADA, NOW) == token
    reader = subs.reader_for_feed_key(db, subs.feed_key(token))
    assert reader is not None and reader.email == ADA


def test_a_recomposed_day_replaces_its_entries_until_sent_and_prune_drops_old_days(db: Database) -> None:
    assert feed_store.record(db, ADA, TODAY, [entry("2508.00001"), entry("2508.00002")])
    assert feed_store.record(db, ADA, TODAY, [entry("2508.00003")])  # composed again before a send
    send(db, TODAY, [entry("2508.00003")])
    assert not feed_store.record(db, ADA, TODAY, [entry("2508.00004")])  # sent: what the feed showed stays
    assert [s.entry.arxiv_id for s in feed_store.entries(db, ADA, TODAY)] == ["2508.00003"]
    send(db, TODAY - dt.timedelta(days=40), [entry("2507.00001")])
    assert feed_store.prune(db, TODAY - dt.timedelta(days=30)) == 1
    assert [s.entry.arxiv_id for s in feed_store.entries(db, ADA, dt.date(2000, 1, 1))] == ["2508.00003"]


def test_the_state_query_agrees_with_the_entries(db: Database) -> None:
    since = TODAY - dt.timedelta(days=30)
    empty = feed_store.FeedState(0, None, None)
    assert feed_store.state(db, ADA, since) == feed_store.FeedState.of([]) == empty
    send(db, TODAY - dt.timedelta(days=3), [entry("2508.00001"), entry("2508.00002")])
    send(db, TODAY, [entry("2508.00003")], at=NOW)
    send(db, TODAY - dt.timedelta(days=1), [entry("2508.00004")], status="failed")
    state = feed_store.state(db, ADA, since)
    assert state == feed_store.FeedState.of(feed_store.entries(db, ADA, since))
    assert state == feed_store.FeedState(3, NOW.isoformat(), (TODAY - dt.timedelta(days=3)).isoformat())


def test_a_304_builds_no_document_and_the_tag_follows_the_settings(
    client: TestClient, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = path_of(db, settings)
    send(db, TODAY, [entry("2508.00001")])
    etag = client.get(path).headers["etag"]

    def no_document(*_: object) -> bytes:
        raise AssertionError("built a document for a 304")

    with monkeypatch.context() as patch:
        patch.setattr("newsletter.web.feed.atom_document", no_document)
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    renamed = settings.model_copy(update={"from_name": "Lab Digest"})
    with TestClient(create_app(renamed, db, clock=lambda: NOW)) as other:
        answer = other.get(path, headers={"If-None-Match": etag})  # the title changed: not a 304
    assert answer.status_code == 200 and parsed(answer.content).feed.title == "Lab Digest: your papers"


def test_a_broken_database_is_503_not_a_leak(client: TestClient, db: Database, settings: Settings) -> None:
    path = path_of(db, settings)
    with db.tx() as conn:
        conn.execute("DROP TABLE feed_entries")
    response = client.get(path)
    assert response.status_code == 503
    assert "feed_entries" not in response.text
