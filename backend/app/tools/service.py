"""Tool rules: config checked against its type, auth sealed on the way in and never shown,
public tools read and used by everyone but changed only by their owner.

Other features reach tools through this service (agents attach them, graph nodes call
them).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.api.sharing import delete_owned, require_owned, require_usable, restore_owned
from app.core.errors import FieldValidationError
from app.core.secret_box import SecretBox
from app.core.security import Principal
from app.graphs.tool_configs import parse_auth_config, parse_tool_config, seal_auth
from app.models import Tool, ToolType
from app.tools import repository
from app.tools.schemas import ToolCreate, ToolUpdate

KIND = "Tool"


async def require_readable(session: AsyncSession, user: Principal, tool_id: uuid.UUID) -> Tool:
    """A live tool the user owns or that is public; 404 otherwise."""
    return await require_usable(session, Tool, user.id, tool_id, KIND)


async def usable_by_ids(
    session: AsyncSession, user: Principal, tool_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Tool]:
    """The tools among `tool_ids` that the user may use, by id (others left out)."""
    return await repository.usable_by_ids(session, user.id, tool_ids)


async def usable_by_names(
    session: AsyncSession, user: Principal, names: Sequence[str]
) -> list[Tool]:
    """The tools named among `names` that the user may use, their own first."""
    return await repository.usable_by_names(session, user.id, names)


async def list_page(
    session: AsyncSession,
    user: Principal,
    *,
    mine: bool,
    tool_type: ToolType | None,
    include_deleted: bool,
    cursor: str | None,
    limit: int,
) -> tuple[list[Tool], str | None]:
    """A page of the tools the user may use (or only their own), newest first."""
    return await repository.list_page(
        session, user.id, mine=mine, tool_type=tool_type, include_deleted=include_deleted,
        cursor=cursor, limit=limit,
    )  # fmt: skip


def _sealed_auth(box: SecretBox, raw: object) -> dict[str, str]:
    return seal_auth(box, parse_auth_config(raw))


async def create(session: AsyncSession, box: SecretBox, user: Principal, data: ToolCreate) -> Tool:
    """A new tool owned by `user`; its auth sealed."""
    parse_tool_config(data.tool_type, data.config)
    values = data.model_dump(exclude={"auth_config"})
    auth = None if data.auth_config is None else _sealed_auth(box, data.auth_config)
    tool = Tool(owner_id=user.id, auth_config=auth, **values)
    session.add(tool)
    await session.flush()
    return tool


async def update(
    session: AsyncSession, box: SecretBox, user: Principal, tool_id: uuid.UUID, data: ToolUpdate
) -> Tool:
    """Change the given fields; config re-checked against the (new) type."""
    tool = await require_owned(session, Tool, user.id, tool_id, KIND)
    changes = data.changes()
    if "tool_type" in changes or "config" in changes:
        tool_type = changes.get("tool_type", tool.tool_type)
        config = changes.get("config", tool.config)
        if "config" not in changes:
            try:
                parse_tool_config(tool_type, config)
            except FieldValidationError as exc:
                raise FieldValidationError(
                    "tool_type", f"the current config does not fit: {exc.reason}; send a config"
                ) from None
        parse_tool_config(tool_type, config)
    if "auth_config" in changes:
        raw = changes.pop("auth_config")
        tool.auth_config = None if raw is None else _sealed_auth(box, raw)
    for key, value in changes.items():
        setattr(tool, key, value)
    await session.flush()
    return tool


async def reseal_batch(
    session: AsyncSession, box: SecretBox, after: uuid.UUID, limit: int
) -> tuple[int, uuid.UUID | None]:
    """Re-seal the auth of the next `limit` tools past id `after` (all owners) under the
    first key: (how many, the last id, or None when none were left)."""
    sealed = await repository.with_auth_after(session, after, limit)
    for tool in sealed:
        assert tool.auth_config is not None
        tool.auth_config = {**tool.auth_config, "sealed": box.rotate(tool.auth_config["sealed"])}
    await session.flush()
    return len(sealed), (sealed[-1].id if sealed else None)


async def delete(session: AsyncSession, user: Principal, tool_id: uuid.UUID) -> None:
    """Soft-delete the tool (nodes that use it then fail validation until it is restored)."""
    await delete_owned(session, Tool, user.id, tool_id, KIND)


async def restore(session: AsyncSession, user: Principal, tool_id: uuid.UUID) -> Tool:
    """Bring back a deleted tool."""
    return await restore_owned(session, Tool, user.id, tool_id, KIND)
