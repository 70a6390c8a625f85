"""The board's web application (Starlette): log-in against the site's batch records service,
the page of every site side by side, and its live events. Read-only: no route changes a record.

The session cookie (signed, HttpOnly, SameSite=Strict, with a secret drawn at each start) holds
the user's bearer token; the board keeps nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs

import grpc
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from twinline.common.v1 import auth_pb2, auth_pb2_grpc
from twinline.siteview.v1.site_view_service_pb2_grpc import SiteViewServiceStub

from services.board import render
from services.board.live import LOGGED_OUT, board_events
from services.board.picture import Metadata, SiteViewReader, now_text
from services.board.settings import BoardSettings
from services.client.session import with_token
from services.common.grpc.status import details_of

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "twinline_board"
# A log-in form is a user name and a password: anything longer is refused unread.
MAX_FORM_BYTES = 4096
LOGIN_TIMEOUT_S = 10.0
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
REFUSALS = {
    "ACCOUNT_LOCKED": "This account is locked after too many wrong passwords; ask an "
                      "administrator to unlock it.",
}


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(name.lower().encode(), value.encode())
                            for name, value in SECURITY_HEADERS.items()]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class Board:
    """The board of one site: its settings and its two channels (log-in, site view)."""

    def __init__(self, settings: BoardSettings) -> None:
        self.settings = settings
        self.site = settings.home_site
        self.login_channel = grpc.aio.insecure_channel(settings.login_target())
        self.view_channel = grpc.aio.insecure_channel(settings.site_view_target())
        self.reader = SiteViewReader(SiteViewServiceStub(self.view_channel), settings.registry)
        # Set when the process is told to stop: every page's event stream then ends at once.
        self.stopping = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def stop_streams(self) -> None:
        """Ends every open page's event stream; safe from a signal handler."""
        self._loop.call_soon_threadsafe(self.stopping.set)

    async def close(self) -> None:
        await self.login_channel.close()
        await self.view_channel.close()

    async def login(self, username: str, password: str) -> auth_pb2.LoginResponse:
        stub = auth_pb2_grpc.AuthenticationServiceStub(self.login_channel)
        answer: auth_pb2.LoginResponse = await stub.Login(
            auth_pb2.LoginRequest(username=username, password=password),
            timeout=LOGIN_TIMEOUT_S,
        )
        return answer


def _metadata(request: Request) -> Metadata | None:
    """The user's bearer token from the session, as call metadata; None when logged out."""
    token = request.session.get("token")
    return with_token(token) if isinstance(token, str) and token else None


def _login_page(board: Board, error: str = "", username: str = "", status: int = 200) -> Response:
    return HTMLResponse(
        render.page("login.html", site=board.site, error=error, username=username),
        status_code=status,
    )


def _refusal_text(failure: grpc.aio.AioRpcError) -> str:
    if failure.code() == grpc.StatusCode.UNAVAILABLE:
        return "The site's batch records service does not answer; try again shortly."
    if failure.code() == grpc.StatusCode.UNAUTHENTICATED:
        reason = details_of(failure).get("reason")
        return REFUSALS.get(str(reason), "Wrong user name or password.")
    return f"Log-in refused: {failure.details()}"


async def login_form(request: Request) -> Response:
    board: Board = request.app.state.board
    if _metadata(request) is not None:
        return RedirectResponse("/", status_code=303)
    return _login_page(board)


async def login(request: Request) -> Response:
    board: Board = request.app.state.board
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return _login_page(board, "The form is too large.", status=413)
    form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    username = form.get("username", [""])[0].strip()
    password = form.get("password", [""])[0]
    if not username or not password:
        return _login_page(board, "Enter your user name and password.", username, 400)
    try:
        answer = await board.login(username, password)
    except grpc.aio.AioRpcError as failure:
        log.info("log-in of %r refused: %s", username[:80], failure.code())
        status = 503 if failure.code() == grpc.StatusCode.UNAVAILABLE else 401
        return _login_page(board, _refusal_text(failure), username, status)
    request.session.clear()
    request.session.update({
        "token": answer.access_token, "username": answer.user.username,
        "printed_name": answer.user.printed_name,
    })
    return RedirectResponse("/", status_code=303)


async def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


async def page(request: Request) -> Response:
    board: Board = request.app.state.board
    metadata = _metadata(request)
    if metadata is None:
        return RedirectResponse("/login", status_code=303)
    try:
        pictures, links = await asyncio.gather(
            board.reader.pictures(metadata), board.reader.links(metadata)
        )
    except grpc.aio.AioRpcError as failure:
        if failure.code() in LOGGED_OUT:
            request.session.clear()
            return RedirectResponse("/login", status_code=303)
        return HTMLResponse(render.page(
            "unavailable.html",
            message=f"The site view of {board.site.display_name} does not answer "
                    f"({failure.code().name}); try again shortly.",
        ), status_code=503)
    user = f"{request.session.get('printed_name', '')} ({request.session.get('username', '')})"
    return HTMLResponse(render.page(
        "board.html", site=board.site, user=user, pictures=pictures, links=links,
        refreshed=now_text(),
    ))


async def events(request: Request) -> Response:
    board: Board = request.app.state.board
    metadata = _metadata(request)
    if metadata is None:
        return PlainTextResponse("log in first", status_code=401)
    stream = board_events(
        board.reader, metadata, board.settings.board_refresh_seconds, board.stopping
    )
    return StreamingResponse(
        stream, media_type="text/event-stream", headers={"X-Accel-Buffering": "no"}
    )


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def create_app(settings: BoardSettings, session_secret: str | None = None) -> Starlette:
    """The board of ``settings``' site; ``session_secret`` signs the session cookie (a random
    one by default: a restart logs every browser out)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.board = Board(settings)
        try:
            yield
        finally:
            await app.state.board.close()

    return Starlette(
        routes=[
            Route("/", page, methods=["GET"]),
            Route("/login", login_form, methods=["GET"]),
            Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/events", events, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(
                SessionMiddleware, secret_key=session_secret or secrets.token_urlsafe(32),
                session_cookie=COOKIE, max_age=settings.token_ttl_seconds,
                same_site="strict", https_only=False,
            ),
        ],
        lifespan=lifespan,
    )
