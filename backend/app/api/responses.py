"""Answering with an already-validated pydantic model, serialized once.

FastAPI would dump a returned model, validate the dump against the response model and
serialize it again; on hot read routes (lists of 50 schedules) that triples the work.
Routes that use this keep `response_model=` in their decorator for the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response
from pydantic import BaseModel


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """`model` as a JSON response, serialized by pydantic's core in one pass."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


def json_bytes_response(content: Any, status_code: int = 200) -> Response:
    """Plain dicts and lists (UUIDs, aware datetimes, enums inside) as JSON, via orjson.

    Output matches pydantic's: UTC datetimes end in `Z`. For the hottest lists, where
    building a model per row costs more than the query.
    """
    # asyncpg hands back its own UUID type; `str` renders it (and nothing else reaches it).
    body = orjson.dumps(content, default=str, option=orjson.OPT_UTC_Z)
    return Response(body, status_code=status_code, media_type="application/json")
