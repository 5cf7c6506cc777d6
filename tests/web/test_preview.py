"""The preview section of the settings page says why there is nothing to preview without
claiming that nothing is stored at all."""

from __future__ import annotations

from newsletter.web.preview import PreviewResult, preview_html


def test_no_recent_day_of_the_readers_categories_is_said_as_such() -> None:
    """A store holding only older days (a demo day, a long outage) is not "nothing stored yet"."""
    said = preview_html(PreviewResult(None, (), 0))
    assert "stored yet" not in said
    assert "No announcement day of your categories from the last 30 days is stored" in said
