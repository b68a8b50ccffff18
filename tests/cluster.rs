//! Several Kalends nodes behind HAProxy, proven under faults (issue 22; decision 0031). Each
//! scenario starts its own cluster (tests/cluster/fixture.rs): two `kalends serve` processes
//! on one private PostgreSQL database and one private redis-server, with an SMTP sink, behind
//! HAProxy running deploy/haproxy.cfg. PostgreSQL only: several processes on one SQLite file
//! are not a supported deployment. The scenarios run one at a time (they load both cores), each
//! bounded in requests and in time.
#![allow(clippy::unwrap_used)]

mod harness;
mod support;
#[path = "cluster/dav.rs"]
mod dav;
#[path = "cluster/fixture.rs"]
mod fixture;
#[path = "cluster/faults.rs"]
mod faults;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use dav::{Created, event, get, multiget, put, spawn_creates, sync};
use fixture::Cluster;

/// The scenarios share the machine's two cores; one at a time.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Write on one node, read and sync on the other: ETags, sync tokens and the free/busy cache
/// agree; then a DAVx5-style first sync through HAProxy, whose requests alternate between the
/// nodes. Node identity shows in each node's log lines and metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_agree_on_writes_syncs_and_free_busy() {
    let _serial = SERIAL.lock().await;
    let c = Cluster::start().await;
    let (a, b) = (c.nodes[0].base(), c.nodes[1].base());
    let client = &c.client;
    let start = 1_900_000_000;

    let token0 = sync(client, &b, "").await.token;
    let body1 = event("agree-1", "Agree", start, "");
    let r = put(client, &a, "agree-1.ics", &body1).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let etag1 = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(get(client, &b, "agree-1.ics").await.unwrap(), (200, etag1.clone(), body1));
    let delta = sync(client, &b, &token0).await;
    assert_eq!(delta.members.get("agree-1.ics"), Some(&Some(etag1.clone())));
    // Free/busy on b, cached; the event moved on a; b's answer moves with it.
    assert_eq!(dav::busy(client, &b, start - 86_400, start + 86_400).await, [format!("{}/{}", dav::utc(start), dav::utc(start + 3600))]);
    let moved = event("agree-1", "Agree", start + 7200, "");
    let r = put(client, &a, "agree-1.ics", &moved).header("If-Match", &etag1).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let etag2 = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(dav::busy(client, &b, start - 86_400, start + 86_400).await, [format!("{}/{}", dav::utc(start + 7200), dav::utc(start + 10_800))]);
    let delta2 = sync(client, &b, &delta.token).await;
    assert_eq!(delta2.members.len(), 1);
    assert_eq!(delta2.members.get("agree-1.ics"), Some(&Some(etag2.clone())));
    assert_eq!(sync(client, &a, &delta.token).await.token, delta2.token, "both nodes hand out the same token");
    // b's stale ETag is refused on a.
    let r = put(client, &b, "agree-1.ics", &moved).header("If-Match", &etag1).send().await.unwrap();
    assert_eq!(r.status(), 412);

    // 200 events through HAProxy, then a first sync as DAVx5 makes it: sync-collection with no
    // token, then calendar-multiget in tens.
    let bodies: Vec<(String, String)> = (0..200).map(|i| (format!("first-{i}.ics"), event(&format!("first-{i}"), "First", start + i * 3600, ""))).collect();
    for chunk in bodies.chunks(20) {
        let puts = chunk.iter().map(|(n, b)| put(client, &c.url, n, b).send());
        for r in futures_util::future::join_all(puts).await {
            assert_eq!(r.unwrap().status(), 201);
        }
    }
    let before: Vec<f64> = futures_util::future::join_all(c.nodes.iter().map(fixture::Node::served)).await;
    let listed = sync(client, &c.url, "").await;
    assert_eq!(listed.members.len(), 201);
    let names: Vec<String> = listed.members.keys().cloned().collect();
    for chunk in names.chunks(10) {
        let got = multiget(client, &c.url, chunk).await;
        assert_eq!(got.len(), chunk.len());
        for (name, (etag, data)) in got {
            assert_eq!(Some(&Some(etag)), listed.members.get(&name), "{name}: multiget and sync agree on the ETag");
            if let Some((_, body)) = bodies.iter().find(|(n, _)| *n == name) {
                assert_eq!(&data, body);
            }
        }
    }
    let after: Vec<f64> = futures_util::future::join_all(c.nodes.iter().map(fixture::Node::served)).await;
    for (i, (x, y)) in after.iter().zip(&before).enumerate() {
        assert!(y + 5.0 <= *x, "node{} served {} of the 21 sync requests: round robin alternates", i + 1, x - y);
    }
    // Node identity: every log line names the node, and so does /metrics.
    for node in &c.nodes {
        let log = node.log_text();
        let request_lines: Vec<&str> = log.lines().filter(|l| l.contains("status=")).collect();
        assert!(!request_lines.is_empty());
        assert!(request_lines.iter().all(|l| l.contains(&format!(" node={} ", node.name))), "{}", request_lines[0]);
        assert!(node.metrics().await.contains(&format!("kalends_node_info{{node=\"{}\"}} 1", node.name)));
    }
}

