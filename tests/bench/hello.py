"""The floor: a bare Flask "hello" under the same server and worker settings as the
provider. Every figure of the bench is also given as a ratio to this one."""

from flask import Flask

app = Flask(__name__)


@app.get("/hello")
def hello() -> str:
    return "hello"
