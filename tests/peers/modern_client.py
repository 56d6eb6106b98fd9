"""A client of the current `mcp` package in a chosen mode (`auto`
negotiates 2026-07-28 with a modern server, `legacy` the initialize
handshake), for the end-to-end tests.

    modern_client.py MODE accept|decline -- COMMAND [ARG...]
    modern_client.py MODE accept|decline URL

The server is COMMAND over stdio, or the Streamable HTTP endpoint URL.

Calls `add` and then `delete_note`, answers every elicitation with the
given action (accept means approve=true), and prints one JSON line each:
{"negotiated": VERSION}, {"elicitation": MESSAGE}, and
{"tool": NAME, "isError": bool, "text": "..."} or {"tool": NAME, "error": "..."}."""
import json
import sys

import anyio
from mcp import StdioServerParameters
from mcp.client import Client
from mcp.types import ElicitResult


def emit(value):
    print(json.dumps(value), flush=True)


async def main(mode, action, command):
    async def on_elicitation(context, params):
        emit({"elicitation": params.message})
        content = {"approve": True} if action == "accept" else None
        return ElicitResult(action=action, content=content)

    if len(command) == 1 and command[0].startswith(("http://", "https://")):
        server = command[0]
    else:
        server = StdioServerParameters(command=command[0], args=command[1:])
    async with Client(server, mode=mode, elicitation_callback=on_elicitation) as client:
        emit({"negotiated": client.session.protocol_version})
        for name, arguments in [("add", {"a": 1, "b": 2}), ("delete_note", {"name": "groceries"})]:
            try:
                result = await client.call_tool(name, arguments)
                text = " ".join(getattr(block, "text", "") for block in result.content)
                emit({"tool": name, "isError": bool(result.is_error), "text": text})
            except Exception as error:  # the test reports what the client raised
                emit({"tool": name, "error": f"{type(error).__name__}: {error}"})


rest = sys.argv[3:]
anyio.run(main, sys.argv[1], sys.argv[2], rest[1:] if rest[:1] == ["--"] else rest)
