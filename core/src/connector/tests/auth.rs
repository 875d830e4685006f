//! Upgrade auth at construction (PROTOCOL §8).

use super::*;
use crate::connector::{BacklogKey, CloseReason};
use crate::gateway::CloseFrame;
use crate::policy::{Secret, TokenRejection, TokenVerifier, mint_token};

fn secret(text: &str) -> Secret {
    Secret::new(text).unwrap()
}

fn auth_config() -> ConnectorConfig {
    ConnectorConfig::with_verifier(TokenVerifier::new([secret("s3cret")]))
}

fn rejected(rejection: TokenRejection) -> Vec<Action> {
    vec![Action::Closed(CloseReason::Rejected(rejection))]
}

#[test]
fn a_valid_bearer_token_is_accepted_and_names_the_gateway() {
    let token = mint_token("gw-test", NOW_UNIX + 300, &secret("s3cret"));
    let mut rig = Rig::with_config(auth_config(), Some(&format!("Bearer {token}")));
    assert_eq!(rig.drain(), []);
    assert!(!rig.m.is_closed());
    assert_eq!(rig.m.gateway_id(), Some("gw-test"));
    assert_eq!(rig.m.backlog_key(), Some(&BacklogKey::Gateway("gw-test".into())));

    // The backlog key stays the gateway id, whatever the hellos say.
    rig.input(&hello("slack", "B1"));
    assert_eq!(rig.drain(), [hello_event("slack", "B1")]);
    assert_eq!(rig.m.backlog_key(), Some(&BacklogKey::Gateway("gw-test".into())));
}

#[test]
fn a_bare_token_is_accepted_too() {
    let token = mint_token("gw-test", 0, &secret("s3cret"));
    let mut rig = Rig::with_config(auth_config(), Some(&token));
    assert_eq!(rig.drain(), []);
    assert_eq!(rig.m.gateway_id(), Some("gw-test"));
}

#[test]
fn an_expired_token_closes_with_4401_expired_as_the_only_action() {
    let token = mint_token("gw-test", NOW_UNIX - 1, &secret("s3cret"));
    let mut rig = Rig::with_config(auth_config(), Some(&format!("Bearer {token}")));
    let actions = rig.drain();
    assert_eq!(actions, rejected(TokenRejection::Expired));
    let Action::Closed(reason) = &actions[0] else { unreachable!() };
    assert_eq!(reason.close_to_send(), Some(CloseFrame::new(4401, "expired")));
    assert!(rig.m.is_closed());
    assert_eq!(rig.m.gateway_id(), None);
    assert_eq!(rig.m.poll_timeout(), None);
}

#[test]
fn a_token_expiring_this_second_is_still_valid() {
    let token = mint_token("gw-test", NOW_UNIX, &secret("s3cret"));
    let mut rig = Rig::with_config(auth_config(), Some(&token));
    assert_eq!(rig.drain(), []);
}

#[test]
fn a_token_signed_with_another_secret_is_unauthorized() {
    let token = mint_token("gw-test", NOW_UNIX + 300, &secret("other"));
    let mut rig = Rig::with_config(auth_config(), Some(&format!("Bearer {token}")));
    let actions = rig.drain();
    assert_eq!(actions, rejected(TokenRejection::Unauthorized));
    let Action::Closed(reason) = &actions[0] else { unreachable!() };
    assert_eq!(reason.close_to_send(), Some(CloseFrame::new(4401, "unauthorized")));
}

#[test]
fn a_missing_or_garbage_header_is_unauthorized() {
    for header in [None, Some(""), Some("Bearer"), Some("Basic dXNlcjpwYXNz")] {
        let mut rig = Rig::with_config(auth_config(), header);
        assert_eq!(rig.drain(), rejected(TokenRejection::Unauthorized), "{header:?}");
    }
}

#[test]
fn a_rejected_machine_ignores_input_and_refuses_commands() {
    let mut rig = Rig::with_config(auth_config(), None);
    rig.drain();
    rig.input(&hello("slack", "B1"));
    rig.m.handle_timeout(rig.now + Duration::from_secs(3600));
    assert_eq!(rig.drain(), []);
    assert_eq!(rig.m.close(rig.now), Err(crate::connector::ConnectorError::Closed));
}

#[test]
fn without_secrets_auth_is_off_and_any_header_is_ignored() {
    let mut rig = Rig::with_config(ConnectorConfig::default(), Some("Bearer whatever"));
    assert_eq!(rig.drain(), []);
    assert_eq!(rig.m.gateway_id(), None);
    assert_eq!(rig.m.backlog_key(), None, "known only after the first hello");
    rig.input(&hello("slack", "B1"));
    rig.input(&hello("discord", "D1"));
    let key = BacklogKey::Identity(Identity::new("slack", "B1"));
    assert_eq!(rig.m.backlog_key(), Some(&key));
}

#[test]
fn a_max_lifetime_refuses_never_expiring_tokens() {
    let verifier = TokenVerifier::new([secret("s3cret")]).with_max_lifetime(3600);
    let token = mint_token("gw-test", 0, &secret("s3cret"));
    let mut rig = Rig::with_config(ConnectorConfig::with_verifier(verifier), Some(&token));
    assert_eq!(rig.drain(), rejected(TokenRejection::Unauthorized));
}
