"""An MCP server for the proxy's tests that reads JSON the way other parsers
do, not the way serde_json does, and reports each tool it runs as a
`notifications/message` with the text EXECUTED. PARSER selects the reading:

- `first`: of a member given twice, the first counts (cJSON, RapidJSON);
- `gofold`: member names match case-insensitively and the last match counts
  (Go's encoding/json decoding into structs).

If the proxy forwarded what it did not check, a test would see a tool run
with arguments no policy saw."""
import json
import os
import sys

MODE = os.environ.get("PARSER", "first")


def first_wins(pairs):
    members = {}
    for key, value in pairs:
        members.setdefault(key, value)
    return members


def fold_last_wins(pairs):
    members = {}
    for key, value in pairs:
        members[key.lower()] = value
    return members


HOOK = first_wins if MODE == "first" else fold_last_wins


def send(message):
    print(json.dumps(message), flush=True)


for line in sys.stdin:
    message = json.loads(line, object_pairs_hook=HOOK)
    method = message.get("method")
    request_id = message.get("id")
    if method == "tools/call":
        params = message.get("params", {})
        send({"jsonrpc": "2.0", "method": "notifications/message",
              "params": {"level": "info", "data": "EXECUTED %s %s" % (params.get("name"), json.dumps(params.get("arguments")))}})
        if request_id is not None:
            send({"jsonrpc": "2.0", "id": request_id, "result": {"content": [{"type": "text", "text": "done"}]}})
    elif method == "initialize":
        send({"jsonrpc": "2.0", "id": request_id, "result": {
            "protocolVersion": "2025-06-18", "capabilities": {"tools": {}, "logging": {}},
            "serverInfo": {"name": "differential", "version": "0"}}})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": request_id, "result": {"tools": [
            {"name": "fetch", "description": "Fetches a web page.",
             "inputSchema": {"type": "object", "properties": {"url": {"type": "string"}}}},
        ]}})
    elif request_id is not None:
        send({"jsonrpc": "2.0", "id": request_id, "result": {}})
