//! CPU time and peak memory of the processes being watched (`--watch-pid`), from `/proc`.
//!
//! CPU time is `utime + stime + cutime + cstime` of `/proc/<pid>/stat` and of its living
//! descendants (e.g. the backends of a PostgreSQL postmaster): `cutime` and `cstime` hold what
//! children that ended used (PostgreSQL's autovacuum workers and closed connections; without
//! them a district run reported PostgreSQL at 1.06 cores where `/proc` sampled over 30 s said
//! 1.41). Peak RSS is `VmHWM` of `/proc/<pid>/status`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Linux reports CPU times in clock ticks; 100 per second on every mainstream configuration.
const TICKS_PER_S: f64 = 100.0;

#[derive(Debug, Clone, Copy)]
struct Sample {
    ticks: u64,
    at: Instant,
}

/// What one watched process (with its descendants) used over the run.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessUsage {
    pub pid: u32,
    pub name: String,
    /// CPU seconds used during the run (the process and its descendants).
    pub cpu_s: f64,
    /// CPU seconds per wall-clock second (1.0 = one core busy).
    pub cores: f64,
    /// Peak resident memory of the process itself, MiB (VmHWM; descendants not included).
    pub peak_rss_mib: f64,
    /// Descendant processes seen at the end.
    pub descendants: usize,
    /// Whether the process was still there at the end (a restarted one is not).
    pub alive: bool,
}

/// Starts watching `pids`; call [`Watch::finish`] at the end of the run.
#[derive(Debug)]
pub struct Watch {
    start: HashMap<u32, Sample>,
}

impl Watch {
    pub fn start(pids: &[u32]) -> Watch {
        let table = process_table();
        Watch {
            start: pids.iter().map(|&p| (p, Sample { ticks: tree_ticks(p, &table).0, at: Instant::now() })).collect(),
        }
    }

    pub fn finish(&self) -> Vec<ProcessUsage> {
        let table = process_table();
        let mut out: Vec<ProcessUsage> = self
            .start
            .iter()
            .map(|(&pid, s)| {
                let (ticks, descendants) = tree_ticks(pid, &table);
                let alive = table.contains_key(&pid);
                let cpu_s = ticks.saturating_sub(s.ticks) as f64 / TICKS_PER_S;
                let wall = s.at.elapsed().max(Duration::from_millis(1)).as_secs_f64();
                ProcessUsage {
                    pid,
                    name: table.get(&pid).map(|p| p.name.clone()).unwrap_or_else(|| "(gone)".into()),
                    cpu_s,
                    cores: cpu_s / wall,
                    peak_rss_mib: peak_rss_kib(pid).unwrap_or(0) as f64 / 1024.0,
                    descendants,
                    alive,
                }
            })
            .collect();
        out.sort_by_key(|u| u.pid);
        out
    }
}

/// Checks that a pid exists now, for a clear error on a typo.
pub fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}/stat")).exists()
}

/// This process's own CPU seconds and peak RSS (MiB).
pub fn own_usage() -> (f64, f64) {
    let me = std::process::id();
    let t = read_stat(me).map(|s| s.ticks).unwrap_or(0) as f64 / TICKS_PER_S;
    (t, peak_rss_kib(me).unwrap_or(0) as f64 / 1024.0)
}

#[derive(Debug, Clone)]
struct Stat {
    name: String,
    ppid: u32,
    ticks: u64,
}

fn read_stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// `pid (name) state ppid ... utime(14) stime(15) cutime(16) cstime(17) ...`; the name may
/// contain spaces and ')'. The ticks are the process's and those of its children that ended.
fn parse_stat(line: &str) -> Option<Stat> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let name = line[open + 1..close].to_owned();
    let rest: Vec<&str> = line[close + 1..].split_whitespace().collect();
    // rest[0] is field 3 (state); field n is rest[n - 3].
    let ppid = rest.get(1)?.parse().ok()?;
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    let cutime: u64 = rest.get(13)?.parse().ok()?;
    let cstime: u64 = rest.get(14)?.parse().ok()?;
    Some(Stat { name, ppid, ticks: utime + stime + cutime + cstime })
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn process_table() -> HashMap<u32, Stat> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return HashMap::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, read_stat(pid)?)))
        .collect()
}

/// CPU ticks of `pid` and all its living descendants, and how many descendants there are.
fn tree_ticks(pid: u32, table: &HashMap<u32, Stat>) -> (u64, usize) {
    let Some(root) = table.get(&pid) else { return (0, 0) };
    let mut ticks = root.ticks;
    let mut frontier = vec![pid];
    let mut n = 0;
    while let Some(p) = frontier.pop() {
        for (&child, s) in table {
            if s.ppid == p && child != p {
                ticks += s.ticks;
                n += 1;
                frontier.push(child);
            }
        }
    }
    (ticks, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_name() {
        let line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 30 20 20 0 1 0 100 0 0";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.name, "my (odd) name");
        assert_eq!(s.ppid, 1);
        assert_eq!(s.ticks, 350, "its own 250 + 50, and 30 + 20 of children that ended");
    }

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        let s = read_stat(me).unwrap();
        assert!(s.ppid > 0);
        assert!(peak_rss_kib(me).unwrap() > 0);
        let w = Watch::start(&[me]);
        let u = w.finish();
        assert_eq!(u.len(), 1);
        assert!(u[0].alive);
        assert!(u[0].peak_rss_mib > 0.0);
    }
}
