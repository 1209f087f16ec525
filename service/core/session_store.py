"""A Litestar ``Store`` in the database, so server-side sessions survive restarts and are
shared by every web instance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.stores.base import Store
from litestar.types import Empty, Message, ScopeSession
from litestar.utils.dataclass import extract_dataclass_items
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.core.models import HttpSession
from service.db import utcnow


class DatabaseStore(Store):
    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = factory

    async def set(
        self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
    ) -> None:
        data = value.encode("utf-8") if isinstance(value, str) else value
        if isinstance(expires_in, int):
            expires_in = timedelta(seconds=expires_in)
        expires_at = utcnow() + expires_in if expires_in is not None else None
        async with self._factory() as session:
            row = await session.get(HttpSession, key)
            if row is None:
                session.add(HttpSession(key=key, data=data, expires_at=expires_at))
            else:
                row.data = data
                row.expires_at = expires_at
            await session.commit()

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        async with self._factory() as session:
            row = await session.get(HttpSession, key)
            if row is None:
                return None
            if row.expires_at is not None and row.expires_at <= utcnow():
                await session.delete(row)
                await session.commit()
                return None
            if renew_for is not None and row.expires_at is not None:
                if isinstance(renew_for, int):
                    renew_for = timedelta(seconds=renew_for)
                row.expires_at = utcnow() + renew_for
                await session.commit()
            return row.data

    async def delete(self, key: str) -> None:
        async with self._factory() as session:
            await session.execute(delete(HttpSession).where(HttpSession.key == key))
            await session.commit()

    async def delete_all(self) -> None:
        async with self._factory() as session:
            await session.execute(delete(HttpSession))
            await session.commit()

    async def delete_expired(self) -> int:
        async with self._factory() as session:
            result = await session.execute(
                delete(HttpSession).where(HttpSession.expires_at < utcnow())
            )
            await session.commit()
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        async with self._factory() as session:
            expires_at = (
                await session.execute(select(HttpSession.expires_at).where(HttpSession.key == key))
            ).scalar_one_or_none()
        if expires_at is None:
            return None
        return int((expires_at - utcnow()).total_seconds())


class LazySessionBackend(ServerSideSessionBackend):
    """Stores a session only once it holds data.

    Litestar's backend writes a row and sets a cookie for every request, even with an
    empty session; readers of the archive, feeds and static files would each cost a
    database write and receive a cookie they never asked for. Here an empty session
    writes nothing, and an emptied one (logout) is deleted with its cookie expired.
    """

    async def store_in_message(
        self,
        scope_session: ScopeSession,
        message: Message,
        connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        if scope_session is Empty or not scope_session:
            session_id = connection.cookies.get(self.config.key)
            if session_id:
                await self._end(session_id, message, connection)
            return
        await super().store_in_message(scope_session, message, connection)

    async def _end(
        self, session_id: str, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        """Delete the stored session and tell the browser to drop its cookie now.

        Litestar's own deletion cookie keeps the configured ``Max-Age`` (8 h), which
        browsers obey over ``Expires``: the dead cookie would linger for the whole
        session lifetime. ``Max-Age=0`` removes it at once.
        """
        await self.delete(session_id, store=self.config.get_store_from_app(connection.scope["app"]))
        params = dict(
            extract_dataclass_items(self.config, exclude_none=True, include=Cookie.__dict__.keys())
        )
        params.update(max_age=0, expires=0)
        cookie = Cookie(value="", key=self.config.key, **params)
        MutableScopeHeaders.from_message(message).add("Set-Cookie", cookie.to_header(header=""))


@dataclass
class LazySessionConfig(ServerSideSessionConfig):
    """``ServerSideSessionConfig`` whose backend is :class:`LazySessionBackend`."""

    _backend_class = LazySessionBackend
