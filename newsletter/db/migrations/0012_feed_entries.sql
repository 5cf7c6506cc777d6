-- The private Atom feed per reader (newsletter/web/feed.py, newsletter/db/feed.py).

-- The feed's key: a one-way form of the reader's token (subscribers.feed_key). The feed URL goes
-- to feed readers, often hosted ones; the token itself also unsubscribes, so it never does.
-- Filled when the token is next used (token_for), i.e. by the next digest, which shows the link.
ALTER TABLE subscriber_tokens ADD COLUMN feed_key TEXT;
CREATE UNIQUE INDEX subscriber_tokens_feed_key ON subscriber_tokens(feed_key);

-- Each digest's entries as the digest showed them (title, authors, scores, comment): the papers
-- and scores tables are pruned on their own schedule and hold no author-match or local scores.
-- Written when the digest is composed; the feed lists only those whose delivery is `sent`.
-- Pruned once older than the feed's 30 days (or NEWSLETTER_RETENTION_DAYS if shorter).
CREATE TABLE feed_entries (
    email       TEXT NOT NULL COLLATE NOCASE,
    digest_date TEXT NOT NULL,
    position    INTEGER NOT NULL,            -- 0-based, best first, as in the digest
    arxiv_id    TEXT NOT NULL,
    category    TEXT NOT NULL DEFAULT '',
    title       TEXT NOT NULL,
    authors     TEXT NOT NULL,               -- JSON list of names (capped, see db/feed.py)
    relevance   INTEGER NOT NULL,
    novelty     INTEGER NOT NULL,
    comment     TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL,               -- llm | local | author
    PRIMARY KEY (email, digest_date, position)
);
CREATE INDEX feed_entries_date ON feed_entries(digest_date);
