"""The browser fixture itself: Playwright drives Debian's Chromium against the app over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.fakes.browser import served

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser


def test_a_form_post_round_trips_in_chromium(chromium: Browser) -> None:
    async def form(request: object) -> HTMLResponse:
        return HTMLResponse('<form method="post"><label>Name <input name="n"></label>'
                            '<button>Send</button></form>')

    async def posted(request: object) -> HTMLResponse:
        data = await request.form()  # type: ignore[attr-defined]
        return HTMLResponse(f"<p id=got>{data['n']}</p>")

    app = Starlette(routes=[Route("/", form), Route("/", posted, methods=["POST"])])
    with served(app) as base:
        page = chromium.new_page(viewport={"width": 375, "height": 700})
        page.goto(base + "/")
        page.get_by_label("Name").fill("Ada")
        page.get_by_role("button", name="Send").click()
        assert page.locator("#got").inner_text() == "Ada"
        page.close()
