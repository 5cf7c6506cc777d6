"""Audit days: now and then every candidate goes to the LLM, to measure the cut and to teach it.

The cut in front of the LLM (`llm_candidates`) only sends papers the local ranker thinks may be
relevant, so on a normal day a paper below it never gets an LLM score. Two things follow. Nobody
can tell how many relevant papers the cut loses, and the ranker's history (the LLM's earlier
scores, see `newsletter.ranking.learn`) only ever holds papers the cut already liked, so it cannot
learn where it was wrong. On an audit day (one day in `NEWSLETTER_LLM_AUDIT_EVERY`, chosen per
criteria text) the judge scores every candidate. That measures the cut's recall on real days, and
gives the history labels below the cut.

Which days are audit days is a hash of the date and the criteria text: stable, so a re-run of the
day makes the same choice and finds every score cached; spread, so criteria texts audit on
different days and the extra spend does not land on one day. What an audit measured is a
`newsletter.models.CutAudit`.
"""

from __future__ import annotations

import datetime as dt
import hashlib


def is_audit_day(digest_date: dt.date, criteria: str, every: int) -> bool:
    """True on about one announcement day in `every` for this criteria text; never if `every` < 1."""
    if every < 1:
        return False
    key = f"{digest_date.isoformat()}\n{criteria.strip()}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % every == 0
