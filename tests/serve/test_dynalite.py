"""The local stack's DynamoDB (serve/dynalite.js around dynalite) outlives a client that dies in
the middle of a request: unwrapped, dynalite rethrows the aborted request's error and exits, and
every process of the stack loses its database (seen when the intake crash test SIGKILLed the
ingress mid-batch)."""

from __future__ import annotations

import socket
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import Settings
from store.dynamo import make_client
from tests.utils.servers import Dynalite


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Dynalite]:
    own = Dynalite(tmp_path / "db")  # not the session's: this one is made to misbehave
    own.start()
    yield own
    own.stop()


def abort_mid_body(port: int) -> None:
    """Send a request's headers and half its body, then reset the connection."""
    body = b'{"Limit": 1}'
    head = (b"POST / HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/x-amz-json-1.0\r\n"
            b"X-Amz-Target: DynamoDB_20120810.ListTables\r\n"
            b"Content-Length: %d\r\n\r\n" % (len(body) + 100))
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(head + body)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST


def test_a_client_aborting_mid_request_does_not_take_the_database_down(
        server: Dynalite) -> None:
    client = make_client(Settings(_env_file=None, dynamodb_endpoint=server.url))
    client.create_table(
        TableName="Survivor", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}])
    client.put_item(TableName="Survivor", Item={"k": {"S": "before"}})
    for _ in range(3):
        abort_mid_body(server.port)
    assert server.proc is not None
    with pytest.raises(subprocess.TimeoutExpired):  # still running half a second later
        server.proc.wait(0.5)
    assert server.proc.poll() is None, "dynalite exited after a client aborted a request"
    item = client.get_item(TableName="Survivor", Key={"k": {"S": "before"}}, ConsistentRead=True)
    assert item["Item"]["k"]["S"] == "before"
