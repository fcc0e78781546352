"""Hot statements run on the database driver's own cursor (issue 13).

A statement through the ORM session goes through SQLAlchemy's whole execution path: the
session's execution events, the compiled-cache lookup, an execution context, a result
object (which asks the driver to describe every column: psycopg builds an object per
column), then the ORM's loading of each row. Measured on userinfo's read (a token with
its traveller and platform, 53 columns), that path cost 0.70 ms of CPU; the same SELECT
on psycopg's cursor cost 0.20 ms, and 0.39 ms with the entities made and attached to the
session as below.

So the statements every platform request makes (reading a token, a code, a browser
session, a platform, the consent in force; writing a code or a token, spending a code or
a refresh token) are compiled once per dialect, to the SQL SQLAlchemy itself would
send, and run here on the session's connection, in its transaction:

- the engine's ``before_cursor_execute`` and ``after_cursor_execute`` listeners still
  see each statement (the guard on parameters, the transaction that begins at the first
  write, the tests that count round trips);
- a driver error goes through SQLAlchemy's own handling: wrapped in its exception
  classes, and a dropped connection invalidated, as for any other statement;
- each parameter and each column goes through its SQLAlchemy type's conversion (dates,
  JSON, ``UTCDateTime``), and an INSERT gets the defaults its columns give in Python:
  a value read or written here is the one SQLAlchemy would have read or written;
- the entities are made as loaded ones: their columns as committed values, attached to
  the session as persistent, any column not read loaded on first access. One already in
  the session's identity map is used instead, as the ORM does."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapper
from sqlalchemy.orm.base import instance_state

from idp.extensions import db

E = TypeVar("E")
Processor = Callable[[Any], Any]


class Compiled(NamedTuple):
    sql: str
    positions: tuple[str, ...] | None  # parameter names in order, for a positional driver
    binds: list[tuple[str, Processor]]  # (parameter, its type's bind processor)
    results: list[tuple[int, Processor]]  # (column index, its type's result processor)
    fixed: dict[str, Any]  # values written in the statement (a LIMIT's)


class DirectStatement:
    """A statement compiled once per dialect and run on the session's driver connection.
    ``column_keys``: the columns an INSERT sets (its VALUES)."""

    def __init__(self, statement: sa.Executable,
                 column_keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.column_keys = list(column_keys) if column_keys is not None else None
        self._compiled: dict[str, Compiled] = {}

    def _compile(self, dialect: Dialect) -> Compiled:
        compiled = self.statement.compile(  # type: ignore[attr-defined]
            dialect=dialect, column_keys=self.column_keys)
        binds: list[tuple[str, Processor]] = []
        fixed: dict[str, Any] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                binds.append((name, processor))
            if not bind.required:
                fixed[name] = bind.effective_value
        results: list[tuple[int, Processor]] = []
        for index, column in enumerate(getattr(self.statement, "selected_columns", ())):
            processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if processor is not None:
                results.append((index, processor))
        positions = tuple(compiled.positiontup or ()) if dialect.positional else None
        found = Compiled(str(compiled), positions, binds, results, fixed)
        self._compiled[dialect.name] = found
        return found

    def _run(self, params: Mapping[str, Any], fetch: bool,
             connection: sa.Connection | None = None) -> tuple[list[list[Any]], int]:
        """On ``connection``, or else the session's (in its transaction)."""
        if connection is None:
            connection = db.session.connection()
        dialect = connection.dialect
        sql, positions, binds, results, fixed = (self._compiled.get(dialect.name)
                                                 or self._compile(dialect))
        values = {**fixed, **params}
        for name, processor in binds:
            values[name] = processor(values[name])
        args: Any = values if positions is None else tuple(values[n] for n in positions)
        cursor, kept = _cursor(connection)
        try:
            connection.dispatch.before_cursor_execute(connection, cursor, sql, args, None,
                                                      False)
            try:
                cursor.execute(sql, args)
                fetched = cursor.fetchall() if fetch else []
            except dialect.loaded_dbapi.Error as error:
                # SQLAlchemy's own handling of a driver error: wrapped in its classes, a
                # dropped connection invalidated (always raises).
                connection._handle_dbapi_exception(  # noqa: SLF001
                    error, sql, args, cursor, None)
                raise  # pragma: no cover - the line above raises
            connection.dispatch.after_cursor_execute(connection, cursor, sql, args, None,
                                                     False)
            count = int(cursor.rowcount)
        finally:
            if not kept:
                with contextlib.suppress(dialect.loaded_dbapi.Error):  # a dead connection
                    cursor.close()
        rows = [list(row) for row in fetched]
        if results:
            for row in rows:
                for index, processor in results:
                    row[index] = processor(row[index])
        return rows, count


