"""Sign-up with seed papers only: on confirmation (open mode) the papers are fetched from the
arXiv API (the loopback fake), stored as the reader's first likes as `subscribers add --like`
stores them, and their titles become the criteria text; a failed fetch changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest
from starlette.testclient import TestClient

from newsletter.db import Database
from newsletter.db import votes as vote_store
from newsletter.readers.roster import load_roster
from newsletter.settings import Settings
from tests.fakes.arxiv_server import FakeArxiv, Reply
from tests.web.signup_flow import (
    PUBLIC,
    Clock,
    app_for,
    confirmation_link,
    mail_at_once,  # noqa: F401 (a fixture)
    site,
)

pytestmark = pytest.mark.usefixtures("mail_at_once")
NEW = "grace@example.org"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_arxiv: FakeArxiv) -> Settings:
    return site(tmp_path, monkeypatch, "open", arxiv_api=fake_arxiv.api_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    db = Database.open(settings.db_path)
    with TestClient(app_for(settings, db, Clock()), base_url=PUBLIC) as test_client:
        test_client.db = db  # type: ignore[attr-defined]
        yield test_client
    db.close()


def _signed_up(client: TestClient, settings: Settings, seeds: str) -> tuple[str, dict[str, str]]:
    form = dict(lxml.html.fromstring(client.get("/signup").text).forms[0].form_values())
    posted = client.post("/signup", data=form | {"email": NEW, "categories": "cs.CV", "seeds": seeds})
    assert posted.status_code == 200, posted.text
    path = confirmation_link(settings, NEW).removeprefix(PUBLIC)
    return path, dict(lxml.html.fromstring(client.get(path).text).forms[0].form_values())


def test_seed_papers_become_first_likes_and_the_criteria_text(
        client: TestClient, settings: Settings, fake_arxiv: FakeArxiv) -> None:
    path, button = _signed_up(client, settings, "2508.20020 https://arxiv.org/abs/2507.09082v2")
    assert fake_arxiv.seen("api") == []  # an unconfirmed form never makes us call arXiv
    answer = client.post(path, data=button)
    assert answer.status_code == 200 and "You are subscribed" in answer.text
    reader = load_roster(settings.subscribers, settings).find(NEW)
    assert reader is not None
    assert reader.criteria.startswith("Papers like these, which I liked:\n\n1. GS: Generative Segmentation")
    assert "(arXiv:2507.09082)" in reader.criteria
    votes = vote_store.select(client.db, email=NEW)  # type: ignore[attr-defined]
    assert {(v.arxiv_id, v.vote, v.source) for v in votes} == {("2508.20020", "up", "seed"),
                                                              ("2507.09082", "up", "seed")}


def test_arxiv_not_answering_changes_nothing_and_the_link_still_works(
        client: TestClient, settings: Settings, fake_arxiv: FakeArxiv) -> None:
    path, button = _signed_up(client, settings, "2508.20020")
    fake_arxiv.script("api", Reply.error(400))  # arXiv refuses once, then answers
    answer = client.post(path, data=button)
    assert answer.status_code == 503 and "could not reach arXiv" in answer.text
    assert load_roster(settings.subscribers, settings).find(NEW) is None
    assert not (settings.subscribers.parent / "criteria" / "grace-example-org.md").exists()
    retry = dict(lxml.html.fromstring(answer.text).forms[0].form_values())
    assert "You are subscribed" in client.post(path, data=retry).text


def test_papers_arxiv_does_not_know_leave_nothing_to_go_by(client: TestClient, settings: Settings) -> None:
    path, button = _signed_up(client, settings, "2509.99999")
    answer = client.post(path, data=button)
    assert answer.status_code == 422 and "arXiv knows none of the papers you named" in answer.text
    assert load_roster(settings.subscribers, settings).find(NEW) is None
