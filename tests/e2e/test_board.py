"""The board over HTTP, against its real server at Songdo (and both sites' batch records and
site views): everything but the log-in redirects there, a wrong password is said so, the
session cookie is signed, HttpOnly and SameSite=Strict, nothing writes, and what users typed
is escaped on the page and in its live events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from services.common.domain.roles import Role
from services.devstack.demo_users import demo_password
from tests.support import batches, mbr
from tests.support.board import BoardFloor, board_floor_fixture
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(240)]
floor = board_floor_fixture()

HOSTILE = "<img src=x onerror=\"window.pwned=1\">&'TWX"


def client(floor: BoardFloor, site: str = "songdo") -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=floor.url(site), timeout=30)


@pytest_asyncio.fixture(loop_scope="module")
async def logged_in(floor: BoardFloor) -> AsyncIterator[httpx.AsyncClient]:
    async with client(floor) as browser:
        answer = await browser.post(
            "/login", data={"username": "songdo.qa", "password": demo_password("qa")}
        )
        assert answer.status_code == 303, answer.text
        yield browser


async def test_without_a_session_every_page_leads_to_the_log_in(floor: BoardFloor) -> None:
    async with client(floor) as browser:
        page = await browser.get("/")
        events = await browser.get("/events")
        form = await browser.get("/login")

    assert (page.status_code, page.headers["location"]) == (303, "/login")
    assert events.status_code == 401
    assert form.status_code == 200 and 'name="password"' in form.text
    assert "Songdo" in form.text
    assert "script-src 'self'" in form.headers["content-security-policy"]
    assert form.headers["x-content-type-options"] == "nosniff"


async def test_a_wrong_password_is_said_so_and_gives_no_session(floor: BoardFloor) -> None:
    async with client(floor) as browser:
        refused = await browser.post(
            "/login", data={"username": "songdo.qa", "password": "not the password"}
        )
        after = await browser.get("/")

    assert refused.status_code == 401
    assert "Wrong user name or password." in refused.text
    assert 'value="songdo.qa"' in refused.text  # the form keeps the name, never the password
    assert "set-cookie" not in refused.headers
    assert after.status_code == 303


async def test_five_wrong_passwords_lock_the_account_and_the_form_says_so(
    floor: BoardFloor,
) -> None:
    floor.stack.add_user("songdo", "board-locked", (Role.QA,))
    user = {"username": "songdo.board-locked"}
    async with client(floor) as browser:
        for _ in range(5):
            refused = await browser.post("/login", data={**user, "password": "wrong"})
            assert "Wrong user name or password." in refused.text
        locked = await browser.post(
            "/login", data={**user, "password": demo_password("board-locked")}
        )

    assert locked.status_code == 401
    assert "This account is locked" in locked.text


async def test_a_log_in_opens_both_sites_until_log_out(floor: BoardFloor) -> None:
    async with client(floor) as browser:
        answer = await browser.post(
            "/login", data={"username": "songdo.qa", "password": demo_password("qa")}
        )
        cookie = answer.headers["set-cookie"].lower()
        page = await browser.get("/")
        out = await browser.post("/logout")
        after = await browser.get("/")

    assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert page.status_code == 200
    assert 'data-column="syracuse"' in page.text and 'data-column="songdo"' in page.text
    assert 'data-link="syracuse"' in page.text
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert after.status_code == 303


async def test_a_forged_cookie_is_no_session(floor: BoardFloor) -> None:
    async with client(floor) as browser:
        browser.cookies.set("twinline_board", "eyJ0b2tlbiI6ICJ4In0=.forged.signature")
        page = await browser.get("/")

    assert page.status_code == 303


async def test_a_deactivated_user_is_sent_to_the_log_in_by_the_open_page(
    floor: BoardFloor,
) -> None:
    floor.stack.add_user("songdo", "board-watcher", (Role.QA,))
    async with client(floor) as browser:
        answer = await browser.post("/login", data={
            "username": "songdo.board-watcher", "password": demo_password("board-watcher")})
        assert answer.status_code == 303
        async with browser.stream("GET", "/events") as events:
            lines = events.aiter_lines()
            async with asyncio.timeout(60):
                while not (await anext(lines)).startswith("event: column"):
                    pass
                floor.stack.directory("songdo").set_active("songdo.board-watcher", False)
                while (await anext(lines)) != "event: logout":
                    pass
        after = await browser.get("/")

    assert after.status_code == 303 and after.headers["location"] == "/login"


async def test_the_board_has_no_route_that_writes(logged_in: httpx.AsyncClient) -> None:
    for path in ("/", "/events"):
        assert (await logged_in.post(path)).status_code == 405
        assert (await logged_in.put(path)).status_code == 405
    assert (await logged_in.delete("/")).status_code == 405


async def test_a_hostile_product_name_is_escaped_on_the_page_and_in_its_events(
    floor: BoardFloor, logged_in: httpx.AsyncClient
) -> None:
    stack = floor.stack
    author = await stack.login("syracuse", "author")
    reviewer = await stack.login("syracuse", "reviewer")
    record = await mbr.take_to_effective(
        author, reviewer, await stack.login("syracuse", "qa"), HOSTILE
    )
    batch = await batches.create_batch(reviewer, record.name)

    async def page_with_the_batch() -> str | None:
        page = await logged_in.get("/")
        return page.text if batch.batch_id in page.text else None

    text = await wait_until(page_with_the_batch, timeout=60, interval=0.2,
                            message="Songdo's board shows the new Syracuse batch")
    assert HOSTILE not in text
    assert "&lt;img src=x onerror=&#34;window.pwned=1&#34;&gt;&amp;&#39;TWX" in text

    async with logged_in.stream("GET", "/events") as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        async for line in events.aiter_lines():
            if line.startswith("data: ") and '"site":"syracuse"' in line:
                html = json.loads(line.removeprefix("data: "))["html"]
                break
    assert batch.batch_id in html
    assert HOSTILE not in html and "&lt;img" in html


async def link_of_syracuse(events: AsyncIterator[str], current: bool) -> str:
    """The next link event of the stream that shows Syracuse ``current`` (or stale)."""
    wanted = f'data-link="syracuse" data-current="{"true" if current else "false"}"'
    async for line in events:
        if line.startswith("data: ") and "data-link=" in line:
            html = json.loads(line.removeprefix("data: "))["html"]
            if wanted in html:
                return str(html)
    raise AssertionError("the event stream ended")


async def test_a_cut_link_shows_stale_with_its_lag_on_the_open_page_and_current_again(
    floor: BoardFloor, logged_in: httpx.AsyncClient
) -> None:
    async with logged_in.stream("GET", "/events") as events:
        lines = events.aiter_lines()
        async with asyncio.timeout(60):
            await link_of_syracuse(lines, current=True)
            floor.stack.nats.proxy.cut()
            try:
                stale = await link_of_syracuse(lines, current=False)
            finally:
                floor.stack.nats.proxy.restore()
            await link_of_syracuse(lines, current=True)

    assert "Syracuse, NY (USA): stale · lag " in stale
