//! The injection rules: SQL syntax where no SQL belongs, and functions that
//! reach out of the database wherever they appear.

use portcullis_sdk::{ArgumentRule, KindVerdicts, Verdict};

const D: Option<Verdict> = Some(Verdict::Deny);
const E: Option<Verdict> = Some(Verdict::Escalate);
const N: Option<Verdict> = None;

/// Denied in plain values only: SQL syntax is routine in SQL, code and
/// commands, and free text may discuss it.
const IN_VALUES: KindVerdicts = KindVerdicts {
    command: N,
    code: N,
    sql: N,
    prose: N,
    value: D,
};

/// Every injection rule of the policy.
pub(crate) const RULES: &[ArgumentRule] = &[
    ArgumentRule {
        id: "union-select",
        summary: "appends a UNION SELECT to read other tables",
        alternatives: &[
            r"\bunion(?:\s|/\*[^*]*\*/|\(|%20|\+)+(?:all\s+|distinct\s+)?(?:\(\s*)?select\s*(?:[\d@'\x22*(]|null\b|char\b|concat\b|\w+\s*(?:,|\bfrom\b))",
        ],
        verdicts: IN_VALUES,
    },
    ArgumentRule {
        id: "string-breakout",
        summary: "closes a string and comments out or ends the rest of the query",
        alternatives: &[
            r#"['"`]\s*\)*\s*(?:--|#)(?:\s|$)"#,
            r#"['"`]\s*\)*\s*(?:/\*|;)"#,
        ],
        verdicts: IN_VALUES,
    },
    ArgumentRule {
        id: "stacked-query",
        summary: "ends the query and starts another",
        alternatives: &[
            r";\s*(?:drop|truncate|alter|create)\s+(?:table|database|schema|user|index|view|procedure|function|trigger)\b",
            r";\s*(?:delete\s+from|insert\s+into|update\s+\S+\s+set|exec(?:ute)?\s|shutdown\b|declare\s+@|grant\s|revoke\s|select\s+[@*\w(])",
        ],
        verdicts: IN_VALUES,
    },
    ArgumentRule {
        id: "time-delay",
        summary: "probes with a deliberate delay",
        alternatives: &[
            r"\b(?:sleep|pg_sleep|benchmark)\s*\(\s*\d",
            r"\bwaitfor\s+delay\b",
            r"\bdbms_lock\.sleep\b",
            r"\border\s+by\s+(?:\d+\s*(?:$|--|#|,|\))|sleep\b|if\s*\()",
        ],
        verdicts: IN_VALUES,
    },
    ArgumentRule {
        id: "database-probe",
        summary: "probes the database's version, catalogue or encoding",
        alternatives: &[
            r"@@(?:version|datadir|hostname|servername|basedir)\b",
            r"\binformation_schema\b",
            r"\bsys(?:objects|columns|tables|users)\b",
            r"\bpg_catalog\b",
            r"\bsqlite_master\b",
            r"\bchar\s*\(\s*\d+\s*\)\s*(?:\+|\|\|)",
            r"\bconvert\s*\(\s*int\s*,",
            r"\b(?:extractvalue|updatexml)\s*\(",
            r"'\s*\|\|\s*'",
        ],
        verdicts: IN_VALUES,
    },
    ArgumentRule {
        id: "out-of-database",
        summary: "reaches out of the database to files, programs or other servers",
        alternatives: &[
            r"\bxp_cmdshell\b",
            r"\bsp_oacreate\b",
            r"\bsp_execute_external_script\b",
            r"\bload_file\s*\(",
            r"\binto\s+(?:out|dump)file\b",
            r"\bpg_read_(?:binary_)?file\s*\(",
            r"\bpg_ls_dir\s*\(",
            r"\blo_(?:import|export)\s*\(",
            r"\bcopy\b[^;]*\b(?:from|to)\s+program\b",
            r"\bdblink(?:_exec|_connect)?\s*\(",
            r"\bopenrowset\s*\(",
            r"\bload_extension\s*\(",
        ],
        verdicts: KindVerdicts {
            command: E,
            code: N,
            sql: D,
            prose: N,
            value: D,
        },
    },
    ArgumentRule {
        id: "dynamic-sql",
        summary: "builds SQL from concatenated strings and executes it",
        alternatives: &[
            r#"\bexec(?:ute)?\s*\(\s*['"][^'"]*['"]\s*(?:\+|\|\|)"#,
            r"\bexec(?:ute)?\s+(?:immediate\s+)?@\w+",
            r"\bsp_executesql\b",
        ],
        verdicts: KindVerdicts {
            command: N,
            code: N,
            sql: D,
            prose: N,
            value: D,
        },
    },
];
