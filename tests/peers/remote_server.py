"""A remote MCP server (the `mcp` package's MCPServer over Streamable HTTP)
for the gateway's tests:

    remote_server.py PORT

`echo` echoes, and `seen_authorization` answers the Authorization header
its own HTTP request carried, so a test sees which credential reached the
server. Prints READY on stderr once it listens.
"""
import sys

from mcp.server.mcpserver import Context, MCPServer

app = MCPServer("remote")


@app.tool()
def echo(message: str) -> str:
    """Echoes the message."""
    return message


@app.tool()
def seen_authorization(ctx: Context) -> str:
    """The Authorization header this call arrived with."""
    return (ctx.headers or {}).get("authorization", "<none>")


print("READY", file=sys.stderr, flush=True)
app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
