"""A channel's URL is a secret: masked in every log line, and a failing post logs its name only."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from newsletter.channels.file import load_channels
from newsletter.channels.transport import AppriseChannelPoster
from newsletter.logs import SecretFilter, mask_secrets
from newsletter.mail.base import SendError
from newsletter.settings import Settings
from tests.fakes.chat_server import FakeChat

SLACK = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"


@pytest.mark.parametrize("url", [
    SLACK, "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", "msteams://team/tokenA/tokenB/tokenC",
    "tgram://123456789:AABBccddEEff/-100123", "matrixs://user:pass@matrix.example.org/#room",
    "json://hooks.example.org/in/SECRETPATH", "mailtos://user:pw@mail.example.org",
    "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7",
    "https://discord.com/api/webhooks/4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js",
])
def test_channel_urls_are_masked_in_logs(url: str) -> None:
    masked = mask_secrets(f"posting to {url} failed")
    scheme = url.split("://")[0]
    assert masked.startswith(f"posting to {scheme}://") and masked.endswith(" failed")
    for secret in ("JHMHI8q", "TIiajk", "tokenA", "AABBcc", "pass", "SECRETPATH", "pw@"):
        assert secret not in masked, masked


def test_ordinary_links_are_left_alone() -> None:
    text = "see https://arxiv.org/abs/2508.00001 and mailto:u-abc@reply.example.org?subject=unsubscribe"
    assert mask_secrets(text) == text


def test_a_failing_post_leaves_no_trace_of_the_url_in_the_log_even_at_debug(
    aim_apprise: FakeChat, tmp_path: Path
) -> None:
    (tmp_path / "criteria").mkdir()
    (tmp_path / "criteria" / "c.md").write_text("vision")
    (tmp_path / "channels.csv").write_text(f"name,url,criteria\nvision,{SLACK},criteria/c.md\n")
    (channel,) = load_channels(tmp_path / "channels.csv", Settings(subscribers=tmp_path / "s.csv")).channels
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SecretFilter())
    root, urllib3_log = logging.getLogger(), logging.getLogger("urllib3")
    level, root.level = root.level, logging.DEBUG
    # the CLI's logging set-up (run by earlier tests) quiets urllib3: hear it here whatever ran before
    urllib3_level, urllib3_log.level = urllib3_log.level, logging.NOTSET
    root.addHandler(handler)
    try:
        aim_apprise.script("400")
        with pytest.raises(SendError) as caught:
            AppriseChannelPoster(timeout=2).post(channel.url, "body", "")
        logging.getLogger("newsletter.test").error("failed: %s (%s)", caught.value, channel.url)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        urllib3_log.setLevel(urllib3_level)
    text = stream.getvalue()
    assert "POST /services/" in text  # urllib3's debug line is there, masked
    assert "failed: the channel refused the message (HTTP 400)" in text
    for token in ("T1JJ3T3L2", "A1BRTD4JD", "TIiajk"):
        assert token not in text, text
