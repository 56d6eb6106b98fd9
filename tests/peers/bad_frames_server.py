"""An MCP server for the proxy's tests that answers `tools/call` with a line
the proxy cannot take as it is, chosen by the tool's name:

- `lone_surrogate`: a `\\ud83d` escape with no partner (JavaScript writes it
  for a split emoji);
- `invalid_utf8`, `too_deep` (nesting past 128), `oversize` (past a 64 KiB
  frame limit, with the id written last), `batch` and `both` (a `result`
  and an `error` in one response);
- anything else: a plain result.

A client must get exactly one answer under its own id for each."""
import json
import sys


def write(data):
    sys.stdout.buffer.write(data + b"\n")
    sys.stdout.buffer.flush()


def result(text):
    return {"content": [{"type": "text", "text": text}]}


for line in sys.stdin:
    message = json.loads(line)
    request_id = message.get("id")
    method = message.get("method")
    if request_id is None:
        continue
    head = b'{"jsonrpc":"2.0","id":%s,' % json.dumps(request_id).encode()
    if method == "initialize":
        write(json.dumps({"jsonrpc": "2.0", "id": request_id, "result": {
            "protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
            "serverInfo": {"name": "bad-frames", "version": "0"}}}).encode())
    elif method == "tools/list":
        names = ["lone_surrogate", "invalid_utf8", "too_deep", "oversize", "batch", "both", "plain"]
        write(json.dumps({"jsonrpc": "2.0", "id": request_id, "result": {"tools": [
            {"name": name, "description": "Answers badly.", "inputSchema": {"type": "object"}}
            for name in names]}}).encode())
    elif method != "tools/call":
        write(json.dumps({"jsonrpc": "2.0", "id": request_id, "result": {}}).encode())
    else:
        name = message["params"]["name"]
        if name == "lone_surrogate":
            write(head + b'"result":{"content":[{"type":"text","text":"half an emoji: \\ud83d"}]}}')
        elif name == "invalid_utf8":
            write(head + b'"result":{"content":[{"type":"text","text":"\xff\xfe"}]}}')
        elif name == "too_deep":
            write(head + b'"result":{"structuredContent":' + b"[" * 200 + b"]" * 200 + b"}}")
        elif name == "oversize":
            body = json.dumps(result("x" * 100_000)).encode()
            write(b'{"result":' + body + b',"jsonrpc":"2.0","id":' + json.dumps(request_id).encode() + b"}")
        elif name == "batch":
            write(json.dumps([{"jsonrpc": "2.0", "id": request_id, "result": result("in a batch")}]).encode())
        elif name == "both":
            write(head + b'"result":' + json.dumps(result("fine")).encode()
                  + b',"error":{"code":-32000,"message":"also an error"}}')
        else:
            write(json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result("plain")}).encode())
