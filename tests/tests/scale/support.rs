//! The harness: Mosquitto, PostgreSQL and server processes the tests own, start, kill and
//! restart; and helpers to wait for progress.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use eldercare_gateway::mqtt::MqttUrl;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Every wait in these tests is bounded by this; running out is a failure, never a measurement.
pub const PATIENCE: Duration = Duration::from_secs(90);
/// The MQTT password of every simulated gateway (each has its own username, its gateway id).
pub const GATEWAY_PASSWORD: &str = "gateway-secret-for-tests";
/// The MQTT password of the server's user, `eldercare-server` (`deploy/mosquitto/acl`).
pub const SERVER_PASSWORD: &str = "server-secret-for-tests";
const JWT_SECRET: &str = "scale-test-secret-scale-test-secret-0123";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

/// Polls `check` until it yields a value, at most [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eldercare_tests::eventually_within(PATIENCE, what, check).await
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn effective_uid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("Uid:")).expect("Uid line");
    line.split_whitespace().nth(2).and_then(|v| v.parse().ok()).expect("effective uid")
}

/// Finds a program on PATH or in the given folders; fails loudly, naming the package.
fn program(name: &str, extra_dirs: &[PathBuf], package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra_dirs.iter().cloned())
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not found: the scale tests need it (Debian package {package})"))
}

async fn port_open(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
}

// --- Mosquitto -------------------------------------------------------------------------------

/// Our own Mosquitto on a free port, configured like `deploy/mosquitto/` (password file, the
/// topic ACL, raised queue limits, TCP_NODELAY, persistence) but on plain TCP.
pub struct Mosquitto {
    pub port: u16,
    conf: PathBuf,
    child: Option<Child>,
}

impl Mosquitto {
    /// Starts it with a password for each of `gateways` (username = gateway id).
    pub async fn start(dir: &Path, gateways: &[String]) -> Mosquitto {
        Mosquitto::start_with(dir, gateways, "").await
    }

    /// As [`Mosquitto::start`], with `extra` lines at the end of the configuration (a setting
    /// given twice takes the last value).
    pub async fn start_with(dir: &Path, gateways: &[String], extra: &str) -> Mosquitto {
        let dir = dir.join("mosquitto");
        std::fs::create_dir_all(&dir).unwrap();
        let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/mosquitto");
        // The deployment's ACL, plus (first, so it applies to anonymous clients) the server's
        // rights: most tests connect the server anonymously on the plain listener; with a
        // password (`tls_broker.rs`) it is the deployment's user `eldercare-server`.
        let acl = std::fs::read_to_string(deploy.join("acl")).expect("deploy/mosquitto/acl");
        let anonymous_server = "topic read eldercare/v1/gw/+/readings\ntopic read eldercare/v1/gw/+/status\n\
                                topic write eldercare/v1/gw/+/ack\n";
        std::fs::write(dir.join("acl"), format!("{anonymous_server}\n{acl}")).unwrap();
        let mut passwd: String = gateways.iter().map(|g| format!("{g}:{GATEWAY_PASSWORD}\n")).collect();
        passwd.push_str(&format!("eldercare-server:{SERVER_PASSWORD}\n"));
        std::fs::write(dir.join("passwd"), passwd).unwrap();
        let hashed = std::process::Command::new(program("mosquitto_passwd", &[], "mosquitto"))
            .arg("-U")
            .arg(dir.join("passwd"))
            .status()
            .expect("mosquitto_passwd runs");
        assert!(hashed.success(), "mosquitto_passwd -U failed");
        // The deployment's settings, minus what ties it to /etc and TLS.
        let deployed = std::fs::read_to_string(deploy.join("eldercare.conf")).expect("deploy/mosquitto/eldercare.conf");
        let dropped = [
            "listener",
            "protocol",
            "cafile",
            "certfile",
            "keyfile",
            "tls_version",
            "require_certificate",
            "password_file",
            "acl_file",
            "persistence_location",
            "log_dest",
        ];
        let mut conf: String = deployed
            .lines()
            .filter(|l| !dropped.iter().any(|d| l.split_whitespace().next() == Some(*d)))
            .map(|l| format!("{l}\n"))
            .collect();
        let port = free_port();
        conf.push_str(&format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npassword_file {d}/passwd\nacl_file {d}/acl\n\
             persistence_location {d}/\nlog_dest file {d}/mosquitto.log\n",
            d = dir.display()
        ));
        conf.push_str(extra);
        if effective_uid() == 0 {
            // Otherwise it switches to the `mosquitto` user, who cannot read our temp dir.
            conf.push_str("user root\n");
        }
        let conf_path = dir.join("mosquitto.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut m = Mosquitto { port, conf: conf_path, child: None };
        m.spawn().await;
        m
    }

