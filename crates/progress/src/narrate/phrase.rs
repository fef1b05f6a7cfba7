//! How a tool is spoken of, and the English default derived from its name.

/// How a tool is spoken of: "check your calendar", "checking your calendar", and what could not
/// be done when it failed, "reach the weather service".
///
/// A tool supplies its own; otherwise the [`Phrasebook`](crate::Phrasebook) derives one from
/// its name ([`ToolPhrase::from_tool_name`] in English). Phrases must not hold arguments or
/// secrets: they are spoken for every call of the tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolPhrase {
    action: String,
    ongoing: String,
    failure: String,
}

impl ToolPhrase {
    /// A phrase from its action, in the infinitive without "to" ("check your calendar"). The
    /// ongoing form is derived in English ("checking your calendar"); the failure phrase is the
    /// action ("I couldn't check your calendar").
    pub fn new(action: impl Into<String>) -> ToolPhrase {
        let action = action.into().trim().to_owned();
        ToolPhrase {
            ongoing: english_ongoing(&action),
            failure: action.clone(),
            action,
        }
    }

    /// Sets the ongoing form, for heartbeats ("Still {ongoing}…"); needed for other languages.
    pub fn with_ongoing(mut self, ongoing: impl Into<String>) -> ToolPhrase {
        self.ongoing = ongoing.into().trim().to_owned();
        self
    }

    /// Sets what could not be done when the call failed ("reach the weather service", for
    /// "I couldn't reach the weather service").
    pub fn with_failure(mut self, failure: impl Into<String>) -> ToolPhrase {
        self.failure = failure.into().trim().to_owned();
        self
    }

    /// "check your calendar".
    pub fn action(&self) -> &str {
        &self.action
    }

    /// "checking your calendar".
    pub fn ongoing(&self) -> &str {
        &self.ongoing
    }

    /// "reach the calendar service".
    pub fn failure(&self) -> &str {
        &self.failure
    }

    /// The English phrase derived from a tool's name: `get_weather` → "get the weather",
    /// `lookupContact` → "look up the contact", `check_crm_records` → "check the CRM records",
    /// `weather` → "use the weather tool". Namespaces (`calendar.list_events`,
    /// `server__tool`) are dropped.
    pub fn from_tool_name(name: &str) -> ToolPhrase {
        ToolPhrase::new(english_action(name))
    }
}

/// Verbs a tool name commonly starts with; a name starting otherwise reads as a noun.
const VERBS: &[&str] = &[
    "add",
    "analyze",
    "analyse",
    "ask",
    "book",
    "browse",
    "buy",
    "calculate",
    "call",
    "cancel",
    "check",
    "classify",
    "close",
    "compare",
    "compute",
    "convert",
    "copy",
    "count",
    "crawl",
    "create",
    "delete",
    "describe",
    "detect",
    "download",
    "draft",
    "edit",
    "email",
    "estimate",
    "evaluate",
    "explain",
    "extract",
    "fetch",
    "fill",
    "find",
    "generate",
    "get",
    "invite",
    "join",
    "list",
    "load",
    "locate",
    "log",
    "look",
    "make",
    "message",
    "move",
    "notify",
    "open",
    "order",
    "parse",
    "pay",
    "ping",
    "place",
    "plan",
    "play",
    "post",
    "predict",
    "publish",
    "put",
    "query",
    "rank",
    "read",
    "record",
    "refresh",
    "remove",
    "render",
    "request",
    "reserve",
    "resolve",
    "retrieve",
    "review",
    "run",
    "save",
    "scan",
    "schedule",
    "scrape",
    "search",
    "send",
    "set",
    "share",
    "show",
    "sign",
    "start",
    "stop",
    "submit",
    "summarize",
    "summarise",
    "sync",
    "tag",
    "track",
    "transcribe",
    "translate",
    "update",
    "upload",
    "validate",
    "verify",
    "view",
    "watch",
    "write",
];

/// Words that follow a verb as its particle: "look up", "sign in".
const PARTICLES: &[&str] = &["up", "out", "in", "on", "off", "down", "over"];

