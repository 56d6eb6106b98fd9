//! The rules: what each looks for, and what it means in each kind of argument.

use portcullis_sdk::{ArgumentRule, KindVerdicts, Verdict};

const D: Option<Verdict> = Some(Verdict::Deny);
const E: Option<Verdict> = Some(Verdict::Escalate);
const N: Option<Verdict> = None;

/// A dot written so that a naive filter misses it: URL-encoded (once or
/// more), as overlong UTF-8, as `%u` or `0x` escapes.
macro_rules! encoded_dot {
    () => {
        r"(?:%(?:25)*2e|%(?:25)*c0%(?:25)*(?:ae|2e)|%(?:25)*e0%(?:25)*80%(?:25)*ae|%u002e|%uff0e|0x2e|%%32%65|%25%32%65)"
    };
}

/// A slash or backslash written so that a naive filter misses it.
macro_rules! encoded_separator {
    () => {
        concat!(
            r"(?:%(?:25)*(?:2f|5c)|%(?:25)*c0%(?:25)*(?:af|5c|9v)|%(?:25)*c1%(?:25)*(?:9c|1c|pc|af)|",
            r"%(?:25)*e0%(?:25)*80%(?:25)*af|%u(?:2215|2216|ff0f|efc8|f025)|0x2f|0x5c|%%32%66|%%35%63)"
        )
    };
}

/// Every rule of the policy.
pub(crate) const RULES: &[ArgumentRule] = &[
    ArgumentRule {
        id: "path-traversal",
        summary: "climbs out of its directory",
        alternatives: &[
            // `..` (each dot possibly backslash-escaped) followed by a
            // separator, or alone at the end of a path.
            r"(?:\\?\.){2}[/\\]",
            r"(?:^|[/\\])(?:\\?\.){2}$",
        ],
        verdicts: KindVerdicts {
            command: N,
            code: N,
            sql: N,
            prose: N,
            value: D,
        },
    },
    ArgumentRule {
        id: "encoded-traversal",
        summary: "climbs out of its directory with encoded dots or slashes",
        alternatives: &[
            concat!(encoded_dot!(), r"(?:\\?\.|", encoded_dot!(), ")"),
            concat!(r"\.", encoded_dot!()),
            concat!(r"(?:\\?\.){2}", encoded_separator!()),
        ],
        verdicts: KindVerdicts {
            command: D,
            code: N,
            sql: D,
            prose: E,
            value: D,
        },
    },
    ArgumentRule {
        id: "null-byte",
        summary: "cuts the path short with a null byte",
        alternatives: &[r"%(?:25)*00", r"\x00", r"\\x00", r"\\u0000"],
        verdicts: KindVerdicts {
            command: N,
            code: N,
            sql: N,
            prose: N,
            value: D,
        },
    },
    ArgumentRule {
        id: "sensitive-file",
        summary: "reaches for a secret store (password hashes, private keys, cloud or agent credentials)",
        alternatives: &[
            r"/etc/(?:shadow|gshadow|sudoers|master\.passwd|security/opasswd)\b",
            r"/proc/(?:self|thread-self|\d+)/",
            r"\.ssh[/\\](?:id_\w+|identity|authorized_keys)(?:$|[^.\w])",
            r"\bid_(?:rsa|dsa|ecdsa|ed25519)(?:$|[^.\w])",
            r"\.aws[/\\](?:credentials|config)\b",
            r"\.azure[/\\]",
            r"\bgcloud[/\\](?:credentials|application_default_credentials|legacy_credentials)",
            r"\.kube[/\\]config\b",
            r"\.docker[/\\]config\.json\b",
            r"(?:^|[/\\\s'\x22])\.(?:netrc|pgpass|git-credentials|npmrc|pypirc|bash_history|zsh_history|mysql_history|psql_history)\b",
            r"\.gnupg[/\\]",
            r"\.password-store\b",
            r"\bmcp\.json\b",
            r"\bclaude_desktop_config\.json\b",
            r"\.cursor[/\\]",
            r"(?:windows|winnt)[/\\](?:system32[/\\]config|repair)[/\\](?:sam|system|security)\b",
            r"\bntds\.dit\b",
            r"/(?:var/)?run/secrets/",
            r"\bwp-config\.php\b",
            r"\.htpasswd\b",
        ],
        verdicts: KindVerdicts {
            command: D,
            code: D,
            sql: D,
            prose: N,
            value: D,
        },
    },
    ArgumentRule {
        id: "system-file",
        summary: "reads a system file attackers probe for",
        alternatives: &[
            r"/etc/(?:passwd|group|hosts\.allow|crontab)\b",
            r"\bboot\.ini\b",
            r"\bwin\.ini\b",
            r"\bsystem32[/\\]drivers[/\\]etc[/\\]hosts\b",
        ],
        verdicts: KindVerdicts {
            command: E,
            code: E,
            sql: D,
            prose: N,
            value: D,
        },
    },
    ArgumentRule {
        id: "credential-file",
        summary: "names a file or folder that holds credentials",
        alternatives: &[
            r"(?:^|[/\\\s'\x22])\.env(?:\.(?:local|prod|production|dev|development|staging))?(?:$|[\s'\x22])",
            r"\b\w*credentials?\.(?:txt|json|ya?ml|csv|ini|xml|conf|cfg|db)\b",
            r"\b\w*secrets?\.(?:txt|json|ya?ml|env|toml|ini|conf)\b",
            r"\b\w*(?:passwords?|passwd|tokens?|api_?keys?)\.(?:txt|json|csv|xlsx?|ya?ml|ini|conf)\b",
            r"\.(?:kdbx|keychain(?:-db)?|p12|pfx|jks|keystore)\b",
            r"[/\\](?:private|secrets?|credentials?|confidential|sensitive)[/\\]",
            // The folder itself too, as an operand: `tar czf - ~/.ssh | …`.
            r"\.(?:ssh|aws|kube|gnupg)(?:[/\\]|$|[\s'\x22|;&)])",
        ],
        verdicts: KindVerdicts {
            command: E,
            code: E,
            sql: N,
            prose: N,
            value: E,
        },
    },
];
