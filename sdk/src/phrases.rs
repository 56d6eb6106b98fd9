//! Regular expressions for the phrases of prompt injection, shared by the
//! policies that look for it in tool descriptions, arguments and results.
//!
//! Each list holds the alternatives of one regular expression, written for
//! the host's normalised (lower-case, NFKC) text; [`regex`] joins them.
//! Phrases that a defensive text negates ("never ignore previous
//! instructions") can be built with [`negatable`], whose matches start at
//! the negation when there is one, so that [`is_negated`] can discard them.

/// Telling the model to drop the instructions it was given.
pub const INSTRUCTION_OVERRIDE: &[&str] = &[
    r"\b(?:ignore|disregard|forget|bypass|override|overlook)\s+(?:(?:all|any|every|each|the|your|my|these|those|of|previous|previously|prior|above|earlier|preceding|foregoing|former|original|initial|system|existing|safety|security|given|current)\s+){1,4}(?:instructions?|prompts?|rules|directions?|directives?|guidelines|context|constraints|restrictions|safeguards|programming|training|polic(?:y|ies)|guardrails|filters?)\b",
    r"\bignore\s+(?:the\s+)?(?:user|human|operator)(?:'s)?(?:\s+and\b|\s*[.,;:!]|\s+(?:request|instructions?|input|question)\b)",
    r"\b(?:ignore|disregard|forget)\s+(?:everything|all)\s+(?:above|before|previously|(?:you\s+were|you've\s+been)\s+told)\b",
    r"\bignore[zr]?\s+(?:toutes\s+)?(?:les\s+)?(?:instructions|consignes)\s+(?:pr[ée]c[ée]dentes|ant[ée]rieures)",
    r"\bignora\s+(?:todas\s+)?(?:las\s+)?instrucciones\s+(?:anteriores|previas)",
    r"\bignoriere?\s+(?:alle\s+)?(?:vorherigen|bisherigen|obigen|vorangegangenen)\s+(?:anweisungen|instruktionen|befehle)",
    r"\bignora\s+(?:tutte\s+)?(?:le\s+)?istruzioni\s+precedenti",
    r"\bignore\s+(?:todas\s+)?(?:as\s+)?instru[çc][õo]es\s+anteriores",
    r"игнорируй(?:те)?\s+(?:все\s+)?(?:предыдущие|прошлые|прежние)\s+(?:инструкции|указания)",
    r"忽略(?:之前|以上|先前|前面|上面|所有)(?:的)?(?:所有)?(?:指令|指示|说明|规则)",
    r"(?:以前|前|上記|これまで)の(?:すべての)?(?:指示|命令)を無視",
    r"이전\s*(?:의\s*)?(?:모든\s*)?(?:지시|명령)(?:를|사항을|을)?\s*무시",
];

/// Telling the model to hide what it does from the user.
pub const CONCEALMENT: &[&str] = &[
    r"\b(?:do\s+not|don't|never|must\s+not|should\s+not)\s+(?:\w+\s+){0,2}(?:tell|inform|mention|reveal|disclose|notify|alert|show|say)\b(?:\s+\w+){0,3}?\s+(?:to\s+)?(?:the\s+|your\s+)?(?:user|human|operator)s?\b",
    r"\b(?:do\s+not|don't|never|must\s+not)\s+(?:\w+\s+)?mention\s+(?:this|that|it|these|the|you|anything)\b",
    r"\bwithout\s+(?:\w+\s+)?(?:telling|informing|notifying|alerting|asking|mentioning\s+(?:it|this)\s+to)\s+(?:the\s+)?(?:user|human|operator)",
    r"\b(?:no\s+need|not\s+necessary)\s+to\s+(?:mention|tell|inform|explain)\b[^.\n]{0,30}\b(?:user|them)\b",
    r"\b(?:hide|conceal|keep)\s+(?:this|it|that|these)\s+(?:secret\s+)?from\s+the\s+user",
    r"\bthe\s+user\s+(?:must|should|will)\s+not\s+(?:know|see|notice|be\s+(?:told|informed))",
    r"\bthis\s+is\s+a\s+secret\s+(?:operation|instruction|task)",
    r"\bpresent\s+(?:it|this|them|the\s+\w+)\s+as\s+if\b",
    r"\bne\s+(?:le\s+|lui\s+)?(?:dis|dites|mentionne[zs]?|r[ée]v[èe]le[zs]?)\s+(?:rien\s+|pas\s+)+(?:[àa]\s+)?l'utilisateur",
    r"\bsans\s+(?:en\s+)?(?:informer|pr[ée]venir|avertir)\s+l'utilisateur",
    r"\bn'en\s+(?:parle|parlez|dis|dites)\s+(?:rien\s+|pas\s+)+(?:[àa]\s+)?l'utilisateur",
    r"\bno\s+(?:le\s+)?(?:digas|menciones|informes|reveles)\s+(?:nada\s+)?(?:esto\s+)?al\s+usuario",
    r"\bsin\s+(?:informar|avisar|decirle)\s+al\s+usuario",
    r"\b(?:sag|sage|erw[äa]hne|informiere)\s+(?:es\s+|das\s+|dies\s+)?(?:dem|den)\s+(?:benutzer|nutzer|anwender)\s+nicht",
    r"\bohne\s+(?:den|dem)\s+(?:benutzer|nutzer|anwender)\s+zu\s+(?:informieren|benachrichtigen|fragen)",
    r"不要(?:告诉|通知|提醒)用户|不要让用户知道|对用户隐瞒",
    r"ユーザーに(?:言わ|伝え|知らせ|教え)ないで",
    r"не\s+(?:говори|сообщай|рассказывай)(?:те)?\s+пользователю",
];

