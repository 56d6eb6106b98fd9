"""An MCP server for the proxy's tests that lists 100,000 tools (about
12 MB in one message, under the default frame limit) and answers any
other request at once."""
import json
import sys

TOOLS = [{"name": f"tool_{index}", "description": f"Tool number {index}.",
          "inputSchema": {"type": "object"}} for index in range(100_000)]

for line in sys.stdin:
    message = json.loads(line)
    request_id = message.get("id")
    if request_id is None or "method" not in message:
        continue
    if message["method"] == "tools/list":
        result = {"tools": TOOLS}
    elif message["method"] == "initialize":
        result = {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                  "serverInfo": {"name": "big", "version": "0"}}
    else:
        result = {}
    print(json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}), flush=True)
