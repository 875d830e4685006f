//! The world's loop: both sides, the network and the agenda stepped in time
//! order, checked after every step, until the run converges or ends.

use std::time::{Duration, Instant};

use rand::SeedableRng as _;
use rand_chacha::ChaCha8Rng;

use super::agenda::{Agenda, Task};
use super::connector_side::ConnectorSide;
use super::faults::{Fault, Plan};
use super::gateway_side::GatewaySide;
use super::invariants::Ledger;
use super::network::{DropKind, End, Network};
use super::transcript::{Side, Transcript};
use super::{APP_STREAM, Ctx, NET_STREAM, Options, Outcome, RunReport, TRANSCRIPT_LEN};
use crate::policy::ReconnectError;

/// Steps after which a run that has not finished counts as livelocked.
const STEP_LIMIT: u64 = 1_000_000;
/// Simulated time after which a run that has not finished counts as livelocked.
const TIME_LIMIT: Duration = Duration::from_secs(40 * 60);
/// Longest quiet period before a gateway that should converge is declared stuck.
const QUIET_LIMIT: Duration = Duration::from_secs(15 * 60);
/// How long a stopped gateway is watched in the quiet period (it must not dial).
const QUIET_AFTER_STOP: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Active,
    /// Faults and workload are over since then; waiting for convergence.
    Quiet {
        since: Instant,
    },
}

/// Both ends, the network between them, the clock and the books.
#[derive(Debug)]
pub(super) struct World {
    seed: u64,
    plan: Plan,
    epoch: Instant,
    now: Instant,
    rng: ChaCha8Rng,
    net: Network,
    agenda: Agenda,
    ledger: Ledger,
    log: Transcript,
    gw: GatewaySide,
    cn: ConnectorSide,
    steps: u64,
    phase: Phase,
    full_transcript: bool,
}

impl World {
    pub(super) fn new(seed: u64, options: Options) -> Self {
        let epoch = crate::sim::epoch();
        let plan = Plan::draw(seed);
        Self {
            seed,
            net: Network::new(plan.net.clone(), seed ^ NET_STREAM),
            gw: GatewaySide::new(&plan, seed, epoch),
            cn: ConnectorSide::new(&plan, seed, options.sabotage),
            plan,
            epoch,
            now: epoch,
            rng: ChaCha8Rng::seed_from_u64(seed ^ APP_STREAM),
            agenda: Agenda::default(),
            ledger: Ledger::default(),
            log: Transcript::new(if options.full_transcript { usize::MAX } else { TRANSCRIPT_LEN }),
            full_transcript: options.full_transcript,
            steps: 0,
            phase: Phase::Active,
        }
    }

    /// The plan and the transcript, for a failure report.
    pub(super) fn failure_context(&self) -> (String, String) {
        (self.plan.summary(), self.log.render())
    }

    /// The context plus both sides, borrowed apart.
    fn split(&mut self) -> (Ctx<'_>, &mut GatewaySide, &mut ConnectorSide) {
        let cx = Ctx {
            now: self.now,
            epoch: self.epoch,
            net: &mut self.net,
            agenda: &mut self.agenda,
            ledger: &mut self.ledger,
            log: &mut self.log,
            rng: &mut self.rng,
        };
        (cx, &mut self.gw, &mut self.cn)
    }

    pub(super) fn run(&mut self) -> RunReport {
        self.schedule_plan();
        let (mut cx, gw, _) = self.split();
        gw.drive(&mut cx);
        while !self.done() {
            self.step();
            self.check();
        }
        self.finish()
    }

    fn schedule_plan(&mut self) {
        let epoch = self.epoch;
        for ((at, chat), instance) in self.plan.events.iter().zip(&self.plan.fleet.producers) {
            self.agenda.at(epoch + *at, Task::Push { chat: *chat, instance: *instance });
        }
        for at in &self.plan.requests {
            self.agenda.at(epoch + *at, Task::Request);
        }
        for (index, (at, _)) in self.plan.faults.iter().enumerate() {
            self.agenda.at(epoch + *at, Task::Fault(index));
        }
        self.agenda.at(epoch + self.plan.active_for, Task::EndActive);
    }