/// Markup that hides instructions from a human reader or dresses them up
/// as coming from the system. Bracketed markers only count when they are
/// not the text of a Markdown link (`[instructions](https://…)`).
pub const HIDDEN_MARKUP: &[&str] = &[
    r"<\s*/?\s*(?:important|hidden|secret|system|instructions?|admin|critical|override|assistant|sys|system[_-]?(?:prompt|message|instructions?))\s*>",
    r"\[\s*/?\s*(?:system|important|hidden|secret|admin|critical|instructions?)\b[^\]\n]{0,40}\](?:[^(]|$)",
    r"\[\s*[a-z_ ]{0,30}\b(?:directive|override|instruction)s?\s*\](?:[^(]|$)",
    r"<!--",
    r"<\|\s*(?:im_start|im_end|system|endoftext|start_header_id)\s*\|>",
    r"\|\|\|\s*[a-z_ ]*(?:override|system|admin|instruction)[a-z_ ]*\|\|\|",
    r"(?:^|\n)\s*#{2,}\s*(?:system|instructions?|admin)\b",
];

/// Asking the model to reveal its system prompt or earlier instructions.
pub const PROMPT_EXTRACTION: &[&str] = &[
    r"\b(?:repeat|print|output|show|display|reveal|tell|give|write|dump|leak|share|translate|encode|spell|summari[sz]e|provide|return|recite|paste|expose|disclose|see|read)\b[:,]?(?:\s+\S+){0,6}?\s+(?:(?:your|the|its|my)\s+)?(?:system\s*(?:prompt|message|instructions)|(?:initial|original|starting|hidden|secret|first|preset|pre-?prompt)\s+(?:prompt|instructions))",
    r"\b(?:instructions|text|words|prompt|everything|message|rules)\s+(?:that\s+)?(?:you\s+were|you've\s+been|you\s+have\s+been|you\s+got)\s+(?:given|told|provided)",
    r"\b(?:repeat|print|output|show|display|reveal|recite|dump|return|copy|translate|summari[sz]e)\s+(?:me\s+)?(?:the\s+|all\s+|everything\s+)?(?:(?:text|words|content|lines|instructions|message)\s+)?(?:above|before\s+this|so\s+far|preceding)\b",
    r"\brepeat\s+(?:this|the)\s+(?:entire\s+|whole\s+)?conversation\b",
];

/// Probing for the system prompt without asking outright: asking about
/// "your" instructions, baiting a completion ("The system prompt is:"), or
/// naming it as code does. Merely mentioning a system prompt is not a probe.
pub const PROMPT_PROBE: &[&str] = &[
    r"\bsystemprompt\b|\bsystem_prompt\b|\bsystem[\s-]prompt\s*(?:is|was|says|reads)?\s*:",
    r"\bthe\s+system\s+prompt\s+(?:is|was|says|reads)\b",
    r"\byour\s+(?:system|initial|original|starting|hidden|secret)\s+(?:prompt|instructions|message)\b",
    r"\bthe\s+(?:initial|original|starting|hidden|secret)\s+(?:prompt|instructions)\b",
    r"\b(?:what|which)\s+(?:are|were|is)\s+your\s+(?:\w+\s+)?(?:instructions|directives|prompt)\b",
    r"\b(?:my|your)\s+instructions\s+(?:are|were)\b",
    r"\bi\s+was\s+(?:instructed|programmed)\s+to\b",
    r"\b(?:told|given|instructed)\s+(?:\w+\s+)?before\s+(?:this|the|our)\s+conversation\b",
    r"\bnot\s+supposed\s+to\s+(?:tell|say|reveal|share|disclose)\b",
    r"\bword\s+for\s+word\b",
];