    async fn spawn(&mut self) {
        let child = Command::new(program("mosquitto", &[], "mosquitto"))
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("mosquitto starts");
        self.child = Some(child);
        let port = self.port;
        eventually("Mosquitto to listen", || async move { port_open(port).await.then_some(()) }).await;
    }

    pub fn url(&self) -> MqttUrl {
        MqttUrl { host: "127.0.0.1".into(), port: self.port, tls: false }
    }

    /// kill -9, then start again on the same port with the same configuration and store.
    pub async fn crash_and_restart(&mut self) {
        self.crash().await;
        self.spawn().await;
    }

    /// kill -9; [`Mosquitto::restart`] starts it again.
    pub async fn crash(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().await.unwrap();
    }

    /// Starts it again after [`Mosquitto::crash`], on the same port with the same store.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        self.spawn().await;
    }
}

// --- PostgreSQL ------------------------------------------------------------------------------

/// Our own PostgreSQL cluster (`initdb` in the temp dir) on a free port; run as the `postgres`
/// user when the tests run as root (initdb refuses root).
pub struct Postgres {
    pub port: u16,
    data: PathBuf,
    socket_dir: PathBuf,
    log: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
}

fn pg_bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ELDERCARE_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let e = e.ok()?;
            Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin")))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p).unwrap_or_else(|| program("initdb", &[], "postgresql").parent().unwrap().to_owned())
}

fn passwd_ids(user: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&user)).then(|| (f[2].parse().unwrap(), f[3].parse().unwrap()))
        })
        .unwrap_or_else(|| {
            panic!("no {user} user: install the Debian postgresql package, or run the tests as non-root")
        })
}

impl Postgres {
    pub async fn start(dir: &Path) -> Postgres {
        let root = dir.join("pg");
        std::fs::create_dir_all(&root).unwrap();
        let as_postgres = effective_uid() == 0;
        if as_postgres {
            use std::os::unix::fs::PermissionsExt;
            let (uid, gid) = passwd_ids("postgres");
            std::os::unix::fs::chown(&root, Some(uid), Some(gid)).unwrap();
            // The postgres user must get through the (root-owned, 0700) temp dir to its folder.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711)).unwrap();
        }
        let bin = pg_bin_dir();
        let pg = Postgres {
            port: free_port(),
            data: root.join("data"),
            socket_dir: root.clone(),
            log: root.join("postgres.log"),
            bin,
            as_postgres,
        };
        let out = pg
            .command("initdb")
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "-D"])
            .arg(&pg.data)
            .output()
            .await
            .expect("initdb runs");
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        pg.pg_ctl_start().await;
        pg
    }

    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        assert!(exe.is_file(), "{} not found (Debian package postgresql, or set ELDERCARE_PG_BIN)", exe.display());
        let mut c = if self.as_postgres {
            let mut c = Command::new(program("runuser", &[], "util-linux"));
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        c.stdin(Stdio::null());
        c
    }

    async fn pg_ctl_start(&self) {
        let opts = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.socket_dir.display());
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(["-o", &opts, "-w", "-t", "60", "start"])
            .output()
            .await
            .expect("pg_ctl runs");
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    async fn pg_ctl_stop(&self, mode: &str) {
        let _ = self.command("pg_ctl").arg("-D").arg(&self.data).args(["-m", mode, "-w", "stop"]).output().await;
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops it like a crash (`-m immediate`: no checkpoint, recovery on start) and starts it.
    pub async fn crash_and_restart(&self) {
        self.pg_ctl_stop("immediate").await;
        self.pg_ctl_start().await;
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let exe = self.bin.join("pg_ctl");
        let mut c = if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            std::process::Command::new(exe)
        };
        let _ = c.arg("-D").arg(&self.data).args(["-m", "immediate", "-w", "stop"]).output();
    }
}