_CURSOR = "idp_direct_cursor"  # the pooled connection's ``info`` key of its kept cursor


def _cursor(connection: sa.Connection) -> tuple[Any, bool]:
    """The driver cursor to run a statement on, and whether it is kept for the next.

    On psycopg, one cursor per driver connection, kept from statement to statement: a
    new cursor works out the loader of each column of each result afresh, where a kept
    one looks it up in what it already knows (userinfo's read of 45 columns: 0.112 ms
    of CPU with a new cursor, 0.092 kept). A cursor that met an error is closed by
    SQLAlchemy's handling of it (``_handle_dbapi_exception``), and a connection replaced
    (invalidated, recycled) gets a new one. A statement runs to its end, its rows
    fetched, before the next starts on the connection: no two use the cursor at once."""
    pooled = connection.connection
    dbapi = pooled.dbapi_connection
    if connection.dialect.driver != "psycopg":
        return dbapi.cursor(), False  # type: ignore[union-attr]
    cursor = pooled.info.get(_CURSOR)
    if cursor is None or cursor.closed or cursor.connection is not dbapi:
        cursor = pooled.info[_CURSOR] = dbapi.cursor()  # type: ignore[union-attr]
    return cursor, True


class DirectRead(DirectStatement):
    """A SELECT: its rows, each column through its type's result processing."""

    def __init__(self, statement: sa.Select[Any]) -> None:
        super().__init__(statement)

    def rows(self, params: Mapping[str, Any]) -> list[list[Any]]:
        session = db.session()
        if session.autoflush:
            # As the ORM before a query: this request's pending changes are read too
            # (nothing is sent when there are none).
            session.flush()
        return self._run(params, fetch=True)[0]

    def first(self, params: Mapping[str, Any]) -> list[Any] | None:
        found = self.rows(params)
        return found[0] if found else None

    def first_on(self, connection: sa.Connection, params: Mapping[str, Any]) -> list[Any] | None:
        """The first row, read on ``connection`` outside any session (``idp.prepared``'s
        computed answers)."""
        found = self._run(params, fetch=True, connection=connection)[0]
        return found[0] if found else None


class DirectWrite(DirectStatement):
    """An INSERT, UPDATE or DELETE: the number of rows it wrote."""

    def run(self, params: Mapping[str, Any], connection: sa.Connection | None = None) -> int:
        """On ``connection``, or else the session's (in its transaction)."""
        return self._run(params, fetch=False, connection=connection)[1]


def insert_row(entity: type[Any], values: Mapping[str, Any],
               connection: sa.Connection | None = None) -> None:
    """One row of ``entity``'s table, with the Python-side defaults of the columns not
    given (as SQLAlchemy's own INSERT fills them), in the session's transaction (or on
    ``connection``, outside any session)."""
    table: sa.Table = entity.__table__
    row = with_defaults(table, values)
    _insert(table, frozenset(row)).run(row, connection)


def insert_row_if(claim: sa.Update, entity: type[Any], values: Mapping[str, Any],
                  params: Mapping[str, Any], connection: sa.Connection | None = None) -> int:
    """One row of ``entity``'s table, written only if ``claim`` (an UPDATE, with its
    ``params``) changes a row, and in the same statement: ``WITH claimed AS (UPDATE ...
    RETURNING 1) INSERT ... SELECT ... FROM claimed``. One statement is atomic on its own:
    both or neither. PostgreSQL only (SQLite has no UPDATE inside a WITH). The number of
    rows written, 0 when the claim changed none. In the session's transaction, or on
    ``connection``, outside any session."""
    return _insert_row(_insert_if, claim, entity, values, params, connection)


