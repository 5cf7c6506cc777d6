"""End to end: a real run mails digests with feedback links; a mail scanner fetching every link
records nothing, a reader's click records one vote (idempotent, undoable), a reply of numbers
records votes on the papers those numbers show, `reset` forgets them."""

from __future__ import annotations

import datetime as dt
import email
import re
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path

import lxml.html
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from newsletter.cli.app import app as cli
from newsletter.db import Database
from newsletter.db import feedback as feedback_store
from newsletter.db import votes as vote_store
from newsletter.settings import load_settings
from newsletter.web.app import create_app
from tests.conftest import make_site
from tests.fakes.arxiv_server import FakeArxiv
from tests.fakes.inbound import WEBHOOK_PASSWORD, WEBHOOK_USER, basic_auth, default_post, reply

PUBLIC = "https://digest.example.org"
ADA, GRACE = "ada@example.org", "grace@example.org"
DAY = "2025-07-15"


@pytest.fixture
def site(tmp_path: Path, fake_arxiv: FakeArxiv, monkeypatch: pytest.MonkeyPatch) -> Path:
    rows = [f"{ADA},,criteria/generation-segmentation-matting.md,cs.AI;cs.CV,UTC,07:00,",
            f"{GRACE},,criteria/spatial-intelligence-embodied.md,cs.AI;cs.CV,UTC,07:00,"]
    folder = make_site(tmp_path, monkeypatch, rows, ARXIV_FEED_URL=fake_arxiv.feed_url,
                       ARXIV_API_URL=fake_arxiv.api_url, PUBLIC_URL=PUBLIC, REPLY_DOMAIN="reply.example.org",
                       FROM_EMAIL="digest@example.org", WEBHOOK_USERNAME=WEBHOOK_USER,
                       WEBHOOK_PASSWORD=WEBHOOK_PASSWORD)
    fake_arxiv.serve_feed(dt.date(2025, 7, 15))
    result = CliRunner().invoke(cli, ["run", "--date", DAY], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def db(site: Path) -> Iterator[Database]:
    database = Database.open(load_settings().db_path)
    yield database
    database.close()


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    morning = dt.datetime(2025, 7, 15, 9, 30, tzinfo=dt.UTC)  # the day the digests went out
    with TestClient(create_app(load_settings(), db, clock=lambda: morning), base_url=PUBLIC) as test_client:
        yield test_client


def mailed(site: Path, address: str) -> EmailMessage:
    path = site / "var" / "outbox" / DAY / f"{address}.eml"
    return email.message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[return-value]


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    markup = message.get_body(("html",))
    assert text is not None and markup is not None
    return str(text.get_content()), str(markup.get_content())


def every_link(message: EmailMessage) -> set[str]:
    """What a scanner follows: every href of the HTML part and every URL of the text part."""
    text, markup = parts(message)
    hrefs = {a.get("href") for a in lxml.html.fromstring(markup).iter("a") if a.get("href")}
    return {h for h in hrefs if h.startswith("http")} | set(re.findall(r"https?://[^\s)>\"]+", text))


def shown_numbers(message: EmailMessage) -> dict[int, str]:
    """Paper number → arXiv id, as the text part shows them (`## 3. [Title](…/abs/ID)`)."""
    text, _ = parts(message)
    sections = re.findall(r"^## (\d+)\. \[.*\]\(https://arxiv\.org/abs/([^)]+)\)", text, re.M)
    return {int(n): i for n, i in sections}


def vote_links(message: EmailMessage) -> dict[tuple[str, str], str]:
    """(arXiv id, up|down) → the link's path, from the HTML part."""
    _, markup = parts(message)
    found = {}
    for a in lxml.html.fromstring(markup).iter("a"):
        match = re.match(rf"{PUBLIC}(/v/[a-z0-9]+/([ud])[a-z0-9]+/(.+))$", a.get("href") or "")
        if match:
            found[(match.group(3), "up" if match.group(2) == "u" else "down")] = match.group(1)
    return found


def press_button(client: TestClient, path: str) -> tuple[int, str]:
    """What a person does: open the link, press the page's one button."""
    page = client.get(path)
    assert page.status_code == 200
    form = lxml.html.fromstring(page.text).forms[0]
    answer = client.post(path, data=dict(form.form_values()))
    return answer.status_code, answer.text


def test_a_scanner_fetching_every_link_records_nothing_and_a_click_records_one(
    site: Path, db: Database, client: TestClient
) -> None:
    mails = [mailed(site, ADA), mailed(site, GRACE)]
    ours = [link for m in mails for link in every_link(m) if link.startswith(PUBLIC)]
    assert sum("/v/" in link for link in ours) == sum(2 * len(shown_numbers(m)) for m in mails) > 0
    for link in ours:  # the scanner: GET and HEAD on every link, as Safe Links and gateways do
        path = link.removeprefix(PUBLIC)
        assert client.get(path).status_code == 200
        assert client.head(path).status_code in (200, 405)
        if "/v/" in link:  # and one that POSTs the bare URL, as a few do
            assert client.post(path).status_code == 403
    assert vote_store.select(db) == []

    # Ada clicks "More like this" on paper 0, then presses the button on the page
    ada = mailed(site, ADA)
    first = shown_numbers(ada)[0]
    link = vote_links(ada)[(first, "up")]
    button = dict(lxml.html.fromstring(client.get(link).text).forms[0].form_values())
    answer = client.post(link, data=button)
    assert answer.status_code == 200 and "Noted: more like this" in answer.text
    [vote] = vote_store.select(db)
    assert (vote.email, vote.arxiv_id, vote.vote, vote.source, vote.digest_date) \
        == (ADA, first, "up", "click", dt.date(2025, 7, 15))
    # a double click (the same POST twice), the link opened again: still that one vote
    assert client.post(link, data=button).status_code == 200
    assert vote_store.select(db) == [vote]
    # undo from the confirmation page
    page_after_click = client.get(vote_links(ada)[(first, "up")])
    assert "Already noted" in page_after_click.text
    form = lxml.html.fromstring(page_after_click.text).forms[0]
    assert dict(form.form_values())["action"] == "undo"
    assert client.post(vote_links(ada)[(first, "up")], data=dict(form.form_values())).status_code == 200
    assert vote_store.select(db) == []


def test_the_vote_page_works_without_javascript_and_escapes_the_paper(
    site: Path, client: TestClient
) -> None:
    ada = mailed(site, ADA)
    page = client.get(vote_links(ada)[(shown_numbers(ada)[0], "down")])
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none': no scripts
    doc = lxml.html.fromstring(page.text)
    assert doc.xpath("//script") == [] and doc.xpath('//meta[@name="viewport"]')
    [form] = doc.forms
    assert form.method == "POST" and set(dict(form.form_values())) == {"csrf", "action"}
    assert "Less like this" in page.text and "arxiv.org/abs/" in page.text


def _reply(client: TestClient, message: EmailMessage, text: str, *, answers: bool = True) -> str:
    answer = reply(to=str(message["Reply-To"]), sender=f"Reader <{message['To']}>",
                   subject="Re: " + str(message["Subject"]), text=text,
                   in_reply_to=str(message["Message-ID"]) if answers else None)
    post = default_post(answer)
    response = client.post("/inbound", content=post.body,
                           headers={**post.headers, **basic_auth(WEBHOOK_USER, WEBHOOK_PASSWORD)})
    assert response.status_code == 200
    return response.text


def test_votes_by_reply_map_the_numbers_shown_and_reset_forgets(
    site: Path, db: Database, client: TestClient
) -> None:
    ada = mailed(site, ADA)
    numbers = shown_numbers(ada)
    assert len(numbers) >= 2
    # Ada clicks "More like this" on paper 0, then replies "+0 -1": the reply after the click
    # keeps the click's vote as it was and adds the other
    assert press_button(client, vote_links(ada)[(numbers[0], "up")])[0] == 200
    assert _reply(client, ada, "+0 -1") == "ok: votes\n"
    assert {(v.arxiv_id, v.vote, v.source) for v in vote_store.select(db, email=ADA)} \
        == {(numbers[0], "up", "click"), (numbers[1], "down", "reply")}
    assert feedback_store.select(db) == []  # recorded, not kept for the admin
    # the HTML shows the same numbers as the text part
    _, markup = parts(ada)
    titles = lxml.html.fromstring(markup).find_class("dg-paper")
    assert [t.find_class("dg-number")[0].text_content() for t in titles] == [f"{n}." for n in sorted(numbers)]
    # the same in words, and a re-posted reply: idempotent
    assert _reply(client, ada, "more 0 less 1") == "ok: votes\n"
    assert _reply(client, ada, "+0, -1") == "ok: votes\n"
    assert len(vote_store.select(db, email=ADA)) == 2
    # a change of mind by reply replaces the vote
    assert _reply(client, ada, "less 0") == "ok: votes\n"
    assert vote_store.get(db, ADA, numbers[0]).vote == "down"  # type: ignore[union-attr]
    # not only votes, a number the digest lacks, or no digest to map to: feedback as before
    assert _reply(client, ada, "+0 thanks, more of this please") == "ok: feedback\n"
    assert _reply(client, ada, f"+{len(numbers)}") == "ok: feedback\n"
    assert _reply(client, ada, "-0", answers=False) == "ok: feedback\n"
    assert len(feedback_store.select(db)) == 3
    assert vote_store.get(db, ADA, numbers[0]).vote == "down"  # type: ignore[union-attr]
    # Grace's votes are hers: Ada's reset does not touch them
    assert _reply(client, mailed(site, GRACE), "+0") == "ok: votes\n"
    assert _reply(client, ada, "reset") == "ok: reset\n"
    assert vote_store.select(db, email=ADA) == []
    assert len(vote_store.select(db, email=GRACE)) == 1
