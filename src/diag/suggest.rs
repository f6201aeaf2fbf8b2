//! "Did you mean …": the closest known name to a misspelt one.

/// The candidate closest to `name`, if one is close enough to be a likely typo.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let c_lower = c.to_lowercase();
        let distance = strsim::damerau_levenshtein(&lower, &c_lower);
        let longest = lower.chars().count().max(c_lower.chars().count()).max(1);
        // One edit in a short name, about a third of a long one; or one name inside the other.
        let close = distance <= ((longest + 1) / 3).max(1)
            || (lower.len() >= 3 && (c_lower.starts_with(&lower) || lower.starts_with(&c_lower)));
        if !close {
            continue;
        }
        let score = strsim::normalized_damerau_levenshtein(&lower, &c_lower);
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// `did you mean `x`?` for the closest candidate, if any.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    suggest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::suggest;

    #[test]
    fn finds_typos_and_ignores_strangers() {
        let names = ["invoice_due", "invoice_status", "paid_at", "amount"];
        assert_eq!(suggest("invoce_due", names), Some("invoice_due"));
        assert_eq!(suggest("invoice_stauts", names), Some("invoice_status"));
        assert_eq!(suggest("ammount", names), Some("amount"));
        assert_eq!(suggest("colour", names), None);
        assert_eq!(suggest("payed", ["called", "paid", "lost"]), Some("paid"));
        assert_eq!(suggest("sales", ["designer", "ceo"]), None);
        assert_eq!(suggest("Лид", ["лид", "встреча"]), Some("лид"));
    }
}
