-- Retention (newsletter/db/retention.py): after old announcement days go, a paper is removed when
-- no kept day lists it; finding that by paper id needs this index (the key starts with the date).
CREATE INDEX IF NOT EXISTS announcement_papers_paper ON announcement_papers(arxiv_id);
