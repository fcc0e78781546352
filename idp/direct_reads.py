"""Hot reads run on the database driver's own cursor (issue 13).

A read through the ORM session goes through SQLAlchemy's whole execution path: the
session's execution events, the compiled-cache lookup, an execution context, a result
object (which asks the driver to describe every column: psycopg builds an object per
column), then the ORM's loading of each row. Measured on userinfo's read (a token with
its traveller and platform, 53 columns), that path cost 0.70 ms of CPU; the same SELECT
on psycopg's cursor cost 0.20 ms, and 0.39 ms with the entities made and attached to the
session as below.

So the reads every platform request makes (a token, a code, a browser session, a
platform, the consent in force) are compiled once per dialect, to the SQL SQLAlchemy
itself would send, and run here on the session's connection:

- the engine's ``before_cursor_execute`` and ``after_cursor_execute`` listeners still
  see each statement (the guard on parameters, the transaction that begins at the first
  write, the tests that count round trips);
- a driver error goes through SQLAlchemy's own handling: wrapped in its exception
  classes, and a dropped connection invalidated, as for any other statement;
- each column goes through the result processing of its SQLAlchemy type (dates, JSON,
  ``UTCDateTime``), so a value read here is the value the ORM would have given;
- the entities are made as loaded ones: their columns as committed values, attached to
  the session as persistent, any column not read loaded on first access. One already in
  the session's identity map is used instead, as the ORM does.

Only parameters that need no conversion are accepted (text and whole numbers): a
statement whose parameters would need SQLAlchemy's bind processing is refused when it
is first compiled."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapper, make_transient_to_detached
from sqlalchemy.orm.base import instance_state

from idp.extensions import db

E = TypeVar("E")
Processor = Callable[[Any], Any]


class Compiled(NamedTuple):
    sql: str
    positions: tuple[str, ...] | None  # parameter names in order, for a positional driver
    processors: list[tuple[int, Processor]]  # (column index, its type's result processor)
    fixed: dict[str, Any]


class DirectRead:
    """A SELECT compiled once per dialect and run on the session's driver connection."""

    def __init__(self, statement: sa.Select[Any]) -> None:
        self.statement = statement
        self._compiled: dict[str, Compiled] = {}

    def _compile(self, dialect: Dialect) -> Compiled:
        compiled = self.statement.compile(dialect=dialect)
        fixed: dict[str, Any] = {}  # values written in the statement (a LIMIT's)
        for name, bind in compiled.binds.items():
            if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None:
                raise TypeError(f"parameter {name!r} needs SQLAlchemy's bind processing")
            if not bind.required:
                fixed[name] = bind.effective_value
        processors: list[tuple[int, Processor]] = []
        for index, column in enumerate(self.statement.selected_columns):
            processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if processor is not None:
                processors.append((index, processor))
        positions = tuple(compiled.positiontup or ()) if dialect.positional else None
        found = Compiled(str(compiled), positions, processors, fixed)
        self._compiled[dialect.name] = found
        return found

    def rows(self, params: Mapping[str, Any]) -> list[list[Any]]:
        connection = db.session.connection()
        dialect = connection.dialect
        sql, positions, processors, fixed = (self._compiled.get(dialect.name)
                                             or self._compile(dialect))
        if fixed:
            params = {**fixed, **params}
        args: Any = params if positions is None else tuple(params[n] for n in positions)
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            connection.dispatch.before_cursor_execute(connection, cursor, sql, args, None,
                                                      False)
            try:
                cursor.execute(sql, args)
                fetched = cursor.fetchall()
            except dialect.loaded_dbapi.Error as error:
                # SQLAlchemy's own handling of a driver error: wrapped in its classes, a
                # dropped connection invalidated (always raises).
                connection._handle_dbapi_exception(  # noqa: SLF001
                    error, sql, args, cursor, None)
                raise  # pragma: no cover - the line above raises
            connection.dispatch.after_cursor_execute(connection, cursor, sql, args, None,
                                                     False)
        finally:
            with contextlib.suppress(dialect.loaded_dbapi.Error):  # a dead connection
                cursor.close()
        rows = [list(row) for row in fetched]
        if processors:
            for row in rows:
                for index, processor in processors:
                    row[index] = processor(row[index])
        return rows

    def first(self, params: Mapping[str, Any]) -> list[Any] | None:
        found = self.rows(params)
        return found[0] if found else None


