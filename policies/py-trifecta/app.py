"""lethal-trifecta: per-session taint tracking.

An agent session is dangerous once it has (1) read private data, (2) seen
untrusted content and (3) can send data out. This policy remembers legs 1 and
2 in host session state and denies a call to an outbound tool once both are
set. Tools are classified by name, which is deliberately simple.

Implements the WIT world `portcullis:policy/policy@0.1.0` (../../wit/policy.wit).
"""

from typing import List

import wit_world
from wit_world.imports import host
from wit_world.imports.types import (
    Context,
    EventKind,
    Finding,
    Metadata,
    Outcome,
    Reason,
    Tool,
    ToolCall,
    ToolResult,
    Verdict,
)
from componentize_py_types import Err

# Substrings of tool names (lowercased) for each leg of the trifecta.
PRIVATE = ("read_file", "get_secret", "query_db", "read_email", "list_files")
UNTRUSTED = ("fetch", "browse", "web_search", "read_url", "get_issue")
OUTBOUND = ("send_email", "http_post", "post_message", "create_issue", "upload")

KEY_PRIVATE = "private-data"
KEY_UNTRUSTED = "untrusted-content"


def _matches(name: str, words) -> bool:
    name = name.lower()
    return any(w in name for w in words)


def _mark(key: str, tool: str) -> None:
    if host.state_get(key) is not None:
        return
    try:
        host.state_set(key, tool)
    except Err as e:
        host.log(host.Level.WARN, f"state-set {key} failed: {e.value}")


ALLOW = Outcome(verdict=Verdict.ALLOW, reasons=[])


class WitWorld(wit_world.WitWorld):
    def metadata(self) -> Metadata:
        return Metadata(
            name="lethal-trifecta",
            version="0.1.0",
            events=[EventKind.TOOL_CALL, EventKind.TOOL_RESULT],
            patterns=[],
        )

    def check_tool(self, ctx: Context, tool: Tool, findings: List[Finding]) -> Outcome:
        return ALLOW

    def check_call(self, ctx: Context, call: ToolCall, findings: List[Finding]) -> Outcome:
        if _matches(call.name, PRIVATE):
            _mark(KEY_PRIVATE, call.name)
        if not _matches(call.name, OUTBOUND):
            return ALLOW
        private = host.state_get(KEY_PRIVATE)
        untrusted = host.state_get(KEY_UNTRUSTED)
        if private is None or untrusted is None:
            return ALLOW
        return Outcome(
            verdict=Verdict.DENY,
            reasons=[
                Reason(
                    rule="lethal-trifecta",
                    message=(
                        f"Session read private data (via {private}) and untrusted content "
                        f"(via {untrusted}); outbound tool {call.name} is blocked."
                    ),
                    findings=[],
                )
            ],
        )

    def check_result(self, ctx: Context, result: ToolResult, findings: List[Finding]) -> Outcome:
        if _matches(result.call.name, UNTRUSTED):
            _mark(KEY_UNTRUSTED, result.call.name)
        return ALLOW
