"""One error shape for the whole API, and the handlers that produce it.

{"error": {"code": "validation_error", "message": "...",
           "details": [{"field": "schedule_config.hours", "reason": "..."}]}}
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Column, TextClause
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql import visitors
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.errors import FieldValidationError, error_path
from app.models import Base

logger = logging.getLogger("app.api")


class ErrorDetail(BaseModel):
    """One bad field and why."""

    field: str
    reason: str


class ErrorBody(BaseModel):
    """The error itself."""

    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorResponse(BaseModel):
    """Every non-2xx answer of the API."""

    error: ErrorBody


class ApiError(Exception):
    """An error with its HTTP status, a stable code and a message for people."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, details: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class NotFoundError(ApiError):
    """Unknown id, or one the caller may not see (the two are never told apart)."""

    status_code = 404
    code = "not_found"


class ConflictError(ApiError):
    """The request is valid but the object's state forbids it."""

    status_code = 409
    code = "conflict"


class ForbiddenError(ApiError):
    """The caller may see the object but not change it (e.g. another user's public tool)."""

    status_code = 403
    code = "forbidden"


class UnauthorizedError(ApiError):
    """Missing, invalid or expired credentials."""

    status_code = 401
    code = "unauthorized"


class InvalidInputError(ApiError):
    """A rule on the input that only the service can check (e.g. a workflow you do not own)."""

    status_code = 422
    code = "validation_error"


def error_response(
    status: int, code: str, message: str, details: list[tuple[str, str]] | None = None
) -> JSONResponse:
    """A JSONResponse in the API's error shape."""
    body = ErrorResponse(
        error=ErrorBody(
            code=code,
            message=message,
            details=[ErrorDetail(field=f, reason=r) for f, r in details or []],
        )
    )
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


def _request_field(location: tuple[Any, ...]) -> str:
    """`schedule_config.hours` for ("body", "schedule_config", "hours"); `body` for a body
    that is not JSON at all (pydantic locates that by character offset)."""
    root, parts = ("body", location)
    if location and location[0] in _LOCATIONS:
        root, parts = location[0], location[1:]
    if not parts or isinstance(parts[0], int):
        return str(root)
    return error_path(str(parts[0]), tuple(parts[1:]))


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    response = error_response(exc.status_code, exc.code, exc.message, exc.details)
    if (retry_after := getattr(exc, "retry_after", None)) is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def _field_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FieldValidationError)
    return error_response(422, "validation_error", "Invalid input", exc.errors)


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        (
            _request_field(tuple(error.get("loc", ()))),
            str(error.get("msg", "invalid")).removeprefix("Value error, "),
        )
        for error in exc.errors()
    ]
    return error_response(422, "validation_error", "Invalid input", details)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # a body that is not JSON: invalid input like any other
        return error_response(422, "validation_error", "Invalid input", [("body", str(exc.detail))])
    code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, "http_error"
    )
    return error_response(exc.status_code, code, str(exc.detail))


def _constraint_fields(name: str | None) -> list[str]:
    """The columns a named constraint or index of our schema covers (found in the metadata)."""
    for table in Base.metadata.tables.values():
        items: list[Any] = [*table.constraints, *table.indexes]
        for item in items:
            if item.name != name:
                continue
            fields: list[str] = []
            for expression in [*getattr(item, "expressions", ()), *item.columns]:
                for element in visitors.iterate(expression):
                    if isinstance(element, Column):
                        fields.append(element.name)
                    elif isinstance(element, TextClause) and element.text in table.columns:
                        fields.append(element.text)
            return list(dict.fromkeys(fields)) or [str(name)]
    return [name or "body"]


_FOREIGN_KEY_VIOLATION = "23503"


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    """A constraint the database enforces refused the write (e.g. two registrations of one
    email racing past the service's check): the request conflicts with existing data."""
    assert isinstance(exc, IntegrityError)
    cause = getattr(exc.orig, "__cause__", None)
    constraint = getattr(cause, "constraint_name", None)
    if getattr(cause, "sqlstate", None) == _FOREIGN_KEY_VIOLATION:
        # A reference the service did not catch (e.g. an edge's end in another workflow).
        reason = "refers to nothing that exists where it is used"
        fields = _constraint_fields(constraint)
        return error_response(
            422, "validation_error", "Invalid input", [(field, reason) for field in fields]
        )
    details = [(field, "conflicts with existing data") for field in _constraint_fields(constraint)]
    return error_response(409, "conflict", "The change conflicts with existing data", details)


async def _stale_data(request: Request, exc: Exception) -> JSONResponse:
    """An optimistic lock (a `version` column) saw another writer change the row first."""
    return error_response(
        409,
        "conflict",
        "The object was changed by another request; read it again and retry",
        [("version", "stale")],
    )


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    """Anything unexpected: logged with its traceback, answered without internals."""
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "Internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through the one shape."""
    app.add_exception_handler(Exception, _internal_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(FieldValidationError, _field_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(StaleDataError, _stale_data)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or invalid bearer token"},
    404: {"model": ErrorResponse, "description": "Unknown id (or not yours)"},
    413: {"model": ErrorResponse, "description": "Request body over MAX_REQUEST_BODY_BYTES"},
    422: {"model": ErrorResponse, "description": "Invalid input: each bad field and why"},
}

CONFLICT_RESPONSE: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "The object's state forbids it"}
}

FORBIDDEN_RESPONSE: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorResponse, "description": "Another user's public object: read-only"}
}

RATE_LIMITED_RESPONSE: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorResponse, "description": "Too many attempts; see Retry-After"}
}
