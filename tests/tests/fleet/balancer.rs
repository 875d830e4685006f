//! A TCP load balancer in front of the instances: every new connection goes
//! to the current target; moving the target cuts every open connection, so
//! the gateway re-dials and lands on the new one (a forced reconnect, as
//! when a balancer drains an instance).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The balancer; it runs on the runtime that started it until dropped.
#[derive(Debug)]
pub(crate) struct Balancer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    cuts: watch::Sender<u64>,
    accept: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    targets: Vec<SocketAddr>,
    current: AtomicUsize,
}

impl Balancer {
    /// Listens on a free loopback port, sending connections to `targets[0]`.
    pub(crate) fn start(rt: &tokio::runtime::Runtime, targets: Vec<SocketAddr>) -> Self {
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let shared = Arc::new(Shared { targets, current: AtomicUsize::new(0) });
        let (cuts, watching) = watch::channel(0);
        let accept = rt.spawn(accept_loop(listener, Arc::clone(&shared), watching));
        Self { addr, shared, cuts, accept }
    }

    /// The URL gateways dial.
    pub(crate) fn url(&self) -> String {
        format!("ws://{}/relay", self.addr)
    }

    /// Sends new connections to `targets[index]` and cuts the open ones.
    pub(crate) fn move_to(&self, index: usize) {
        self.shared.current.store(index, Ordering::SeqCst);
        self.cuts.send_modify(|generation| *generation += 1);
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.accept.abort();
        self.cuts.send_modify(|generation| *generation += 1);
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, cuts: watch::Receiver<u64>) {
    while let Ok((client, _)) = listener.accept().await {
        let target = shared.targets[shared.current.load(Ordering::SeqCst)];
        let mut cuts = cuts.clone();
        cuts.mark_unchanged();
        tokio::spawn(async move {
            // A target that is down refuses: the gateway sees its dial fail.
            let Ok(server) = TcpStream::connect(target).await else { return };
            let (mut client, mut server) = (client, server);
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                _ = cuts.changed() => {}
            }
        });
    }
}

/// The socket address of a `ws://HOST:PORT/relay` URL.
pub(crate) fn target_of(url: &str) -> SocketAddr {
    let rest =
        url.strip_prefix("ws://").and_then(|rest| rest.strip_suffix("/relay")).expect("a ws:// relay URL");
    rest.parse().expect("a socket address")
}