/// `kill -9` of one node during 2,000 concurrent PUTs through HAProxy. Clients send again
/// what got no answer (If-None-Match: *; a 412 then means the first attempt went through, and
/// a GET checks its bytes). Every create ends acknowledged, every one is there intact and once,
/// and sync-collection from the token before reports exactly those 2,000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_during_2000_puts_loses_and_duplicates_nothing() {
    const PUTS: usize = 2_000;
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start().await;
    let client = c.client.clone();
    let token0 = sync(&client, &c.url, "").await.token;
    let done = Arc::new(AtomicUsize::new(0));
    let base = c.url.clone();
    let bodies: Vec<(String, String)> =
        (0..PUTS).map(|i| (format!("k{i}.ics"), event(&format!("k{i}"), &format!("Kill test {i}"), 1_900_000_000 + i as i64 * 900, ""))).collect();
    let writes = spawn_creates(&client, &base, bodies.clone(), done.clone(), 16);
    // The kill lands in the middle of the writes; the node comes back for the last part.
    faults::wait_until(&done, PUTS / 5, 300).await;
    c.nodes[1].kill9();
    faults::wait_until(&done, PUTS * 3 / 5, 300).await;
    c.nodes[1].spawn();
    let outcomes = writes.await.unwrap();
    let retried = outcomes.iter().filter(|(_, o)| matches!(o, Created::Acknowledged { attempts, .. } if *attempts > 1)).count();
    let unknown: Vec<&String> = outcomes.iter().filter(|(_, o)| *o == Created::Unknown).map(|(n, _)| n).collect();
    assert!(unknown.is_empty(), "creates never confirmed: {unknown:?}");
    println!("cluster: {PUTS} PUTs with node2 killed at {}: {retried} needed another attempt", PUTS / 5);

    let delta = sync(&c.client, &c.url, &token0).await;
    let expected: BTreeSet<&String> = bodies.iter().map(|(n, _)| n).collect();
    let reported: BTreeSet<&String> = delta.members.keys().collect();
    assert_eq!(reported, expected, "sync-collection reports exactly the acknowledged creates");
    assert!(delta.members.values().all(Option::is_some), "no removals");
    let acked: std::collections::BTreeMap<&String, &String> = outcomes
        .iter()
        .filter_map(|(n, o)| match o {
            Created::Acknowledged { etag, .. } => Some((n, etag)),
            Created::Unknown => None,
        })
        .collect();
    let names: Vec<String> = bodies.iter().map(|(n, _)| n.clone()).collect();
    for chunk in names.chunks(250) {
        let got = multiget(&c.client, &c.url, chunk).await;
        assert_eq!(got.len(), chunk.len());
        for (name, (etag, data)) in &got {
            let body = &bodies.iter().find(|(n, _)| n == name).unwrap().1;
            assert_eq!(data, body, "{name} intact");
            assert_eq!(acked.get(name), Some(&etag), "{name}: the acknowledged ETag");
        }
    }
    // Nothing else in the collection: 2,000 objects, each UID once.
    let all = sync(&c.client, &c.url, "").await;
    assert_eq!(all.members.len(), PUTS);
}

