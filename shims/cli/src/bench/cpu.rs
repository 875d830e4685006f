//! CPU time of a measurement's processes, for `relay bench --cpu`.
//!
//! Each process reads its own user + system time from `/proc/self/stat`
//! when its side is done: the kernel sums every thread there, the ones that
//! already ended included, which a per-thread clock would miss.

/// The unit of `/proc` CPU times: the kernel's `USER_HZ`, which its ABI
/// fixes at 100 on every architecture but alpha (what `sysconf(_SC_CLK_TCK)`
/// returns). A constant rather than the auxiliary-vector read of a syscall
/// crate, which does not survive valgrind, the tool instruction counts of a
/// run come from.
const TICKS_PER_SECOND: f64 = 100.0;

/// This process's user + system CPU seconds so far; `None` where `/proc` is
/// not there to say.
pub(crate) fn process_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    ticks_from_stat(&stat).map(|ticks| ticks as f64 / TICKS_PER_SECOND)
}

/// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` line. The
/// command name (field 2) may hold spaces and parentheses, so fields are
/// counted from the last `)`.
fn ticks_from_stat(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_and_stime_after_an_awkward_name() {
        let stat = "4242 (relay (x) y) S 1 2 3 4 5 6 7 8 9 10 250 31 0 0 20 0 3 0 99 1000 200";
        assert_eq!(ticks_from_stat(stat), Some(281));
        assert_eq!(ticks_from_stat("garbage"), None);
        assert_eq!(ticks_from_stat("1 (a) S 1 2"), None);
    }

    #[test]
    fn this_process_has_spent_some_time() {
        let spin: u64 = (0..5_000_000u64).fold(0, |a, b| a.wrapping_add(b * b));
        assert!(spin > 0);
        assert!(process_seconds().is_some_and(|s| s >= 0.0));
    }
}
