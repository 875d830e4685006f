//! Prompt tokens: the compact string a button carries so that a click can be
//! mapped back to the prompt and option it answers.
//!
//! Format: `hp1:<prompt_id>:<option_id>`. The `hp1` prefix versions the format
//! so a later layout can coexist with buttons already posted. Ids are limited
//! to `[A-Za-z0-9_.-]` (so the `:` separator can never appear inside one and
//! the token survives every platform's button payload unescaped), 1 to 32
//! characters each, and the whole token to 64 bytes: the smallest button
//! payload among the supported platforms (Telegram's `callback_data`) holds
//! 64 bytes, and Discord's `custom_id` holds 100 characters.

use std::fmt;

/// The version prefix every prompt token starts with.
pub const PROMPT_TOKEN_PREFIX: &str = "hp1";

/// Longest prompt id or option id, in characters (all ASCII, so also bytes).
pub const MAX_PROMPT_ID_LEN: usize = 32;

/// Longest whole token, in bytes.
pub const MAX_PROMPT_TOKEN_LEN: usize = 64;

/// Which id of a token a [`PromptTokenError`] is about.
///
/// ```
/// use relay_core::adapter::TokenPart;
/// assert_eq!(TokenPart::PromptId.to_string(), "prompt id");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPart {
    /// The prompt id.
    PromptId,
    /// The option id.
    OptionId,
}

impl fmt::Display for TokenPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PromptId => "prompt id",
            Self::OptionId => "option id",
        })
    }
}

/// Why [`mint_prompt_token`] refused its ids.
///
/// ```
/// use relay_core::adapter::{mint_prompt_token, PromptTokenError, TokenPart};
/// assert_eq!(mint_prompt_token("", "yes"), Err(PromptTokenError::Empty(TokenPart::PromptId)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PromptTokenError {
    /// The id is empty.
    #[error("the {0} of a prompt token is empty")]
    Empty(TokenPart),
    /// The id is longer than [`MAX_PROMPT_ID_LEN`] characters.
    #[error("the {part} of a prompt token has {len} characters, at most {max} are allowed", max = MAX_PROMPT_ID_LEN)]
    IdTooLong {
        /// Which id.
        part: TokenPart,
        /// Its length in characters.
        len: usize,
    },
    /// The id holds a character outside `[A-Za-z0-9_.-]`.
    #[error(
        "the {part} of a prompt token contains {found:?}: only A-Z, a-z, 0-9, '_', '.' and '-' are allowed"
    )]
    BadChar {
        /// Which id.
        part: TokenPart,
        /// The first offending character.
        found: char,
    },
    /// Both ids are valid but the token would exceed [`MAX_PROMPT_TOKEN_LEN`] bytes.
    #[error("the prompt token would be {len} bytes, at most {max} are allowed", max = MAX_PROMPT_TOKEN_LEN)]
    TokenTooLong {
        /// The length the token would have.
        len: usize,
    },
}

/// Builds the token `hp1:<prompt_id>:<option_id>` for a button.
///
/// ```
/// use relay_core::adapter::{mint_prompt_token, parse_prompt_token};
///
/// let token = mint_prompt_token("p-42", "approve").unwrap();
/// assert_eq!(token, "hp1:p-42:approve");
/// assert_eq!(parse_prompt_token(&token), Some(("p-42".to_owned(), "approve".to_owned())));
/// assert!(mint_prompt_token("p:1", "x").is_err());
/// ```
///
/// # Errors
///
/// An id that is empty, longer than 32 characters or has a character outside
/// `[A-Za-z0-9_.-]`, or ids that together make a token over 64 bytes.
pub fn mint_prompt_token(prompt_id: &str, option_id: &str) -> Result<String, PromptTokenError> {
    check_id(prompt_id, TokenPart::PromptId)?;
    check_id(option_id, TokenPart::OptionId)?;
    let len = PROMPT_TOKEN_PREFIX.len() + 2 + prompt_id.len() + option_id.len();
    if len > MAX_PROMPT_TOKEN_LEN {
        return Err(PromptTokenError::TokenTooLong { len });
    }
    Ok(format!("{PROMPT_TOKEN_PREFIX}:{prompt_id}:{option_id}"))
}

/// Reads a token back into `(prompt_id, option_id)`, or `None` when `token` is
/// not exactly a token [`mint_prompt_token`] could have produced.
///
/// Parsing is strict on purpose: button payloads are also used for other
/// things, and a lenient parser would turn those into prompt answers.
///
/// ```
/// use relay_core::adapter::parse_prompt_token;
///
/// assert_eq!(parse_prompt_token("hp1:p1:no"), Some(("p1".to_owned(), "no".to_owned())));
/// assert_eq!(parse_prompt_token("hp2:p1:no"), None);
/// assert_eq!(parse_prompt_token("hp1:p1:no:extra"), None);
/// assert_eq!(parse_prompt_token("HP1:p1:no"), None);
/// ```
pub fn parse_prompt_token(token: &str) -> Option<(String, String)> {
    if token.len() > MAX_PROMPT_TOKEN_LEN {
        return None;
    }
    let mut parts = token.split(':');
    let (prefix, prompt_id, option_id) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || prefix != PROMPT_TOKEN_PREFIX {
        return None;
    }
    check_id(prompt_id, TokenPart::PromptId).ok()?;
    check_id(option_id, TokenPart::OptionId).ok()?;
    Some((prompt_id.to_owned(), option_id.to_owned()))
}

