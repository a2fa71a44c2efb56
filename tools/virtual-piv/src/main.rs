//! `gatehouse-virtual-piv`: a YubiKey-compatible virtual PIV card for Gatehouse's tests and
//! demo. See README.md.
//!
//! ```text
//! gatehouse-virtual-piv start --dir D [--readers N]   start pcscd with N virtual readers
//! gatehouse-virtual-piv card  --dir D --state S       insert a card (keys and state in S);
//!            [--touch-timeout SECONDS]                runs until stopped: that is removal
//! gatehouse-virtual-piv touch --state S [--wait SECONDS]
//!                                                     touch the card when it blinks
//! gatehouse-virtual-piv stop  --dir D                 stop the cards and pcscd
//! ```

mod attest;
mod card;
mod platform;
mod touch;

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::net::{Ipv4Addr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The first reader's vpcd port. Debian's own vpcd reader listens on 35963 (0x8C7B); these
/// follow it, so both can be configured on one machine. vpcd gives each reader two slots, on
/// its port and the next, so readers are two ports apart; cards use slot 0.
const FIRST_PORT: u16 = 35970;

/// The vpcd port of reader `index`'s first slot.
fn port(index: u16) -> u16 {
    FIRST_PORT + 2 * index
}
/// Readers configured by default: one per card a test may hold at once.
const DEFAULT_READERS: u16 = 8;
/// Where pcscd puts its socket and pid file (fixed when pcsc-lite is built).
const PCSCD_RUN: &str = "/run/pcscd";
/// The vpcd driver from Debian's `vsmartcard-vpcd`.
const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";

fn main() -> ExitCode {
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("warn,piv_authenticator=off"),
    )
    .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("start") => start(&dir(&args), readers(&args)),
        Some("stop") => stop(&dir(&args)),
        Some("card") => match (option(&args, "--state"), seconds(&args, "--touch-timeout")) {
            (Some(state), Ok(timeout)) => insert(
                &dir(&args),
                Path::new(&state),
                timeout.unwrap_or(touch::YUBIKEY_TIMEOUT),
            ),
            (None, _) => Err(usage(
                "card needs --state DIR (where the card keeps its keys)",
            )),
            (_, Err(e)) => Err(e),
        },
        Some("touch") => match (option(&args, "--state"), seconds(&args, "--wait")) {
            (Some(state), Ok(wait)) => {
                touch::give(Path::new(&state), wait.unwrap_or(Duration::from_secs(30)))
                    .map(|()| println!("touched"))
            }
            (None, _) => Err(usage("touch needs --state DIR (the card's)")),
            (_, Err(e)) => Err(e),
        },
        _ => Err(usage("")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatehouse-virtual-piv: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(problem: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{problem}{}usage: gatehouse-virtual-piv start|stop --dir DIR [--readers N] | card --dir DIR --state DIR [--touch-timeout SECONDS] | touch --state DIR [--wait SECONDS]",
            if problem.is_empty() { "" } else { "\n" }
        ),
    )
}

fn option(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// A number of seconds (fractions allowed) given with `name`, if given.
fn seconds(args: &[String], name: &str) -> io::Result<Option<Duration>> {
    option(args, name)
        .map(|text| {
            text.parse::<f64>()
                .ok()
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .ok_or_else(|| usage(&format!("{name} takes a number of seconds, not {text:?}")))
        })
        .transpose()
}

/// The run directory: `--dir`, else `$GATEHOUSE_VIRTUAL_PIV_DIR`, else under the temp dir.
fn dir(args: &[String]) -> PathBuf {
    option(args, "--dir")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("GATEHOUSE_VIRTUAL_PIV_DIR").map(PathBuf::from))
        .unwrap_or_else(|| std::env::temp_dir().join("gatehouse-virtual-piv"))
}

fn readers(args: &[String]) -> u16 {
    option(args, "--readers")
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_READERS)
}

/// The reader name pcscd shows for reader `index` (pcscd appends " 00 00"). It contains
/// "Yubico" because Yubico's PKCS#11 module only looks at such readers.
pub fn reader_name(index: u16) -> String {
    format!("Yubico YubiKey Gatehouse Virtual PIV {index}")
}

/// Is `pid` a running process whose command starts with `name` (the kernel keeps 15 characters)?
fn running(pid: u32, name: &str) -> bool {
    fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim().starts_with(name))
}

/// Every running pcscd.
fn pcscd_processes() -> Vec<u32> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .filter(|&pid| running(pid, "pcscd"))
        .collect()
}

