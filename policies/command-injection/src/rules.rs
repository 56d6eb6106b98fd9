//! The rules: what each looks for, and what it means in each kind of argument.

use portcullis_sdk::{ArgumentRule, KindVerdicts, Verdict};

const D: Option<Verdict> = Some(Verdict::Deny);
const E: Option<Verdict> = Some(Verdict::Escalate);
const N: Option<Verdict> = None;

/// Denied wherever it appears, but only escalated in free text, where it may
/// be quoted rather than run.
const HOSTILE: KindVerdicts = KindVerdicts {
    command: D,
    code: D,
    sql: D,
    prose: E,
    value: D,
};

/// Denied everywhere.
const ALWAYS: KindVerdicts = KindVerdicts {
    command: D,
    code: D,
    sql: D,
    prose: D,
    value: D,
};

/// Denied in plain values only: routine in commands, code and SQL, and
/// ordinary punctuation in free text.
const IN_VALUES: KindVerdicts = KindVerdicts {
    command: N,
    code: N,
    sql: N,
    prose: N,
    value: D,
};

/// A shell separator that starts a new command (`;`, `|`, `&`, a newline,
/// raw, `\n` or URL-encoded, a backtick or `$(`, with any quotes, spaces or
/// further separators after it), then a command an attacker chains, ending
/// in a space, a separator, an encoded space or `${IFS}`. Words
/// that are also common English (`type`, `net`, `ping`) only count with the
/// arguments that make them commands, and a command must end where a word
/// ends (so `&id=` in a URL is not one). Interpreters, whose names double as
/// the names of languages, only count with a flag or a script.
const CHAINED_COMMAND: &str = concat!(
    r#"(?:[;&|\n\r`]|\$\(|%0a|%0d|\\n|\\r)(?:[\s;&|'"`(){}]|%20|%09)*"#,
    r"(?:(?:/usr/local/s?bin/|/usr/s?bin/|/s?bin/)?",
    r"(?:id|whoami|uname|ls|dir|cat|echo|printf|curl|wget|nc|ncat|netcat|telnet|ssh|scp|",
    r"bash|sh|zsh|ksh|dash|csh|tcsh|powershell|pwsh|cmd|",
    r"nslookup|rm|rmdir|del|cp|mv|chmod|chown|touch|mkdir|mkfifo|ifconfig|ipconfig|netstat|",
    r"systeminfo|tasklist|taskkill|wmic|certutil|bitsadmin|mshta|rundll32|regsvr32|crontab|",
    r"sudo|base64|xxd|xargs|nohup|hostname|useradd|usermod|shutdown|reboot|tftp|socat|nmap|",
    r"getent|killall|pkill)",
    r#"(?:\.exe)?(?:$|[\s;&|`'")<>]|%20|%09|\$\{?ifs\b)|"#,
    r"type\s+(?:[a-z]:|%|\\|/)|net\s+(?:user|localgroup|view|use|share|start|stop)\b|",
    r"ping\s+(?:-[a-z]|\d)|sleep\s+\d|kill\s+-|reg\s+(?:add|delete|query|save|export)\b|",
    r"(?:python[23]?|perl|ruby|php|node|lua)\s+(?:-[a-z]|\S+\.(?:py|pl|rb|php|js|lua)\b)|",
    r"find\s+/)"
);

