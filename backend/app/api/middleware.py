"""ASGI middleware every response passes through: a bound on request bodies and the
security headers. Pure ASGI (no BaseHTTPMiddleware), so streaming and speed are untouched."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import error_response
from app.core.security import SESSION_COOKIE

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
NO_STORE = (b"cache-control", b"no-store")
# The console's session cookie is a credential too (app.core.security.SESSION_COOKIE).
SESSION_COOKIE_BYTES = SESSION_COOKIE.encode() + b"="


class RequestBodyLimit:
    """Answer 413 in the API's error shape to a body larger than the settings'
    `max_request_body_bytes`, whether it says so in Content-Length or only streams that
    much (such a body is read up to the limit before the app sees any of it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, or read an undeclared body up to the limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes: int = scope["app"].state.settings.max_request_body_bytes
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > max_bytes:
                await _refuse(scope, receive, send, max_bytes)
                return
            await self.app(scope, receive, send)
            return
        if b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body at all
            return
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > max_bytes:
                await _refuse(scope, receive, send, max_bytes)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
    response = error_response(
        413,
        "payload_too_large",
        f"Request body larger than {max_bytes} bytes",
        [("body", f"at most {max_bytes} bytes")],
    )
    await response(scope, receive, send)


class SecurityHeaders:
    """nosniff, no referrer and no framing on every response; `Cache-Control: no-store`
    on answers to requests that carry credentials (a bearer token or the console's session
    cookie), so no cache keeps a user's data."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers as the response starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        credentialed = any(
            name == b"authorization" or (name == b"cookie" and SESSION_COOKIE_BYTES in value)
            for name, value in scope["headers"]
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(SECURITY_HEADERS)
                if credentialed and not any(name == NO_STORE[0] for name, _ in headers):
                    headers.append(NO_STORE)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
