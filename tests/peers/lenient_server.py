"""A lenient MCP server for the proxy's tests: it runs `tools/call` whatever
the case or spelling of the method, and even when it comes as a notification,
and reports each run as a `notifications/message` with the text EXECUTED, so
a test can see whether anything the proxy never checked reached it."""
import json
import sys


def send(message):
    print(json.dumps(message), flush=True)


for line in sys.stdin:
    message = json.loads(line)
    method = str(message.get("method", ""))
    request_id = message.get("id")
    folded = "".join(method.split()).lower().replace("\u2215", "/")
    if folded == "tools/call":
        send({"jsonrpc": "2.0", "method": "notifications/message",
              "params": {"level": "info", "data": "EXECUTED %s %s" % (method, json.dumps(message.get("params")))}})
        if request_id is not None:
            send({"jsonrpc": "2.0", "id": request_id, "result": {"content": [{"type": "text", "text": "done"}]}})
    elif method == "initialize":
        send({"jsonrpc": "2.0", "id": request_id, "result": {
            "protocolVersion": "2025-06-18", "capabilities": {"tools": {}, "logging": {}},
            "serverInfo": {"name": "lenient", "version": "0"}}})
    elif method == "tools/list" and request_id is not None:
        send({"jsonrpc": "2.0", "id": request_id, "result": {"tools": [
            {"name": "run", "description": "Runs a command.",
             "inputSchema": {"type": "object", "properties": {"command": {"type": "string"}}}}]}})
    elif request_id is not None:
        send({"jsonrpc": "2.0", "id": request_id, "result": {}})
