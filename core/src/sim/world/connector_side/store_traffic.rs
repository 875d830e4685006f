//! What the driver sends to the store and what it does with the answers:
//! each machine request checked as it is polled and submitted; appends
//! submitted for pushes; the answers taken back to the machine that asked,
//! the producer (buffered or failed), the fabric and the ledger; and what a
//! crash left.

use super::store::{Crashed, Done, Op};
use super::{ConnectorSide, Life};
use crate::connector::{BufferedFrame, StoreRequest};
use crate::sim::world::Ctx;
use crate::sim::world::agenda::Task;
use crate::sim::world::invariants::{Pushed, Report};
use crate::sim::world::network::ConnId;
use crate::sim::world::transcript::Side;

impl ConnectorSide {
    /// A machine's store request, as it is polled: checked against what the
    /// driver saw of that machine, then submitted behind everything before it.
    pub(super) fn on_store_request(&mut self, cx: &mut Ctx<'_>, conn: ConnId, request: StoreRequest) {
        let Some(c) = self.machines.get_mut(&conn) else { return };
        let instance = c.instance;
        match request {
            StoreRequest::Read { key, after, limit } => {
                assert_eq!(key, self.key, "connector machine {conn} reads another gateway's backlog");
                assert!(!c.reading, "connector machine {conn} asked for a second read while one is out");
                assert_eq!(
                    after, c.cursor,
                    "connector machine {conn} reads after {after:?}, but the last entry it replayed is {:?}",
                    c.cursor
                );
                let room = self.window.max(1) - c.machine.replay_in_flight();
                assert!(
                    (1..=room).contains(&limit),
                    "connector machine {conn} reads {limit} entries with room for {room} in its window"
                );
                if let Some(at) = c.retry_at.take() {
                    assert!(
                        cx.now >= at,
                        "connector machine {conn} retried a failed read before store_retry"
                    );
                }
                c.reading = true;
                cx.note(Side::Connector, format!("{conn} store read: up to {limit} after {after:?}"));
                self.submit(cx, instance, Op::Read { conn, after, limit });
            }
            StoreRequest::Remove { key, buffer_ids } => {
                assert_eq!(key, self.key, "connector machine {conn} removes from another gateway's backlog");
                let acked = std::mem::take(&mut c.awaiting_removal);
                assert_eq!(
                    buffer_ids, acked,
                    "connector machine {conn} asked to remove other entries than the gateway acknowledged"
                );
                cx.note(Side::Connector, format!("{conn} store remove {buffer_ids:?}"));
                self.submit(cx, instance, Op::Remove { conn, buffer_ids });
            }
        }
    }

    /// A push goes to the store from `instance` (handed back by the machine
    /// of `via`, or directly). Its producer hears only once the append is
    /// done — unless a planted defect tells it earlier, or drops the append.
    pub(super) fn append(
        &mut self,
        cx: &mut Ctx<'_>,
        instance: usize,
        frame: BufferedFrame,
        pushed: Pushed,
        via: Option<ConnId>,
    ) {
        let key = pushed.key.clone();
        cx.ledger.append_submitted(pushed);
        if std::mem::take(&mut self.drop_one_append) {
            cx.note(Side::Connector, format!("{key}: reported buffered, never written (sabotage)"));
            return cx.ledger.append_reported(&key, Report::Buffered);
        }
        if self.report_at_submission {
            cx.ledger.append_reported(&key, Report::Buffered);
        }
        self.submit(cx, instance, Op::Append { key, frame, via });
    }

    fn submit(&mut self, cx: &mut Ctx<'_>, instance: usize, op: Op) {
        cx.bump("store operations");
        let life = self.life(instance);
        self.store.submit(cx, op, life);
        let armed = self.instances[instance].armed_crash.as_mut();
        if let Some(armed) = armed.filter(|armed| armed.after_ops > 0) {
            armed.after_ops -= 1;
            if armed.after_ops == 0 {
                // The process dies now, with this operation still in flight.
                cx.agenda.at(cx.now, Task::CrashDue { life });
            }
        }
    }