fn check_id(id: &str, part: TokenPart) -> Result<(), PromptTokenError> {
    if let Some(found) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))) {
        return Err(PromptTokenError::BadChar { part, found });
    }
    // Only ASCII is left, so the byte length is the character count.
    match id.len() {
        0 => Err(PromptTokenError::Empty(part)),
        len if len > MAX_PROMPT_ID_LEN => Err(PromptTokenError::IdTooLong { part, len }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mint_and_parse_round_trip() {
        let (id32, id27) = ("a".repeat(32), "x".repeat(27));
        let cases = [
            ("p", "o"),
            ("A-z_0.9", "opt-1"),
            (id32.as_str(), id27.as_str()), // exactly 64 bytes
            ("...", "---"),
        ];
        for (prompt, option) in cases {
            let token = mint_prompt_token(prompt, option).unwrap();
            assert!(token.len() <= MAX_PROMPT_TOKEN_LEN, "{token}");
            assert_eq!(token, format!("hp1:{prompt}:{option}"));
            assert_eq!(parse_prompt_token(&token), Some((prompt.to_owned(), option.to_owned())));
        }
    }

    #[test]
    fn mint_refuses_bad_ids() {
        let id33 = "b".repeat(33);
        let cases: [(&str, &str, PromptTokenError); 7] = [
            ("", "o", PromptTokenError::Empty(TokenPart::PromptId)),
            ("p", "", PromptTokenError::Empty(TokenPart::OptionId)),
            (&id33, "o", PromptTokenError::IdTooLong { part: TokenPart::PromptId, len: 33 }),
            ("p", &id33, PromptTokenError::IdTooLong { part: TokenPart::OptionId, len: 33 }),
            ("p:q", "o", PromptTokenError::BadChar { part: TokenPart::PromptId, found: ':' }),
            ("p", "ö", PromptTokenError::BadChar { part: TokenPart::OptionId, found: 'ö' }),
            ("p q", "o", PromptTokenError::BadChar { part: TokenPart::PromptId, found: ' ' }),
        ];
        for (prompt, option, expected) in cases {
            assert_eq!(mint_prompt_token(prompt, option), Err(expected), "{prompt:?} {option:?}");
        }
    }

    #[test]
    fn mint_refuses_tokens_over_64_bytes() {
        let id32 = "c".repeat(32);
        // 4 + 32 + 1 + 28 = 65 bytes, both ids individually fine.
        let err = mint_prompt_token(&id32, &"d".repeat(28)).unwrap_err();
        assert_eq!(err, PromptTokenError::TokenTooLong { len: 65 });
        assert!(mint_prompt_token(&id32, &id32).is_err());
        assert!(mint_prompt_token(&id32, &"d".repeat(27)).is_ok());
    }

    #[test]
    fn parse_is_strict() {
        let id33 = format!("hp1:{}:o", "e".repeat(33));
        let too_long = format!("hp1:{}:{}", "f".repeat(32), "g".repeat(28));
        for token in [
            "",
            "hp1",
            "hp1:",
            "hp1:p",
            "hp1:p:",
            "hp1::o",
            ":p:o",
            "hp1:p:o:",
            "hp1:p:o:x",
            "hp0:p:o",
            "Hp1:p:o",
            " hp1:p:o",
            "hp1:p:o ",
            "hp1:p/q:o",
            "hp1:p:ö",
            id33.as_str(),
            too_long.as_str(),
        ] {
            assert_eq!(parse_prompt_token(token), None, "{token:?}");
        }
    }

    #[test]
    fn errors_read_as_one_sentence() {
        let err = mint_prompt_token("p", &"h".repeat(40)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the option id of a prompt token has 40 characters, at most 32 are allowed"
        );
    }

    #[test]
    fn mint_and_parse_are_inverse_on_any_input() {
        fn prop(prompt: String, option: String, junk: String) -> bool {
            let minted = mint_prompt_token(&prompt, &option);
            let round_trips =
                minted.as_ref().map_or(true, |t| parse_prompt_token(t) == Some((prompt, option)));
            // Whatever parses is exactly what minting those ids gives back.
            let parsed_is_canonical = parse_prompt_token(&junk)
                .is_none_or(|(p, o)| mint_prompt_token(&p, &o).as_deref() == Ok(junk.as_str()));
            round_trips && parsed_is_canonical
        }
        quickcheck::quickcheck(prop as fn(String, String, String) -> bool);
    }
}
