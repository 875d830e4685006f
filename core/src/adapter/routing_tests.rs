use serde_json::json;

use super::*;
use crate::wire::{EditMessage, GetChatInfo, RawAction, SendMessage, SessionSource, Typing};

fn inbound(
    platform: Platform,
    chat: &str,
    scope: Option<&str>,
    user: &str,
    profile: Option<&str>,
) -> MessageEvent {
    let mut source = SessionSource::new(platform, chat, "group");
    source.scope_id = scope.map(str::to_owned);
    source.user_id = Some(user.to_owned());
    source.profile = profile.map(str::to_owned);
    MessageEvent::text(source, "hi")
}

fn identities() -> Vec<Identity> {
    vec![Identity::new("discord", "B1"), Identity::new("Slack", "S1"), Identity::new("discord", "B2")]
}

fn send(chat: &str) -> OutboundRequest {
    OutboundAction::Send(SendMessage::new(chat, "x")).into()
}

fn metadata_of(action: &OutboundAction) -> Option<Object> {
    let value = serde_json::to_value(action).unwrap();
    value.get("metadata").and_then(Value::as_object).cloned()
}

#[test]
fn fills_metadata_and_identity_for_every_op_shape() {
    let mut router = ReplyRouter::new(identities());
    router.observe(&inbound(Platform::Discord, "c1", Some("g1"), "u1", Some("reviewer")));
    let expected = json!({"scope_id": "g1", "user_id": "u1", "profile": "reviewer"});
    let actions = [
        OutboundAction::Send(SendMessage::new("c1", "x")),
        OutboundAction::Edit(EditMessage {
            chat_id: "c1".into(),
            message_id: "m".into(),
            content: "x".into(),
            ..Default::default()
        }),
        OutboundAction::Typing(Typing { chat_id: "c1".into(), ..Default::default() }),
        serde_json::from_value(json!({"op": "react", "chat_id": "c1", "message_id": "m", "emoji": "👍"}))
            .unwrap(),
        serde_json::from_value(
            json!({"op": "draft", "chat_id": "c1", "draft_id": 1, "content": "", "final": true}),
        )
        .unwrap(),
        OutboundAction::Other(RawAction {
            op: "pin".into(),
            fields: json!({"chat_id": "c1"}).as_object().unwrap().clone(),
        }),
        OutboundAction::Other(RawAction {
            op: "pin".into(),
            fields: json!({"chat_id": "c1", "metadata": null}).as_object().unwrap().clone(),
        }),
    ];
    for action in actions {
        let op = action.op().to_owned();
        let routed = router.route(action.into());
        assert_eq!(routed.identity, Some(Identity::new("discord", "B1")), "{op}: first discord identity");
        assert_eq!(metadata_of(&routed.action).map(Value::Object), Some(expected.clone()), "{op}");
    }
}

#[test]
fn never_overwrites_what_the_caller_set() {
    let mut router = ReplyRouter::new(identities());
    router.observe(&inbound(Platform::Discord, "c1", Some("g1"), "u1", Some("p")));
    let mut message = SendMessage::new("c1", "x");
    message.metadata.insert("scope_id".into(), json!("mine"));
    message.metadata.insert("profile".into(), Value::Null);
    message.metadata.insert("other".into(), json!(1));
    let request =
        OutboundRequest::from(OutboundAction::Send(message)).for_identity(Identity::new("discord", "B2"));
    let routed = router.route(request);
    assert_eq!(routed.identity, Some(Identity::new("discord", "B2")));
    assert_eq!(
        metadata_of(&routed.action).map(Value::Object),
        Some(json!({"scope_id": "mine", "profile": null, "other": 1, "user_id": "u1"}))
    );
    // A non-object metadata of an unknown op is left alone.
    let raw = RawAction {
        op: "pin".into(),
        fields: json!({"chat_id": "c1", "metadata": "x"}).as_object().unwrap().clone(),
    };
    let routed = router.route(OutboundAction::Other(raw.clone()).into());
    assert_eq!(routed.action, OutboundAction::Other(raw));
    assert_eq!(routed.identity, Some(Identity::new("discord", "B1")));
}

#[test]
fn only_known_values_are_added() {
    let mut router = ReplyRouter::new(Vec::new());
    let mut event = inbound(Platform::Telegram, "42", None, "", None);
    event.source.user_id = None;
    router.observe(&event);
    assert!(router.lookup(Platform::Telegram, "42").is_some());
    // Nothing known: an optional metadata stays absent, and no identity serves telegram.
    let typing: OutboundRequest =
        OutboundAction::Typing(Typing { chat_id: "42".into(), ..Default::default() }).into();
    assert_eq!(router.route(typing.clone()), typing);
    router.observe(&inbound(Platform::Telegram, "42", Some(""), "u7", Some("")));
    let routed = router.route(send("42"));
    assert_eq!(metadata_of(&routed.action).map(Value::Object), Some(json!({"user_id": "u7"})));
    assert_eq!(routed.identity, None);
}

