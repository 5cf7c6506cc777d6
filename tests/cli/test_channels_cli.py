"""`newsletter channels check [--send-test]`: problems by line and column, a test post per channel."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.app import app
from tests.conftest import make_site
from tests.fakes.chat_server import FakeChat

runner = CliRunner()
SLACK = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"


@pytest.fixture
def site(tmp_path: Path, aim_apprise: FakeChat, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_site(tmp_path, monkeypatch, [])
    hook = aim_apprise.url.replace("http://", "json://")
    (tmp_path / "channels.csv").write_text(
        "name,url,criteria,categories,timezone,send_at,max_papers\n"
        f"vision,{SLACK},criteria/generation-segmentation-matting.md,cs.CV,,,\n"
        f"lab,{hook}/lab,*,,,,\n")
    return tmp_path


def check(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["channels", "check", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_a_good_file_checks_clean_and_the_test_message_reaches_each_channel(
    site: Path, aim_apprise: FakeChat
) -> None:
    code, output = check()
    assert code == 0, output
    assert "2 channel(s) valid: vision (scored), lab (lab view); 0 problem(s)." in output
    assert aim_apprise.requests == []
    code, output = check("--send-test")
    assert code == 0, output
    assert "test message posted to vision" in output and "test message posted to lab" in output
    assert aim_apprise.posted_to("/services/") == 1 and aim_apprise.posted_to("/lab") == 1


def test_problems_and_failed_test_posts_exit_non_zero_and_never_show_the_url(
    site: Path, aim_apprise: FakeChat
) -> None:
    with (site / "channels.csv").open("a") as f:
        f.write("broken,slack://onlyonetoken,criteria/nope.md,cs.XX,,,\n")
    aim_apprise.broken["/lab"] = "503"
    code, output = check("--send-test")
    assert code == 1
    assert "channels.csv line 4, column url: is not a URL Apprise can post to" in output
    assert "channels.csv line 4, column criteria:" in output and "line 4, column categories:" in output
    assert "test message to lab failed: the channel answered HTTP 503" in output
    assert "onlyonetoken" not in output and "TIiajk" not in output and "json://" not in output


def test_no_channels_file_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_site(tmp_path, monkeypatch, [])
    code, output = check()
    assert code == 1 and "no channels file:" in output and "channels.csv" in output
