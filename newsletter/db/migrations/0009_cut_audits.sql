-- Audit days (newsletter/ranking/audit.py): what the cut in front of the LLM would have caught on a
-- day the LLM scored every candidate of one criteria text.
CREATE TABLE cut_audits (
    cache_key       TEXT NOT NULL,              -- model | prompt version
    criteria_hash   TEXT NOT NULL,              -- sha256 of the criteria text
    digest_date     TEXT NOT NULL,
    candidates      INTEGER NOT NULL,
    would_send      INTEGER NOT NULL,
    relevant_high   INTEGER NOT NULL,           -- LLM relevance >= 7
    caught_high     INTEGER NOT NULL,
    relevant_useful INTEGER NOT NULL,           -- LLM relevance >= 5
    caught_useful   INTEGER NOT NULL,
    unscored        INTEGER NOT NULL,
    created_at      TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (cache_key, criteria_hash, digest_date)
);