/// SIGTERM to each node in turn under load, each restarted before the next (a rolling
/// upgrade): not one client request fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_fails_no_request() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start().await;
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(dav::Tally::default());
    let load = tokio::spawn(dav::run_load(c.client.clone(), c.url.clone(), 4, 400, stop.clone(), tally.clone()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    for i in 0..c.nodes.len() {
        c.nodes[i].terminate().await;
        c.nodes[i].spawn();
        c.nodes[i].ready().await;
        // HAProxy takes it back after two good checks (`rise 2`, `inter 1s`).
        faults::until_served(&c.nodes[i], 20).await;
    }
    stop.store(true, Ordering::Relaxed);
    let written = load.await.unwrap();
    println!("cluster: rolling restart under load: {}", tally.summary());
    assert_eq!(tally.errors.load(Ordering::Relaxed), 0, "transport errors: {}", tally.summary());
    assert_eq!(tally.count(|s| s >= 500), 0, "{}", tally.summary());
    assert!(written.len() >= 20, "the load ran through both restarts ({} writes)", written.len());
    let names = sync(&c.client, &c.url, "").await;
    assert!(written.iter().all(|n| names.members.contains_key(n)));
}

/// Redis stopped, started empty and flushed while clients work: no 5xx. Both nodes' breakers
/// open while it is gone (the rate limits fall back to each node's share) and close again
/// after, when the nodes write their buckets to Redis again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_flushed_and_restarted_costs_no_5xx() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start().await;
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(dav::Tally::default());
    let load = tokio::spawn(dav::run_load(c.client.clone(), c.url.clone(), 4, 1_000, stop.clone(), tally.clone()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(c.redis.dbsize() > 0, "the nodes use Redis");
    c.redis.command(&["FLUSHALL"]).unwrap();
    c.redis.stop();
    for node in &c.nodes {
        faults::until(20, || async { node.breaker_state().await == 1.0 }, "the breaker opens while Redis is gone").await;
    }
    c.redis.restart();
    for node in &c.nodes {
        faults::until(60, || async { node.breaker_state().await == 0.0 }, "the breaker closes once Redis is back").await;
    }
    faults::until(20, || async { c.redis.dbsize() > 0 }, "the nodes write to Redis again").await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    println!("cluster: Redis outage under load: {}", tally.summary());
    assert_eq!(tally.errors.load(Ordering::Relaxed), 0, "{}", tally.summary());
    assert_eq!(tally.count(|s| s >= 500), 0, "{}", tally.summary());
    assert!(tally.count(|s| s == 201) > 0);
}

/// `pg_terminate_backend` on every connection of the cluster's database, three times, while
/// clients write: no 500, every create confirmed and there afterwards, and requests after the
/// cuts are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_database_connections_are_recovered_without_loss() {
    let _serial = SERIAL.lock().await;
    let c = Cluster::start().await;
    let done = Arc::new(AtomicUsize::new(0));
    let client = c.client.clone();
    let base = c.url.clone();
    let bodies: Vec<(String, String)> = (0..600).map(|i| (format!("t{i}.ics"), event(&format!("t{i}"), "Cut", 1_900_000_000 + i * 900, ""))).collect();
    let writes = spawn_creates(&client, &base, bodies.clone(), done.clone(), 8);
    let mut cut = 0;
    for round in 1..=3 {
        faults::wait_until(&done, round * 120, 120).await;
        cut += faults::terminate_backends(c.pg.database()).await;
    }
    let outcomes = writes.await.unwrap();
    assert!(cut > 0, "connections were cut");
    let retried = outcomes.iter().filter(|(_, o)| matches!(o, Created::Acknowledged { attempts, .. } if *attempts > 1)).count();
    assert!(outcomes.iter().all(|(_, o)| *o != Created::Unknown));
    let store_retries: usize = c.nodes.iter().map(|n| n.log_text().matches("running the call again").count()).sum();
    println!("cluster: {cut} backends terminated in three rounds; {store_retries} store calls ran again; {retried} PUTs needed a second request");
    assert!(store_retries > 0, "the cuts reached the store calls, which ran again");
    let all = sync(&c.client, &c.url, "").await;
    assert!(bodies.iter().all(|(n, _)| all.members.contains_key(n)), "every confirmed create is there");
    for (name, body) in bodies.iter().step_by(37) {
        assert_eq!(get(&c.client, &c.url, name).await.unwrap().2, *body);
    }
    for i in 0..20 {
        let r = put(&c.client, &c.url, &format!("after-{i}.ics"), &event(&format!("after-{i}"), "After", 1_950_000_000, "")).send().await.unwrap();
        assert_eq!(r.status(), 201, "served after the cuts");
    }
}

/// A node whose PostgreSQL is stopped answers every request with a clean 503 and Retry-After
/// (and /readyz 503), and serves again once the database is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_its_database_answers_503_with_retry_after() {
    let _serial = SERIAL.lock().await;
    faults::lost_database().await;
}