    /// One step: the earliest of a network arrival, a machine deadline and
    /// a scheduled task (in that order when they tie).
    fn step(&mut self) {
        self.steps += 1;
        assert!(
            self.steps <= STEP_LIMIT,
            "livelock: {STEP_LIMIT} steps and not done ({:?} simulated)",
            self.now - self.epoch
        );
        let net_at = self.net.next_due();
        let gw_at = self.gw.deadline();
        let cn_at = self.cn.deadline();
        let task_at = self.agenda.next_due();
        let Some(at) = [net_at, gw_at, cn_at.map(|(at, _)| at), task_at].into_iter().flatten().min() else {
            panic!(
                "stuck: nothing left to happen, yet not done | {} | {}",
                self.gw.describe(),
                self.cn.describe()
            )
        };
        assert!(at >= self.now, "time would go backwards by {:?}", self.now - at);
        self.now = at;
        assert!(
            at - self.epoch <= TIME_LIMIT,
            "livelock: simulated time limit {TIME_LIMIT:?} reached | {} | {}",
            self.gw.describe(),
            self.cn.describe()
        );
        if net_at == Some(at) {
            let (mut cx, gw, cn) = self.split();
            if let Some((conn, end, arrival)) = cx.net.pop_due(at) {
                match end {
                    End::Gateway => gw.on_arrival(&mut cx, conn, arrival),
                    End::Connector => cn.on_arrival(&mut cx, conn, arrival),
                }
            }
        } else if gw_at == Some(at) {
            let (mut cx, gw, _) = self.split();
            gw.on_timeout(&mut cx);
        } else if let Some((_, conn)) = cn_at.filter(|(due, _)| *due == at) {
            let (mut cx, _, cn) = self.split();
            cn.on_timeout(&mut cx, conn);
        } else if let Some(task) = self.agenda.pop_due(at) {
            self.dispatch(task);
        }
    }

    fn dispatch(&mut self, task: Task) {
        match task {
            Task::Fault(index) => {
                if let Some((_, fault)) = self.plan.faults.get(index).cloned() {
                    self.apply_fault(fault);
                }
                return;
            }
            Task::EndActive => return self.end_active(),
            _ => {}
        }
        let (mut cx, gw, cn) = self.split();
        let cx = &mut cx;
        match task {
            Task::Fault(_) | Task::EndActive => {}
            Task::PolicyWake => gw.on_policy_wake(cx),
            Task::DialRefused { conn } => gw.on_dial_refused(cx, conn),
            Task::DialDeadline { conn } => gw.on_dial_deadline(cx, conn),
            Task::Custody { conn, buffer_id, key } => gw.on_custody(cx, conn, &buffer_id, &key),
            Task::Request => gw.on_request(cx),
            Task::CloseIdle { conn } => gw.on_close_idle(cx, conn),
            Task::WakeUp => gw.wake_up(cx, false),
            Task::GatewayWriteFailed { conn } => gw.on_write_failed(cx, conn),
            Task::StopProbe => gw.on_stop_probe(cx),
            Task::DialArrive { conn, authorization } => cn.on_dial(cx, conn, authorization.as_deref()),
            Task::AnswerHello { conn, life } => cn.on_answer_hello(cx, conn, life),
            Task::Respond { conn, life, request_id, result } => {
                cn.on_respond(cx, conn, life, &request_id, result)
            }
            Task::Push { chat, instance } => cn.push(cx, chat, instance),
            Task::ConnectorUp { life } => cn.on_up(cx, life),
            Task::StoreDone { life } => cn.on_store_done(cx, life),
            Task::CrashDue { life } => cn.on_crash_due(cx, life),
            Task::ConnectorWriteFailed { conn, life } => cn.on_write_failed(cx, conn, life),
            Task::News { life } => cn.on_news(cx, life),
            Task::Resubscribe { life } => cn.on_resubscribe(cx, life),
            Task::FabricTick { life } => cn.on_fabric_tick(cx, life),
            Task::ForwardedInterrupt { life, chat } => cn.on_forwarded_interrupt(cx, life, chat),
        }
    }