class Columns(Generic[E]):
    """What a read loads of one mapped class: its columns, the primary key always."""

    def __init__(self, cls: type[E], only: Iterable[Any] | None = None,
                 without: Iterable[Any] = ()) -> None:
        mapper: Mapper[E] = sa.inspect(cls)
        wanted = None if only is None else {_key(a) for a in only}
        left_out = {_key(a) for a in without}
        primary = {mapper.get_property_by_column(c).key for c in mapper.primary_key}
        props = [p for p in mapper.column_attrs
                 if p.key in primary or ((wanted is None or p.key in wanted)
                                         and p.key not in left_out)]
        self.cls, self.mapper = cls, mapper
        self.keys = tuple(p.key for p in props)
        self.columns = tuple(p.columns[0] for p in props)
        self.primary = tuple(self.keys.index(mapper.get_property_by_column(c).key)
                             for c in mapper.primary_key)

    def attach(self, values: Sequence[Any], related: Mapping[str, Any] | None = None) -> E:
        """The entity of these values, as the ORM would have loaded it into the session
        (or the one the session already holds, as the ORM would have returned)."""
        session = db.session()
        key = self.mapper.identity_key_from_primary_key(tuple(values[i] for i in self.primary))
        existing = session.identity_map.get(key)
        if existing is not None:
            return existing  # type: ignore[no-any-return]
        entity: E = self.mapper.class_manager.new_instance()
        loaded = instance_state(entity).dict
        loaded.update(zip(self.keys, values, strict=True))
        if related:
            loaded.update(related)
        # Persistent with these values committed; any attribute not read is expired, so
        # loaded from its row on first access.
        make_transient_to_detached(entity)
        session.add(entity)
        return entity


def _key(attribute: Any) -> str:
    return attribute if isinstance(attribute, str) else str(attribute.key)


class EntityRead(Generic[E]):
    """One entity, its many-to-one relations joined in the same SELECT (as ``joinedload``
    would; each a foreign key that is never null, so an inner join), and any columns
    ``extend`` adds after them."""

    def __init__(self, root: Columns[E], where: sa.ColumnElement[bool],
                 joined: Mapping[str, Columns[Any]] | None = None,
                 extend: Callable[[sa.Select[Any]], tuple[sa.Select[Any], int]] | None = None,
                 order_by: Sequence[Any] = (), limit: int | None = None) -> None:
        self.root, self.joined = root, dict(joined or {})
        statement = sa.select(*root.columns,
                              *(c for part in self.joined.values() for c in part.columns))
        statement = statement.select_from(root.cls)
        for name, part in self.joined.items():
            relation = root.mapper.relationships[name]
            if relation.uselist or any(c.nullable for c in relation.local_columns):
                raise TypeError(f"{name!r} is not a many-to-one relation that is never empty")
            statement = statement.join(part.cls, relation.primaryjoin)
        statement = statement.where(where)
        if order_by:
            statement = statement.order_by(*order_by)
        if limit is not None:
            statement = statement.limit(limit)
        self.added = 0
        if extend is not None:
            statement, self.added = extend(statement)
        self.read = DirectRead(statement)

    def first(self, params: Mapping[str, Any]) -> tuple[E, list[Any]] | None:
        """The entity, and the values of the columns ``extend`` added; None if no row."""
        row = self.read.first(params)
        if row is None:
            return None
        start = len(self.root.columns)
        related: dict[str, Any] = {}
        for name, part in self.joined.items():
            related[name] = part.attach(row[start:start + len(part.columns)])
            start += len(part.columns)
        return self.root.attach(row[:len(self.root.columns)], related), row[start:]

    def entity(self, params: Mapping[str, Any]) -> E | None:
        found = self.first(params)
        return None if found is None else found[0]
