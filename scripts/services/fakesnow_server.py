"""fakesnow's Snowflake server, made readable by the Node snowflake-sdk (started by scripts/services/fakesnow.ts).

fakesnow 0.12.1 serves the Python connector, and two of its answers stop the Node SDK (docs/services.md):

- a query's answer carries no `code`, so the SDK takes the query as still running and polls
  `/queries/<id>/result`, which fakesnow does not serve (404) (tekumara/fakesnow PR #313, open);
- rows come as Arrow (`rowsetBase64`), and the Node SDK reads only Snowflake's JSON result format (`rowset`).

The middleware below rewrites those answers as Snowflake's JSON format gives them, so the SDK converts every value
with its own code, as it does against Snowflake. It also checks the login's user and password (fakesnow accepts
any), so a refused login can be tested: Snowflake's answer for one is code 390100.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import decimal
import gzip
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import pyarrow as pa
import uvicorn

import fakesnow.server

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

EPOCH_DAY = datetime.date(1970, 1, 1)
LOGIN_PATH = "/session/v1/login-request"
QUERY_PATH = "/queries/v1/query-request"


def signed_fraction(total: int, digits: int) -> str:
    """`total / 10**digits` as Snowflake's JSON writes it (`-1.500000000`): the sign applies to the whole value."""
    sign = "-" if total < 0 else ""
    whole, fraction = divmod(abs(total), 10**digits)
    return f"{sign}{whole}.{fraction:0{digits}d}" if digits else f"{sign}{whole}"


def json_value(value: Any, column: dict[str, Any]) -> str | None:
    """One value of fakesnow's Arrow batch (already in Snowflake's Arrow layout) as Snowflake's JSON result text."""
    if value is None:
        return None
    kind = column["type"]
    if kind in ("timestamp_ntz", "timestamp_ltz", "timestamp_tz"):
        # fakesnow's structs: epoch seconds, nanoseconds, and (tz) the offset in minutes + 1440. Its rowtype says
        # scale 9, so the fraction has 9 digits. A null timestamp is a struct of nulls: to_sf drops the validity.
        if value["epoch"] is None:
            return None
        nanos = value["epoch"] * 1_000_000_000 + value["fraction"]
        text = signed_fraction(nanos, 9)
        return f"{text} {value['timezone']}" if kind == "timestamp_tz" else text
    if kind == "date":
        # days since 1970-01-01
        return str((value - EPOCH_DAY).days)
    if kind == "time":
        # nanoseconds since midnight (to_sf multiplied duckdb's microseconds)
        return signed_fraction(int(value), 9)
    if kind == "boolean":
        return "1" if value else "0"
    if kind == "fixed":
        if isinstance(value, decimal.Decimal):
            # `f` keeps the scale's trailing zeros and never writes an exponent (`0E-10`)
            return format(value, "f")
        return str(int(value))
    if kind == "real":
        return repr(float(value))
    if kind == "binary":
        return bytes(value).hex().upper()
    return str(value)


def arrow_rowset(rowset_base64: str, rowtype: list[dict[str, Any]]) -> list[list[str | None]]:
    if not rowset_base64:
        return []
    table = pa.ipc.open_stream(base64.b64decode(rowset_base64)).read_all()
    columns = [table.column(index).to_pylist() for index in range(table.num_columns)]
    return [
        [json_value(value, rowtype[index]) for index, value in enumerate(row)]
        for row in zip(*columns, strict=True)
    ]


def as_snowflake_json(body: bytes) -> bytes:
    answer = json.loads(body)
    if not answer.get("success"):
        return body
    data = answer.get("data") or {}
    answer["code"] = answer.get("code") or "0"
    if data.get("queryResultFormat") == "arrow":
        rowset = arrow_rowset(data.pop("rowsetBase64", ""), data.get("rowtype") or [])
        data["queryResultFormat"] = "json"
        data["rowset"] = rowset
    if "rowset" in data:
        # The SDK reads rows up to `returned`; without it (fakesnow's DML answers) it never completes.
        data["returned"] = len(data["rowset"])
    return json.dumps(answer).encode()


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def send_json(send: Send, answer: dict[str, Any], status: int = 200) -> None:
    body = json.dumps(answer).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class NodeSdkCompat:
    def __init__(self, app: App, user: str, password: str) -> None:
        self.app = app
        self.user = user
        self.password = password

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["path"] == LOGIN_PATH:
            return await self.login(scope, receive, send)
        if scope["path"] == QUERY_PATH:
            return await self.query(scope, receive, send)
        return await self.app(scope, receive, send)

    async def login(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive)
        headers = dict(scope["headers"])
        text = gzip.decompress(body) if headers.get(b"content-encoding") == b"gzip" else body
        data = json.loads(text).get("data") or {}
        # Snowflake matches login names case-insensitively, passwords exactly.
        if str(data.get("LOGIN_NAME", "")).upper() != self.user.upper() or data.get("PASSWORD") != self.password:
            return await send_json(
                send,
                {
                    "data": {"nextAction": "RETRY_LOGIN", "authnMethod": "USERNAME_PASSWORD"},
                    "code": "390100",
                    "message": "Incorrect username or password was specified.",
                    "success": False,
                },
            )
        await self.app(scope, replay(body), send)

    async def query(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffered(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body") or start is None:
                return
            body = b"".join(chunks)
            if start["status"] == 200:
                try:
                    body = as_snowflake_json(body)
                except Exception as error:
                    # A value this middleware cannot write: a failed query, not a 500 the SDK would retry for minutes.
                    body = json.dumps(
                        {
                            "data": {"errorCode": "000002", "sqlState": "0A000"},
                            "code": "000002",
                            "message": f"fakesnow_server.py cannot write this result as JSON: {error!r}",
                            "success": False,
                        }
                    ).encode()
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, buffered)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    args = parser.parse_args()
    # From the environment, not argv: the command line is readable by every user of the machine.
    password = os.environ["FAKESNOW_PASSWORD"]
    app = NodeSdkCompat(fakesnow.server.app, args.user, password)
    uvicorn.run(app, host=args.host, port=args.port, log_level=os.environ.get("FAKESNOW_LOG_LEVEL", "warning"))


if __name__ == "__main__":
    main()
