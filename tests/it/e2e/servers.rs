//! Real database servers for the end-to-end tests: a MariaDB with the `server_audit` plugin and a
//! PostgreSQL 15 with pgaudit, each on a free loopback port and a scratch directory, stopped and
//! removed on drop (also when an assertion fails).

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What the end-to-end tests need from the machine, found once.
#[derive(Debug, Clone)]
pub struct Tools {
    pub python: PathBuf,
    pub mariadbd: PathBuf,
    pub mariadb_install_db: PathBuf,
    pub mariadb_client: PathBuf,
    pub pg_bin: PathBuf,
    /// Prefix to run PostgreSQL programs as `postgres` (it refuses root): `runuser -u postgres --`.
    pub pg_runas: Vec<String>,
}

fn which(name: &str, extra: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra.iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Tools {
    /// Find everything or say what is missing.
    pub fn find() -> Result<Tools, String> {
        let mut missing = Vec::new();
        let sbin = ["/usr/sbin", "/usr/local/sbin", "/usr/bin"];
        let mariadbd = which("mariadbd", &sbin);
        let install = which("mariadb-install-db", &sbin);
        let client = which("mariadb", &sbin);
        if mariadbd.is_none() || install.is_none() || client.is_none() {
            missing.push("MariaDB (apt-get install mariadb-server)".to_string());
        }
        let pg_bin = std::env::var_os("LANEGUARD_E2E_PG_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"));
        if !pg_bin.join("initdb").is_file() || !pg_bin.join("pg_ctl").is_file() {
            missing.push(format!(
                "PostgreSQL 15 ({} has no initdb/pg_ctl; apt-get install postgresql)",
                pg_bin.display()
            ));
        }
        let pg_lib = Command::new(pg_bin.join("pg_config"))
            .arg("--pkglibdir")
            .output()
            .ok()
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/lib"));
        if !pg_lib.join("pgaudit.so").is_file() {
            missing.push("pgaudit (apt-get install postgresql-15-pgaudit)".to_string());
        }
        let python = std::env::var_os("LANEGUARD_E2E_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let venv = super::repo().join(".venv/bin/python");
                if venv.is_file() {
                    venv
                } else {
                    PathBuf::from("python3")
                }
            });
        let ok = Command::new(&python)
            .args(["-c", "import pymysql, pg8000"])
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            missing.push(format!(
                "{} with pymysql and pg8000 (python3 -m venv .venv && .venv/bin/pip install pymysql pg8000, or set LANEGUARD_E2E_PYTHON)",
                python.display()
            ));
        }
        let pg_runas = if is_root() {
            if which("runuser", &sbin).is_none() {
                missing.push("runuser (PostgreSQL refuses to run as root)".to_string());
            }
            ["runuser", "-u", "postgres", "--"].map(String::from).to_vec()
        } else {
            Vec::new()
        };
        if !missing.is_empty() {
            return Err(missing.join("; "));
        }
        Ok(Tools {
            python,
            mariadbd: mariadbd.unwrap_or_default(),
            mariadb_install_db: install.unwrap_or_default(),
            mariadb_client: client.unwrap_or_default(),
            pg_bin,
            pg_runas,
        })
    }
}

