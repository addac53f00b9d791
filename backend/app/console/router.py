"""The console's pages (docs/console.md): server-rendered with Jinja2, each under a strict
Content-Security-Policy; their scripts act through the JSON API with the session cookie and
the page's CSRF token, so every rule and error message is the API's own."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.deps import LiveUsers, ReadConnectionDep, ReadSessionDep, SessionDep, SettingsDep
from app.api.errors import ApiError, InvalidInputError, NotFoundError
from app.api.pagination import MAX_LIMIT
from app.api.rate_limits import RateLimits, client_address
from app.console import views
from app.core.clock import utc_now
from app.core.security import (
    CSRF_FORM_FIELD,
    SESSION_COOKIE,
    Principal,
    create_access_token,
    csrf_matches,
    csrf_token_for,
    read_access_token,
    same_text,
)
from app.core.settings import Settings
from app.executions import service as executions
from app.models import ScheduleType
from app.schedules import service as schedules
from app.schedules.schemas import ExecutionRead, ScheduleRead
from app.timing.zones import zone_names
from app.users import service as users
from app.users.router import account_key
from app.users.schemas import UserCreate
from app.workflows import service as workflows

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["pretty"] = views.pretty_json
# No inline script or style anywhere: scripts and styles come from /console/static.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The pre-session CSRF token of the sign-in and registration forms (double submit).
FORM_COOKIE = "pt_form"
FORM_TOKEN_LENGTH = 43  # secrets.token_urlsafe(32)
PAGE_SIZE = 25

router = APIRouter(prefix="/console", include_in_schema=False)


class SignInRequiredError(Exception):
    """The page needs a signed-in user: the answer is a redirect to the sign-in page."""

    def __init__(self, next_path: str, *, fragment: bool = False) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.fragment = fragment


class Viewer:
    """The signed-in user of a console page, with the page's CSRF token."""

    def __init__(self, principal: Principal, csrf: str) -> None:
        self.principal = principal
        self.csrf = csrf


async def current_viewer(request: Request, settings: SettingsDep) -> Viewer:
    """The user the session cookie names (live and active), or a redirect to sign in."""
    cookie = request.cookies.get(SESSION_COOKIE)
    user_id = read_access_token(cookie, settings.jwt_secret_value) if cookie else None
    live_users: LiveUsers = request.app.state.live_users
    if (
        cookie is None
        or user_id is None
        or not await live_users.is_live(request.app.state.read_database, user_id)
    ):
        if request.query_params.get("fragment") == "true":  # a page's script asking
            raise SignInRequiredError("", fragment=True)
        query = f"?{request.url.query}" if request.url.query else ""
        raise SignInRequiredError(request.url.path + query)
    return Viewer(Principal(user_id), csrf_token_for(cookie, settings.jwt_secret_value))


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


def page(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    """A console page: the template rendered, with the console's security headers."""
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Cache-Control"] = "no-store"
    return response


def not_found(request: Request, viewer: Viewer) -> HTMLResponse:
    """The same answer for an unknown id and another user's (never told apart)."""
    return page(request, "not_found.html", {"viewer": viewer}, status_code=404)


def error_page(request: Request, status_code: int) -> HTMLResponse:
    """A console address that is not there (404), does not parse (422) or takes no such
    method (405): a page, not the API's JSON."""
    return page(request, "error.html", {"viewer": None, "status": status_code},
                status_code=status_code)  # fmt: skip


def _safe_next(next_path: str | None) -> str:
    """Where to go after signing in: a console path only (no open redirect)."""
    if next_path and next_path.startswith("/console/") and "//" not in next_path:
        return next_path
    return "/console/schedules"


def _signed_in(
    response: Response, request: Request, settings: Settings, user_id: uuid.UUID
) -> None:
    lifetime = timedelta(minutes=settings.access_token_minutes)
    token = create_access_token(user_id, settings.jwt_secret_value, lifetime)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=int(lifetime.total_seconds()), path="/",
        httponly=True, samesite="strict", secure=_secure(request, settings),
    )  # fmt: skip
    response.delete_cookie(FORM_COOKIE, path="/console")


