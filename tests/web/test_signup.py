"""The public sign-up over HTTP (TestClient): the form, its CSRF and rate limits, the one "check
your inbox" answer whatever the address, and the confirmation link (forged, expired, GET that
changes nothing, the button) in each mode."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest
from starlette.testclient import TestClient

from newsletter.db import Database
from newsletter.db import signups as store
from newsletter.db import subscribers as subs
from newsletter.readers import signup as rules
from newsletter.readers.roster import load_roster
from newsletter.settings import Settings
from tests.web.signup_flow import (
    PUBLIC,
    Clock,
    app_for,
    confirmation_link,
    confirmation_mails,
    mail_at_once,  # noqa: F401 (a fixture)
    site,
)

pytestmark = pytest.mark.usefixtures("mail_at_once")
NEW = "grace@example.org"
CRITERIA = "1. Diffusion models for image segmentation.\n2. Not: medical imaging."


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _client(settings: Settings, clock: Clock) -> Iterator[TestClient]:
    db = Database.open(settings.db_path)
    with TestClient(app_for(settings, db, clock), base_url=PUBLIC) as client:
        client.db = db  # type: ignore[attr-defined]
        yield client
    db.close()


@pytest.fixture
def open_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return site(tmp_path, monkeypatch, "open")


@pytest.fixture
def client(open_site: Settings, clock: Clock) -> Iterator[TestClient]:
    yield from _client(open_site, clock)


def _form(client: TestClient) -> dict[str, str]:
    page = client.get("/signup")
    assert page.status_code == 200, page.text
    return dict(lxml.html.fromstring(page.text).forms[0].form_values())


def _sign_up(client: TestClient, email: str = NEW, **fields: str) -> object:
    data = _form(client) | {"email": email, "categories": "cs.CV, cs.LG", "criteria": CRITERIA} | fields
    return client.post("/signup", data=data)


def _body(response: object, address: str) -> str:
    """The page's text with the address the visitor typed taken out (the one part that may differ)."""
    return response.text.replace(address, "ADDRESS")  # type: ignore[attr-defined]


def test_the_form_has_a_label_for_every_field_and_no_script(client: TestClient) -> None:
    page = client.get("/signup")
    tree = lxml.html.fromstring(page.text)
    for name in ("email", "categories", "criteria", "seeds"):
        (control,) = tree.xpath(f"//*[@name='{name}']")
        assert tree.xpath(f"//label[@for='{control.get('id')}']"), name
    assert not tree.xpath("//script")
    assert page.headers["cache-control"] == "no-store"
    assert "script-src" not in page.headers["content-security-policy"]


def test_a_sign_up_mails_a_link_and_the_page_says_check_your_inbox(
        client: TestClient, open_site: Settings) -> None:
    response = _sign_up(client)
    assert response.status_code == 200 and "Check your inbox" in response.text  # type: ignore[attr-defined]
    link = confirmation_link(open_site, NEW)
    assert link.startswith(f"{PUBLIC}/signup/confirm/")
    assert load_roster(open_site.subscribers, open_site).find(NEW) is None  # nothing yet


def test_the_answer_is_the_same_for_new_subscribed_and_suppressed_addresses(
        client: TestClient, open_site: Settings) -> None:
    subs.suppress(client.db, "gone@example.org", "one-click", dt.datetime.now(dt.UTC))  # type: ignore[attr-defined]
    answers = {address: _sign_up(client, address) for address in (NEW, "ada@example.org", "gone@example.org")}
    assert {r.status_code for r in answers.values()} == {200}  # type: ignore[attr-defined]
    assert len({_body(r, a) for a, r in answers.items()}) == 1
    # past the address's own limit the page is still the same (and no mail goes out)
    for _ in range(rules.ADDRESS_LIMIT[1] - 1):
        _sign_up(client, "ada@example.org")
    mails = len(confirmation_mails(open_site))
    over = _sign_up(client, "ada@example.org")
    assert _body(over, "ada@example.org") == _body(answers[NEW], NEW)
    assert len(confirmation_mails(open_site)) == mails