/// Words that already determine a noun: no "the" before them.
const DETERMINERS: &[&str] = &[
    "the", "a", "an", "my", "your", "our", "their", "his", "her", "its", "this", "that", "these",
    "those", "all", "some", "any", "every", "each", "new",
];

/// Words spoken as letters.
const ACRONYMS: &[&str] = &[
    "ai", "api", "aws", "crm", "csv", "dns", "erp", "eta", "faq", "gcp", "gps", "hr", "html",
    "http", "id", "ip", "json", "llm", "pdf", "sms", "sql", "ui", "url", "vm", "xml",
];

/// The action derived from a tool's name.
fn english_action(name: &str) -> String {
    let mut words = split_name(name);
    if words.first().is_some_and(|w| w == "lookup") {
        words.splice(0..1, ["look".to_owned(), "up".to_owned()]);
    }
    if words.is_empty() {
        return "use a tool".to_owned();
    }
    let spoken: Vec<String> = words.iter().map(|w| speak(w)).collect();
    if VERBS.contains(&words[0].as_str()) {
        let verb_len = if words.len() > 1 && PARTICLES.contains(&words[1].as_str()) {
            2
        } else {
            1
        };
        let verb = spoken[..verb_len].join(" ");
        let rest = &spoken[verb_len..];
        match rest.first() {
            None => verb,
            Some(first) if DETERMINERS.contains(&first.as_str()) => {
                format!("{verb} {}", rest.join(" "))
            }
            Some(_) => format!("{verb} the {}", rest.join(" ")),
        }
    } else if words.last().is_some_and(|w| w == "tool") {
        format!("use the {}", spoken.join(" "))
    } else {
        format!("use the {} tool", spoken.join(" "))
    }
}

/// Lower-case words of a tool name: the last namespace segment, split at `_`, `-`, spaces and
/// camelCase humps.
fn split_name(name: &str) -> Vec<String> {
    let last = name
        .rsplit(['.', '/', ':'])
        .next()
        .unwrap_or(name)
        .rsplit("__")
        .next()
        .unwrap_or(name);
    let mut words = Vec::new();
    let mut word = String::new();
    let mut prev: Option<char> = None;
    for c in last.chars() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            prev = None;
            continue;
        }
        let hump = c.is_uppercase() && prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit());
        if hump && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        word.extend(c.to_lowercase());
        prev = Some(c);
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// How a word of a name is spoken: acronyms in capitals.
fn speak(word: &str) -> String {
    if ACRONYMS.contains(&word) {
        word.to_uppercase()
    } else {
        word.to_owned()
    }
}

/// The ongoing form of an action: its first word as a gerund.
fn english_ongoing(action: &str) -> String {
    match action.split_once(' ') {
        Some((verb, rest)) => format!("{} {rest}", english_gerund(verb)),
        None => english_gerund(action),
    }
}

/// Verbs of two or more syllables stressed on the last, which double their final consonant.
const DOUBLING: &[&str] = &[
    "admit", "begin", "commit", "compel", "control", "forget", "omit", "patrol", "permit",
    "prefer", "refer", "submit", "transfer", "upset",
];

/// The English gerund of a verb: get → getting, make → making, see → seeing, lie → lying.
pub fn english_gerund(verb: &str) -> String {
    let lower = verb.to_lowercase();
    if lower.is_empty() || !lower.chars().all(|c| c.is_ascii_alphabetic()) {
        return format!("{verb}ing");
    }
    if lower == "be" {
        return format!("{verb}ing");
    }
    if let Some(stem) = verb.strip_suffix("ie") {
        return format!("{stem}ying");
    }
    if lower.ends_with('e')
        && !(lower.ends_with("ee") || lower.ends_with("oe") || lower.ends_with("ye"))
        && lower.len() > 2
    {
        return format!("{}ing", &verb[..verb.len() - 1]);
    }
    if DOUBLING.contains(&lower.as_str()) || doubles_final_consonant(&lower) {
        let last = &verb[verb.len() - 1..];
        return format!("{verb}{last}ing");
    }
    format!("{verb}ing")
}

