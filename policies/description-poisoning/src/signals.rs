//! The signals: what each looks for, and how much it weighs.

use portcullis_sdk::phrases;

/// How a signal's regular expression is built.
pub(crate) enum Source {
    /// Alternatives joined as they are.
    Plain(&'static [&'static str]),
    /// Alternatives that defensive wording may negate ("never ignore…").
    Negatable(&'static [&'static str]),
}

/// What a signal is evidence of. Weights add up across dimensions, and
/// within [`Dimension::Deception`]; within the other two only the heaviest
/// signal counts, since naming a secret twice, or sending data in two ways,
/// is one concern rather than two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Dimension {
    /// The text tries to steer the model behind the user's back: hidden
    /// markup, overrides, concealment, shadowing, invisible characters.
    Deception,
    /// The text makes data leave, or runs something harmful.
    Action,
    /// The text names secrets or private data.
    Target,
}

/// One signal: a prefilter pattern, its weight and what it shows.
pub(crate) struct Signal {
    /// The rule id, also the id of its pattern.
    pub(crate) id: &'static str,
    /// What a finding shows, for the reason message.
    pub(crate) summary: &'static str,
    /// The regular expression's alternatives.
    pub(crate) source: Source,
    /// The signal's weight (see the crate documentation).
    pub(crate) weight: u32,
    /// What the signal is evidence of.
    pub(crate) dimension: Dimension,
    /// Whether two or more different matches weigh one more: one sensitive
    /// path may be documentation, a list of them is a harvest.
    pub(crate) more_for_variety: bool,
}

impl Signal {
    /// The regular expression of the signal's pattern.
    pub(crate) fn regex(&self) -> String {
        match self.source {
            Source::Plain(alternatives) => phrases::regex(alternatives),
            Source::Negatable(alternatives) => phrases::negatable(alternatives),
        }
    }

    /// Whether the signal discards matches that start with a negation.
    pub(crate) fn negatable(&self) -> bool {
        matches!(self.source, Source::Negatable(_))
    }
}

/// Weight that alone denies.
pub(crate) const STRONG: u32 = 3;
/// Weight that alone escalates.
pub(crate) const MEDIUM: u32 = 2;
/// Weight that alone passes, but adds up with others.
pub(crate) const WEAK: u32 = 1;

