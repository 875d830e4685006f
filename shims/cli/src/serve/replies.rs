//! `--reply`: how `relay serve` answers `outbound` requests.

use relay_core::connector::echo_result;
use relay_core::wire::{ActionResult, Descriptor, OutboundAction};

/// The error text of `--reply fail`.
pub(crate) const FAIL_ERROR: &str = "refused by relay serve";
/// The error code of `--reply fail`.
pub(crate) const FAIL_CODE: &str = "refused";
/// The error code of an op the identity's descriptor does not allow.
pub(crate) const UNSUPPORTED_CODE: &str = "unsupported_op";

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
    /// The result to send for `action`, if any. An op the identity's
    /// `descriptor` does not allow is refused, as a connector must: a
    /// descriptor names every op accepted (PROTOCOL §3).
    pub(crate) fn answer(
        self,
        action: &OutboundAction,
        descriptor: Option<&Descriptor>,
    ) -> Option<ActionResult> {
        match self {
            Self::Echo if descriptor.is_some_and(|d| !d.allows_op(action.op())) => {
                let mut result =
                    ActionResult::failed(format!("op not supported by relay serve: {}", action.op()));
                result.code = Some(UNSUPPORTED_CODE.to_owned());
                Some(result)
            }
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
        assert_eq!(json(Reply::Echo.answer(&send, None)), r#"{"success":true,"message_id":"srv-send"}"#);
        assert_eq!(
            json(Reply::Echo.answer(&info, None)),
            r#"{"success":true,"chat_info":{"name":"c1","type":"group"}}"#
        );
        assert_eq!(
            json(Reply::Fail.answer(&send, None)),
            r#"{"success":false,"error":"refused by relay serve","code":"refused"}"#
        );
        assert_eq!(Reply::Silent.answer(&send, None), None);
    }

    #[test]
    fn echo_refuses_ops_the_descriptor_does_not_allow() {
        let mut discord = Descriptor::new("discord", "Discord");
        discord.supported_ops = vec!["react".into(), "send_media".into()];
        let send = OutboundAction::Send(SendMessage::new("c1", "hi"));
        assert_eq!(
            json(Reply::Echo.answer(&send, Some(&discord))),
            r#"{"success":false,"error":"op not supported by relay serve: send","code":"unsupported_op"}"#
        );
        discord.supported_ops.push("send".into());
        assert_eq!(
            json(Reply::Echo.answer(&send, Some(&discord))),
            r#"{"success":true,"message_id":"srv-send"}"#
        );
    }
}
