-- The criteria topic the LLM judge named for a paper (prompt p2 and later): the HTML digest's
-- topic sections and the reader's max per topic. NULL: no topic, or a row from an older prompt.
ALTER TABLE scores ADD COLUMN topic INTEGER;
