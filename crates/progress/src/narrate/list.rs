//! Grammatical lists: "a", "a and b", "a, b and c", shared verbs, repeats, "and 3 other things".

use crate::narrate::phrasebook::Phrasebook;

/// Which link ends a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// Things done or to do: "and".
    And,
    /// Things not done: "or" ("I couldn't a or b").
    Or,
}

/// Joins items: "a", "a and b", "a, b and c" (with the phrasebook's words). `serial` forces the
/// separator before the last link ("a, b, and c").
pub(crate) fn join(book: &Phrasebook, items: &[String], link: Link, serial: bool) -> String {
    let word = match link {
        Link::And => &book.and,
        Link::Or => &book.or,
    };
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] if !serial => format!("{a} {word} {b}"),
        [a, b] => format!("{a}{} {word} {b}", book.separator.trim_end()),
        [init @ .., last] => {
            let head = init.join(&book.separator);
            if serial || book.serial_comma {
                format!("{head}{} {word} {last}", book.separator.trim_end())
            } else {
                format!("{head} {word} {last}")
            }
        }
    }
}

/// Phrases in first-seen order, each with how many times it came: "search the web twice".
pub(crate) fn count_repeats(book: &Phrasebook, phrases: &[&str]) -> Vec<String> {
    let mut counted: Vec<(&str, usize)> = Vec::new();
    for &phrase in phrases {
        match counted.iter_mut().find(|(p, _)| *p == phrase) {
            Some((_, n)) => *n += 1,
            None => counted.push((phrase, 1)),
        }
    }
    counted
        .into_iter()
        .map(|(phrase, n)| match n {
            1 => phrase.to_owned(),
            2 => format!("{phrase} {}", book.twice),
            n => format!("{phrase} {}", book.times.fill(&n.to_string())),
        })
        .collect()
}

/// Phrases without repeats, in first-seen order.
pub(crate) fn dedup(phrases: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for &phrase in phrases {
        if !out.iter().any(|p| p == phrase) {
            out.push(phrase.to_owned());
        }
    }
    out
}

/// A list of phrases, spoken: repeats merged (counted when `count`), phrases sharing leading
/// words merged ("check your calendar and CRM records"), at most `max_items` named and the rest
/// counted ("and 3 other things").
pub(crate) fn speak(
    book: &Phrasebook,
    phrases: &[&str],
    link: Link,
    count: bool,
    max_items: usize,
) -> String {
    let items = if count {
        count_repeats(book, phrases)
    } else {
        dedup(phrases)
    };
    // Cut first, so that merged items count one by one.
    let max_items = max_items.max(1);
    let (mut items, others) = if items.len() > max_items {
        let kept = (max_items - 1).max(1);
        let others = items.len() - kept;
        (items.into_iter().take(kept).collect(), others)
    } else {
        (items, 0)
    };
    let mut nested = false;
    if book.factor_verbs {
        (items, nested) = factor(book, items, link);
    }
    if others > 0 {
        items.push(book.others.fill(&others.to_string()));
    }
    join(book, &items, link, nested)
}

/// Merges items that start with the same word into one, sharing their longest common leading
/// words. Returns the items and whether any was merged (an item then holds a link itself, so the
/// outer list needs the separator before its last link to stay unambiguous).
fn factor(book: &Phrasebook, items: Vec<String>, link: Link) -> (Vec<String>, bool) {
    // Groups by first word, in order of first appearance.
    let mut groups: Vec<Vec<String>> = Vec::new();
    for item in items {
        let first = item.split(' ').next().unwrap_or("").to_owned();
        match groups
            .iter_mut()
            .find(|g| g[0].split(' ').next() == Some(first.as_str()))
        {
            Some(group) => group.push(item),
            None => groups.push(vec![item]),
        }
    }
    let mut nested = false;
    let out = groups
        .into_iter()
        .map(|group| {
            if group.len() < 2 {
                return group.into_iter().next().unwrap_or_default();
            }
            nested = true;
            let words: Vec<Vec<&str>> = group.iter().map(|g| g.split(' ').collect()).collect();
            let shortest = words.iter().map(Vec::len).min().unwrap_or(0);
            let mut shared = 0;
            while shared < shortest && words.iter().all(|w| w[shared] == words[0][shared]) {
                shared += 1;
            }
            // Every item keeps words of its own: "check mail" and "check mail twice" stay apart.
            if shared == shortest {
                return join(book, &group, link, false);
            }
            let rests: Vec<String> = words.iter().map(|w| w[shared..].join(" ")).collect();
            format!(
                "{} {}",
                words[0][..shared].join(" "),
                join(book, &rests, link, false)
            )
        })
        .collect();
    (out, nested)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn joins_one_two_three_and_more() {
        let book = Phrasebook::english();
        let serial = Phrasebook::builder().serial_comma(true).build().unwrap();
        for (items, link, plain, with_serial) in [
            (&[][..], Link::And, "", ""),
            (&["a"][..], Link::And, "a", "a"),
            (&["a", "b"][..], Link::And, "a and b", "a and b"),
            (&["a", "b"][..], Link::Or, "a or b", "a or b"),
            (&["a", "b", "c"][..], Link::And, "a, b and c", "a, b, and c"),
            (
                &["a", "b", "c", "d"][..],
                Link::Or,
                "a, b, c or d",
                "a, b, c, or d",
            ),
        ] {
            assert_eq!(join(&book, &strings(items), link, false), plain);
            assert_eq!(join(&serial, &strings(items), link, false), with_serial);
        }
        assert_eq!(
            join(&book, &strings(&["a and b", "c"]), Link::And, true),
            "a and b, and c"
        );
    }

    #[test]
    fn speaks_lists_with_repeats_shared_verbs_and_limits() {
        let book = Phrasebook::english();
        let plain = Phrasebook::builder().factor_verbs(false).build().unwrap();
        for (phrases, count, max, expected) in [
            (&["check your calendar"][..], true, 4, "check your calendar"),
            (
                &["check your calendar", "check your CRM records"][..],
                true,
                4,
                "check your calendar and CRM records",
            ),
            (
                &[
                    "check your calendar",
                    "search your contacts",
                    "get the weather",
                ][..],
                true,
                4,
                "check your calendar, search your contacts and get the weather",
            ),
            (
                &[
                    "check your calendar",
                    "get the weather",
                    "check your CRM records",
                ][..],
                true,
                4,
                "check your calendar and CRM records, and get the weather",
            ),
            (
                &["search the web", "search the web"][..],
                true,
                4,
                "search the web twice",
            ),
            (
                &[
                    "search the web",
                    "search the web",
                    "search the web",
                    "get the weather",
                ][..],
                true,
                4,
                "search the web 3 times and get the weather",
            ),
            (
                &["search the web", "search the web"][..],
                false,
                4,
                "search the web",
            ),
            (
                &["check mail", "check mail twice"][..],
                false,
                4,
                "check mail and check mail twice",
            ),
            (
                &["a x", "b x", "c x", "d x", "e x", "f x"][..],
                true,
                4,
                "a x, b x, c x and 3 other things",
            ),
            (
                &["a x", "b x", "c x"][..],
                true,
                1,
                "a x and 2 other things",
            ),
        ] {
            assert_eq!(
                speak(&book, phrases, Link::And, count, max),
                expected,
                "{phrases:?}"
            );
        }
        assert_eq!(
            speak(
                &plain,
                &["check your calendar", "check your CRM records"],
                Link::And,
                true,
                4
            ),
            "check your calendar and check your CRM records"
        );
    }
}