#[test]
fn unknown_chats_untargeted_ops_and_ambiguous_chats_pass_unchanged() {
    let mut router = ReplyRouter::new(identities());
    router.observe(&inbound(Platform::Discord, "shared", Some("g"), "u1", None));
    router.observe(&inbound(Platform::Slack, "shared", Some("T"), "u2", None));
    for request in [
        send("unknown"),
        send("shared"),
        OutboundAction::GetChatInfo(GetChatInfo { chat_id: "other".into(), ..Default::default() }).into(),
        serde_json::from_value::<OutboundAction>(
            json!({"op": "follow_up", "session_key": "k", "kind": "k", "content": ""}),
        )
        .unwrap()
        .into(),
    ] {
        assert_eq!(router.route(request.clone()), request);
    }
    // A tag picks the platform; the identity's platform name is read like the wire's.
    let routed = router.route(send("shared").for_identity(Identity::new("Slack", "S1")));
    assert_eq!(metadata_of(&routed.action).unwrap()["scope_id"], "T");
    let routed = router.route(send("shared").for_identity(Identity::new("discord", "B2")));
    assert_eq!(metadata_of(&routed.action).unwrap()["user_id"], "u1");
    assert_eq!(routed.identity, Some(Identity::new("discord", "B2")));
}

#[test]
fn get_chat_info_gets_an_identity_but_no_metadata() {
    let mut router = ReplyRouter::new(identities());
    router.observe(&inbound(Platform::Slack, "C1", Some("T1"), "U1", None));
    let request: OutboundRequest =
        OutboundAction::GetChatInfo(GetChatInfo { chat_id: "C1".into(), ..Default::default() }).into();
    let routed = router.route(request);
    assert_eq!(routed.identity, Some(Identity::new("Slack", "S1")));
    assert_eq!(metadata_of(&routed.action), None);
}

#[test]
fn latest_event_wins_and_empty_chats_are_ignored() {
    let mut router = ReplyRouter::new(Vec::new());
    router.observe(&inbound(Platform::Discord, "c", Some("g"), "u1", Some("a")));
    router.observe(&inbound(Platform::Discord, "c", Some("g"), "u2", None));
    let route = router.lookup(Platform::Discord, "c").unwrap();
    assert_eq!((route.user_id.as_deref(), route.profile.as_deref()), (Some("u2"), None));
    router.observe(&inbound(Platform::Discord, "", Some("g"), "u3", None));
    assert_eq!(router.len(), 1);
}

#[test]
fn lru_evicts_the_least_recently_observed_chat() {
    let mut router = ReplyRouter::with_capacity(Vec::new(), 3);
    for chat in ["a", "b", "c"] {
        router.observe(&inbound(Platform::Discord, chat, None, "u", None));
    }
    // Refresh "a": "b" is now the least recently used.
    router.observe(&inbound(Platform::Discord, "a", None, "u", None));
    // Routing is not a use.
    let _ = router.route(send("b"));
    router.observe(&inbound(Platform::Discord, "d", None, "u", None));
    assert_eq!(router.len(), 3);
    assert!(router.lookup(Platform::Discord, "b").is_none(), "b evicted");
    for chat in ["a", "c", "d"] {
        assert!(router.lookup(Platform::Discord, chat).is_some(), "{chat} kept");
    }
    // Same chat id on two platforms: two entries, evicted separately.
    router.observe(&inbound(Platform::Slack, "a", None, "u", None));
    assert!(router.lookup(Platform::Discord, "c").is_none(), "c evicted");
    assert!(router.lookup(Platform::Discord, "a").is_some() && router.lookup(Platform::Slack, "a").is_some());
    for i in 0..100 {
        router.observe(&inbound(Platform::Line, &i.to_string(), None, "u", None));
    }
    assert_eq!(router.len(), 3);
    assert!(router.lookup(Platform::Line, "99").is_some() && router.lookup(Platform::Line, "96").is_none());
    assert_eq!(router.chats.values().map(BTreeMap::len).sum::<usize>(), 3, "no stale map entries");
}

#[test]
fn default_capacity() {
    let router = ReplyRouter::new(Vec::new());
    assert_eq!((router.capacity(), router.len(), router.is_empty()), (4096, 0, true));
}

#[test]
fn lru_matches_a_model() {
    // Chats drawn from a small set on two platforms, so refreshes and evictions both happen.
    fn prop(observations: Vec<(u8, bool)>, capacity: u8) -> bool {
        let capacity = usize::from(capacity % 6).max(1);
        let mut router = ReplyRouter::with_capacity(Vec::new(), capacity);
        let mut model: Vec<(Platform, String)> = Vec::new(); // least recent first
        for (chat, slack) in observations {
            let platform = if slack { Platform::Slack } else { Platform::Discord };
            let chat = (chat % 7).to_string();
            router.observe(&inbound(platform, &chat, None, "u", None));
            model.retain(|entry| *entry != (platform, chat.clone()));
            model.push((platform, chat));
            if model.len() > capacity {
                model.remove(0);
            }
        }
        let remembered = (0..7).flat_map(|c| [(Platform::Discord, c), (Platform::Slack, c)]).all(|(p, c)| {
            let chat = c.to_string();
            router.lookup(p, &chat).is_some() == model.contains(&(p, chat))
        });
        remembered && router.len() == model.len() && router.recency.len() == model.len()
    }
    quickcheck::quickcheck(prop as fn(Vec<(u8, bool)>, u8) -> bool);
}
