//! The `pg-cluster` target (issue 22): two Kalends nodes on one PostgreSQL database and one
//! Redis behind HAProxy, running deploy/haproxy.cfg with this run's ports, measured as one
//! server: the load goes to HAProxy, the CPU counted is both nodes', HAProxy's and the
//! database backends'.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::servers::{self, Server, Storage, free_port, log_file, wait_listening};

pub async fn start(bin: &Path, label: &str, admin_url: &str, redis_url: &str) -> Result<Server, String> {
    // The first node creates the database and the users, as the single-node targets do.
    let mut first = servers::start_kalends(bin, label, &Storage::Postgres(admin_url.to_owned()), Some(redis_url), false).await?;
    let (_, config) = first.kalends.clone().ok_or("no configuration")?;
    let text = std::fs::read_to_string(&config).map_err(|e| format!("{}: {e}", config.display()))?;
    let second: SocketAddr = ([127, 0, 0, 1], free_port().map_err(|e| e.to_string())?).into();
    let config2 = first.dir.path().join("node2.toml");
    let text2 = text.replace(&format!("listen = \"{}\"", first.addr), &format!("listen = \"{second}\""));
    std::fs::write(&config2, text2).map_err(|e| format!("node2 config: {e}"))?;
    let (stdout, stderr) = log_file(first.dir.path()).map_err(|e| format!("log: {e}"))?;
    let mut node2 = Command::new(bin)
        .arg("--config")
        .arg(&config2)
        .arg("serve")
        .env_remove("KALENDS_CONFIG")
        .env("KALENDS_RATE_LIMIT", "off")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    wait_listening(&mut node2, second, first.dir.path()).await.map_err(|e| format!("{label} node 2: {e}"))?;
    first.extra.push(node2);

    let public: SocketAddr = ([127, 0, 0, 1], free_port().map_err(|e| e.to_string())?).into();
    let cfg = first.dir.path().join("haproxy.cfg");
    std::fs::write(&cfg, render(public, &[first.addr, second])?).map_err(|e| format!("haproxy.cfg: {e}"))?;
    let mut haproxy = Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("haproxy (apt-get install haproxy): {e}"))?;
    wait_listening(&mut haproxy, public, first.dir.path()).await.map_err(|e| format!("{label} HAProxy: {e}"))?;
    first.extra.push(haproxy);
    first.addr = public;
    Ok(first)
}

/// deploy/haproxy.cfg with `bind` on `public` and one `server` line per node.
fn render(public: SocketAddr, nodes: &[SocketAddr]) -> Result<String, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/haproxy.cfg");
    let template = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut out = String::new();
    let mut servers = false;
    for line in template.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("bind ") {
            out.push_str(&format!("    bind {public}\n"));
        } else if trimmed.starts_with("server ") {
            if !servers {
                for (i, node) in nodes.iter().enumerate() {
                    out.push_str(&format!("    server node{} {node} check\n", i + 1));
                }
                servers = true;
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}
