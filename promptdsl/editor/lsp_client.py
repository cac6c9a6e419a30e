"""A minimal JSON-RPC client with Content-Length framing, for tests and benchmarks: it talks to
`python -m promptdsl lsp` over pipes exactly as an editor does."""
from __future__ import annotations

import json
import subprocess
import sys


class LspClient:
    def __init__(self, cwd=None, command=None):
        command = command or [sys.executable, "-m", "promptdsl", "lsp"]
        self.proc = subprocess.Popen(command, cwd=cwd,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.next_id = 0
        self.notifications: list = []

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def read(self) -> dict:
        length = None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise EOFError("the server closed its output")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return json.loads(self.proc.stdout.read(length))

    def request(self, method: str, params) -> dict:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        while True:
            message = self.read()
            if message.get("id") == self.next_id and "method" not in message:
                return message
            self.notifications.append(message)

    def notify(self, method: str, params) -> None:
        self.send({"method": method, "params": params})

    def wait_for(self, method: str) -> dict:
        """The next notification `method` (earlier ones kept aside are used first)."""
        for i, message in enumerate(self.notifications):
            if message.get("method") == method:
                return self.notifications.pop(i)
        while True:
            message = self.read()
            if message.get("method") == method:
                return message
            self.notifications.append(message)

    def close(self) -> int:
        self.request("shutdown", None)
        self.notify("exit", None)
        self.proc.stdin.close()
        return self.proc.wait(timeout=30)
