//! `--reply`: how `relay serve` answers `outbound` requests.

use relay_core::connector::echo_result;
use relay_core::wire::{ActionResult, OutboundAction};

/// The error text of `--reply fail`.
pub(crate) const FAIL_ERROR: &str = "refused by relay serve";
/// The error code of `--reply fail`.
pub(crate) const FAIL_CODE: &str = "refused";

/// How requests are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Reply {
    /// `{"success":true,"message_id":"srv-<op>"}`; `get_chat_info` gets
    /// `{"success":true,"chat_info":{"name":"<chat_id>","type":"group"}}`.
    Echo,
    /// `{"success":false,"error":"refused by relay serve","code":"refused"}`.
    Fail,
    /// No answer at all (the gateway's request timeout decides).
    Silent,
}

impl Reply {
    /// The result to send for `action`, if any.
    pub(crate) fn answer(self, action: &OutboundAction) -> Option<ActionResult> {
        match self {
            Self::Echo => Some(echo_result(action)),
            Self::Fail => {
                let mut result = ActionResult::failed(FAIL_ERROR);
                result.code = Some(FAIL_CODE.to_owned());
                Some(result)
            }
            Self::Silent => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use relay_core::wire::{GetChatInfo, SendMessage};

    use super::*;

    fn json(result: Option<ActionResult>) -> String {
        serde_json::to_string(&result.expect("an answer")).expect("results serialize")
    }

    #[test]
    fn answers_match_the_contract() {
        let send = OutboundAction::Send(SendMessage::new("c1", "hi"));
        let info =
            OutboundAction::GetChatInfo(GetChatInfo { chat_id: "c1".into(), ..GetChatInfo::default() });
        assert_eq!(json(Reply::Echo.answer(&send)), r#"{"success":true,"message_id":"srv-send"}"#);
        assert_eq!(
            json(Reply::Echo.answer(&info)),
            r#"{"success":true,"chat_info":{"name":"c1","type":"group"}}"#
        );
        assert_eq!(
            json(Reply::Fail.answer(&send)),
            r#"{"success":false,"error":"refused by relay serve","code":"refused"}"#
        );
        assert_eq!(Reply::Silent.answer(&send), None);
    }
}