INSERTED = "inserted_"  # the INSERT's parameters, apart from the claim's


def insert_row_when(condition: sa.ColumnElement[bool], entity: type[Any],
                    values: Mapping[str, Any], params: Mapping[str, Any],
                    connection: sa.Connection | None = None) -> int:
    """One row of ``entity``'s table, written only if ``condition`` (with its ``params``)
    holds, in the same statement: ``INSERT ... SELECT ... WHERE condition``. The number
    of rows written: 1, or 0 when the condition failed. ``condition`` must be one
    object, built once (the statement is compiled once for it). On both databases."""
    return _insert_row(_insert_when, condition, entity, values, params, connection)


def _insert_row(statement: Callable[[Any, sa.Table, frozenset[str]], DirectWrite],
                source: Any, entity: type[Any], values: Mapping[str, Any],
                params: Mapping[str, Any], connection: sa.Connection | None) -> int:
    """``insert_row_if`` and ``insert_row_when``: the row with its defaults, its values
    as the INSERT's parameters beside the claim's or the condition's."""
    table: sa.Table = entity.__table__
    row = with_defaults(table, values)
    written = {f"{INSERTED}{key}": value for key, value in row.items()}
    return statement(source, table, frozenset(row)).run({**params, **written}, connection)


def _inserted(table: sa.Table, ordered: list[str]) -> sa.Select[Any]:
    """The SELECT of the new row's values, each a parameter."""
    return sa.select(*(sa.bindparam(f"{INSERTED}{key}", type_=table.c[key].type)
                       for key in ordered))


@functools.cache
def _insert_when(condition: sa.ColumnElement[bool], table: sa.Table,
                 keys: frozenset[str]) -> DirectWrite:
    ordered = sorted(keys)
    values = _inserted(table, ordered).where(condition)
    return DirectWrite(sa.insert(table).from_select(ordered, values, include_defaults=False))


class JsonListHas(sa.ColumnElement[bool]):
    """Whether a JSON array of strings (``column``) holds ``value``, as a condition: each
    database with its own JSON functions (``json_list_has``)."""

    inherit_cache = False  # compiled once per dialect by DirectStatement anyway
    type = sa.Boolean()

    def __init__(self, column: sa.ColumnElement[Any], value: str) -> None:
        self.column = column
        self.value = sa.literal(value, sa.String())


def json_list_has(column: Any, value: str) -> sa.ColumnElement[bool]:
    return JsonListHas(column, value)


# Both put together SQL the compiler made: a column and a bound parameter, no value.
@compiles(JsonListHas, "postgresql")
def _json_list_has_postgresql(element: JsonListHas, compiler: Any, **kw: Any) -> str:
    column, value = compiler.process(element.column, **kw), compiler.process(element.value, **kw)
    return (f"EXISTS (SELECT 1 FROM json_array_elements_text({column}) AS listed(item) "  # noqa: S608
            f"WHERE listed.item = {value})")


@compiles(JsonListHas)
def _json_list_has_sqlite(element: JsonListHas, compiler: Any, **kw: Any) -> str:
    column, value = compiler.process(element.column, **kw), compiler.process(element.value, **kw)
    return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = {value})"  # noqa: S608


@functools.cache
def _insert_if(claim: sa.Update, table: sa.Table, keys: frozenset[str]) -> DirectWrite:
    claimed = claim.returning(sa.literal_column("1")).cte("claimed")
    ordered = sorted(keys)
    values = _inserted(table, ordered).select_from(claimed)
    return DirectWrite(sa.insert(table).from_select(ordered, values, include_defaults=False))


def with_defaults(table: sa.Table, values: Mapping[str, Any],
                  leave_out: Iterable[str] = ()) -> dict[str, Any]:
    """``values``, with the Python-side default of each column neither given nor left
    out (one whose value the statement takes elsewhere)."""
    row = dict(values)
    for key, default in _defaults(table):
        if key not in row and key not in leave_out:
            row[key] = default()
    return row