def _secure(request: Request, settings: Settings) -> bool:
    """Cookies are Secure over HTTPS, and always outside development (behind a TLS proxy
    the app may see plain HTTP; browsers accept Secure cookies from loopback too)."""
    return request.url.scheme == "https" or settings.environment != "development"


def _form_page(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    """A sign-in or registration page, with its pre-session CSRF token."""
    settings: Settings = request.app.state.settings
    token = request.cookies.get(FORM_COOKIE) or ""
    if len(token) < FORM_TOKEN_LENGTH:
        token = secrets.token_urlsafe(32)
    response = page(request, name, {**context, "csrf": token}, status_code=status_code)
    response.set_cookie(FORM_COOKIE, token, path="/console", httponly=True, samesite="strict",
                        secure=_secure(request, settings))  # fmt: skip
    return response


def _form_token_ok(request: Request, given: str) -> bool:
    expected = request.cookies.get(FORM_COOKIE) or ""
    return len(expected) >= FORM_TOKEN_LENGTH and same_text(expected, given)


# -- signing in and out --------------------------------------------------------------------


@router.get("")
async def console_home() -> RedirectResponse:
    """The console starts at the schedules page."""
    return RedirectResponse("/console/schedules", status_code=303)


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    """The sign-in form."""
    return _form_page(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login")
async def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FORM_FIELD, max_length=256)] = "",
    next: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Check the credentials (rate-limited like the API's); set the session cookie."""
    context = {"next": _safe_next(next), "email": email}
    if not _form_token_ok(request, csrf_token):
        expired = {**context, "error": "The form expired: try again."}
        return _form_page(request, "login.html", expired, status_code=403)
    limits: RateLimits = request.app.state.rate_limits
    try:
        await limits.hit(limits.login_per_address, "login", client_address(request))
        await limits.hit(limits.login_per_account, "login-account", account_key(email))
        user = await users.authenticate(session, email, password)
    except ApiError as exc:
        return _form_page(request, "login.html", {**context, "error": exc.message},
                          status_code=exc.status_code)  # fmt: skip
    response = RedirectResponse(_safe_next(next), status_code=303)
    _signed_in(response, request, settings, user.id)
    return response


@router.get("/register")
async def register_page(request: Request) -> HTMLResponse:
    """The registration form."""
    return _form_page(request, "register.html", {"errors": {}, "email": ""})


@router.post("/register")
async def register(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FORM_FIELD, max_length=256)] = "",
) -> Response:
    """Register (the API's rules and limits) and sign in."""
    context: dict[str, Any] = {"email": email}
    if not _form_token_ok(request, csrf_token):
        errors = {"form": "The form expired: try again."}
        return _form_page(request, "register.html", {**context, "errors": errors}, status_code=403)
    limits: RateLimits = request.app.state.rate_limits
    try:
        await limits.hit(limits.registration_per_address, "register", client_address(request))
        data = UserCreate(email=email, password=password)
        user = await users.register(session, data)
    except ValidationError as exc:
        errors = {str(error["loc"][0]): error["msg"] for error in exc.errors()}
        return _form_page(request, "register.html", {**context, "errors": errors}, status_code=422)
    except ApiError as exc:
        errors = dict(exc.details) or {"form": exc.message}
        return _form_page(request, "register.html", {**context, "errors": errors},
                          status_code=exc.status_code)  # fmt: skip
    except ValueError as exc:  # the model's own rules (FieldValidationError)
        field = getattr(exc, "field", "form")
        errors = {str(field): getattr(exc, "reason", str(exc))}
        return _form_page(request, "register.html", {**context, "errors": errors}, status_code=422)
    response = RedirectResponse("/console/schedules", status_code=303)
    _signed_in(response, request, settings, user.id)
    return response


