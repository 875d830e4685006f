//! Claims: which instance holds a gateway, as a Redis string under a lease.
//!
//! `relay:holder:<key>` holds `<instance>|live` or `<instance>|idle` and
//! expires unless its instance refreshes it. A `hold` writes the claim
//! outright (the newest connection of a gateway is the one to deliver
//! through); the refresh and the release touch only the instance's own
//! claim, so an instance that still holds an older connection never takes
//! the claim back from the one that holds the newer.

use redis::Script;
use relay_driver::Holder;

/// The value of `instance`'s claim.
pub(super) fn claim(instance: &str, live: bool) -> String {
    format!("{instance}|{}", if live { "live" } else { "idle" })
}

/// The holder a claim names, or `None` when it is not a claim.
pub(super) fn parse(claim: &str) -> Option<Holder> {
    let (instance, state) = claim.rsplit_once('|')?;
    let live = match state {
        "live" => true,
        "idle" => false,
        _ => return None,
    };
    Some(Holder { instance: instance.to_owned(), live })
}

/// Deletes the claim `KEYS[1]` only while it is instance `ARGV[1]`'s.
pub(super) fn release_script() -> Script {
    Script::new(
        r"
        local claim = redis.call('GET', KEYS[1])
        if claim == ARGV[1] .. '|live' or claim == ARGV[1] .. '|idle' then
          return redis.call('DEL', KEYS[1])
        end
        return 0
        ",
    )
}

/// Sets each claim `KEYS[i]` to `ARGV[2 + i]` for `ARGV[2]` ms if it is
/// instance `ARGV[1]`'s or has lapsed, and leaves another instance's alone.
pub(super) fn refresh_script() -> Script {
    Script::new(
        r"
        local ours = { ARGV[1] .. '|live', ARGV[1] .. '|idle' }
        for i, key in ipairs(KEYS) do
          local claim = redis.call('GET', key)
          if not claim or claim == ours[1] or claim == ours[2] then
            redis.call('SET', key, ARGV[2 + i], 'PX', ARGV[2])
          end
        end
        return #KEYS
        ",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_reads_back_whatever_the_instance_id_holds() {
        for (instance, live) in [("a1b2c3d4e5f6", true), ("node|7", false), ("", true)] {
            let value = claim(instance, live);
            assert_eq!(parse(&value), Some(Holder { instance: instance.to_owned(), live }), "{value}");
        }
        assert_eq!(parse("node"), None);
        assert_eq!(parse("node|busy"), None);
    }
}
