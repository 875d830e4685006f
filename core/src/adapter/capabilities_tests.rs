use super::*;
use crate::wire::Descriptor;

/// Descriptors shaped like the ones real connectors send.
fn discord() -> Descriptor {
    let mut d = Descriptor::new("discord", "Discord");
    d.max_message_length = 2000;
    d.markdown_dialect = "discord".into();
    d.supports_edit = true;
    d.supports_threads = true;
    d.supported_ops = vec!["react".into(), "thread_create".into(), "prompt".into()];
    d
}

fn telegram() -> Descriptor {
    let mut d = Descriptor::new("telegram", "Telegram");
    d.max_message_length = 4096;
    d.len_unit = LenUnit::Utf16;
    d.markdown_dialect = "markdown_v2".into();
    d.supports_draft_streaming = true;
    d.supported_ops = vec!["draft".into(), "send_media".into()];
    d
}

fn slack() -> Descriptor {
    let mut d = Descriptor::new("slack", "Slack");
    d.max_message_length = 40000;
    d.markdown_dialect = "slack".into();
    d.supports_draft_streaming = true; // flag without the op: no drafts
    d
}

fn plain() -> Descriptor {
    let mut d = Descriptor::new("sms", "SMS");
    d.max_message_length = 160;
    d.supported_ops = vec!["draft".into()]; // op without the flag: no drafts
    d
}

#[test]
fn views_of_platform_descriptors() {
    // (descriptor, max, len of "😀", code blocks, draft streaming)
    let cases = [
        (discord(), 2000, 1, true, false),
        (telegram(), 4096, 2, true, true),
        (slack(), 40000, 1, true, false),
        (plain(), 160, 1, false, false),
    ];
    for (d, max, emoji_len, code, draft) in cases {
        let name = d.platform.clone();
        let caps = Capabilities::new(d);
        assert_eq!(caps.max_message_length(), max, "{name}");
        assert_eq!(caps.len("😀"), emoji_len, "{name}");
        assert_eq!(caps.supports_code_blocks(), code, "{name}");
        assert_eq!(caps.supports_draft_streaming(), draft, "{name}");
        assert_eq!(caps.supports_op("draft"), draft, "{name}: op and view agree");
    }
}

#[test]
fn code_blocks_by_dialect() {
    for (dialect, expected) in [
        ("", false),
        ("plain", false),
        ("markdown_v2", true),
        ("discord", true),
        ("slack", true),
        ("html", true),
    ] {
        let mut d = Descriptor::new("x", "X");
        d.markdown_dialect = dialect.into();
        assert_eq!(Capabilities::new(d).supports_code_blocks(), expected, "{dialect:?}");
    }
}

#[test]
fn a_list_names_every_op_and_no_list_means_the_legacy_ones() {
    let caps = Capabilities::new(discord());
    for op in ["get_chat_info", "react", "thread_create", "prompt"] {
        assert!(caps.supports_op(op), "{op}");
    }
    for op in ["send", "edit", "typing", "follow_up", "send_media", "thread_rename", "draft", "pin", ""] {
        assert!(!caps.supports_op(op), "{op} is not listed");
    }
    let caps = Capabilities::new(Descriptor::new("plain", "Plain"));
    for op in ["send", "edit", "typing", "follow_up", "get_chat_info"] {
        assert!(caps.supports_op(op), "{op} without a list");
    }
    for op in ["react", "thread_create", "draft"] {
        assert!(!caps.supports_op(op), "{op} without a list");
    }
}

#[test]
fn lengths_by_unit_and_odd_limits() {
    let caps = Capabilities::new(telegram());
    assert_eq!(caps.len("aé😀𝄞"), 6);
    let mut d = discord();
    d.max_message_length = -3;
    assert_eq!(Capabilities::new(d.clone()).max_message_length(), 4096);
    d.max_message_length = i64::MAX;
    assert!(Capabilities::new(d).max_message_length() >= 1 << 31);
}

#[test]
fn split_respects_the_descriptor_unit() {
    let mut d = telegram();
    d.max_message_length = 5;
    let caps = Capabilities::new(d);
    let text = "😀😀😀😀";
    let pieces = caps.split(text);
    assert_eq!(pieces, ["😀😀", "😀😀"]);
    assert!(pieces.iter().all(|p| caps.fits(p)));
    let mut d = discord();
    d.max_message_length = 5;
    assert_eq!(Capabilities::new(d).split(text), [text]);
}

#[test]
fn map_defaults_to_the_first_identity_and_resolves_tags() {
    let (d_id, t_id) = (Identity::new("discord", "B1"), Identity::new("telegram", "T1"));
    let mut map = CapabilityMap::new();
    assert!(map.is_empty() && map.resolve(None).is_none());
    // Inserted out of identity order: the default is the first inserted, not the smallest.
    map.insert(t_id.clone(), telegram());
    map.insert(d_id.clone(), discord());
    assert_eq!(map.len(), 2);
    assert_eq!(map.default_identity(), Some(&t_id));
    assert_eq!(map.resolve(None).unwrap().descriptor().platform, "telegram");
    assert_eq!(map.resolve(Some(&d_id)).unwrap().max_message_length(), 2000);
    assert!(map.resolve(Some(&Identity::new("discord", "other"))).is_none());
    // Replacing keeps the default.
    map.insert(t_id.clone(), plain());
    assert_eq!(map.default_capabilities().unwrap().max_message_length(), 160);
    let platforms: Vec<&str> = map.iter().map(|(i, _)| i.platform.as_str()).collect();
    assert_eq!(platforms, ["discord", "telegram"]);
}

#[test]
fn map_follows_gateway_events() {
    let mut map = CapabilityMap::new();
    let later = Event::Descriptor { identity: Identity::new("slack", "S"), descriptor: Box::new(slack()) };
    let ready = Event::Ready { identity: Identity::new("discord", "B"), descriptor: Box::new(discord()) };
    assert!(map.observe(&ready));
    assert!(map.observe(&later));
    assert_eq!(map.len(), 2);
    // A new connection's Ready starts over, with its own default.
    let ready_again =
        Event::Ready { identity: Identity::new("telegram", "T"), descriptor: Box::new(telegram()) };
    assert!(map.observe(&ready_again));
    assert_eq!(map.len(), 1);
    assert_eq!(map.default_identity(), Some(&Identity::new("telegram", "T")));
    assert!(!map.observe(&Event::IdleTimedOut));
    assert_eq!(map.len(), 1);
}
