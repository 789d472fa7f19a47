//! Target names: the rules a name must follow, because it names files in the store and logs.

/// The most characters a target name may have (it names files in the store and logs).
pub const MAX_NAME_LENGTH: usize = 200;

/// The rules for names, as the help of a rejected name states them.
pub const NAME_RULES: &str = "names use ASCII letters, digits and `_ - . + =`, do not start with `.` or `-`, and have at most 200 characters";

/// Whether `name` is usable as a target name (it names files in the store and logs).
pub fn valid_name(name: &str) -> bool {
    name_problem(name).is_none()
}

/// Which rule `name` breaks, if any.
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    let length = name.chars().count();
    if length > MAX_NAME_LENGTH {
        return Some(format!(
            "it has {length} characters, more than {MAX_NAME_LENGTH}"
        ));
    }
    if name.starts_with(['.', '-']) {
        return Some(format!("it starts with `{}`", &name[..1]));
    }
    let bad: String = name
        .chars()
        .filter(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | '=')))
        .fold(String::new(), |mut bad, c| {
            if !bad.contains(c) {
                bad.push(c);
            }
            bad
        });
    if bad.is_empty() {
        return None;
    }
    let listed: Vec<String> = bad
        .chars()
        .map(|c| format!("`{}`", c.escape_debug()))
        .collect();
    Some(format!(
        "it contains {} (only ASCII letters and digits and `_ - . + =` are allowed)",
        listed.join(", ")
    ))
}
