//! Session routing across connections (PROTOCOL §6).

use super::*;
use crate::connector::{NoRoute, SessionRouter};
use crate::wire::{FollowUp, OutboundAction};

fn no_route(key: &str) -> Result<&'static u64, NoRoute> {
    Err(NoRoute { session_key: key.to_owned() })
}

#[test]
fn an_inbound_event_routes_its_session_key_to_the_connection_that_received_it() {
    let mut router = SessionRouter::<u64>::default();
    router.note_inbound(1, &event("111", "hi"));
    assert_eq!(router.route("agent:main:telegram:dm:111"), Ok(&1));

    // A group event is keyed per participant (default flags).
    let mut source = SessionSource::new(Platform::Telegram, "-100", "group");
    source.user_id = Some("u1".into());
    router.note_inbound(2, &MessageEvent::text(source, "hey"));
    assert_eq!(router.route("agent:main:telegram:group:-100:u1"), Ok(&2));
    assert_eq!(router.route("agent:main:telegram:group:-100"), no_route("agent:main:telegram:group:-100"));
}

#[test]
fn the_source_profile_does_not_change_the_key() {
    let mut router = SessionRouter::<u64>::default();
    let mut with_profile = event("111", "hi");
    with_profile.source.profile = Some("reviewer".into());
    router.note_inbound(1, &with_profile);
    assert_eq!(router.route("agent:main:telegram:dm:111"), Ok(&1));
}

#[test]
fn the_most_recent_owner_wins() {
    let mut router = SessionRouter::<u64>::default();
    router.note_inbound(1, &event("111", "hi"));
    router.note_session(2, "agent:main:telegram:dm:111");
    assert_eq!(router.route("agent:main:telegram:dm:111"), Ok(&2));
    router.note_inbound(1, &event("111", "again"));
    assert_eq!(router.route("agent:main:telegram:dm:111"), Ok(&1));
    assert_eq!(router.len(), 1);
}

#[test]
fn follow_up_requests_and_gateway_interrupts_claim_their_session() {
    let mut router = SessionRouter::<u64>::default();
    let follow_up = FollowUp {
        session_key: "k-follow".into(),
        kind: "discord_interaction".into(),
        content: "done".into(),
        metadata: Default::default(),
        extra: Default::default(),
    };
    let request = Event::Request {
        request_id: "r1".into(),
        identity: Identity::new("discord", "d"),
        action: Box::new(OutboundAction::FollowUp(follow_up)),
    };
    router.observe(3, &request);
    router.observe(4, &Event::Interrupt { session_key: "k-stop".into(), reason: None });
    router.observe(5, &Event::GoingIdle);
    assert_eq!(router.route("k-follow"), Ok(&3));
    assert_eq!(router.route("k-stop"), Ok(&4));
    assert_eq!(router.len(), 2);
}

#[test]
fn other_requests_claim_nothing() {
    let (mut rig, _) = Rig::ready();
    rig.input(&outbound("r1"));
    let mut router = SessionRouter::<u64>::default();
    for action in rig.drain() {
        if let Action::Deliver(event) = action {
            router.observe(1, &event);
        }
    }
    assert!(router.is_empty());
}

#[test]
fn unknown_keys_have_no_route() {
    let router = SessionRouter::<u64>::default();
    let error = router.route("agent:main:telegram:dm:9").unwrap_err();
    assert_eq!(error.to_string(), "no connection owns session agent:main:telegram:dm:9");
}

#[test]
fn removing_a_connection_drops_only_its_routes() {
    let mut router = SessionRouter::<u64>::default();
    router.note_session(1, "a");
    router.note_session(1, "b");
    router.note_session(2, "c");
    router.note_session(2, "b"); // b moved to 2
    assert_eq!(router.remove_connection(&1), 1);
    assert_eq!(router.route("a"), no_route("a"));
    assert_eq!(router.route("b"), Ok(&2));
    assert_eq!(router.remove_connection(&2), 2);
    assert!(router.is_empty());
    assert_eq!(router.remove_connection(&2), 0);
}

#[test]
fn memory_is_bounded_by_forgetting_the_least_recently_noted_key() {
    let mut router = SessionRouter::<u64>::new(3);
    router.note_session(1, "a");
    router.note_session(1, "b");
    router.note_session(1, "c");
    router.route("a").unwrap(); // lookups do not refresh
    router.note_session(2, "b"); // an update does
    router.note_session(1, "d");
    assert_eq!(router.len(), 3);
    assert_eq!(router.route("a"), no_route("a"));
    for (key, owner) in [("b", 2), ("c", 1), ("d", 1)] {
        assert_eq!(router.route(key), Ok(&owner), "{key}");
    }
    router.note_session(1, "e");
    assert_eq!(router.route("c"), no_route("c"));
    assert_eq!(router.remove_connection(&1), 2, "d and e; the evicted keys are gone from its index too");
    assert_eq!(router.capacity(), 3);
    assert_eq!(SessionRouter::<u64>::new(0).capacity(), 1);
}

#[test]
fn noting_a_key_again_for_its_owner_makes_it_the_newest() {
    let mut router = SessionRouter::<u64>::new(2);
    router.note_session(1, "a");
    router.note_session(1, "b");
    router.note_session(1, "a"); // same owner: refreshed, so b is now the oldest
    router.note_session(1, "c");
    assert_eq!(router.route("b"), no_route("b"));
    assert_eq!((router.route("a"), router.route("c")), (Ok(&1), Ok(&1)));
    assert_eq!(router.remove_connection(&1), 2, "the refreshed key is indexed once");
}

#[test]
fn connection_ids_can_be_any_ordered_type() {
    let mut router = SessionRouter::<String>::new(8);
    router.note_session("gw-a/1".to_owned(), "k");
    assert_eq!(router.route("k").map(String::as_str), Ok("gw-a/1"));
}