/// Role-play and jailbreak framing: new personas, special modes, elevated
/// authority.
pub const ROLE_PLAY: &[&str] = &[
    r"\byou\s+are\s+now\s+(?:a|an|in|the|my|dan|free|unrestricted|jailbroken|no\s+longer)\b",
    r"\bfrom\s+now\s+on\s*,?\s+you\s+(?:are|will|must|shall)\b",
    r"\bact\s+as\s*:",
    r"\b(?:act|behave|respond)\s+as\s+(?:if\s+you\s+(?:are|were)\s+)?(?:a|an|the)?\s*(?:unrestricted|unfiltered|uncensored|jailbroken|evil|dan|developer|admin|administrator|system|root|superuser|hacker)\b",
    r"\bpretend\s+(?:to\s+be|you\s+are|that\s+you)\b",
    r"\brole-?play\s+as\b",
    r"\b(?:dan|developer|god|debug|maintenance|admin|administrator|sudo|jailbreak|unrestricted|unfiltered)\s+mode\b",
    r"\bdo\s+anything\s+now\b",
    r"\bjailbr(?:eak|oken)\b",
    r"\b(?:administrator|admin|system|developer|root|emergency)\s+override\b",
    r"\bno\s+(?:longer\s+)?(?:bound|restricted|limited)\s+by\b",
];

/// Instructions addressed to the model that reads a document, rather than to
/// a person.
pub const ADDRESSED_TO_MODEL: &[&str] = &[
    r"\b(?:new|updated|real|actual|hidden|secret|additional|important)\s+(?:system\s+)?instructions?\s*[:*!]",
    r"\bif\s+you\s+are\s+an?\s+(?:ai|llm|language\s+model|assistant|agent|bot)\b",
    r"\b(?:note|message|instructions?)\s+(?:to|for)\s+(?:the\s+)?(?:ai|assistant|llm|language\s+model|agent|model)\b",
    r"\b(?:ai|assistant|llm|agent)\s*[:,]\s*(?:please\s+)?(?:ignore|you\s+must|do\s+not|always)\b",
];

/// A negation right before a phrase (`never ignore`, `do not ever
/// override`), or before a coordinated clause that the phrase continues
/// (`never ignore any instructions or override…`).
const NEGATION: &str = r"(?:\b(?:never|not|no|cannot|can't|don't|won't|mustn't|shouldn't)\s+(?:(?:ever|try\s+to|attempt\s+to|you)\s+)?(?:(?:\w+\s+){1,4}(?:or|nor)\s+)?)?";

/// One regular expression matching any of `alternatives`.
pub fn regex(alternatives: &[&str]) -> String {
    alternatives
        .iter()
        .map(|alternative| format!("(?:{alternative})"))
        .collect::<Vec<_>>()
        .join("|")
}

/// Like [`regex`], but a match also takes in a negation right before the
/// phrase (`never ignore…`, `do not override…`, `never ignore X or
/// override…`), so that [`is_negated`] can tell defensive wording from an
/// instruction. Only a negation of the phrase itself counts: in "do not
/// hesitate to ignore previous instructions" the match starts at `ignore`.
pub fn negatable(alternatives: &[&str]) -> String {
    format!("{NEGATION}(?:{})", regex(alternatives))
}

/// Whether a match of a [`negatable`] regular expression starts with a
/// negation.
pub fn is_negated(matched: &str) -> bool {
    let first = matched.split_whitespace().next().unwrap_or_default();
    matches!(
        first,
        "never" | "not" | "no" | "cannot" | "can't" | "don't" | "won't" | "mustn't" | "shouldn't"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negatable_prefixes_the_negation_once() {
        let regex = negatable(&["a", "b"]);
        assert!(regex.starts_with(NEGATION));
        assert!(regex.ends_with("(?:(?:a)|(?:b))"));
    }

    #[test]
    fn is_negated_looks_at_the_first_word() {
        assert!(is_negated("never ignore any instructions"));
        assert!(is_negated("don't disregard safety guidelines"));
        assert!(!is_negated("ignore all previous instructions"));
    }
}
