"""A real MCP client (the `mcp` package) for the end-to-end tests.

    client.py [--approve accept|decline] STEPS_JSON -- COMMAND [ARG...]

Starts COMMAND (normally `portcullis run ... -- <server>`) over stdio,
initializes, runs the steps and prints one JSON line per step on stdout:

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


def emit(value):
    print(json.dumps(value), flush=True)


async def run(steps, command, approve):
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

    server = StdioServerParameters(command=command[0], args=command[1:])
    async with stdio_client(server) as (read_stream, write_stream):
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
    parser.add_argument("steps")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    anyio.run(run, json.loads(args.steps), command, args.approve)


if __name__ == "__main__":
    sys.exit(main())