    fn apply_fault(&mut self, fault: Fault) {
        let (mut cx, gw, cn) = self.split();
        let cx = &mut cx;
        cx.note(Side::Plan, format!("fault {fault:?}"));
        match fault {
            Fault::Drop(kind) => {
                for conn in cx.net.live_links() {
                    cx.bump(match kind {
                        DropKind::Reset => "links reset",
                        DropKind::Cut => "links cut mid-message",
                        DropKind::Blackhole => "links black-holed",
                    });
                    cx.net.fail(cx.now, conn, kind);
                }
            }
            Fault::DropAfter { sends, kind } => {
                for conn in cx.net.live_links() {
                    cx.bump("links armed to drop after n messages");
                    cx.net.arm_drop(conn, sends, kind);
                }
            }
            Fault::Restart { target, down_for, vanish } => cn.crash(cx, target, down_for, vanish),
            Fault::RestartMidStore { target, after_ops, down_for, vanish } => {
                cn.arm_crash(target, after_ops, down_for, vanish)
            }
            Fault::GatewayMove(kind) => cn.move_gateway(cx, kind),
            Fault::FabricOutage { target, lasting } => cn.fabric_outage(cx, target, lasting),
            Fault::RejectTokens { count } => cn.reject_tokens(count),
            Fault::RefuseIdentity { count } => cn.refuse_hellos(count),
            Fault::ExpireTokens { lasting } => cn.expire_tokens(cx.now + lasting),
            Fault::Revoke => {
                cx.bump("secrets revoked");
                cn.revoke(cx);
            }
            Fault::GoIdle { sleep_for, shutdown, close_after } => {
                gw.go_idle(cx, sleep_for, shutdown, close_after)
            }
            Fault::SlowNetwork { extra, lasting } => cx.net.slow_down(cx.now + lasting, extra),
        }
    }

    /// The active period is over: heal everything and wait for convergence.
    fn end_active(&mut self) {
        self.phase = Phase::Quiet { since: self.now };
        let (mut cx, gw, cn) = self.split();
        cx.note(Side::Plan, "active period over: network healed, connector up, gateway awake".into());
        cx.net.heal();
        cn.heal(&mut cx);
        gw.set_quiet(&mut cx);
    }

    /// Per-step checks beyond what each handler asserts.
    fn check(&self) {
        self.gw.check(self.now);
        self.cn.check(self.now);
        if let Some(at) = self.agenda.next_due() {
            assert!(at >= self.now, "scheduled work in the past");
        }
    }

    /// The gateway is up on a working link that the connector serves live,
    /// and nothing is left: no store operation pending, nothing in the
    /// backlog but stranded entries (acknowledged, their removal failed), no
    /// custody pending, no request open.
    fn converged(&self) -> bool {
        let Some(conn) = self.gw.connection() else { return false };
        self.gw.is_settled()
            && self.net.is_healthy(conn)
            && self.cn.newest_live() == Some(conn)
            && self.cn.claim_settled(conn, self.now)
            && self.cn.backlog_settled()
            && self.ledger.unsettled_requests() == 0
    }

    fn done(&self) -> bool {
        let Phase::Quiet { since } = self.phase else { return false };
        if let Some(stopped_at) = self.gw.stopped_at() {
            // Watch a stopped gateway for a while, however late it stopped.
            return self.now >= stopped_at.max(since) + QUIET_AFTER_STOP;
        }
        if self.converged() {
            return true;
        }
        assert!(
            self.now - since < QUIET_LIMIT,
            "did not converge within {QUIET_LIMIT:?} of quiet | {} | {} | {} requests unsettled, undelivered buffered events {:?}",
            self.gw.describe(),
            self.cn.describe(),
            self.ledger.unsettled_requests(),
            self.ledger.undelivered_buffered(),
        );
        false
    }

    fn finish(&mut self) -> RunReport {
        let stopped = self.gw.stopped().cloned();
        if self.cn.is_revoked() {
            assert!(stopped.is_some(), "the connector revoked the secret, but the gateway never stopped");
        }
        let cn = &self.cn;
        self.ledger.check_final(stopped.is_none(), |buffer_id| cn.in_backlog(buffer_id));
        let outcome = match stopped {
            None => Outcome::Converged,
            Some(ReconnectError::Revoked) => Outcome::Revoked,
            Some(_) => Outcome::BudgetExhausted,
        };
        let mut counters = std::mem::take(&mut self.ledger.counters);
        counters.insert("steps", self.steps);
        let transcript = if self.full_transcript { self.log.render() } else { String::new() };
        RunReport {
            seed: self.seed,
            outcome,
            steps: self.steps,
            simulated: self.now - self.epoch,
            counters,
            transcript,
        }
    }
}