/// Invitations and reminders due while both nodes run are emailed once each; then the SMTP
/// server is down while more are due, and once it is back each of those is emailed once too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_and_reminders_are_emailed_once_also_across_an_smtp_outage() {
    let _serial = SERIAL.lock().await;
    let mut c = Cluster::start().await;
    faults::mail_round(&c, "one", 15).await;
    c.sink.stop();
    let due = faults::mail_round_writes(&c, "two", 15, 4).await;
    // Past the alarms' time and a few sending attempts, with the sink down.
    while kalends::service::now() < due + 4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(c.sink.mails().len(), 30, "nothing more arrives while the sink is down");
    c.sink.restart().await;
    faults::expect_mails(&c, &["one", "two"], 15).await;
}

/// The hourly tombstone pruning, which every node runs on its own clock, run by two nodes'
/// stores at the same moment: each tombstone is pruned once, neither waits on the other for
/// good (the collection locks are taken in id order), and the token floor rises, so a client
/// holding a token from before the deletions is told to sync again in full (RFC 6578 §3.6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_pruning_tombstones_at_once_prune_each_once() {
    let _serial = SERIAL.lock().await;
    let c = Cluster::start().await;
    let token0 = sync(&c.client, &c.url, "").await.token;
    for i in 0..200 {
        let name = format!("gone-{i}.ics");
        assert_eq!(put(&c.client, &c.url, &name, &event(&format!("gone-{i}"), "Gone", 1_900_000_000, "")).send().await.unwrap().status(), 201);
        let r = c.client.delete(format!("{}{}{name}", c.url, fixture::CAL)).basic_auth("alice", Some(fixture::PW)).send().await.unwrap();
        assert_eq!(r.status(), 204);
    }
    // Tombstones count as old once their second has passed.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let other = kalends::store::Store::open(c.pg.url()).await.unwrap();
    let (a, b) = tokio::join!(
        kalends::worker::purge_once(&c.store, Duration::ZERO),
        kalends::worker::purge_once(&other, Duration::ZERO)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 200, "each tombstone pruned once");
    let body = format!(
        "<?xml version=\"1.0\"?><D:sync-collection xmlns:D=\"DAV:\"><D:sync-token>{token0}</D:sync-token>\
         <D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"
    );
    let r = dav::dav(&c.client, &c.url, "REPORT", fixture::CAL, "0", body).send().await.unwrap();
    assert_eq!(r.status(), 403, "the old token is below the floor: DAV:valid-sync-token");
    assert!(r.text().await.unwrap().contains("valid-sync-token"));
}
