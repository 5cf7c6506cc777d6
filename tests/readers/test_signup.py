"""The sign-up rules without the web: form tokens, confirmation links, rate limits, validation,
and the server key they are all keyed with."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.db import Database
from newsletter.db import signups as store
from newsletter.db.server_keys import server_key
from newsletter.readers import signup as rules
from newsletter.readers.signup import SignupRequest

NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
REQUEST = SignupRequest(email="grace@example.org", categories=("cs.CV",), criteria="segmentation", seeds=())


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "state.db")
    yield database
    database.close()


def test_the_server_key_is_made_once_kept_and_per_purpose(tmp_path: Path, db: Database) -> None:
    first = server_key(db, "signup", NOW)
    assert len(first) == 64 and server_key(db, "signup", NOW) == first
    assert server_key(db, "other", NOW) != first
    db.close()
    assert server_key(Database.open(tmp_path / "state.db"), "signup", NOW) == first  # survives restarts
    assert (tmp_path / "state.db").stat().st_mode & 0o077 == 0  # owner-only, as the key's home


def test_a_form_token_is_good_once_and_for_a_limited_time(db: Database) -> None:
    form = rules.new_form(db, NOW)
    assert rules.check_form(db, form.nonce, form.csrf, NOW + dt.timedelta(minutes=5)) == "ok"
    assert rules.check_form(db, form.nonce, form.csrf, NOW + dt.timedelta(minutes=6)) == "replayed"
    late = rules.new_form(db, NOW)
    assert rules.check_form(db, late.nonce, late.csrf, NOW + rules.FORM_MAX_AGE + dt.timedelta(seconds=1)) \
        == "expired"


@pytest.mark.parametrize("tamper", ["nonce", "csrf", "both"])
def test_a_form_token_for_another_nonce_or_altered_is_refused(db: Database, tamper: str) -> None:
    form, other = rules.new_form(db, NOW), rules.new_form(db, NOW)
    nonce = other.nonce if tamper in ("nonce", "both") else form.nonce
    csrf = form.csrf[:-2] + "aa" if tamper in ("csrf", "both") else form.csrf
    assert rules.check_form(db, nonce, csrf, NOW) == "expired"


def test_a_form_token_from_another_server_key_is_refused(tmp_path: Path, db: Database) -> None:
    elsewhere = Database.open(tmp_path / "other.db")
    form = rules.new_form(elsewhere, NOW)
    assert rules.check_form(db, form.nonce, form.csrf, NOW) == "expired"


def _signup(db: Database, email: str = "grace@example.org") -> store.Signup:
    admission, signup = rules.admit(db, REQUEST.__class__(email, ("cs.CV",), "x", ()), "192.0.2.1", NOW)
    assert admission == "ok" and signup is not None
    return signup


def test_a_confirmation_link_names_its_sign_up_until_it_expires(db: Database) -> None:
    signup = _signup(db)
    _, _, _, signup_id, mark = rules.confirm_path(db, signup).split("/")
    found = rules.check_link(db, signup_id, mark, NOW + rules.LINK_MAX_AGE - dt.timedelta(minutes=1))
    assert isinstance(found, store.Signup) and found.id == signup.id
    late = NOW + rules.LINK_MAX_AGE + dt.timedelta(minutes=1)
    assert rules.check_link(db, signup_id, mark, late) == "expired"


def test_a_confirmation_link_cannot_be_moved_to_another_sign_up_or_time(db: Database) -> None:
    one, two = _signup(db), _signup(db, "ada@example.org")
    _, _, _, one_id, mark = rules.confirm_path(db, one).split("/")
    stamp, mac = mark.split(".")
    assert rules.check_link(db, two.id, mark, NOW) == "forged"
    assert rules.check_link(db, one_id, f"{int(stamp) + 86400}.{mac}", NOW) == "forged"  # a longer life
    assert rules.check_link(db, one_id, f"{stamp}.{mac[:-1]}x", NOW) == "forged"
    assert rules.check_link(db, "UPPER" + one_id[5:], mark, NOW) == "forged"
    assert rules.check_link(db, "é" * 20, mark, NOW) == "forged"


def test_the_address_limit_counts_a_day(db: Database) -> None:
    window, limit = rules.ADDRESS_LIMIT
    results = [rules.admit(db, REQUEST, f"198.51.100.{n}", NOW)[0] for n in range(limit + 1)]
    assert results == ["ok"] * limit + ["address-limit"]
    assert rules.admit(db, REQUEST, "198.51.100.99", NOW + window + dt.timedelta(seconds=1))[0] == "ok"


def test_the_address_limit_ignores_case(db: Database) -> None:
    for _ in range(rules.ADDRESS_LIMIT[1]):
        rules.admit(db, REQUEST, "198.51.100.1", NOW)
    shouted = SignupRequest("GRACE@example.org", ("cs.CV",), "x", ())
    assert rules.admit(db, shouted, "198.51.100.2", NOW)[0] == "address-limit"


def test_the_client_limit_counts_an_hour_and_stores_nothing_past_it(db: Database) -> None:
    window, limit = rules.CLIENT_LIMIT
    for n in range(limit):
        reader = SignupRequest(f"r{n}@example.org", ("cs.CV",), "x", ())
        assert rules.admit(db, reader, "192.0.2.7", NOW)[0] == "ok"
    late = SignupRequest("late@example.org", ("cs.CV",), "x", ())
    admission, signup = rules.admit(db, late, "192.0.2.7", NOW)
    assert (admission, signup) == ("client-limit", None)
    assert rules.admit(db, REQUEST, "192.0.2.8", NOW)[0] == "ok"  # another client is not held up
    assert rules.admit(db, REQUEST, "192.0.2.7", NOW + window + dt.timedelta(seconds=1))[0] == "ok"


def test_old_attempts_and_expired_sign_ups_are_pruned_but_pending_ones_kept(db: Database) -> None:
    waiting, dropped = _signup(db), _signup(db, "ada@example.org")
    store.mark(db, waiting.id, "pending", NOW)
    rules.admit(db, REQUEST, "192.0.2.9", NOW + dt.timedelta(days=3))
    assert store.get(db, waiting.id) is not None and store.get(db, dropped.id) is None
    assert db.read().execute("SELECT COUNT(*) FROM signup_attempts WHERE at<?",
                             ((NOW + dt.timedelta(days=2)).isoformat(),)).fetchone()[0] == 0


def test_a_newer_confirmed_sign_up_replaces_the_one_waiting(db: Database) -> None:
    old, new = _signup(db), _signup(db)
    store.mark(db, old.id, "pending", NOW)
    store.mark(db, new.id, "pending", NOW + dt.timedelta(minutes=1))
    assert [s.id for s in store.pending(db)] == [new.id]


GOOD = {"email": " Grace@Example.org ", "categories": "cs.CV cs.LG, cs.CV",
        "criteria": "\r\nsegmentation\r\n", "seeds": ""}


def test_a_good_form_is_normalised() -> None:
    request = rules.validate(GOOD)
    assert request == SignupRequest("Grace@example.org", ("cs.CV", "cs.LG"), "segmentation", ())


@pytest.mark.parametrize(("field", "value", "said"), [
    ("email", "grace@", "This is not an email address"),
    ("email", "", "This is not an email address"),
    ("categories", "", "Name at least one arXiv category"),
    ("categories", "cs.cv", "'cs.cv' is not an arXiv category: did you mean cs.CV?"),
    ("categories", "cs.XY", "'cs.XY' is not an arXiv category"),
    ("criteria", "topics\x00", "The description has a control character (NUL, ESC …): U+0000 at line 1"),
    ("criteria", "a\u2028b", "U+2028"),
    ("criteria", "é" * (rules.CRITERIA_MAX_BYTES // 2 + 1), f"over the {rules.CRITERIA_MAX_BYTES}-byte cap"),
    ("seeds", "2508.20020, see-this", "Not arXiv papers: 'see-this': not an arXiv id or URL"),
    ("seeds", " ".join(f"2508.{n:05d}" for n in range(rules.MAX_SEEDS + 1)), f"at most {rules.MAX_SEEDS}"),
])
def test_bad_fields_are_named_with_what_is_wrong(field: str, value: str, said: str) -> None:
    problems = rules.validate(GOOD | {field: value})
    assert isinstance(problems, dict) and said in problems[field]


def test_tabs_and_lines_are_text_in_a_description() -> None:
    request = rules.validate(GOOD | {"criteria": "1.\tsegmentation\n2.\tmatting"})
    assert isinstance(request, SignupRequest) and request.criteria == "1.\tsegmentation\n2.\tmatting"


def test_papers_alone_are_enough_and_nothing_at_all_is_not() -> None:
    request = rules.validate(GOOD | {"criteria": " ", "seeds": "arXiv:2508.20020v2\nhttps://arxiv.org/abs/2507.09082"})
    assert isinstance(request, SignupRequest) and request.seeds == ("2508.20020", "2507.09082")
    problems = rules.validate(GOOD | {"criteria": "\n", "seeds": ""})
    assert isinstance(problems, dict) and "name a few papers you like" in problems["criteria"]