fn read_pid(file: &Path) -> Option<u32> {
    fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// Starts pcscd with `readers` virtual readers, unless this directory's pcscd already runs.
fn start(dir: &Path, readers: u16) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let lock = File::create(dir.join("start.lock"))?;
    lock.lock()?;
    let pid_file = dir.join("pcscd.pid");
    if read_pid(&pid_file).is_some_and(|pid| running(pid, "pcscd")) {
        println!("pcscd already runs for {}", dir.display());
        return Ok(());
    }
    let run = Path::new(PCSCD_RUN);
    // Any pcscd counts, whether or not it wrote a pid file (a foreground pcscd may not).
    if let Some(pid) = pcscd_processes().into_iter().next() {
        return Err(io::Error::other(format!(
            "another pcscd (pid {pid}) is running, and pcscd allows one per machine; stop it \
             (systemctl stop pcscd.socket pcscd) or add the virtual readers to its configuration"
        )));
    }
    // Left behind by a pcscd that died: pcscd refuses to start while they exist.
    for stale in ["pcscd.comm", "pcscd.pid"] {
        let _ = fs::remove_file(run.join(stale));
    }
    if !Path::new(VPCD_DRIVER).exists() {
        return Err(io::Error::other(format!(
            "the vpcd reader driver {VPCD_DRIVER} is missing: apt-get install vsmartcard-vpcd pcscd"
        )));
    }
    let conf = dir.join("reader.conf.d");
    fs::create_dir_all(&conf)?;
    // vpcd keeps its connections in one static array indexed by slot, so two readers served
    // by one loaded copy of the driver share (and overwrite) each other's connection: only the
    // last one works. Each reader therefore gets its own copy of the driver, which pcscd loads
    // separately.
    let drivers = dir.join("drivers");
    fs::create_dir_all(&drivers)?;
    let mut readers_conf = String::new();
    for index in 0..readers {
        let port = port(index);
        let driver = drivers.join(format!("libifdvpcd-{index}.so"));
        fs::copy(VPCD_DRIVER, &driver)?;
        readers_conf.push_str(&format!(
            "FRIENDLYNAME \"{}\"\nDEVICENAME /dev/null:{port}\nLIBPATH {}\nCHANNELID {port}\n\n",
            reader_name(index),
            driver.display()
        ));
    }
    fs::write(conf.join("gatehouse-virtual-piv"), readers_conf)?;
    fs::write(dir.join("readers"), readers.to_string())?;
    let log = File::create(dir.join("pcscd.log"))?;
    let mut child = Command::new("pcscd")
        .arg("--foreground")
        .arg("--config")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: it outlives this command and a test's Ctrl-C.
        .process_group(0)
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("starting pcscd: {e} (apt-get install pcscd)")))?;
    fs::write(&pid_file, child.id().to_string())?;
    let socket = run.join("pcscd.comm");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        if Instant::now() > deadline || child.try_wait()?.is_some() {
            return Err(io::Error::other(format!(
                "pcscd did not come up; see {}",
                dir.join("pcscd.log").display()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "pcscd runs with {readers} virtual readers; insert a card with: gatehouse-virtual-piv card --dir {} --state DIR",
        dir.display()
    );
    Ok(())
}

/// Stops this directory's cards and pcscd.
fn stop(dir: &Path) -> io::Result<()> {
    let mut stopped = 0;
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("card-") && name.ends_with(".pid") {
                if let Some(pid) =
                    read_pid(&entry.path()).filter(|&pid| running(pid, "gatehouse-virt"))
                {
                    terminate(pid)?;
                    stopped += 1;
                }
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    let pid_file = dir.join("pcscd.pid");
    if let Some(pid) = read_pid(&pid_file).filter(|&pid| running(pid, "pcscd")) {
        terminate(pid)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while running(pid, "pcscd") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        stopped += 1;
    }
    let _ = fs::remove_file(pid_file);
    println!("stopped {stopped} process(es)");
    Ok(())
}

fn terminate(pid: u32) -> io::Result<()> {
    Command::new("kill").arg(pid.to_string()).status()?;
    Ok(())
}

/// Inserts a card: takes a free reader, connects to its vpcd port and serves APDUs until the
/// reader goes away or the process is stopped (which pulls the card out).
fn insert(dir: &Path, state: &Path, touch_timeout: Duration) -> io::Result<()> {
    let readers: u16 = fs::read_to_string(dir.join("readers"))
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| {
            io::Error::other(format!(
                "no virtual readers in {}: run `gatehouse-virtual-piv start --dir {0}` first",
                dir.display()
            ))
        })?;
    let (index, _reader_lock, used_before) = (0..readers)
        .find_map(|index| {
            let path = dir.join(format!("reader-{index}.lock"));
            let used_before = path.exists();
            let lock = File::create(path).ok()?;
            lock.try_lock().ok()?;
            Some((index, lock, used_before))
        })
        .ok_or_else(|| {
            io::Error::other(format!(
                "all {readers} virtual readers hold a card; stop one or start with more --readers"
            ))
        })?;
    let pid_file = dir.join(format!("card-{index}.pid"));
    fs::write(&pid_file, std::process::id().to_string())?;
    fs::create_dir_all(state)?;
    if used_before {
        // The reader's last card may have been pulled a moment ago. pcscd checks presence every
        // 400 ms; a card inserted before it noticed the last one leave would look like the old
        // card, still powered, to pcscd, and no program could connect to it.
        std::thread::sleep(Duration::from_millis(1000));
    }
    let port = port(index);
    let deadline = Instant::now() + Duration::from_secs(10);
    let stream = loop {
        match TcpStream::connect((Ipv4Addr::LOCALHOST, port)) {
            Ok(stream) => break stream,
            Err(e) if Instant::now() > deadline => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("connecting to the reader's vpcd port {port}: {e}"),
                ));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    stream.set_nodelay(true)?;
    let quickack = socket2::SockRef::from(&stream).try_clone()?;
    let mut connection = vpicc::Connection::from(stream);
    let reader = format!("{} 00 00", reader_name(index));
    let result = platform::with_client(state, |client| -> io::Result<()> {
        let mut card = card::Card::new(client, state, touch_timeout)?;
        let serial = card.state().serial();
        card.on_first_contact(move || {
            println!("ready serial={serial} reader={reader}");
            let _ = io::stdout().flush();
        });
        loop {
            // vpcd waits for each answer before it sends more, so Linux's delayed ACK would
            // add ~40 ms to every APDU; re-arm quick ACKs before each read.
            let _ = quickack.set_quickack(true);
            if let Err(e) = connection.poll(&mut card) {
                return match e.kind() {
                    io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => Ok(()),
                    _ => Err(e),
                };
            }
        }
    });
    let _ = fs::remove_file(pid_file);
    result
}
