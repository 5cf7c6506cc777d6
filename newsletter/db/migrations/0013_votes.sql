-- The reader's voice: "more like this" (up) / "less like this" (down) on one paper, one row per
-- (reader, paper) holding the current vote. What the learning ranker learns from: never pruned
-- (newsletter/db/retention.py); only the reader (`reset`, undo) or the admin removes a vote.
CREATE TABLE IF NOT EXISTS votes (
    email       TEXT NOT NULL COLLATE NOCASE,
    arxiv_id    TEXT NOT NULL,                -- without version
    vote        TEXT NOT NULL CHECK (vote IN ('up', 'down')),
    source      TEXT NOT NULL CHECK (source IN ('click', 'reply', 'admin', 'seed')),
    digest_date TEXT,                         -- the digest the vote came from (NULL: a seed)
    at          TEXT NOT NULL,                -- when this vote was cast (its last change)
    PRIMARY KEY (email, arxiv_id)
);
CREATE INDEX IF NOT EXISTS votes_at ON votes(at);