@functools.cache
def _defaults(table: sa.Table) -> list[tuple[str, Callable[[], Any]]]:
    found: list[tuple[str, Callable[[], Any]]] = []
    for column in table.columns:
        default = column.default
        if default is None:
            continue
        if default.is_scalar:
            found.append((column.key, lambda value=default.arg: value))  # type: ignore[attr-defined,misc]
        elif default.is_callable:
            # SQLAlchemy wraps a callable of no argument into one of the execution context.
            found.append((column.key, lambda call=default.arg: call(None)))  # type: ignore[attr-defined,misc]
        else:
            raise TypeError(f"{table.name}.{column.key}: a default only SQLAlchemy can run")
    return found


@functools.cache
def _insert(table: sa.Table, keys: frozenset[str]) -> DirectWrite:
    return DirectWrite(sa.insert(table), column_keys=sorted(keys))


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
        # What ``make_transient_to_detached`` would mark expired on each entity: every
        # attribute loaded by a column that this read leaves out.
        manager = mapper.class_manager
        self.unread = frozenset(key for key in manager if key not in self.keys
                                and manager[key].impl.accepts_scalar_loader)

    def attach(self, values: Sequence[Any], related: Mapping[str, Any] | None = None) -> E:
        """The entity of these values, as the ORM would have loaded it into the session
        (or the one the session already holds, as the ORM would have returned)."""
        session = db.session()
        key = self.mapper.identity_key_from_primary_key(tuple(values[i] for i in self.primary))
        existing = session.identity_map.get(key)
        if existing is not None:
            return existing  # type: ignore[no-any-return]
        entity = self.detached(values, related)
        session.add(entity)
        return entity

    def detached(self, values: Sequence[Any], related: Mapping[str, Any] | None = None) -> E:
        """The entity of these values in no session: an attribute not read raises
        (DetachedInstanceError) rather than being loaded."""
        entity: E = self.mapper.class_manager.new_instance()
        state = instance_state(entity)
        loaded = state.dict
        loaded.update(zip(self.keys, values, strict=True))
        if related:
            loaded.update(related)
        # What ``make_transient_to_detached`` does to a new instance, from what was
        # worked out once (a third of userinfo's CPU went to working it out per entity):
        # persistent under its identity key, with these values as loaded (a new
        # instance has no history to commit), and any attribute not read expired, so
        # loaded from its row on first access (once in a session).
        state.key = self.mapper.identity_key_from_primary_key(
            tuple(values[i] for i in self.primary))
        state.expired_attributes.update(self.unread)
        return entity


def _key(attribute: Any) -> str:
    return attribute if isinstance(attribute, str) else str(attribute.key)


class EntityRead(Generic[E]):
    """One entity, its many-to-one relations joined in the same SELECT (as ``joinedload``
    would; each a foreign key that is never null, so an inner join), and any columns
    ``extend`` adds after them."""

    def __init__(self, root: Columns[E], where: sa.ColumnElement[bool],
                 joined: Mapping[str, Columns[Any]] | None = None,
                 extend: Callable[[sa.Select[Any]], sa.Select[Any]] | None = None,
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
        if extend is not None:
            statement = extend(statement)
        self.read = DirectRead(statement)

    def first(self, params: Mapping[str, Any]) -> tuple[E, list[Any]] | None:
        """The entity, and the values of the columns ``extend`` added; None if no row."""
        row = self.read.first(params)
        return None if row is None else self._entities(row, Columns.attach)

    def entity(self, params: Mapping[str, Any]) -> E | None:
        found = self.first(params)
        return None if found is None else found[0]

    def first_detached(self, connection: sa.Connection,
                       params: Mapping[str, Any]) -> tuple[E, list[Any]] | None:
        """As :meth:`first`, read on ``connection``, the entities in no session."""
        row = self.read.first_on(connection, params)
        return None if row is None else self._entities(row, Columns.detached)

    def _entities(self, row: list[Any], make: Callable[..., Any]) -> tuple[E, list[Any]]:
        """The row's entities, each made by ``make`` (``Columns.attach`` or
        ``Columns.detached``), and the columns ``extend`` added."""
        start = len(self.root.columns)
        related: dict[str, Any] = {}
        for name, part in self.joined.items():
            related[name] = make(part, row[start:start + len(part.columns)])
            start += len(part.columns)
        return make(self.root, row[:len(self.root.columns)], related), row[start:]
