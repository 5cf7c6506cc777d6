"""The real `apprise` package posting to a loopback fake of Slack's and Discord's webhooks (their
plugins aimed at it, see tests/fakes/chat_server.py) and to a generic json:// webhook: what each
answer becomes for the sender (transient, permanent, maybe posted), and no URL in any error."""

from __future__ import annotations

import socket

import pytest

from newsletter.channels.transport import AppriseChannelPoster, url_problem
from newsletter.mail.base import PermanentSendError, TransientSendError, UncertainSendError
from tests.fakes.chat_server import FakeChat

SLACK = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"
DISCORD = "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js"
BODY = "**arXiv digest 2025-08-28**: 1 paper\n\n1. **[A title](https://arxiv.org/abs/2508.00001)** — Ada"


def json_url(fake: FakeChat) -> str:
    return fake.url.replace("http://", "json://") + "/hook"


def test_slack_and_discord_get_the_message_in_their_own_formatting(aim_apprise: FakeChat) -> None:
    poster = AppriseChannelPoster(timeout=2)
    poster.post(SLACK, BODY, "")
    poster.post(DISCORD, BODY, "")
    slack, discord = aim_apprise.accepted
    assert slack.path == "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"
    # Slack's own mrkdwn link form
    assert "<https://arxiv.org/abs/2508.00001|A title>" in slack.body["attachments"][0]["text"]
    assert discord.path == "/api/webhooks/4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js"
    assert "[A title](https://arxiv.org/abs/2508.00001)" in discord.body["content"]  # Discord Markdown
    assert poster.max_length(DISCORD) == 2000 and poster.max_length(SLACK) > 2000


@pytest.mark.parametrize("url", [SLACK, DISCORD, "json"])
@pytest.mark.parametrize(("step", "kind"), [("429", TransientSendError), ("500", TransientSendError),
                                            ("503", TransientSendError), ("400", PermanentSendError),
                                            ("404", PermanentSendError), ("drop", UncertainSendError)])
def test_each_answer_becomes_the_senders_error_kind(aim_apprise: FakeChat, url: str, step: str,
                                                    kind: type[Exception]) -> None:
    target = json_url(aim_apprise) if url == "json" else url
    aim_apprise.script(step, step)  # Discord's plugin tries a 429 once more by itself
    with pytest.raises(kind) as caught:
        AppriseChannelPoster(timeout=2).post(target, BODY, "")
    assert type(caught.value) is kind
    assert "T1JJ3T3L2" not in str(caught.value) and "JHMHI8q" not in str(caught.value)


@pytest.mark.slow
def test_a_post_that_gets_no_answer_is_maybe_posted(aim_apprise: FakeChat) -> None:
    aim_apprise.hang_seconds = 3
    aim_apprise.script("hang")
    with pytest.raises(UncertainSendError):
        AppriseChannelPoster(timeout=0.5).post(SLACK, BODY, "")
    assert aim_apprise.posted_to("/services/") == 1  # it did arrive: never post it blindly again


def test_a_refused_connection_is_worth_another_try() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(TransientSendError) as caught:
        AppriseChannelPoster(timeout=1).post(f"json://127.0.0.1:{port}/hook", BODY, "")
    assert type(caught.value) is TransientSendError


def test_urls_apprise_cannot_use_are_named_without_quoting_them() -> None:
    assert url_problem(SLACK) is None and url_problem(DISCORD) is None
    problem = url_problem("slack://only-one-token")
    assert problem is not None and "only-one-token" not in problem
    assert url_problem("nosuchscheme://x/y") is not None
