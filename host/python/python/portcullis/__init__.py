"""Portcullis: decide whether MCP tools, tool calls and tool results are
allowed, denied or escalated to a human, with sandboxed WebAssembly policies.

    >>> import portcullis
    >>> policies = portcullis.Engine().load_default_policies()
    >>> decision = policies.evaluate(portcullis.tool_call("fetch", {"url": "http://169.254.169.254/"}))
    >>> decision.verdict
    <Verdict.DENY: 'deny'>
    >>> decision.reasons[0].rule
    'cloud-metadata'

Events are the records `portcullis check` reads: ``tool_description``,
``tool_call`` and ``tool_result`` (build them with :func:`tool`,
:func:`tool_call` and :func:`tool_result`). A :class:`Session` carries what
policies remember between the events of one session; without one, each
event is decided on its own.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from os import PathLike
from typing import Any, Optional, Union

from . import _native
from ._native import Session

__all__ = [
    "Decision",
    "Engine",
    "Finding",
    "PolicySet",
    "Reason",
    "Session",
    "Verdict",
    "tool",
    "tool_call",
    "tool_result",
]


class Verdict(str, enum.Enum):
    """What a policy set decided."""

    ALLOW = "allow"
    ESCALATE = "escalate"
    DENY = "deny"


@dataclass(frozen=True)
class Finding:
    """What the prefilter found, and where."""

    pattern: str
    field: str
    start: int
    end: int
    matched: str


@dataclass(frozen=True)
class Reason:
    """Why a policy decided as it did."""

    policy: str
    rule: str
    message: str
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class Decision:
    """A verdict and every reason behind it."""

    verdict: Verdict
    reasons: list[Reason]
    generation: int
    policies: list[dict[str, Any]]

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW

    def explain(self) -> str:
        """One line per reason: ``policy/rule: message``."""
        return "; ".join(f"{r.policy}/{r.rule}: {r.message}" for r in self.reasons)

    @classmethod
    def _from_json(cls, text: str) -> "Decision":
        raw = json.loads(text)
        reasons = [
            Reason(
                policy=r["policy"],
                rule=r["rule"],
                message=r["message"],
                findings=[Finding(**f) for f in r.get("findings", [])],
            )
            for r in raw["reasons"]
        ]
        return cls(
            verdict=Verdict(raw["verdict"]),
            reasons=reasons,
            generation=raw["generation"],
            policies=raw.get("policies", []),
        )


class PolicySet:
    """Policies that decide events: one generation, or the one in force
    behind a watched directory (:meth:`Engine.watch_dir`)."""

    def __init__(self, native: "_native.PolicySet") -> None:
        self._native = native

    def evaluate(
        self,
        event: dict[str, Any],
        session: Optional[Session] = None,
        *,
        session_id: str = "python",
        server: str = "unknown",
        tenant: Optional[str] = None,
    ) -> Decision:
        """Decides one event. Policies fail closed: one that traps or times
        out makes the decision the engine's fail verdict, never allow."""
        text = self._native.evaluate_json(
            json.dumps(event), session if session is not None else Session(), session_id, server, tenant
        )
        return Decision._from_json(text)

    @property
    def generation(self) -> int:
        """Which generation decides now; it grows at each reload."""
        return self._native.generation

    def policies(self) -> list[dict[str, str]]:
        """The policies in force: name, version, digest."""
        return json.loads(self._native.policies_json())


class Engine:
    """Compiles and runs policies. One per process is enough."""

    def __init__(
        self,
        *,
        timeout_ms: int = 100,
        fail_verdict: str = "deny",
        cache_dir: Union[str, PathLike, None] = None,
    ) -> None:
        self._native = _native.Engine(timeout_ms, fail_verdict, None if cache_dir is None else str(cache_dir))

    def load_default_policies(self) -> PolicySet:
        """The policies embedded in the package."""
        return PolicySet(self._native.load_default_policies())

    def load_dir(self, path: Union[str, PathLike]) -> PolicySet:
        """The policy components (``*.wasm``) of a directory."""
        return PolicySet(self._native.load_dir(str(path)))

    def watch_dir(self, path: Union[str, PathLike]) -> PolicySet:
        """A directory's policies, reloaded when it changes: the hot-reload
        handle. A broken generation never replaces a working one."""
        return PolicySet(self._native.watch_dir(str(path)))


def tool(definition: dict[str, Any]) -> dict[str, Any]:
    """The event of a tool a server lists (an entry of ``tools/list``)."""
    return {"kind": "tool_description", "tool": definition}


def tool_call(name: str, arguments: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """The event of a call of tool ``name``."""
    return {"kind": "tool_call", "call": {"name": name, "arguments": arguments or {}}}


def tool_result(name: str, arguments: Optional[dict[str, Any]], result: dict[str, Any]) -> dict[str, Any]:
    """The event of the result (``content``, ``structuredContent``…) of a call."""
    return {"kind": "tool_result", "call": {"name": name, "arguments": arguments or {}}, "result": result}
