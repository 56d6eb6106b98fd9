"""A server of the current `mcp` package (MCPServer), which speaks the
2026-07-28 protocol to a client that asks for it: `add`, and `delete_note`,
annotated destructive. Every note it deletes is reported on stderr as
DELETED, so a test sees whether a call ran."""
import sys

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

app = MCPServer("notes")


@app.tool()
def add(a: int, b: int) -> int:
    """Sums a and b."""
    return a + b


@app.tool(annotations=ToolAnnotations(destructiveHint=True))
def delete_note(name: str) -> str:
    """Deletes a note."""
    print(f"DELETED {name}", file=sys.stderr, flush=True)
    return f"deleted {name}"


app.run()
