"""The floor: a bare Flask "hello" under the same server and worker settings as the
provider. Every figure of the bench is also given as a ratio to this one.

Beside it, ``/hello-db``: the same "hello" after one ``SELECT 1`` on PostgreSQL, through
psycopg on a connection each server thread keeps (no pool, no SQLAlchemy). It is the
least an answer can cost that reads the database at every request, as userinfo and
introspection must for a revocation to be seen on the very next request at every
instance (issue 13): what one round trip adds to the floor, measured in the same run."""

import os
import threading
from typing import Any

from flask import Flask

app = Flask(__name__)
DATABASE = os.environ.get("BENCH_FLOOR_DATABASE", "")  # a libpq URL
_local = threading.local()


@app.get("/hello")
def hello() -> str:
    return "hello"


@app.get("/hello-db")
def hello_db() -> str:
    connection: Any = getattr(_local, "connection", None)
    if connection is None:
        import psycopg

        connection = _local.connection = psycopg.connect(DATABASE, autocommit=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1", prepare=True)
        cursor.fetchall()
    return "hello"