def test_a_bounced_address_gets_the_same_page_and_no_mail(client: TestClient, open_site: Settings) -> None:
    subs.suppress(client.db, NEW, "bounce", dt.datetime.now(dt.UTC))  # type: ignore[attr-defined]
    assert "Check your inbox" in _sign_up(client).text  # type: ignore[attr-defined]
    assert confirmation_mails(open_site) == []


def test_bad_input_is_named_beside_its_field_and_stores_nothing(client: TestClient) -> None:
    response = _sign_up(client, "not-an-address", categories="cs.CV, cs.XY", criteria="a\x1bb",
                        seeds="2508.20020 banana")
    assert response.status_code == 400  # type: ignore[attr-defined]
    tree = lxml.html.fromstring(response.text)  # type: ignore[attr-defined]
    errors = {e.get("id"): e.text_content() for e in tree.xpath("//p[@class='error']")}
    assert "This is not an email address" in errors["email-error"]
    assert "'cs.XY' is not an arXiv category" in errors["categories-error"]
    assert "control character" in errors["criteria-error"] and "U+001B" in errors["criteria-error"]
    assert "'banana': not an arXiv id or URL" in errors["seeds-error"]
    assert tree.xpath("//input[@name='categories']/@value") == ["cs.CV, cs.XY"]  # kept for fixing
    assert client.db.read().execute("SELECT COUNT(*) FROM signups").fetchone()[0] == 0  # type: ignore[attr-defined]


def test_neither_criteria_nor_papers_is_refused(client: TestClient) -> None:
    response = _sign_up(client, criteria="", seeds="")
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "Describe what you want to read, or name a few papers" in response.text  # type: ignore[attr-defined]


def test_a_criteria_text_over_the_cap_is_refused(client: TestClient) -> None:
    response = _sign_up(client, criteria="x" * (rules.CRITERIA_MAX_BYTES + 1))
    assert response.status_code == 400 and "byte cap" in response.text  # type: ignore[attr-defined]


def test_a_form_without_its_token_or_sent_twice_is_refused(client: TestClient, open_site: Settings) -> None:
    fields = _form(client) | {"email": NEW, "categories": "cs.CV", "criteria": CRITERIA}
    missing = client.post("/signup", data={k: v for k, v in fields.items() if k != "csrf"})
    assert missing.status_code == 403 and "open the sign-up page again" in missing.text
    assert client.post("/signup", data=fields).status_code == 200
    replayed = client.post("/signup", data=fields)
    assert replayed.status_code == 403 and "was sent already" in replayed.text
    assert len(confirmation_mails(open_site)) == 1


def test_a_stale_form_is_refused(client: TestClient, clock: Clock) -> None:
    fields = _form(client) | {"email": NEW, "categories": "cs.CV", "criteria": CRITERIA}
    clock.now += rules.FORM_MAX_AGE + dt.timedelta(minutes=1)
    assert client.post("/signup", data=fields).status_code == 403


