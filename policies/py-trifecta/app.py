"""lethal-trifecta: per-session taint tracking.

An agent session is dangerous once it has (1) read private data, (2) seen
untrusted content and (3) can send data out. This policy records legs 1 and
2 as session labels (`private-data`, `untrusted-content`), which every policy
of the set shares, and denies a call to an outbound tool once both are set,
whichever policy set them: the prompt-injection policy, say, labels a session
whose tool results tried to instruct the agent. Tools are classified by name,
which is deliberately simple.

Settings: `{"verdict": "deny"}` (the default) or `{"verdict": "escalate"}`.

Implements the WIT world `portcullis:policy/policy@0.2.0` (../../wit/policy.wit).
"""

import json
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
    SettingError,
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

PRIVATE_DATA = "private-data"
UNTRUSTED_CONTENT = "untrusted-content"

VERDICTS = {"deny": Verdict.DENY, "escalate": Verdict.ESCALATE}


def _matches(name: str, words) -> bool:
    name = name.lower()
    return any(w in name for w in words)


def _mark(label: str, tool: str) -> None:
    """Labels the session, and remembers which tool caused it (for the reason)."""
    try:
        host.add_label(label)
    except Err as e:
        host.log(host.Level.WARN, f"add-label {label} failed: {e.value}")
    if host.state_get(label) is None:
        try:
            host.state_set(label, tool)
        except Err as e:
            host.log(host.Level.WARN, f"state-set {label} failed: {e.value}")


def _verdict(text: str):
    """The verdict the settings ask for, or a SettingError."""
    settings = json.loads(text)
    if settings is None:
        settings = {}
    if not isinstance(settings, dict):
        return SettingError(field="", message='the settings must be an object such as {"verdict": "escalate"}')
    for key in settings:
        if key != "verdict":
            return SettingError(field=f"/{key}", message=f"unknown setting `{key}`; the only setting is `verdict`")
    verdict = settings.get("verdict", "deny")
    if verdict not in VERDICTS:
        return SettingError(field="/verdict", message="must be `deny` or `escalate`")
    return VERDICTS[verdict]


ALLOW = Outcome(verdict=Verdict.ALLOW, reasons=[])


class WitWorld(wit_world.WitWorld):
    def metadata(self) -> Metadata:
        return Metadata(
            name="lethal-trifecta",
            version="0.2.0",
            events=[EventKind.TOOL_CALL, EventKind.TOOL_RESULT],
            patterns=[],
        )

    def configure(self, settings: str) -> None:
        verdict = _verdict(settings)
        if isinstance(verdict, SettingError):
            raise Err(verdict)

    def check_tool(self, ctx: Context, tool: Tool, findings: List[Finding]) -> Outcome:
        return ALLOW

    def check_call(self, ctx: Context, call: ToolCall, findings: List[Finding]) -> Outcome:
        if _matches(call.name, PRIVATE):
            _mark(PRIVATE_DATA, call.name)
        if not _matches(call.name, OUTBOUND):
            return ALLOW
        labels = host.labels()
        if PRIVATE_DATA not in labels or UNTRUSTED_CONTENT not in labels:
            return ALLOW
        private = host.state_get(PRIVATE_DATA) or "another policy's finding"
        untrusted = host.state_get(UNTRUSTED_CONTENT) or "another policy's finding"
        verdict = _verdict(host.settings())
        held = "is blocked" if verdict == Verdict.DENY else "needs a human's approval"
        return Outcome(
            verdict=verdict,
            reasons=[
                Reason(
                    rule="lethal-trifecta",
                    message=(
                        f"Session read private data (via {private}) and untrusted content "
                        f"(via {untrusted}); outbound tool {call.name} {held}."
                    ),
                    findings=[],
                )
            ],
        )

    def check_result(self, ctx: Context, result: ToolResult, findings: List[Finding]) -> Outcome:
        if _matches(result.call.name, UNTRUSTED):
            _mark(UNTRUSTED_CONTENT, result.call.name)
        return ALLOW
