"""A guard for the ``mcp`` client: every tool a server lists, every call and
every result is decided before the caller sees or sends it.

    async with ClientSession(read, write) as session:
        await session.initialize()
        guarded = GuardedSession(session, policies, server="files")
        tools = await guarded.list_tools()        # denied tools are left out
        result = await guarded.call_tool("read_file", {"path": "notes.md"})

A denied call raises :class:`PolicyDenied` without reaching the server; an
escalated one raises :class:`ApprovalRequired` unless ``approve`` (a
callable given the tool name, the arguments and the decision) says yes. A
result that is denied raises :class:`PolicyDenied` and is never returned.
"""

from __future__ import annotations

import inspect
from typing import Any, Awaitable, Callable, Optional, Union

from . import Decision, PolicySet, Session, Verdict, tool, tool_call, tool_result

Approve = Callable[[str, dict, Decision], Union[bool, Awaitable[bool]]]


class PolicyDenied(Exception):
    """A policy refused a call or a result."""

    def __init__(self, what: str, decision: Decision) -> None:
        super().__init__(f"Portcullis denied {what}: {decision.explain()}")
        self.decision = decision


class ApprovalRequired(Exception):
    """A policy asked for a human's approval and none was given."""

    def __init__(self, what: str, decision: Decision) -> None:
        super().__init__(f"Portcullis asks a human about {what}: {decision.explain()}")
        self.decision = decision


class GuardedSession:
    """An ``mcp.ClientSession`` behind a :class:`~portcullis.PolicySet`,
    with one :class:`~portcullis.Session` of policy state for its life."""

    def __init__(
        self,
        session: Any,
        policies: PolicySet,
        *,
        server: str,
        session_id: Optional[str] = None,
        approve: Optional[Approve] = None,
    ) -> None:
        self._session = session
        self._policies = policies
        self._server = server
        self._session_id = session_id or f"mcp-{server}-{id(session):x}"
        self._state = Session()
        self._approve = approve
        self._listed: dict[str, dict[str, Any]] = {}
        self.decisions: list[tuple[str, Decision]] = []

    def _decide(self, what: str, event: dict[str, Any]) -> Decision:
        decision = self._policies.evaluate(
            event, self._state, session_id=self._session_id, server=self._server
        )
        self.decisions.append((what, decision))
        return decision

    async def list_tools(self, *args: Any, **kwargs: Any) -> Any:
        """The server's listing with every tool that is not allowed left out."""
        listing = await self._session.list_tools(*args, **kwargs)
        kept = []
        for entry in listing.tools:
            definition = entry.model_dump(by_alias=True, exclude_none=True, mode="json")
            if self._decide(f"tool {entry.name}", tool(definition)).allowed:
                kept.append(entry)
                self._listed[entry.name] = definition
        listing.tools = kept
        return listing

    async def call_tool(self, name: str, arguments: Optional[dict[str, Any]] = None, **kwargs: Any) -> Any:
        """Calls the tool when policies allow the call, and returns the result
        when they allow it too."""
        arguments = arguments or {}
        decision = self._decide(f"call {name}", tool_call(name, arguments))
        if decision.verdict is Verdict.DENY:
            raise PolicyDenied(f"the call of {name}", decision)
        if decision.verdict is Verdict.ESCALATE and not await self._approved(name, arguments, decision):
            raise ApprovalRequired(f"the call of {name}", decision)
        result = await self._session.call_tool(name, arguments, **kwargs)
        response = result.model_dump(by_alias=True, exclude_none=True, mode="json")
        decision = self._decide(f"result of {name}", tool_result(name, arguments, response))
        if decision.verdict is Verdict.DENY:
            raise PolicyDenied(f"the result of {name}", decision)
        if decision.verdict is Verdict.ESCALATE and not await self._approved(name, arguments, decision):
            raise ApprovalRequired(f"the result of {name}", decision)
        return result

    async def _approved(self, name: str, arguments: dict, decision: Decision) -> bool:
        if self._approve is None:
            return False
        answer = self._approve(name, arguments, decision)
        if inspect.isawaitable(answer):
            answer = await answer
        return bool(answer)

    def __getattr__(self, name: str) -> Any:
        # Everything else (initialize, ping, resources…) is the session's own.
        return getattr(self._session, name)