/// Every text signal of the policy.
pub(crate) const SIGNALS: &[Signal] = &[
    Signal {
        id: "hidden-markup",
        summary: "hides instructions in markup",
        source: Source::Plain(phrases::HIDDEN_MARKUP),
        weight: STRONG,
        dimension: Dimension::Deception,
        more_for_variety: false,
    },
    Signal {
        id: "instruction-override",
        summary: "tells the model to drop its instructions",
        source: Source::Negatable(phrases::INSTRUCTION_OVERRIDE),
        weight: STRONG,
        dimension: Dimension::Deception,
        more_for_variety: false,
    },
    Signal {
        id: "concealment",
        summary: "tells the model to hide what it does from the user",
        source: Source::Plain(phrases::CONCEALMENT),
        weight: STRONG,
        dimension: Dimension::Deception,
        more_for_variety: false,
    },
    Signal {
        id: "script-markup",
        summary: "carries script markup",
        source: Source::Plain(&[
            r"<\s*/?\s*script\b",
            r"\bjavascript\s*:[^\s]",
            r"<[a-z][^>]*[\s/'\x22]on(?:error|load|click|mouseover|focus)\s*=",
        ]),
        weight: STRONG,
        dimension: Dimension::Deception,
        more_for_variety: false,
    },
    Signal {
        id: "destructive-command",
        summary: "embeds a destructive command",
        source: Source::Plain(&[
            r"\brm\s+-[a-z]*(?:rf|fr)[a-z]*\s+(?:/|~|\$home)(?:$|[\s;'\x22`)*])",
            r"\bmkfs(?:\.[a-z0-9]+)?\s",
            r":\s*\(\s*\)\s*\{[^}]*:\s*\|\s*:\s*&",
        ]),
        weight: STRONG,
        dimension: Dimension::Action,
        more_for_variety: false,
    },
    Signal {
        id: "fake-system-message",
        summary: "passes text off as a system or administrator message",
        source: Source::Plain(&[
            r"(?:^|\n)\s*(?:system|admin|administrator|assistant|developer)(?:\s+[a-z]+){0,2}\s*:",
        ]),
        weight: MEDIUM,
        dimension: Dimension::Deception,
        more_for_variety: false,
    },
    Signal {
        id: "role-play",
        summary: "recasts the model in a new role or mode",
        source: Source::Negatable(phrases::ROLE_PLAY),
        weight: MEDIUM,
        dimension: Dimension::Deception,
        more_for_variety: false,
    },
    Signal {
        id: "addressed-to-model",
        summary: "addresses instructions to the model",
        source: Source::Plain(phrases::ADDRESSED_TO_MODEL),
        weight: MEDIUM,
        dimension: Dimension::Deception,
        more_for_variety: false,
    },
    Signal {
        id: "privilege-bypass",
        summary: "offers to bypass safety or access controls",
        source: Source::Negatable(&[
            r"\bbypass(?:es|ing)?\s+(?:all\s+|any\s+|the\s+)?(?:security|safety|validation|access\s+controls?|content\s+filter\w*|filters?|authentication|authori[sz]ation|checks?|restrictions|guardrails)",
            r"\b(?:disable|disables|skip|skips|turn\s+off)\s+(?:all\s+|any\s+)?(?:content\s+filter\w*|safety|validation|sanitization|sanitisation|security\s+checks?|data\s+validation|guardrails|restrictions)",
            r"\btrust\s+all\s+(?:user\s+|admin\s+)?(?:input|commands|queries|requests)",
            r"\bunrestricted\s+(?:\w+\s+)?(?:access|privileges|mode)\b",
            r"\b(?:with|has|have|gains?|grants?|operates\s+with)\s+(?:elevated|admin|administrator|root|superuser)\s+(?:privileges|access|rights)\b",
            r"\bfull\s+(?:system\s+)?(?:trust|privileges)\b",
            r"\bwithout\s+(?:any\s+)?(?:validation|confirmation|security\s+checks|restrictions)\b",
        ]),
        weight: MEDIUM,
        dimension: Dimension::Deception,
        more_for_variety: false,
    },
    Signal {
        id: "tool-shadowing",
        summary: "tries to steer how other tools are used",
        source: Source::Plain(&[
            r"\bwhen\s+(?:the\s+|any\s+|a\s+)?`?[\w.-]+`?\s+tool\s+(?:is\s+)?(?:called|used|present|invoked|available|requested|loaded)",
            r"\b(?:instead\s+of|rather\s+than)\s+(?:using|calling)\s+(?:the\s+|any\s+)?`?[\w.-]+`?\s+tool",
            r"\bignore\s+(?:all\s+)?(?:the\s+)?other\s+(?:\w+\s+)?tools\b",
            r"\b(?:all\s+)?other\s+(?:\w+\s+)?tools\s+(?:are|is)\s+(?:buggy|broken|deprecated|unsafe|outdated)",
            r"\b(?:before|after)\s+(?:using|calling|executing|running|invoking|execute|call)\s+(?:any|another|other|every|the)\s+(?:\w+\s+){0,3}(?:tool|operation|function)s?\b",
            r"\b(?:use|call|execute|invoke)\s+this\s+tool\s+(?:no\s+matter|regardless|and\s+replace)",
            r"\bexecute\s+this\s+tool\b",
            r"\b(?:consult|call|use)\s+this\s+tool\s+(?:immediately|as\s+the\s+first\s+step|before\s+(?:asking|answering|responding|providing))",
            r"\boverride\s+the\s+(?:recipient|destination|arguments|parameters|behaviou?r|values|results?)",
            r"\breplace\s+the\s+(?:values|arguments|parameters|results?|recipient)\s+with\b",
            r"\busing\s+the\s+`?[\w.-]+`?\s+tool\s+and\s+(?:extract|read|send|include|collect)",
        ]),
        weight: MEDIUM,
        dimension: Dimension::Deception,
        more_for_variety: false,
    },
    Signal {
        id: "exfiltration",
        summary: "sends data somewhere the user did not ask for",
        source: Source::Plain(&[
            r"\bsidenote\b",
            r"\b(?:send|sends|sending|forward|forwards|forwarded|upload|uploads|uploaded|post|posts|transmit|transmits|exfiltrate|stream|streamed|leak)\b[^.]{0,160}?\bto\s+(?:a\s+|an\s+|the\s+|our\s+)?(?:remote|external|attacker|third[\s-]part)",
            r"\b(?:upload|uploads|send|sends|copy|copies)\s+all\s+(?:\w+\s+)?files\b",
            r"\b(?:always|also|silently|secretly)\s+(?:bcc|cc)\b",
            r"\bcontrolled\s+by\s+the\s+attacker\b",
            r"\bpass\s+(?:its|the|their|all|any)\s+(?:content|contents|private|secret)",
        ]),
        weight: MEDIUM,
        dimension: Dimension::Action,
        more_for_variety: false,
    },
    Signal {
        id: "outbound-address",
        summary: "sends data to a fixed address",
        source: Source::Plain(&[
            r"\b(?:send|sends|sending|forward|forwards|forwarded|upload|uploads|uploaded|post|posts|transmit|transmits|stream|streamed|bcc|cc)\b[^.\n]{0,80}?\bto\s+(?:https?://|[\w.+-]+@[\w-]+\.)",
        ]),
        weight: WEAK,
        dimension: Dimension::Action,
        more_for_variety: false,
    },
    Signal {
        id: "third-party-sharing",
        summary: "shares user data with third parties",
        source: Source::Negatable(&[
            r"\bshared\s+with\s+(?:\w+\s+)?(?:third[\s-]part(?:y|ies)|partners|advertisers)",
            r"\b(?:sold|sells|sell)\s+to\s+(?:third|partners|advertisers)",
            r"\b(?:added|subscribed|opted[\s-]?in)\s+to\s+(?:\w+\s+){0,2}(?:marketing|newsletter|partner)",
            r"\bautomatically\s+opted[\s-]?in\b",
        ]),
        weight: MEDIUM,
        dimension: Dimension::Action,
        more_for_variety: false,
    },
    Signal {
        id: "remote-retention",
        summary: "keeps what it sees somewhere else",
        source: Source::Negatable(&[
            r"\b(?:stored|cached|kept|retained|logged|saved)\s+(?:remotely|externally|off[\s-]site|in\s+the\s+cloud)",
            r"\bsynced\s+(?:\w+\s+){0,3}(?:via|to|through)\s+(?:the\s+)?cloud",
            r"\b(?:logged|retained|stored|kept)\s+for\s+(?:quality|analytics|training|marketing)",
            r"\bsent\s+to\s+our\b",
        ]),
        weight: WEAK,
        dimension: Dimension::Action,
        more_for_variety: false,
    },
    Signal {
        id: "sensitive-path",
        summary: "names a secret file",
        source: Source::Plain(&[
            r"(?:~/)?\.ssh(?:/[\w.-]+)?",
            r"\bid_(?:rsa|dsa|ecdsa|ed25519)\b",
            r"\bmcp\.json\b",
            r"\bclaude_desktop_config\.json\b",
            r"~/\.cursor\b",
            r"/etc/(?:passwd|shadow|sudoers)\b",
            r"\.aws/credentials\b",
            r"\.kube/config\b",
            r"(?:^|[\s/'\x22`(*])\.env(?:$|[\s'\x22`),;:*]|\.(?:\s|$)|\.(?:local|prod\w*|dev\w*))",
            r"\*\.(?:pem|key|p12|pfx|kdbx)\b",
            r"\bwallet\.dat\b",
        ]),
        weight: MEDIUM,
        dimension: Dimension::Target,
        more_for_variety: true,
    },
    Signal {
        id: "personal-data",
        summary: "handles highly sensitive personal data",
        source: Source::Plain(&[
            r"\bsocial\s+security\s+numbers?\b",
            r"\bpassport\s+numbers?\b",
            r"\bbank\s+account\s+numbers?\b",
            r"\bphi\s+records\b",
            r"\bmedical\s+records\b",
        ]),
        weight: MEDIUM,
        dimension: Dimension::Target,
        more_for_variety: false,
    },
    Signal {
        id: "embedded-secret",
        summary: "embeds a secret",
        source: Source::Plain(&[
            r"\bsk-[a-z0-9_-]{20,}",
            r"\b(?:api[_-]?key|secret|token|password)\s*[=:]\s*[a-z0-9_\-]{16,}",
            r"\bbearer\s+[a-z0-9._\-]{16,}",
            r"\bakia[0-9a-z]{16}\b",
            r"\bgh[pousr]_[a-z0-9]{30,}",
            r"-----begin\s+(?:[a-z]+\s+)*private\s+key-----",
        ]),
        weight: MEDIUM,
        dimension: Dimension::Target,
        more_for_variety: false,
    },
    Signal {
        id: "dangerous-command",
        summary: "embeds a command that leaks or opens up the machine",
        source: Source::Plain(&[
            r"\|\s*(?:nc|ncat|netcat)\s",
            r"\b(?:nc|ncat|netcat)\s+(?:-\w+\s+)*[\w.-]+\s+\d{2,5}\b",
            r"\bcurl\s[^\n]*(?:-d\s*@|--data[\w-]*\s+@|-f\s+\S*=@|--upload-file)",
            r"\bchmod\s+-r\s+0?[67][67][67]\s+(?:~|/)",
            r"\b(?:curl|wget)\s[^\n|]*\|\s*(?:sudo\s+)?(?:ba|z)?sh\b",
            r"/dev/tcp/",
            r"\bsystem\s*\(\s*['\x22]",
            r"\bbase64\s+(?:-d|--decode)\s*\|",
        ]),
        weight: MEDIUM,
        dimension: Dimension::Action,
        more_for_variety: false,
    },
    Signal {
        id: "sensitive-data",
        summary: "reaches for credentials or private data",
        source: Source::Plain(&[
            r"\bapi[\s_-]?keys?\b",
            r"\bcredentials?\b",
            r"\bpasswords?\b",
            r"\bsecrets?\b",
            r"\bprivate\s+keys?\b",
            r"\baccess\s+tokens?\b|\btokens\b",
            r"\bcredit\s+cards?\b",
            r"\baccount\s+numbers\b",
            r"\bconfidential\b",
            r"\benvironment\s+variables\b",
            r"\b(?:conversation|chat|browsing|location)\s+(?:history|context)\b",
            r"\bclipboard\b",
            r"\bmac\s+address\b",
        ]),
        weight: WEAK,
        dimension: Dimension::Target,
        more_for_variety: false,
    },
    Signal {
        id: "directive",
        summary: "gives the model orders beyond describing the tool",
        source: Source::Plain(&[
            r"\byou\s+must\s+(?:first|always|also)\b",
            r"\bbefore\s+(?:using|calling|providing|returning|responding)\b[^.\n]{0,60}\b(?:you\s+must|read|access|retrieve)\b",
            r"\botherwise\s+the\s+tool\s+will\s+not\s+work\b",
            r"\b(?:critical|mandatory)\s+(?:compliance\s+)?requirement\b",
            r"\b(?:use|call)\s+this\s+tool\s+(?:instead|first)\b",
        ]),
        weight: WEAK,
        dimension: Dimension::Deception,
        more_for_variety: false,
    },
];