    /// The store finished the operation at the head of `life`'s queue.
    pub(crate) fn on_store_done(&mut self, cx: &mut Ctx<'_>, life: Life) {
        if self.instances[life.instance].life != life.number {
            return;
        }
        if let Some(done) = self.store.complete(cx, life) {
            self.on_done(cx, life.instance, done);
        }
    }

    /// An inline store performs everything submitted so far, and what its
    /// answers make the machines ask.
    pub(super) fn settle_inline(&mut self, cx: &mut Ctx<'_>) {
        while let Some((instance, done)) = self.store.next_inline() {
            self.on_done(cx, instance, done);
        }
    }

    /// `instance`'s operation `done` was performed.
    fn on_done(&mut self, cx: &mut Ctx<'_>, instance: usize, done: Done) {
        match done {
            Done::Appended { key, via, result: Ok(buffer_id) } => {
                cx.note(Side::Connector, format!("{key} appended as {buffer_id}: buffered"));
                cx.ledger.append_written(&key, &buffer_id);
                self.report(cx, &key, Report::Buffered);
                if via.is_none() {
                    self.appended_directly(cx, instance);
                }
            }
            Done::Appended { key, result: Err(failure), .. } => {
                cx.note(Side::Connector, format!("{key} not appended ({failure}): the push failed"));
                self.report(cx, &key, Report::Failed);
            }
            Done::Read { conn, result } => {
                if let Err(failure) = &result {
                    cx.bump("store reads failed");
                    cx.note(Side::Connector, format!("{conn} store read failed: {failure}"));
                }
                let Some(c) = self.open(conn) else { return };
                c.reading = false;
                c.machine.handle_backlog_read(cx.now, result);
                self.drain_machine(cx, conn);
            }
            Done::Removed { conn, buffer_ids, result: Ok(()) } => {
                let left = self.store.buffer_ids();
                for buffer_id in &buffer_ids {
                    assert!(
                        !left.contains(buffer_id),
                        "entry {buffer_id} is still in the store after its removal"
                    );
                    cx.ledger.entry_removed(buffer_id);
                    self.stranded.remove(buffer_id);
                }
                cx.note(Side::Connector, format!("{conn} removed {buffer_ids:?}"));
            }
            Done::Removed { conn, buffer_ids, result: Err(failure) } => {
                cx.bump("store removals failed (entries stranded)");
                cx.note(Side::Connector, format!("{conn} removal of {buffer_ids:?} failed: {failure}"));
                self.stranded.extend(buffer_ids);
            }
        }
    }

    /// The process died with `crashed` in the store's queue: what the store
    /// applied counts, answers go nowhere, and every append in flight is in
    /// doubt (nobody was told either way).
    pub(super) fn settle_crashed(&mut self, cx: &mut Ctx<'_>, crashed: Crashed) {
        for done in crashed.applied {
            match done {
                Done::Appended { key, result, .. } => {
                    if let Ok(buffer_id) = result {
                        cx.bump("pushes in doubt the store had written");
                        cx.note(
                            Side::Connector,
                            format!("{key} was appended as {buffer_id} as the process died"),
                        );
                        cx.ledger.append_written(&key, &buffer_id);
                    }
                    self.report(cx, &key, Report::InDoubt);
                }
                Done::Removed { buffer_ids, result: Ok(()), .. } => {
                    for buffer_id in &buffer_ids {
                        cx.ledger.entry_removed(buffer_id);
                        self.stranded.remove(buffer_id);
                    }
                }
                Done::Removed { .. } | Done::Read { .. } => {}
            }
        }
        for op in crashed.lost {
            // A lost removal leaves its entry to be replayed by the next
            // process; a lost append leaves nothing.
            if let Op::Append { key, .. } = op {
                cx.note(Side::Connector, format!("{key} was lost in flight as the process died"));
                self.report(cx, &key, Report::InDoubt);
            }
        }
    }

    /// Tells a push's producer how it went (already told at submission when
    /// the defect [`Sabotage::ReportBufferedBeforeDurable`](crate::sim::world::Sabotage) is planted).
    fn report(&mut self, cx: &mut Ctx<'_>, key: &str, report: Report) {
        if !self.report_at_submission {
            cx.ledger.append_reported(key, report);
        }
    }
}
