-- Server-side keys: random secrets made on first use (newsletter/db/server_keys.py), one per
-- purpose. They sign what has no reader token yet (the sign-up form, its confirmation links).
-- state.db is owner-only (newsletter/db/__init__.py), so the keys are too.
CREATE TABLE IF NOT EXISTS server_keys (
    purpose    TEXT PRIMARY KEY,
    key        TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Sign-ups from the public page (newsletter/web/signup.py): unconfirmed until the link in the
-- confirmation mail is pressed; then added (open) or pending the admin's decision (approve).
-- Unconfirmed and added rows go once their link has expired; a declined one is deleted.
CREATE TABLE IF NOT EXISTS signups (
    id           TEXT PRIMARY KEY,            -- 128 random bits; the link carries it, signed
    email        TEXT NOT NULL COLLATE NOCASE,
    categories   TEXT NOT NULL,               -- ','-joined arXiv categories
    criteria     TEXT NOT NULL DEFAULT '',    -- the reader's text; '' = written from the seeds
    seeds        TEXT NOT NULL DEFAULT '[]',  -- JSON list of arXiv ids (without version)
    status       TEXT NOT NULL CHECK (status IN ('unconfirmed', 'pending', 'added')),
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    confirmed_at TEXT
);
CREATE INDEX IF NOT EXISTS signups_email ON signups(email, status);

-- One row per sign-up sent from the page, for the rate limits. `key` is a MAC (server key) of
-- the address or the client's IP address: the limits need equality only, so neither is stored.
CREATE TABLE IF NOT EXISTS signup_attempts (
    kind TEXT NOT NULL CHECK (kind IN ('address', 'client')),
    key  TEXT NOT NULL,
    at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS signup_attempts_key ON signup_attempts(kind, key, at);

-- Each sign-up form is good for one POST: its nonce is recorded here (a replay is refused).
CREATE TABLE IF NOT EXISTS signup_form_uses (
    nonce TEXT PRIMARY KEY,
    at    TEXT NOT NULL
);