// --- The database ----------------------------------------------------------------------------

pub enum Database {
    Sqlite(PathBuf),
    Postgres(Postgres),
}

impl Database {
    pub async fn start(kind: DbKind, dir: &Path) -> Database {
        match kind {
            DbKind::Sqlite => Database::Sqlite(dir.join("eldercare.db")),
            DbKind::Postgres => Database::Postgres(Postgres::start(dir).await),
        }
    }

    pub fn url(&self) -> String {
        match self {
            Database::Sqlite(p) => format!("sqlite:{}", p.display()),
            Database::Postgres(pg) => pg.url(),
        }
    }
}

// --- Server processes ------------------------------------------------------------------------

/// One `eldercare-server serve` process.
pub struct Server {
    pub instance: String,
    pub http: SocketAddr,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts an instance and waits until `/readyz` says it has its database and broker.
    pub async fn start(dir: &Path, instance: &str, database_url: &str, broker: &MqttUrl) -> Server {
        Server::start_with(dir, instance, database_url, broker, &[], &[]).await
    }

    /// As [`Server::start`], with more arguments of `serve` and environment variables.
    pub async fn start_with(
        dir: &Path,
        instance: &str,
        database_url: &str,
        broker: &MqttUrl,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Server {
        let log = dir.join(format!("server-{instance}.log"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_scale-server"));
        cmd.args(["serve", "--database-url", database_url, "--mqtt-url", &broker.to_string()]).args([
            "--http-addr",
            "127.0.0.1:0",
            "--instance",
            instance,
            "--jwt-secret",
            JWT_SECRET,
        ]);
        cmd.args(args).envs(envs.iter().copied());
        if let Some(group) = crate::SHARED_GROUP {
            cmd.args(["--shared-group", group]);
        }
        let log_file = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
        let mut child = cmd
            .env("RUST_LOG", "warn,eldercare_server=info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .expect("the server binary starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let http = tokio::time::timeout(PATIENCE, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(rest) = line.split("HTTP http://").nth(1) {
                    return rest.split_whitespace().next().unwrap().parse::<SocketAddr>().unwrap();
                }
            }
            panic!(
                "server {instance} exited before listening; its log: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        })
        .await
        .unwrap_or_else(|_| panic!("server {instance} did not start"));
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let server = Server { instance: instance.into(), http, child, log };
        server.ready().await;
        server
    }

    /// Waits until `/readyz` answers 200.
    pub async fn ready(&self) {
        let url = format!("http://{}/readyz", self.http);
        eventually(&format!("server {} to be ready", self.instance), || {
            let url = url.clone();
            async move {
                let r = reqwest::get(&url).await.ok()?;
                (r.status() == 200).then_some(())
            }
        })
        .await
    }

    /// kill -9.
    pub async fn kill9(mut self) {
        self.child.kill().await.unwrap();
    }

    /// SIGTERM, then waits for the process to end, at most [`PATIENCE`]; returns its log.
    pub async fn terminate(mut self) -> String {
        let pid = self.child.id().expect("running").to_string();
        let sent = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let status = tokio::time::timeout(PATIENCE, self.child.wait()).await;
        let log = self.log();
        let status =
            status.unwrap_or_else(|_| panic!("server {} still running after SIGTERM; its log:\n{log}", self.instance));
        assert!(status.unwrap().success(), "server {} ended badly after SIGTERM; its log:\n{log}", self.instance);
        log
    }

    /// The sum of a counter over its labels in `/metrics` (0 when absent).
    pub async fn counter(&self, name: &str) -> f64 {
        let text = reqwest::get(format!("http://{}/metrics", self.http)).await.unwrap().text().await.unwrap();
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Waits until the load's acknowledged readings pass `target`.
pub async fn acked_past(counters: &eldercare_loadgen::gateway::Counters, target: u64, what: &str) {
    eventually(what, || async { (counters.acked.load(std::sync::atomic::Ordering::Relaxed) > target).then_some(()) })
        .await
}
