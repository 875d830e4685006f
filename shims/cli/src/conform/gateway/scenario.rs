//! The scripted session: drives the gateway through every stimulus in a
//! fixed order on as few connections as the stimuli need, and returns the
//! transcript. One session rather than one connection per check, because
//! the gateway's reconnect ladder grows with every drop: the order of the
//! drops and 4401s below is what the checks' expected delays assume.

use std::sync::Arc;
use std::time::Duration;

use super::frames;
use super::link::{self, Command, Shared};
use super::observation::{BufferedStimulus, Cut, Observation, PushStimulus, Step, Stimulus};

/// How long the first connection holds its descriptors back: a request
/// arriving meanwhile departs from §3.
const FIRST_HOLD: Duration = Duration::from_millis(500);
/// The same for later connections (short: the ladder's timing is measured there).
const LATER_HOLD: Duration = Duration::from_millis(150);
/// How long a connection may take from its upgrade to its hellos.
const HELLO_WAIT: Duration = Duration::from_secs(5);
/// How long the application has to send its first request.
const REQUEST_WAIT: Duration = Duration::from_secs(3);
/// How long the link is watched after the duplicate and unknown results.
const RESULT_WATCH: Duration = Duration::from_millis(500);
/// How long a pong may take.
const PONG_WAIT: Duration = Duration::from_secs(1);
/// How long the buffered frames may wait for their acks.
const ACK_WAIT: Duration = Duration::from_secs(3);
/// How long after a drop (attempt 0, then 1) or a 4401 a re-dial is awaited:
/// the ladder's longest delay plus room to say how late it was.
const REDIAL_WAITS: [Duration; 2] = [Duration::from_secs(5), Duration::from_secs(6)];
/// The same after 4401 `expired` (attempt 2 waits at most 4 s).
const EXPIRED_WAIT: Duration = Duration::from_secs(8);
/// The same after the first 4401 `unauthorized` (due at once).
const STRIKE_WAIT: Duration = Duration::from_secs(9);
/// How long the gateway is watched for dials after its secret was revoked:
/// longer than attempt 3 of the ladder (4–8 s), where a gateway that took
/// the second strike for a drop would re-dial.
pub(super) const REVOKED_WATCH: Duration = Duration::from_secs(9);
/// How often a wait looks at the transcript.
const POLL: Duration = Duration::from_millis(10);

/// Runs the session on `listener` for at most `budget` and returns the transcript.
pub(super) async fn run(
    listener: tokio::net::TcpListener,
    url: &str,
    obs: Observation,
    budget: Duration,
) -> Observation {
    let shared = Shared::new(obs, FIRST_HOLD);
    let accepting = tokio::spawn(link::accept_loop(listener, Arc::clone(&shared)));
    let cut = match tokio::time::timeout(budget, script(&shared, url)).await {
        Ok(Ok(())) => None,
        Ok(Err(cut)) => Some(cut),
        Err(_) => Some(Cut {
            step: shared.with(|s| s.step),
            detail: format!("the run's budget of {} s ran out at this step", budget.as_secs()),
        }),
    };
    accepting.abort();
    shared.with(|s| {
        s.links.clear();
        s.obs.cut = cut;
        std::mem::take(&mut s.obs)
    })
}

/// The steps in order; an `Err` says where and why the session could not go on.
async fn script(shared: &Shared, url: &str) -> Result<(), Cut> {
    let wait = shared.with(|s| s.obs.wait);
    enter(shared, Step::Dial);
    if !until(shared, wait, |o| !o.connections.is_empty()).await {
        return Err(cut(Step::Dial, format!("no gateway dialled {url} within {} s", wait.as_secs())));
    }
    enter(shared, Step::Handshake);
    handshake(shared, 0, Step::Handshake).await?;
    shared.with(|s| s.hold = LATER_HOLD);
    requests(shared).await?;
    pushes(shared).await?;
    buffered(shared).await?;
    reconnects(shared).await
}

/// Waits for the application's first request (the link answers it twice,
/// then sends an unknown result), then watches the link a while.
async fn requests(shared: &Shared) -> Result<(), Cut> {
    enter(shared, Step::Requests);
    if until(shared, REQUEST_WAIT, |o| o.results.is_some() || o.connections[0].end.is_some()).await {
        tokio::time::sleep(RESULT_WATCH).await;
    }
    alive(shared, 0, Step::Requests, "while its requests were answered")
}

