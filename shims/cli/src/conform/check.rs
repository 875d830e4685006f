//! One entry of a mode's check table, and choosing entries with `--only`.

use crate::stdio::Failure;

/// A rule of the protocol that a mode checks.
///
/// `J` is how the mode decides it: an async probe for `connector`, a
/// judgement over the session transcript for `gateway`.
#[derive(Debug)]
pub(crate) struct Check<J> {
    /// The name printed and accepted by `--only` (snake_case, stable: other
    /// programs match on it).
    pub(crate) name: &'static str,
    /// The PROTOCOL section the rule comes from, e.g. `§8`.
    pub(crate) section: &'static str,
    /// What passes, in one sentence (for `CLI.md` and the table's readers).
    pub(crate) passes: &'static str,
    /// What decides the verdict.
    pub(crate) judge: J,
}

/// The entries of `table` named in `only`, in table order; all of them when
/// `only` is empty. An unknown name is a usage problem naming every check.
pub(crate) fn select<'a, J>(table: &'a [Check<J>], only: &[String]) -> Result<Vec<&'a Check<J>>, Failure> {
    if let Some(unknown) = only.iter().find(|name| !table.iter().any(|c| c.name == name.trim())) {
        let names: Vec<&str> = table.iter().map(|c| c.name).collect();
        return Err(Failure::Usage(format!(
            "unknown check {unknown:?} in --only; the checks are: {}",
            names.join(", ")
        )));
    }
    Ok(table.iter().filter(|c| only.is_empty() || only.iter().any(|name| name.trim() == c.name)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: [Check<()>; 3] = [
        Check { name: "a", section: "§1", passes: "", judge: () },
        Check { name: "b", section: "§2", passes: "", judge: () },
        Check { name: "c", section: "§3", passes: "", judge: () },
    ];

    fn names(only: &[&str]) -> Vec<&'static str> {
        let only: Vec<String> = only.iter().map(|s| (*s).to_owned()).collect();
        select(&TABLE, &only).unwrap().iter().map(|c| c.name).collect()
    }

    #[test]
    fn empty_selects_all_in_table_order() {
        assert_eq!(names(&[]), ["a", "b", "c"]);
        assert_eq!(names(&["c", " a"]), ["a", "c"]);
    }

    #[test]
    fn unknown_name_lists_the_checks() {
        let Err(Failure::Usage(message)) = select(&TABLE, &["x".to_owned()]) else { panic!("accepted x") };
        assert!(message.contains("\"x\"") && message.contains("a, b, c"), "{message}");
    }
}
