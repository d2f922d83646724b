"""A DynamoDB that refuses: a local HTTP proxy in front of dynalite that forwards every call,
except the ``BatchWriteItem`` calls it is told to refuse or to half-process, to which it answers
as DynamoDB does (the real wire format: ``x-amz-json-1.0`` bodies, ``__type`` error codes,
``UnprocessedItems``)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.utils.servers import free_port

THROTTLED = ("com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
             "The level of configured provisioned throughput for the table was exceeded. "
             "Consider increasing your provisioning level with the UpdateTable API.")


class DynamoProxy:
    def __init__(self, upstream: str, table: str) -> None:
        self.upstream = upstream
        self.table = table  # the table whose BatchWriteItem calls are interfered with
        self.refuse = False  # answer ProvisionedThroughputExceededException
        self.unprocess_calls = 0  # this many calls write half and return the rest unprocessed
        self.batch_writes = 0
        self.unprocessed_sent = 0
        self.port = free_port()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                target = self.headers.get("x-amz-target", "")
                status, answer = proxy._answer(target, body, dict(self.headers))
                self.send_response(status)
                self.send_header("content-type", "application/x-amz-json-1.0")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.client = httpx.Client(base_url=upstream, timeout=30)
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DynamoProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.client.close()

    def _forward(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        keep = {k: v for k, v in headers.items() if k.lower() not in {"host", "content-length"}}
        resp = self.client.post("/", content=body, headers=keep)
        return resp.status_code, resp.content

    def _answer(self, target: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if not target.endswith(".BatchWriteItem"):
            return self._forward(body, headers)
        request = json.loads(body)
        if self.table not in request.get("RequestItems", {}):
            return self._forward(body, headers)
        with self.lock:
            self.batch_writes += 1
            refuse = self.refuse
            half = self.unprocess_calls > 0
            if half:
                self.unprocess_calls -= 1
        if refuse:
            return 400, json.dumps({"__type": THROTTLED[0], "message": THROTTLED[1]}).encode()
        if not half:
            return self._forward(body, headers)
        writes = request["RequestItems"][self.table]
        done, left = writes[: len(writes) // 2], writes[len(writes) // 2 :]
        if done:
            status, answer = self._forward(
                json.dumps({"RequestItems": {self.table: done}}).encode(), headers)
            if status != 200:
                return status, answer
        with self.lock:
            self.unprocessed_sent += len(left)
        return 200, json.dumps({"UnprocessedItems": {self.table: left}}).encode()