/// Every rule of the policy.
pub(crate) const RULES: &[ArgumentRule] = &[
    ArgumentRule {
        id: "reverse-shell",
        summary: "opens a remote shell",
        alternatives: &[
            r"\b(?:nc|ncat|netcat)(?:\.exe)?\s+(?:[^\n|;&]*\s)?-[a-z]*e\b",
            r"\s-e\s+(?:/bin/|/usr/bin/)?(?:ba|z|da|k)?sh\b",
            r"\s-e\s+cmd(?:\.exe)?\b",
            r"/dev/(?:tcp|udp)/",
            r"/bin/(?:ba|z|da|k)?sh\s+-i\b",
            r"\b(?:ba|z)?sh\s+-i\s*[<>]&",
            r"\|\s*(?:/bin/)?(?:nc|ncat|netcat)\s+[a-z0-9.-]+\s+\d+",
            r"\bmkfifo\b[^\n]*\b(?:nc|ncat|netcat|telnet)\b",
            r"\bsocat\b[^\n]*\b(?:exec|system):",
            r"\bpty\.spawn\s*\(",
            r"\bos\.dup2\s*\(",
            r"\bfsockopen\s*\(",
            r"socket\s*\(\s*s\s*,\s*pf_inet",
            r"net\.sockets\.tcpclient",
        ],
        verdicts: HOSTILE,
    },
    ArgumentRule {
        id: "remote-code-execution",
        summary: "downloads code and runs it",
        alternatives: &[
            r"\b(?:curl|wget)\b[^\n;]*\|\s*(?:sudo\s+)?(?:/usr/bin/|/bin/)?(?:ba|z|da|k)?sh\b",
            r"\b(?:ba|z)?sh\s+<\(\s*(?:curl|wget)\b",
            r#"\b(?:ba|z)?sh\s+-c\s+["']?\$\(\s*(?:curl|wget)\b"#,
            r"\b(?:iex|invoke-expression)\b[^\n]*\b(?:net\.webclient|downloadstring|iwr|irm|invoke-webrequest|invoke-restmethod)\b",
            r"\bdownloadstring\s*\(",
            r"\bcertutil(?:\.exe)?\s[^\n]*-urlcache\b",
            r"\bbitsadmin(?:\.exe)?\s[^\n]*/transfer\b",
            r"\bmshta(?:\.exe)?\s+(?:https?|javascript|vbscript):",
            r"\bregsvr32(?:\.exe)?\s[^\n]*/i:\s*https?:",
        ],
        verdicts: KindVerdicts {
            command: E,
            code: N,
            sql: E,
            prose: E,
            value: D,
        },
    },
    ArgumentRule {
        id: "encoded-command",
        summary: "decodes a hidden payload and runs it",
        alternatives: &[
            r"\bbase64\s+(?:-d|--decode|-di)\b[^\n;]*\|\s*(?:sudo\s+)?(?:/usr/bin/|/bin/)?(?:ba|z|da|k)?sh\b",
            r"\b(?:powershell|pwsh)(?:\.exe)?\s[^\n]*\s-(?:e|en|enc|enco|encod|encode|encoded|encodedcommand)\s+[a-z0-9+/=]{16,}",
            r"\b(?:eval|exec|system|assert)\s*\(\s*(?:base64_decode|atob|b64decode|base64\.b64decode|gzinflate)\s*\(",
            r"\bfrombase64string\s*\([^\n]*\b(?:iex|invoke-expression)\b",
        ],
        verdicts: HOSTILE,
    },
    ArgumentRule {
        id: "destructive-command",
        summary: "destroys a file system, a disk or the machine",
        alternatives: &[
            r"\brm\s+(?:-[a-z-]+\s+)*-[a-z]*(?:r[a-z]*f|f[a-z]*r)[a-z]*\s+(?:-[a-z-]+\s+)*(?:/(?:bin|boot|dev|etc|home|lib|lib64|opt|root|sbin|srv|usr|var)?/?\*?|~/?\*?|\$home/?\*?)(?:$|[\s;&|'\x22)])",
            r"\brm\s+-r\s+-f\s+/(?:$|[\s;&|])",
            r"\b(?:del|erase)\s+(?:/[a-z]\s+)*[a-z]:\\(?:\*|windows\b|$|\s)",
            r"\brd\s+/s\s+/q\s+[a-z]:\\(?:$|\s|windows\b)",
            r"\bformat\s+[a-z]:(?:$|\s)",
            r"\bmkfs(?:\.[a-z0-9]+)?\s+[^\n]*/dev/",
            r"\bdd\s+[^\n]*\bof=/dev/(?:sd|hd|nvme|xvd|vd|disk|mmcblk)",
            r">\s*/dev/(?:sd|hd|nvme|xvd|vd)[a-z]",
            r"\bshred\s+[^\n]*/dev/",
            r":\s*\(\s*\)\s*\{[^}]*:\s*\|\s*:\s*&[^}]*\}",
            r"\(\)\s*\{[^}]*\|[^}]*&\s*\}\s*;",
            r"%0\s*\|\s*%0",
            r"\bchmod\s+(?:-[a-z]*r[a-z]*\s+)(?:0?777|0?666|a\+rwx|a\+rw)\s+(?:/|~|\$home)(?:$|[\s;&|])",
        ],
        verdicts: HOSTILE,
    },
    ArgumentRule {
        id: "persistence",
        summary: "plants a backdoor (login key, scheduled job, admin account or autorun)",
        alternatives: &[
            r">>?\s*[^\s;&|]*authorized_keys\b",
            r"\|\s*crontab\s+-(?:$|\s)",
            r">>?\s*/etc/(?:passwd|shadow|sudoers|crontab|cron\.d|rc\.local|ld\.so\.preload|profile)\b",
            r"\bnet\s+user\s+\S+\s+\S+\s+/add\b",
            r"\bnet\s+localgroup\s+administrators\s+\S+\s+/add\b",
            r"\breg\s+add\s+[^\n]*\\(?:run|runonce|winlogon|terminal server|image file execution options)\b",
            r"\buseradd\s[^\n]*-o\s[^\n]*-u\s*0\b",
        ],
        verdicts: HOSTILE,
    },
    ArgumentRule {
        id: "shellshock",
        summary: "carries a Shellshock function-definition exploit",
        alternatives: &[r"\(\)\s*\{\s*:?\s*;?\s*\}\s*;"],
        verdicts: ALWAYS,
    },
    ArgumentRule {
        id: "jndi-lookup",
        summary: "carries a Log4Shell JNDI lookup",
        alternatives: &[
            r"\$\{\s*jndi\s*:",
            r"\$\{\s*\$\{[^}]*\}\s*\$\{[^}]*\}\s*\$\{[^}]*\}\s*\$\{",
        ],
        verdicts: ALWAYS,
    },
    ArgumentRule {
        id: "chained-command",
        summary: "chains a shell command onto the value",
        alternatives: &[CHAINED_COMMAND],
        verdicts: IN_VALUES,
    },
    ArgumentRule {
        id: "code-injection",
        summary: "injects code for an interpreter",
        alternatives: &[
            r"\b__import__\s*\(",
            r"\b__(?:class|subclasses|globals|builtins|mro|bases|init|code)__\b",
            r"\b(?:eval|exec|execfile|passthru|shell_exec|proc_open|popen|pcntl_exec)\s*\(\s*(?:['\x22`$]|\w+\s*\(|__)",
            r#"\bsystem\s*\(\s*['"$`\[]"#,
            r#"\b(?:assert|compile)\s*\(\s*['"]"#,
            r"\bos\.(?:system|popen|exec\w*|spawn\w*|remove|unlink|rmdir|kill)\s*\(",
            r"\bsubprocess\.\w+",
            r"\b(?:child_process|process\.mainmodule|runtime\.getruntime|processbuilder)\b",
            r"\bkernel\.(?:exec|system|spawn)\b",
            r"\bimport\s+(?:os|sys|subprocess|socket|shutil|pty|ctypes|requests|urllib)\b",
            r"\bfrom\s+(?:os|subprocess|socket|shutil|pty)\s+import\b",
            r"\bwith\s+open\s*\(",
            r#"\bopen\s*\(\s*['"][^'"]*['"]\s*,\s*['"][wa]"#,
            r"<\?(?:php|=)",
            r"<!--\s*#\s*exec\b",
            r"#exec(?:\s|%20)+cmd",
            r"\$\{[^}]*\(",
            r"@\{\[",
            r"#\{[^}]*[`(]",
            r"\{\{[^}]*(?:__|\bconfig\b|\bself\b|\brequest\b|\blipsum\b|\bcycler\b|\bjoiner\b)[^}]*\}\}",
            r"\b\w*(?:secret|password|passwd|credential|token|api_?key)s?\s*\(\s*\)",
        ],
        verdicts: IN_VALUES,
    },
];
