//! The rules: what each looks for, and what it means in each kind of argument.

use portcullis_sdk::{ArgumentRule, KindVerdicts, Verdict};

const D: Option<Verdict> = Some(Verdict::Deny);
const E: Option<Verdict> = Some(Verdict::Escalate);
const N: Option<Verdict> = None;

/// Denied wherever text is rendered.
const RENDERED: KindVerdicts = KindVerdicts {
    command: N,
    code: N,
    sql: D,
    prose: D,
    value: D,
};

/// Denied in plain values, escalated where people may be discussing it.
const DISCUSSABLE: KindVerdicts = KindVerdicts {
    command: N,
    code: N,
    sql: E,
    prose: E,
    value: D,
};

/// Event-handler attribute names.
macro_rules! handler {
    () => {
        concat!(
            r"on(?:error|load|click|dblclick|mouse\w+|focus\w*|blur|change|submit|key\w+|input|",
            r"toggle|begin|end|animation\w+|transition\w+|pageshow|pagehide|unload|beforeunload|",
            r"wheel|scroll|drag\w*|drop|pointer\w*|touch\w*|resize|select|copy|paste|cut|",
            r"contextmenu|message|hashchange|popstate|readystatechange|afterprint|beforeprint|",
            r"show|invalid|search|play|pause|ended|auxclick|formdata|start|finish)\s*="
        )
    };
}

/// Every rule of the policy.
pub(crate) const RULES: &[ArgumentRule] = &[
    ArgumentRule {
        id: "script-tag",
        summary: "plants a script tag",
        alternatives: &[r"<\s*/?\s*script\b"],
        verdicts: RENDERED,
    },
    ArgumentRule {
        id: "script-url",
        summary: "plants a script URL",
        alternatives: &[
            r"\b(?:javascript|vbscript|livescript)\s*:[^\s]",
            r"\bdata\s*:\s*(?:text/html|text/javascript|application/(?:x-)?javascript|application/xhtml)",
        ],
        verdicts: RENDERED,
    },
    ArgumentRule {
        id: "event-handler-attribute",
        summary: "plants a tag with an event handler",
        alternatives: &[concat!(r"<\s*[a-z][^>]*[\s/'\x22]", handler!())],
        verdicts: RENDERED,
    },
    ArgumentRule {
        id: "event-handler",
        summary: "plants an event handler attribute",
        alternatives: &[concat!(r#"(?:^|[\s/'"`;])"#, handler!())],
        verdicts: DISCUSSABLE,
    },
    ArgumentRule {
        id: "active-tag",
        summary: "plants an element that loads or runs content",
        alternatives: &[
            r"<\s*(?:iframe|frame|frameset|object|embed|applet|base|portal)\b",
            r"<\s*meta\b[^>]*http-equiv",
            r"<\s*form\b[^>]*\baction\s*=",
            r"<\s*(?:svg|math)\b[^>]*\bon\w+\s*=",
            r"<\s*link\b[^>]*\brel\s*=\s*['\x22]?import",
        ],
        verdicts: KindVerdicts {
            command: N,
            code: N,
            sql: D,
            prose: E,
            value: D,
        },
    },
    ArgumentRule {
        id: "xss-probe",
        summary: "probes for script execution",
        alternatives: &[
            r"\b(?:alert|confirm|prompt)\s*\(\s*(?:\)|\d|['\x22`]|document\b|window\b|string\.fromcharcode)",
            r"\bdocument\s*\.\s*(?:cookie|domain|write)\b",
            r"\bstring\s*\.\s*fromcharcode\s*\(",
            r"\bexpression\s*\(\s*(?:javascript|alert|eval|document|window)",
        ],
        verdicts: DISCUSSABLE,
    },
];
