"""A real MCP client (the `mcp` package) for the end-to-end tests.

    client.py [--approve accept|decline] STEPS_JSON -- COMMAND [ARG...]
    client.py [--approve ...] --url URL [--bearer TOKEN | --oauth ISSUER ID SECRET] STEPS_JSON

Starts COMMAND (normally `portcullis run ... -- <server>`) over stdio, or
connects to URL over Streamable HTTP (normally `portcullis gateway`), with
a bearer token or an access token it gets itself through the OAuth client
credentials grant, discovering the authorization server from the server's
protected resource metadata; then initializes, runs the steps and prints
one JSON line per step on stdout:

    {"list": true}                          -> {"tools": [<tool>, ...]}
    {"call": NAME, "arguments": {...}}      -> {"isError": bool, "text": "..."}
    {"wait": "tools/list_changed"}          -> {"notified": true}

With --approve the client declares the elicitation capability and answers
every elicitation/create with that action (accept means approve=true); each
question it got is printed as {"elicitation": "<message>"}.
"""

import argparse
import json
import sys

import anyio
import mcp.types as types
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.auth import TokenStorage
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def emit(value):
    print(json.dumps(value), flush=True)


class MemoryTokens(TokenStorage):
    """Tokens and client information kept for the run only."""

    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


def connect(command, url, bearer, oauth):
    """The transport: stdio to COMMAND, or Streamable HTTP to URL."""
    if url is None:
        return stdio_client(StdioServerParameters(command=command[0], args=command[1:]))
    if oauth:
        issuer, client_id, secret = oauth
        auth = ClientCredentialsOAuthProvider(
            server_url=url, storage=MemoryTokens(), client_id=client_id,
            client_secret=secret, scope="mcp", issuer=issuer,
        )
        http = create_mcp_http_client(auth=auth)
    else:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {bearer}"} if bearer else None)
    return streamable_http_client(url, http_client=http)


async def run(steps, command, approve, url=None, bearer=None, oauth=None):
    list_changed = anyio.Event()
    changes = {"count": 0}

    async def on_message(message):
        if isinstance(message, types.ToolListChangedNotification):
            changes["count"] += 1
            list_changed.set()

    async def on_elicitation(context, params):
        emit({"elicitation": params.message})
        if approve == "accept":
            return types.ElicitResult(action="accept", content={"approve": True})
        return types.ElicitResult(action=approve)

    async with connect(command, url, bearer, oauth) as streams:
        read_stream, write_stream = streams[0], streams[1]
        async with ClientSession(
            read_stream,
            write_stream,
            message_handler=on_message,
            # A guard against a hung peer, not a timing requirement.
            read_timeout_seconds=300,
            elicitation_callback=on_elicitation if approve else None,
        ) as session:
            await session.initialize()
            for step in steps:
                if "list" in step:
                    listed = await session.list_tools()
                    emit({"tools": [tool.model_dump(by_alias=True, mode="json", exclude_none=True) for tool in listed.tools]})
                elif "call" in step:
                    result = await session.call_tool(step["call"], step.get("arguments", {}))
                    text = "".join(block.text for block in result.content if isinstance(block, types.TextContent))
                    emit({"isError": bool(result.is_error), "text": text})
                elif step.get("wait") == "tools/list_changed":
                    with anyio.fail_after(300):
                        await list_changed.wait()
                    emit({"notified": True})
                else:
                    raise ValueError(f"unknown step {step!r}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--approve", choices=["accept", "decline", "cancel"])
    parser.add_argument("--url")
    parser.add_argument("--bearer")
    parser.add_argument("--oauth", nargs=3, metavar=("ISSUER", "CLIENT_ID", "SECRET"))
    parser.add_argument("steps")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    anyio.run(run, json.loads(args.steps), command, args.approve, args.url, args.bearer, args.oauth)


if __name__ == "__main__":
    sys.exit(main())