@router.post("/logout")
async def logout(
    request: Request,
    settings: SettingsDep,
    csrf_token: Annotated[str, Form(alias=CSRF_FORM_FIELD, max_length=256)] = "",
) -> Response:
    """End the session (the cookie is cleared)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is None or not csrf_matches(cookie, csrf_token, settings.jwt_secret_value):
        return Response("CSRF token missing or wrong", status_code=403)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- schedules -----------------------------------------------------------------------------


async def _schedule_rows(
    connection: ReadConnectionDep, session: ReadSessionDep, viewer: Viewer,
    workflow_id: uuid.UUID | None, state: str | None, schedule_type: ScheduleType | None,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None, dict[uuid.UUID, str]]:  # fmt: skip
    """A page of the viewer's schedules as the list shows them, with their workflows' names."""
    rows, next_cursor = await schedules.list_page(
        connection, viewer.principal, workflow_id=workflow_id,
        is_active={"active": True, "expired": True, "paused": False}.get(state or ""),
        schedule_type=schedule_type, include_deleted=state == "deleted", cursor=cursor,
        limit=PAGE_SIZE,
    )  # fmt: skip
    items = [ScheduleRead.values_of(row._mapping) for row in rows]
    for item in items:
        item["state"] = views.schedule_state(item)
    if state:
        items = [item for item in items if item["state"] == state]
    last = await schedules.last_statuses(connection, viewer.principal, [i["id"] for i in items])
    for item in items:
        item["last_status"] = last.get(item["id"])
    names = await _workflow_names(session, viewer)
    return items, next_cursor, names


async def _workflow_names(session: ReadSessionDep, viewer: Viewer) -> dict[uuid.UUID, str]:
    """The names of all the viewer's live workflows (for the filter and the form)."""
    names: dict[uuid.UUID, str] = {}
    cursor: str | None = None
    while True:
        rows, cursor = await workflows.list_page(
            session, viewer.principal, include_deleted=False, is_active=None, cursor=cursor,
            limit=MAX_LIMIT,
        )  # fmt: skip
        names.update((workflow.id, workflow.name) for workflow in rows)
        if cursor is None:
            return names


@router.get("/schedules")
async def schedules_page(
    request: Request,
    viewer: ViewerDep,
    connection: ReadConnectionDep,
    session: ReadSessionDep,
    workflow_id: uuid.UUID | None = None,
    state: str | None = None,
    schedule_type: ScheduleType | None = None,
    cursor: str | None = None,
    fragment: bool = False,
) -> HTMLResponse:
    """Every schedule of the viewer: filters, pages; its rows refresh themselves."""
    state = state if state in views.STATES else None
    try:
        items, next_cursor, names = await _schedule_rows(
            connection, session, viewer, workflow_id, state, schedule_type, cursor
        )
    except NotFoundError:  # a workflow filter that is not the viewer's
        return not_found(request, viewer)
    except InvalidInputError:  # a page marker that is not one
        return error_page(request, 422)
    context = {
        "viewer": viewer, "items": items, "next_cursor": next_cursor, "workflows": names,
        "filters": {"workflow_id": workflow_id, "state": state, "schedule_type": schedule_type},
        "states": views.STATES, "types": [kind.value for kind in ScheduleType],
        "query": urlencode({key: value for key, value in (
            ("workflow_id", workflow_id), ("state", state), ("schedule_type", schedule_type),
            ("cursor", cursor)) if value}),
    }  # fmt: skip
    return page(request, "_rows.html" if fragment else "schedules.html", context)


@router.get("/schedules/new")
async def new_schedule_page(
    request: Request, viewer: ViewerDep, session: ReadSessionDep
) -> HTMLResponse:
    """The form for a new schedule."""
    names = await _workflow_names(session, viewer)
    return page(request, "form.html", {"viewer": viewer, "schedule": None, "workflows": names,
                                       "zones": zone_names()})  # fmt: skip