/// One syllable ending consonant–vowel–consonant (the last not w, x or y): get, stop, plan.
fn doubles_final_consonant(word: &str) -> bool {
    let is_vowel = |c: u8| matches!(c, b'a' | b'e' | b'i' | b'o' | b'u');
    // "qu" sounds as a consonant: quit -> quitting.
    let bytes: Vec<u8> = word.replacen("qu", "q", 1).into_bytes();
    let n = bytes.len();
    if n < 3 {
        return false;
    }
    let (a, b, c) = (bytes[n - 3], bytes[n - 2], bytes[n - 1]);
    let cvc = !is_vowel(a) && is_vowel(b) && !is_vowel(c) && !matches!(c, b'w' | b'x' | b'y');
    let vowel_groups = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &ch)| is_vowel(ch) && (i == 0 || !is_vowel(bytes[i - 1])))
        .count();
    cvc && vowel_groups == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gerunds() {
        for (verb, gerund) in [
            ("get", "getting"),
            ("check", "checking"),
            ("search", "searching"),
            ("look", "looking"),
            ("send", "sending"),
            ("make", "making"),
            ("write", "writing"),
            ("create", "creating"),
            ("update", "updating"),
            ("use", "using"),
            ("see", "seeing"),
            ("be", "being"),
            ("lie", "lying"),
            ("run", "running"),
            ("stop", "stopping"),
            ("plan", "planning"),
            ("quit", "quitting"),
            ("open", "opening"),
            ("visit", "visiting"),
            ("submit", "submitting"),
            ("fix", "fixing"),
            ("show", "showing"),
            ("play", "playing"),
            ("read", "reading"),
            ("fetch", "fetching"),
            ("ping", "pinging"),
            ("Get", "Getting"),
        ] {
            assert_eq!(english_gerund(verb), gerund, "{verb}");
        }
    }

    #[test]
    fn actions_from_tool_names() {
        for (name, action, ongoing) in [
            ("get_weather", "get the weather", "getting the weather"),
            (
                "check_calendar",
                "check the calendar",
                "checking the calendar",
            ),
            (
                "search_contacts",
                "search the contacts",
                "searching the contacts",
            ),
            (
                "lookupContact",
                "look up the contact",
                "looking up the contact",
            ),
            (
                "look_up_contact",
                "look up the contact",
                "looking up the contact",
            ),
            (
                "check_crm_records",
                "check the CRM records",
                "checking the CRM records",
            ),
            ("sendInvite", "send the invite", "sending the invite"),
            ("get-your-mail", "get your mail", "getting your mail"),
            ("search", "search", "searching"),
            ("weather", "use the weather tool", "using the weather tool"),
            (
                "calendar_lookup",
                "use the calendar lookup tool",
                "using the calendar lookup tool",
            ),
            ("code_tool", "use the code tool", "using the code tool"),
            (
                "google.calendar.list_events",
                "list the events",
                "listing the events",
            ),
            (
                "github__create_issue",
                "create the issue",
                "creating the issue",
            ),
            ("fetchURL", "fetch the URL", "fetching the URL"),
            (
                "run_sql_query",
                "run the SQL query",
                "running the SQL query",
            ),
            ("", "use a tool", "using a tool"),
            ("__", "use a tool", "using a tool"),
        ] {
            let phrase = ToolPhrase::from_tool_name(name);
            assert_eq!(
                (phrase.action(), phrase.ongoing(), phrase.failure()),
                (action, ongoing, action),
                "{name:?}"
            );
        }
    }

    #[test]
    fn supplied_phrases_keep_their_words() {
        let phrase = ToolPhrase::new(" get the weather ").with_failure("reach the weather service");
        assert_eq!(phrase.action(), "get the weather");
        assert_eq!(phrase.ongoing(), "getting the weather");
        assert_eq!(phrase.failure(), "reach the weather service");
        let french =
            ToolPhrase::new("consulter votre agenda").with_ongoing("consulte votre agenda");
        assert_eq!(french.ongoing(), "consulte votre agenda");
    }
}