/// A free TCP port on 127.0.0.1 (the kernel picks it; tiny race with other processes is fine).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A scratch directory, removed on drop. `chmod 755` so the `postgres` user can reach inside.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let base = std::env::temp_dir();
        let unique = format!(
            "laneguard-e2e-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let dir = base.join(unique);
        fs::create_dir_all(&dir).unwrap();
        set_mode(&dir, 0o755);
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("LANEGUARD_E2E_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.0);
        } else {
            eprintln!("e2e: kept {}", self.0.display());
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < timeout, "{what} not ready after {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stop a child politely (SIGTERM), then forcibly after `grace`.
fn stop_child(child: &mut Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let start = Instant::now();
    while start.elapsed() < grace {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

// ------------------------------------------------------------------------------------------------
// MariaDB
// ------------------------------------------------------------------------------------------------

pub struct MariaDb {
    child: Child,
    pub port: u16,
    pub socket: PathBuf,
    pub audit_log: PathBuf,
    mariadb_client: PathBuf,
    pub dir: Scratch,
}

impl MariaDb {
    pub fn start(tools: &Tools) -> MariaDb {
        let dir = Scratch::new("mariadb");
        let d = dir.0.clone();
        let data = d.join("data");
        let files = d.join("files");
        fs::create_dir_all(&files).unwrap();
        let mut install = Command::new(&tools.mariadb_install_db);
        install.args([
            "--no-defaults",
            &format!("--datadir={}", data.display()),
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
        ]);
        if is_root() {
            install.arg("--user=root");
        }
        run(&mut install, "mariadb-install-db");
        let port = free_port();
        let socket = d.join("mysqld.sock");
        let audit_log = d.join("server_audit.log");
        let child = Command::new(&tools.mariadbd)
            .args([
                "--no-defaults".to_string(),
                format!("--datadir={}", data.display()),
                format!("--socket={}", socket.display()),
                format!("--pid-file={}", d.join("mysqld.pid").display()),
                format!("--port={port}"),
                "--bind-address=127.0.0.1".to_string(),
                "--skip-name-resolve".to_string(),
                format!("--log-error={}", d.join("error.log").display()),
                // Server file access (INTO OUTFILE, LOAD_FILE, LOAD DATA) confined to scratch.
                format!("--secure-file-priv={}", files.display()),
                "--plugin-load-add=server_audit".to_string(),
                "--server-audit-logging=ON".to_string(),
                "--server-audit-events=CONNECT,QUERY,TABLE".to_string(),
                format!("--server-audit-file-path={}", audit_log.display()),
            ])
            .args(if is_root() { &["--user=root"][..] } else { &[][..] })
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mariadbd");
        let mut db = MariaDb {
            child,
            port,
            socket,
            audit_log,
            mariadb_client: tools.mariadb_client.clone(),
            dir,
        };
        let sock = db.socket.clone();
        let err = d.join("error.log");
        let mut exited = false;
        wait_for("mariadbd", Duration::from_secs(30), || {
            if let Ok(Some(_)) = db.child.try_wait() {
                exited = true;
                return true;
            }
            sock.exists() && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(
            !exited,
            "mariadbd exited:\n{}",
            fs::read_to_string(&err).unwrap_or_default()
        );
        db
    }

    /// Run SQL as root over the Unix socket (socket authentication: the OS user).
    pub fn root_sql(&self, sql: &str) {
        run(
            Command::new(&self.mariadb_client)
                .arg("--no-defaults")
                .arg(format!("--socket={}", self.socket.display()))
                .args(["-u", "root", "-e", sql]),
            "mariadb (root over socket)",
        );
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        stop_child(&mut self.child, Duration::from_secs(15));
    }
}

// ------------------------------------------------------------------------------------------------
// PostgreSQL
// ------------------------------------------------------------------------------------------------

pub struct Postgres {
    pub port: u16,
    pub log: PathBuf,
    data: PathBuf,
    sockdir: PathBuf,
    tools: Tools,
    started: bool,
    pub dir: Scratch,
}

impl Postgres {
    fn cmd(&self, program: &str) -> Command {
        pg_cmd(&self.tools, program)
    }

    pub fn start(tools: &Tools) -> Postgres {
        let dir = Scratch::new("postgres");
        let root = dir.0.join("pg");
        fs::create_dir_all(&root).unwrap();
        if !tools.pg_runas.is_empty() {
            run(
                Command::new("chown").args(["postgres:postgres"]).arg(&root),
                "chown postgres",
            );
        }
        let data = root.join("data");
        let port = free_port();
        let log = root.join("postgresql.log");
        let mut pg = Postgres {
            port,
            log,
            data: data.clone(),
            sockdir: root.clone(),
            tools: tools.clone(),
            started: false,
            dir,
        };
        run(
            pg.cmd("initdb").arg("-D").arg(&data).args([
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-U",
                "postgres",
                "--no-sync",
            ]),
            "initdb",
        );
        // Appending needs no write access to the file for us: run as postgres too.
        let conf = format!(
            "\n# laneguard e2e (RDS-like logging)\n\
             listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{sock}'\n\
             shared_preload_libraries = 'pgaudit'\npgaudit.log = 'all'\npgaudit.log_catalog = on\n\
             pgaudit.log_parameter = on\npgaudit.log_relation = on\n\
             log_line_prefix = '%t:%r:%u@%d:[%p]:'\nlog_connections = on\nlog_disconnections = on\n\
             fsync = off\n",
            sock = root.display()
        );
        append_as_owner(&data.join("postgresql.conf"), &conf);
        fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhost all all 127.0.0.0/8 scram-sha-256\n",
        )
        .unwrap();
        run(
            pg.cmd("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&pg.log)
                .args(["-w", "-t", "60", "start"]),
            "pg_ctl start",
        );
        pg.started = true;
        pg
    }

    /// Run SQL as the `postgres` superuser over the Unix socket (trust).
    pub fn superuser_sql(&self, database: &str, sql: &str) {
        run(
            self.cmd("psql").arg("-h").arg(&self.sockdir).args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-qc",
                sql,
            ]),
            "psql (postgres over socket)",
        );
    }
}

fn pg_cmd(tools: &Tools, program: &str) -> Command {
    let exe = tools.pg_bin.join(program);
    if tools.pg_runas.is_empty() {
        Command::new(exe)
    } else {
        let mut c = Command::new(&tools.pg_runas[0]);
        c.args(&tools.pg_runas[1..]).arg(exe);
        c
    }
}

fn append_as_owner(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.started {
            let _ = self
                .cmd("pg_ctl")
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "fast", "-w", "-t", "30", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