/// Every connector frame type in every chunking, then a ping.
async fn pushes(shared: &Shared) -> Result<(), Cut> {
    enter(shared, Step::Pushes);
    let messages = frames::pushes();
    let count = messages.len();
    command(shared, 0, Command::Send(messages));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ping_at = shared.now();
    command(shared, 0, Command::Ping);
    shared.with(|s| s.obs.pushes = Some(PushStimulus { conn: 0, messages: count, ping_at }));
    until(shared, PONG_WAIT, |o| o.connections[0].pong_at.is_some() || o.connections[0].end.is_some()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    alive(shared, 0, Step::Pushes, "during the pushes")
}

/// Buffered frames, and a wait for their acks.
async fn buffered(shared: &Shared) -> Result<(), Cut> {
    enter(shared, Step::Buffered);
    let (buffer_ids, messages) = frames::buffered();
    command(shared, 0, Command::Send(messages));
    shared.with(|s| s.obs.buffered = Some(BufferedStimulus { conn: 0, buffer_ids: buffer_ids.clone() }));
    until(shared, ACK_WAIT, |o| {
        let acked = |id: &String| {
            o.connections[0]
                .frames
                .iter()
                .any(|f| f.kind() == Some("inbound_ack") && f.str_field("bufferId") == Some(id))
        };
        buffer_ids.iter().all(acked) || o.connections[0].end.is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    alive(shared, 0, Step::Buffered, "while buffered frames were delivered")
}

/// Two drops, 4401 expired, then 4401 unauthorized twice, each re-dial
/// awaited; then the watch for dials after the revocation.
async fn reconnects(shared: &Shared) -> Result<(), Cut> {
    enter(shared, Step::Drops);
    let mut current = 0;
    for (n, wait) in (1..).zip(REDIAL_WAITS) {
        let what = format!("drop {n}");
        current = end_and_redial(shared, current, Stimulus::Drop, wait, Step::Drops, &what).await?;
    }
    enter(shared, Step::Expired);
    let what = "4401 expired";
    current = end_and_redial(shared, current, Stimulus::Expired, EXPIRED_WAIT, Step::Expired, what).await?;
    enter(shared, Step::Revoked);
    shared.with(|s| s.refuse = true);
    let what = "the first 4401 unauthorized";
    let refused = redial(shared, current, Stimulus::Unauthorized, STRIKE_WAIT, Step::Revoked, what).await?;
    until(shared, CLOSE_GRACE, |o| o.connections[refused].end.is_some()).await;
    tokio::time::sleep(REVOKED_WATCH).await;
    Ok(())
}

/// How long a refused connection may take to end once the close went out.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Ends `conn` with `stimulus`, waits for the re-dial and its handshake; the new connection's index.
async fn end_and_redial(
    shared: &Shared,
    conn: usize,
    stimulus: Stimulus,
    wait: Duration,
    step: Step,
    what: &str,
) -> Result<usize, Cut> {
    let next = redial(shared, conn, stimulus, wait, step, what).await?;
    handshake(shared, next, step).await?;
    Ok(next)
}

/// Ends `conn` with `stimulus` and waits for the next dial; its index.
async fn redial(
    shared: &Shared,
    conn: usize,
    stimulus: Stimulus,
    wait: Duration,
    step: Step,
    what: &str,
) -> Result<usize, Cut> {
    command(shared, conn, Command::End(stimulus));
    if until(shared, wait, |o| o.connections.len() > conn + 1).await {
        Ok(conn + 1)
    } else {
        Err(cut(step, format!("the gateway did not dial again within {} s after {what}", wait.as_secs())))
    }
}

/// Waits until connection `conn` got its first descriptor.
async fn handshake(shared: &Shared, conn: usize, step: Step) -> Result<(), Cut> {
    until(shared, HELLO_WAIT, |o| {
        o.connections[conn].descriptor_at.is_some() || o.connections[conn].end.is_some()
    })
    .await;
    alive(shared, conn, step, "before its handshake")?;
    if shared.with(|s| s.obs.connections[conn].descriptor_at.is_none()) {
        return Err(cut(
            step,
            format!("connection {} sent no hello within {} s of its upgrade", conn + 1, HELLO_WAIT.as_secs()),
        ));
    }
    Ok(())
}

/// `Err` naming how connection `conn` ended when it is no longer up.
fn alive(shared: &Shared, conn: usize, step: Step, when: &str) -> Result<(), Cut> {
    let end = shared.with(|s| s.obs.connections[conn].end.clone());
    match end {
        None => Ok(()),
        Some(end) => Err(cut(
            step,
            format!("the gateway ended connection {} {when} ({})", conn + 1, end.by.describe()),
        )),
    }
}

/// Marks the step the session is in.
fn enter(shared: &Shared, step: Step) {
    shared.with(|s| s.step = step);
}

/// Sends `command` to connection `conn` (a connection that is gone ignores it).
fn command(shared: &Shared, conn: usize, command: Command) {
    shared.with(|s| {
        if let Some(link) = s.links.get(conn) {
            let _ = link.send(command);
        }
    });
}

/// Waits until `done` holds for the transcript, at most `limit`; whether it did.
async fn until(shared: &Shared, limit: Duration, done: impl Fn(&Observation) -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if shared.with(|s| done(&s.obs)) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A cut at `step`.
fn cut(step: Step, detail: String) -> Cut {
    Cut { step, detail }
}
