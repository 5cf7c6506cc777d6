-- Announcement days, fetched once and shared by every subscriber.
CREATE TABLE announcements (
    date        TEXT NOT NULL,               -- YYYY-MM-DD, the announcement (mailing) date
    categories  TEXT NOT NULL,               -- sorted, '+'-joined: what was fetched
    source      TEXT NOT NULL,               -- feed URL or 'api'
    fetched_at  TEXT NOT NULL,
    paper_count INTEGER NOT NULL,
    PRIMARY KEY (date, categories)
);

CREATE TABLE papers (
    arxiv_id   TEXT PRIMARY KEY,             -- without version
    version    INTEGER NOT NULL,
    title      TEXT NOT NULL,
    authors    TEXT NOT NULL,                -- JSON list
    abstract   TEXT NOT NULL,
    categories TEXT NOT NULL,                -- JSON list, primary first
    license    TEXT,
    comment    TEXT
);

CREATE TABLE announcement_papers (
    date          TEXT NOT NULL,
    categories    TEXT NOT NULL,
    arxiv_id      TEXT NOT NULL REFERENCES papers(arxiv_id),
    version       INTEGER NOT NULL,
    announce_type TEXT NOT NULL,
    position      INTEGER NOT NULL,
    PRIMARY KEY (date, categories, arxiv_id),
    FOREIGN KEY (date, categories) REFERENCES announcements(date, categories) ON DELETE CASCADE
);

-- Scores, shared by every reader whose criteria text is the same.
CREATE TABLE scores (
    cache_key     TEXT NOT NULL,             -- model | prompt version
    criteria_hash TEXT NOT NULL,             -- sha256 of the criteria text
    arxiv_id      TEXT NOT NULL,
    version       INTEGER NOT NULL,
    relevance     INTEGER NOT NULL CHECK (relevance BETWEEN 1 AND 10),
    novelty       INTEGER NOT NULL CHECK (novelty BETWEEN 1 AND 10),
    comment       TEXT NOT NULL,
    created_at    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (cache_key, criteria_hash, arxiv_id, version)
);

-- Per-address state that a hand edit of the roster cannot undo.
CREATE TABLE subscriber_tokens (
    email      TEXT PRIMARY KEY COLLATE NOCASE,
    token      TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

CREATE TABLE suppressions (
    email      TEXT PRIMARY KEY COLLATE NOCASE,
    source     TEXT NOT NULL CHECK (source IN ('reply', 'one-click', 'bounce', 'complaint', 'admin')),
    at         TEXT NOT NULL,
    message_id TEXT,                         -- the inbound message or event that caused it
    detail     TEXT NOT NULL DEFAULT '',
    confirmation_sent_at TEXT
);

-- One row per (subscriber, digest date): pending → sending → sent | failed | unknown.
CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY,
    email       TEXT NOT NULL COLLATE NOCASE,
    digest_date TEXT NOT NULL,
    digest_id   TEXT NOT NULL UNIQUE,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'unknown', 'empty')),
    paper_ids   TEXT NOT NULL DEFAULT '[]',  -- JSON list
    message_id  TEXT,                        -- our RFC 5322 Message-ID
    provider_id TEXT,                        -- SendGrid's X-Message-Id, or the outbox path
    error       TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    sent_at     TEXT,
    UNIQUE (email, digest_date)
);
CREATE INDEX deliveries_status ON deliveries(status);

-- Every paper (any version) ever sent to a subscriber: never the same paper twice.
CREATE TABLE delivered_papers (
    email       TEXT NOT NULL COLLATE NOCASE,
    arxiv_id    TEXT NOT NULL,
    digest_date TEXT NOT NULL,
    PRIMARY KEY (email, arxiv_id)
);

-- A log of runs: what each day cost and what failed.
CREATE TABLE runs (
    id                INTEGER PRIMARY KEY,
    kind              TEXT NOT NULL,         -- run, dry-run, service
    digest_date       TEXT,
    started_at        TEXT NOT NULL,
    finished_at       TEXT,
    status            TEXT NOT NULL DEFAULT 'running',
    subscribers_due   INTEGER NOT NULL DEFAULT 0,
    subscribers_served INTEGER NOT NULL DEFAULT 0,
    papers            INTEGER NOT NULL DEFAULT 0,
    failures          INTEGER NOT NULL DEFAULT 0,
    llm_calls         INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd          REAL NOT NULL DEFAULT 0,
    errors            TEXT NOT NULL DEFAULT '[]',  -- JSON list of strings
    summary           TEXT NOT NULL DEFAULT '{}'   -- JSON: per-criteria and per-reader cost, etc.
);
