//! Connections that have not proved the shared key cannot lock others out: a flood of silent
//! TLS connections from one address holds only that address's startup slots, and a flood past
//! the total bound holds its slots only until the short startup deadline, while logged-in
//! sessions carry on.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};

use e2e::{Server, Site};
use ftp_proto::{ClientCodec, ClientMessage, ServerMessage};
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_util::codec::Framed;

const PASSWORD: &str = "startups-password";

/// What one flood connection saw.
#[derive(Debug)]
enum Seen {
    /// TLS done and the server's hello received: it holds a startup slot.
    Greeted,
    /// The server closed it (or refused it); what it said last.
    Closed(String),
}

/// Opens a connection from `from`, does TLS and reads the hello, then stays silent until the
/// server closes it. Reports each step on `seen`.
async fn silent_connection(
    address: SocketAddr,
    transport: ftp::transport::Transport,
    from: IpAddr,
    seen: mpsc::UnboundedSender<Seen>,
) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    let tcp = socket.connect(address).await.unwrap();
    let ftp::transport::Transport::Tls(trust) = transport else {
        panic!("a TLS server")
    };
    let stream = match ftp::transport::tls(tcp, &address.to_string(), &trust).await {
        Ok((stream, _)) => stream,
        Err(error) => {
            let _ = seen.send(Seen::Closed(format!("no TLS: {error}")));
            return;
        }
    };
    let mut conn = Framed::new(stream, ClientCodec::default());
    match conn.next().await {
        Some(Ok(ServerMessage::Hello { .. })) => {
            let _ = seen.send(Seen::Greeted);
        }
        other => {
            let _ = seen.send(Seen::Closed(format!("{other:?}")));
            return;
        }
    }
    let last = conn.next().await;
    let _ = seen.send(Seen::Closed(format!("{last:?}")));
}

/// Starts `count` silent connections from each of `from`; returns the channel they report on.
fn flood(server: &Server, from: &[&str], count: usize) -> mpsc::UnboundedReceiver<Seen> {
    let (sender, receiver) = mpsc::unbounded_channel();
    for ip in from {
        let ip: IpAddr = ip.parse().unwrap();
        for _ in 0..count {
            tokio::spawn(silent_connection(
                server.address,
                server.transport(),
                ip,
                sender.clone(),
            ));
        }
    }
    receiver
}

/// Waits for `n` greetings on `seen` (other reports are kept in `closed`).
async fn greeted(seen: &mut mpsc::UnboundedReceiver<Seen>, n: usize, closed: &mut Vec<String>) {
    let mut greeted = 0;
    while greeted < n {
        match seen.recv().await.expect("flood reports") {
            Seen::Greeted => greeted += 1,
            Seen::Closed(last) => closed.push(last),
        }
    }
}

/// A logged-in session lists its home.
async fn lists(conn: &mut e2e::RawConn) {
    conn.send(ClientMessage::List { path: "/".into() })
        .await
        .unwrap();
    match conn.next().await {
        Some(Ok(ServerMessage::Listing { .. })) => {}
        other => panic!("expected a listing, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_from_one_address_leaves_room_for_another() {
    // Room for 16 connections; a flood of 16 silent ones from 127.0.0.1 used to take them all.
    let site =
        Site::new("max_connections = 16\nhandshake_timeout = \"60s\"\nstartup_timeout = \"60s\"\n");
    site.add_user("alice", PASSWORD, &[]);
    let server = site.start();
    let mut seen = flood(&server, &["127.0.0.1"], 16);
    let mut closed = Vec::new();
    // The default max_startups_per_address: that many hold their slot, the rest wait.
    greeted(&mut seen, 8, &mut closed).await;
    assert!(closed.is_empty(), "flood connections refused: {closed:?}");

    let from = Some("127.0.0.2".parse().unwrap());
    let mut session = e2e::raw_session(&server, from, "alice", PASSWORD)
        .await
        .expect("a login from another address while the flood holds its slots");
    lists(&mut session).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_past_the_total_bound_holds_its_slots_only_until_the_startup_deadline() {
    let site = Site::new(
        "max_startups = 4\nmax_startups_per_address = 2\nstartup_timeout = \"3s\"\nhandshake_timeout = \"60s\"\n",
    );
    site.add_user("alice", PASSWORD, &[]);
    let server = site.start();
    let mut logged_in = e2e::raw_session(
        &server,
        Some("127.0.0.9".parse().unwrap()),
        "alice",
        PASSWORD,
    )
    .await
    .expect("login before the flood");

    // Three addresses, three connections each: 4 hold every startup slot, 5 wait.
    let mut seen = flood(&server, &["127.0.0.1", "127.0.0.2", "127.0.0.3"], 3);
    let mut closed = Vec::new();
    greeted(&mut seen, 4, &mut closed).await;
    // A session that is logged in already goes on as if nothing happened.
    lists(&mut logged_in).await;
    // A new login waits for a slot and gets in once the flood's startup deadline has passed.
    let mut late = e2e::raw_session(
        &server,
        Some("127.0.0.10".parse().unwrap()),
        "alice",
        PASSWORD,
    )
    .await
    .expect("a login once the flood's slots expired");
    lists(&mut late).await;

    // Every flood connection got its turn, and each was closed at the startup deadline, not
    // after handshake_timeout.
    let (mut greetings, mut ends) = (4, closed);
    while ends.len() < 9 {
        match seen.recv().await.expect("flood reports") {
            Seen::Greeted => greetings += 1,
            Seen::Closed(last) => ends.push(last),
        }
    }
    assert_eq!(greetings, 9, "{ends:?}");
    for end in &ends {
        assert!(end.contains("key proof not finished in time"), "{ends:?}");
    }
    lists(&mut logged_in).await;
}