@pytest.mark.parametrize("headers", [{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"},
                                     {"Origin": "https://digest.example.org.evil.example"}])
def test_a_cross_site_post_is_refused(
        client: TestClient, open_site: Settings, headers: dict[str, str]) -> None:
    fields = _form(client) | {"email": NEW, "categories": "cs.CV", "criteria": CRITERIA}
    response = client.post("/signup", data=fields, headers=headers)
    assert response.status_code == 403 and confirmation_mails(open_site) == []


@pytest.mark.parametrize("origin", [PUBLIC, "null"])  # null: our pages' no-referrer policy makes it so
def test_a_same_origin_post_is_taken(client: TestClient, origin: str) -> None:
    fields = _form(client) | {"email": NEW, "categories": "cs.CV", "criteria": CRITERIA}
    headers = {"Origin": origin, "Sec-Fetch-Site": "same-origin"}
    response = client.post("/signup", data=fields, headers=headers)
    assert response.status_code == 200


def test_one_client_gets_a_polite_page_past_its_hourly_limit(
        client: TestClient, clock: Clock, open_site: Settings) -> None:
    window, limit = rules.CLIENT_LIMIT
    for n in range(limit):
        assert _sign_up(client, f"reader{n}@example.org").status_code == 200  # type: ignore[attr-defined]
    over = _sign_up(client, "one-more@example.org")
    assert over.status_code == 429 and "try again in an hour" in over.text  # type: ignore[attr-defined]
    assert "one-more@example.org" not in over.text  # type: ignore[attr-defined]
    assert len(confirmation_mails(open_site)) == limit
    clock.now += window
    assert "Check your inbox" in _sign_up(client, "one-more@example.org").text  # type: ignore[attr-defined]


def test_the_limits_store_no_address_and_no_ip(client: TestClient) -> None:
    _sign_up(client)
    keys = [row[0] for row in client.db.read().execute("SELECT key FROM signup_attempts")]  # type: ignore[attr-defined]
    assert len(keys) == 2 and not any("@" in k or "testclient" in k for k in keys)


# --- the confirmation link ---------------------------------------------------------------------

def _confirm_page(client: TestClient, settings: Settings, address: str = NEW) -> tuple[str, dict[str, str]]:
    path = confirmation_link(settings, address).removeprefix(PUBLIC)
    page = client.get(path)
    assert page.status_code == 200, page.text
    return path, dict(lxml.html.fromstring(page.text).forms[0].form_values())


def test_opening_the_link_changes_nothing_and_the_button_adds_the_reader(
        client: TestClient, open_site: Settings) -> None:
    _sign_up(client)
    path, button = _confirm_page(client, open_site)
    assert client.get(path).status_code == 200  # a scanner's second fetch: still nothing
    assert load_roster(open_site.subscribers, open_site).find(NEW) is None
    done = client.post(path, data=button)
    assert done.status_code == 200 and "You are subscribed" in done.text
    assert "at 07:00 (UTC)" in done.text and "links to your settings" in done.text  # when; where to change
    reader = load_roster(open_site.subscribers, open_site).find(NEW)
    assert reader is not None and reader.categories == ("cs.CV", "cs.LG") and reader.criteria == CRITERIA
    assert reader.criteria_path == open_site.subscribers.parent / "criteria" / "grace-example-org.md"
    again = client.post(path, data=button)  # pressed twice: still one row
    assert again.status_code == 200 and "You are subscribed" in again.text
    assert open_site.subscribers.read_text().count(NEW) == 1


def test_a_forged_or_altered_link_is_refused(client: TestClient, open_site: Settings) -> None:
    _sign_up(client)
    path = confirmation_link(open_site, NEW).removeprefix(PUBLIC)
    head, mark = path.rsplit("/", 1)
    stamp, mac = mark.split(".")
    forged = [f"{head}/{stamp}.{'a' * len(mac)}", f"{head}/{int(stamp) + 3600}.{mac}",
              f"/signup/confirm/{'b' * 32}/{mark}", f"{head}/../x"]
    for bad in forged:
        response = client.get(bad)
        assert response.status_code == 404, bad
        assert client.post(bad, data={"csrf": "x"}).status_code in (403, 404)
    assert load_roster(open_site.subscribers, open_site).find(NEW) is None


def test_an_expired_link_is_refused(client: TestClient, open_site: Settings, clock: Clock) -> None:
    _sign_up(client)
    path, button = _confirm_page(client, open_site)
    clock.now += rules.LINK_MAX_AGE + dt.timedelta(minutes=1)
    gone = client.get(path)
    assert gone.status_code == 410 and "expired" in gone.text
    assert client.post(path, data=button).status_code == 410
    assert load_roster(open_site.subscribers, open_site).find(NEW) is None


def test_the_button_needs_its_page_token(client: TestClient, open_site: Settings) -> None:
    _sign_up(client)
    path, _ = _confirm_page(client, open_site)
    assert client.post(path, data={"csrf": "123.abc"}).status_code == 403
    assert client.post(path, data={}, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert load_roster(open_site.subscribers, open_site).find(NEW) is None


def test_a_suppressed_address_is_told_to_write_to_the_admin_and_not_resubscribed(
        client: TestClient, open_site: Settings) -> None:
    subs.suppress(client.db, NEW, "one-click", dt.datetime.now(dt.UTC))  # type: ignore[attr-defined]
    _sign_up(client)
    path, button = _confirm_page(client, open_site)
    answer = client.post(path, data=button)
    assert "Write to the admin" in answer.text and "mailto:admin@example.org" in answer.text
    assert subs.is_suppressed(client.db, NEW)  # type: ignore[attr-defined]
    assert load_roster(open_site.subscribers, open_site).find(NEW) is None


def test_a_subscribed_address_is_told_so_once_it_has_proven_it_owns_it(
        client: TestClient, open_site: Settings) -> None:
    before = open_site.subscribers.read_bytes()
    _sign_up(client, "ada@example.org")
    path, button = _confirm_page(client, open_site, "ada@example.org")
    answer = client.post(path, data=button)
    assert "Already subscribed" in answer.text and "nothing changed" in answer.text
    assert open_site.subscribers.read_bytes() == before


def test_approve_mode_confirmation_waits_for_the_admin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      clock: Clock) -> None:
    settings = site(tmp_path, monkeypatch, "approve")
    for client in _client(settings, clock):
        _sign_up(client)
        path, button = _confirm_page(client, settings)
        answer = client.post(path, data=button)
        assert answer.status_code == 200 and "The admin looks at each sign-up" in answer.text
        assert load_roster(settings.subscribers, settings).find(NEW) is None
        (waiting,) = store.pending(client.db)  # type: ignore[attr-defined]
        assert (waiting.email, waiting.criteria) == (NEW, CRITERIA)
        assert "The admin looks at each sign-up" in client.get(path).text  # no button any more


def test_off_mode_has_no_sign_up_routes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    settings = site(tmp_path, monkeypatch, "off")
    for client in _client(settings, clock):
        assert client.get("/signup").status_code == 404
        assert client.post("/signup", data={"email": NEW}).status_code == 404
        assert client.get(f"/signup/confirm/{'a' * 32}/1.abc").status_code == 404


def test_signup_is_off_by_default() -> None:
    assert Settings().signup == "off"


def test_each_sign_up_has_its_own_link_and_the_second_confirmation_changes_nothing(
        client: TestClient, open_site: Settings) -> None:
    _sign_up(client)
    first_path, first_button = _confirm_page(client, open_site)
    _sign_up(client, criteria="something else")
    second_path, second_button = _confirm_page(client, open_site)
    assert second_path != first_path and len(confirmation_mails(open_site)) == 2
    assert "You are subscribed" in client.post(second_path, data=second_button).text
    reader = load_roster(open_site.subscribers, open_site).find(NEW)
    assert reader is not None and reader.criteria == "something else"  # the newest mail's
    assert "Already subscribed" in client.post(first_path, data=first_button).text
    assert open_site.subscribers.read_text().count(NEW) == 1


def test_the_longest_text_the_page_allows_gets_its_message_beside_the_field(client: TestClient) -> None:
    """16,384 four-byte characters: within the page's maxlength, over the cap in bytes."""
    response = _sign_up(client, criteria="𝔸" * rules.CRITERIA_MAX_BYTES)
    assert response.status_code == 400 and "byte cap" in response.text  # type: ignore[attr-defined]


def test_a_body_past_any_form_is_refused_unread(client: TestClient) -> None:
    response = client.post("/signup", content=b"a=" + b"x" * (300 * 1024),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


def test_the_confirmation_page_shows_what_the_form_asked_for_escaped(
        client: TestClient, open_site: Settings) -> None:
    """Whoever filled in the form chose the text; the owner sees it before pressing the button."""
    text = "1. Matting <script>alert(1)</script>\n2. [verify your account](https://evil.example)"
    _sign_up(client, criteria=text, seeds="2508.20020")
    path, _button = _confirm_page(client, open_site)
    page = client.get(path).text
    asked = lxml.html.fromstring(page).find_class("asked")
    assert [q.text_content() for q in asked] == [text]
    assert "<script>" not in page and "&lt;script&gt;" in page and 'href="https://evil' not in page
    assert "cs.CV, cs.LG" in page and "2508.20020" in page
    assert "Do not press the button" in page
