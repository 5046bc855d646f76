//! Network failures said in words people use: what the screens show for an error's text.

/// What `reason` (an error's text) means to a person who just lost the host.
pub fn plain_reason(reason: &str) -> String {
    let lower = reason.to_lowercase();
    let said = if lower.contains("refused") {
        "The host is not answering — it may have stopped"
    } else if lower.contains("timed out") || lower.contains("deadline") {
        "The host did not answer in time — it may be busy or out of reach"
    } else if lower.contains("unreachable") || lower.contains("no route") {
        "The host's network cannot be reached — check your connection"
    } else if lower.contains("reset")
        || lower.contains("broke")
        || lower.contains("broken pipe")
        || lower.contains("closed")
        || lower.contains("eof")
        || lower.contains("lost")
    {
        "The connection to the host was cut"
    } else {
        return reason.to_owned();
    };
    said.to_owned()
}

/// What the start screen says when joining failed with `reason`: in words first, then the
/// details for whoever helps.
pub fn failed_to_join(reason: &str) -> String {
    let plain = plain_reason(reason);
    if plain == reason {
        reason.to_owned()
    } else {
        format!("{plain}. Check the address, and that the host is running. ({reason})")
    }
}
