"""Get-or-create of the rows a run refers to: models, versions, datasets, metric definitions
and series, keyed by their natural keys.

These rows are written once and never changed by the API (a dataset's unknown size aside),
so each process remembers the rows it has seen: a post then costs a few queries instead of
a dozen. Rows are remembered once their transaction commits. A remembered row deleted
meanwhile (admin, cascade) fails the insert that refers to it; the caller then forgets all
and tries again.
"""

from django.db import connection, transaction

_row_cache = {}
ROW_CACHE_LIMIT = 100_000


def forget_all():
    _row_cache.clear()


def _cache_prefix(model_cls, scope):
    return (model_cls, tuple(value.pk for value in scope.values()))


def remembered(model_cls, scope, keys):
    prefix = _cache_prefix(model_cls, scope)
    rows = {key: _row_cache.get((prefix, key)) for key in keys}
    return {key: row for key, row in rows.items() if row is not None}


def forget(model_cls, scope, keys):
    prefix = _cache_prefix(model_cls, scope)
    for key in keys:
        _row_cache.pop((prefix, key), None)


def ensure(model_cls, scope, key_fields, wanted, *, usually_new=False):
    """Rows of ``model_cls`` for every key in ``wanted`` (key -> defaults), creating the
    missing ones; safe when concurrent posts create the same rows."""
    prefix = _cache_prefix(model_cls, scope)
    found = remembered(model_cls, scope, wanted)
    unseen = [key for key in wanted if key not in found]
    if unseen:
        unseen = {key: wanted[key] for key in unseen}
        fetched = (
            _upsert(model_cls, scope, key_fields, unseen)
            if usually_new
            else _fetch_or_create(model_cls, scope, key_fields, unseen)
        )
        # Remembered only once committed: a row this transaction created is not yet
        # anybody else's to use, and is gone if the transaction fails.
        transaction.on_commit(lambda: _remember(prefix, fetched))
        found.update(fetched)
    return found


def _remember(prefix, rows):
    if len(_row_cache) > ROW_CACHE_LIMIT:
        _row_cache.clear()
    for key, row in rows.items():
        _row_cache[(prefix, key)] = row


def _fetch_or_create(model_cls, scope, key_fields, wanted):
    found = _fetch(model_cls, scope, key_fields, wanted.keys())
    missing = {key: defaults for key, defaults in wanted.items() if key not in found}
    if missing:
        found.update(_upsert(model_cls, scope, key_fields, missing))
    return found


def _upsert(model_cls, scope, key_fields, wanted):
    """INSERT ... ON CONFLICT DO UPDATE ... RETURNING id: one round trip that yields each row
    whether we created it or it existed (a row a concurrent post is inserting makes ours wait
    for that post's commit).

    Two details keep concurrent posts from deadlocking. The rows go in key order, so two
    posts never hold keys the other waits for. And the update sets a column that is in no
    unique index to itself: setting a key column (Django's ``update_conflicts``) would lock
    the row FOR UPDATE, which blocks other transactions' foreign-key checks on it until
    commit, while this locks it FOR NO KEY UPDATE, which does not."""
    ordered = sorted(wanted.items(), key=lambda item: tuple(map(str, item[0])))
    objs = [
        model_cls(**scope, **dict(zip(key_fields, key, strict=True)), **defaults)
        for key, defaults in ordered
    ]
    meta = model_cls._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    conflict = [meta.get_field(name).column for name in [*scope, *key_fields]]
    unique = {column for columns in _unique_columns(meta) for column in columns}
    touched = next(field.column for field in fields if field.column not in unique)
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    row = f"({', '.join(['%s'] * len(fields))})"
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES {', '.join([row] * len(objs))} "
        f"ON CONFLICT ({', '.join(quote(c) for c in conflict)}) "
        f"DO UPDATE SET {quote(touched)} = {table}.{quote(touched)} "
        f"RETURNING {quote(meta.pk.column)}"
    )
    params = [
        field.get_db_prep_save(field.pre_save(obj, add=True), connection)
        for obj in objs
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [pk for (pk,) in cursor.fetchall()]
    found = {}
    for obj, pk in zip(objs, ids, strict=True):  # RETURNING follows the VALUES' order
        obj.pk = pk
        obj._state.adding, obj._state.db = False, connection.alias
        found[tuple(getattr(obj, field) for field in key_fields)] = obj
    return found


def _unique_columns(meta):
    """The column sets of the table's unique constraints and unique fields."""
    for constraint in meta.total_unique_constraints:
        yield [meta.get_field(name).column for name in constraint.fields]
    for field in meta.concrete_fields:
        if field.unique:
            yield [field.column]


def _fetch(model_cls, scope, key_fields, keys):
    keys = set(keys)
    filters = {f"{field}__in": {key[i] for key in keys} for i, field in enumerate(key_fields)}
    rows = model_cls.objects.filter(**scope, **filters)
    found = {}
    for row in rows:
        key = tuple(getattr(row, field) for field in key_fields)
        if key in keys:
            found[key] = row
    return found


def lock_in_order(model_cls, ids, columns=("id",)) -> list[tuple]:
    """Lock the rows of ``model_cls`` with these ids until the transaction ends, in id order
    (as every writer of them locks them: no deadlock), as an update locks them (rows that
    merely refer to them may still be written); answers ``columns`` of each row found, as it
    is once locked.

    On PostgreSQL the ids are joined as a set rather than tested with ``id = ANY(array)``: a
    row another transaction changed while this one waited is checked again against the
    query, and checking it against an array of a thousand ids, a thousand rows over, cost
    PostgreSQL more than the rest of the post (tripling its CPU when posts and analysis jobs
    met on the same series)."""
    ids = sorted(ids)
    table = model_cls._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join('t.' + column for column in columns)} "
                f"FROM unnest(%s::bigint[]) AS k(id) JOIN {table} t ON t.id = k.id "
                "ORDER BY t.id FOR NO KEY UPDATE OF t",
                [ids],
            )
            return cursor.fetchall()
    return list(
        model_cls.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list(*("pk" if column == "id" else column for column in columns))
    )