@router.get("/schedules/{schedule_id}/edit")
async def edit_schedule_page(
    request: Request, viewer: ViewerDep, session: ReadSessionDep, schedule_id: uuid.UUID
) -> HTMLResponse:
    """The form for one of the viewer's schedules."""
    try:
        found = await schedules.require(session, viewer.principal, schedule_id)
    except NotFoundError:
        return not_found(request, viewer)
    schedule = ScheduleRead.of(found)
    names = await _workflow_names(session, viewer)
    return page(request, "form.html", {"viewer": viewer, "schedule": schedule.model_dump(),
                                       "workflows": names, "zones": zone_names()})  # fmt: skip


@router.get("/schedules/{schedule_id}")
async def schedule_page(
    request: Request, viewer: ViewerDep, session: ReadSessionDep, schedule_id: uuid.UUID
) -> HTMLResponse:
    """One schedule: its definition, next ten fire times, recent runs and the actions."""
    try:
        found = await schedules.require(
            session, viewer.principal, schedule_id, include_deleted=True
        )
    except NotFoundError:
        return not_found(request, viewer)
    schedule = ScheduleRead.of(found).model_dump()
    schedule["state"] = views.schedule_state(schedule)
    fire_times = [] if schedule["state"] == "deleted" else [
        item.at for item in schedules.preview_of(found, 10).fire_times
    ]  # fmt: skip
    runs, _ = await schedules.list_executions(
        session, viewer.principal, schedule_id, cursor=None, limit=20
    )
    names = await _workflow_names(session, viewer)
    context = {
        "viewer": viewer, "schedule": schedule,
        "fires": views.fire_rows(fire_times, schedule["timezone"]),
        "runs": [ExecutionRead.of(run).model_dump() for run in runs],
        "workflow_name": names.get(schedule["workflow_id"], str(schedule["workflow_id"])),
    }  # fmt: skip
    return page(request, "schedule.html", context)


# -- executions ----------------------------------------------------------------------------


@router.get("/executions/{execution_id}")
async def execution_page(
    request: Request, viewer: ViewerDep, session: ReadSessionDep, execution_id: uuid.UUID
) -> HTMLResponse:
    """One execution: its nodes on a time line (each opens to its input, output and
    error), its log, and cancel while it has not finished."""
    try:
        detail = (await executions.detail(session, viewer.principal, execution_id)).model_dump()
    except NotFoundError:
        return not_found(request, viewer)
    logs, _ = await executions.logs(session, viewer.principal, execution_id, cursor=None, limit=500)
    bars, span = views.time_line(detail["nodes"], utc_now())
    context = {
        "viewer": viewer, "execution": detail, "bars": bars, "span": span,
        "height": max(1, len(bars)) * views.ROW_HEIGHT,
        "duration": views.duration(detail["started_at"], detail["ended_at"]),
        "logs": logs, "finished": detail["status"] in ("completed", "failed", "cancelled",
                                                       "skipped"),
    }  # fmt: skip
    return page(request, "execution.html", context)


def install_console(app: FastAPI) -> None:
    """Mount the console: its pages, its static files, and the sign-in redirect."""
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")

    async def sign_in_first(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequiredError)
        if exc.fragment:  # the page's script reloads, which leads to the sign-in page
            return Response("sign in again", status_code=401)
        return RedirectResponse(f"/console/login?{urlencode({'next': exc.next_path})}",
                                status_code=303)  # fmt: skip

    app.add_exception_handler(SignInRequiredError, sign_in_first)
    # The API's own answers elsewhere; a console path that is not there, or whose address
    # does not parse, answers a page.
    api_handlers: dict[type[Exception], Any] = {
        kind: app.exception_handlers[kind]
        for kind in (StarletteHTTPException, RequestValidationError)
    }

    def console_or_api(kind: type[Exception]) -> Callable[[Request, Exception], Any]:
        async def handle(request: Request, exc: Exception) -> Response:
            path = request.url.path
            if path.startswith("/console") and not path.startswith("/console/static/"):
                status = 422 if kind is RequestValidationError else getattr(exc, "status_code", 500)
                if status in (404, 405, 422):
                    return error_page(request, status)
            answer: Response = await api_handlers[kind](request, exc)
            return answer

        return handle

    for kind in api_handlers:
        app.add_exception_handler(kind, console_or_api(kind))
