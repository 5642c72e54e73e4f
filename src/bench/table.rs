//! Side-by-side tables of phase reports: rows are phases, columns are engines.

use super::phase::{LOAD_SUFFIX, NATIVE_SUFFIX, Phase, PhaseReport};
use crate::engines::IoSource;

/// `1.23M`, `45.6k`, `789`.
pub fn si(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else if x >= 10.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// `512 B`, `4.0 KB`, `1.2 MB` (decimal units, as disks count).
pub fn bytes(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.2} GB", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.1} MB", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} KB", x / 1e3)
    } else {
        format!("{x:.0} B")
    }
}

fn latency(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{us:.1} µs")
    }
}

/// A phase's place in the standard order (unknown names last), so tables and charts list
/// phases the same way whichever engine ran first.
pub fn phase_rank(name: &str) -> usize {
    // A YCSB phase's load line comes just before the phase's own.
    let (phase, is_load) = match name.strip_suffix(LOAD_SUFFIX) {
        Some(phase) => (phase, true),
        None => (name, false),
    };
    Phase::STANDARD
        .iter()
        .chain(Phase::YCSB.iter())
        .position(|p| p.name() == phase)
        .map_or(usize::MAX, |i| 2 * i + usize::from(!is_load))
}

fn first_seen<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

fn markdown(header: &[String], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].chars().count(), 3])
                .max()
                .unwrap_or(3)
        })
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, &w))| {
                let pad = w - cell.chars().count();
                if c == 0 {
                    format!("{cell}{}", " ".repeat(pad))
                } else {
                    format!("{}{cell}", " ".repeat(pad))
                }
            })
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(header);
    // Markdown alignment: the first column left, the figures right ("---:").
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(c, &w)| {
            if c == 0 {
                "-".repeat(w + 2)
            } else {
                format!("{}:", "-".repeat(w + 1))
            }
        })
        .collect();
    out.push_str(&format!("|{}|\n", rule.join("|")));
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

fn grid(reports: &[PhaseReport], cell: impl Fn(&PhaseReport) -> String) -> String {
    let engines = first_seen(reports.iter().map(|r| r.engine.as_str()));
    let mut phases = first_seen(reports.iter().map(|r| r.phase.as_str()));
    // Rows in the standard order, whichever engine ran a phase first.
    phases.sort_by_key(|p| phase_rank(p));
    let header: Vec<String> = std::iter::once("phase".to_string())
        .chain(engines.iter().map(|e| e.to_string()))
        .collect();
    // A phase run more than once (a cold scan, then a warm one) gets a row per run.
    let runs = |engine: &str, phase: &str| {
        reports
            .iter()
            .filter(|r| r.engine == engine && r.phase == phase)
            .count()
    };
    let rows: Vec<Vec<String>> = phases
        .iter()
        .flat_map(|&phase| {
            let times = engines.iter().map(|e| runs(e, phase)).max().unwrap_or(1);
            (0..times).map(move |k| (phase, k))
        })
        .map(|(phase, k)| {
            let label = match k {
                0 => phase.to_string(),
                k => format!("{phase} (run {})", k + 1),
            };
            std::iter::once(label)
                .chain(engines.iter().map(|&engine| {
                    reports
                        .iter()
                        .filter(|r| r.engine == engine && r.phase == phase)
                        .nth(k)
                        .map_or_else(|| "n/a".to_string(), &cell)
                }))
                .collect()
        })
        .collect();
    markdown(&header, &rows)
}

/// Throughput per phase and engine, with the 99th-percentile latency of one call.
pub fn throughput_table(reports: &[PhaseReport]) -> String {
    grid(reports, |r| match r.p99_us {
        Some(p99) => format!("{}/s (p99 {})", si(r.ops_per_sec), latency(p99)),
        None => format!("{}/s", si(r.ops_per_sec)),
    })
}

/// What the amplification table's cells mean.
pub const AMPLIFICATION_LEGEND: &str = "W = bytes the engine wrote / bytes the user wrote; \
    R = bytes the engine read per operation; S = bytes on disk / live key+value bytes; \
    \"-\" = no disk (mem) or nothing to divide by. kvlab's engines and RocksDB count their \
    own I/O; another peer's figures are this process's read and write system calls, marked \"(sys)\", or \
    for reads through a memory map the bytes the block layer fetched for this process, \
    marked \"(blk)\": no figure includes another process's I/O.";

/// Write amplification, bytes read from disk per operation, and space amplification. A
/// figure that does not come from the engine's own counters carries its source: "(sys)"
/// for this process's system calls, "(blk)" for the block layer's reads for this process
/// (a peer that reads through a memory map).
pub fn amplification_table(reports: &[PhaseReport]) -> String {
    grid(reports, |r| {
        let (w_mark, r_mark) = match IoSource::from_name(&r.io_source) {
            Some(IoSource::Syscalls) => (" (sys)", " (sys)"),
            Some(IoSource::SyscallWritesMappedReads) => (" (sys)", " (blk)"),
            _ => ("", ""),
        };
        let w = r
            .write_amp
            .map_or_else(|| "-".into(), |w| format!("{w:.1}{w_mark}"));
        let rd = r
            .read_bytes_per_op
            .map_or_else(|| "-".into(), |b| format!("{}{r_mark}", bytes(b)));
        let s = r.space_amp.map_or("-".into(), |s| format!("{s:.2}"));
        format!("W {w} · R {rd} · S {s}")
    })
}

/// The median of `xs` (the mean of the middle two for an even count); `None` if empty.
pub fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    Some(if xs.len() % 2 == 1 {
        xs[mid]
    } else {
        (xs[mid - 1] + xs[mid]) / 2.0
    })
}

/// What each adapter costs: per peer and phase, the median throughput over the rounds
/// through the trait (reports named after the engine) and through the engine's own API
/// (reports named `ENGINE-native`), and the first as a share of the second.
pub fn adapter_table(reports: &[PhaseReport]) -> String {
    let natives = first_seen(
        reports
            .iter()
            .filter_map(|r| r.engine.strip_suffix(NATIVE_SUFFIX)),
    );
    let mut phases = first_seen(reports.iter().map(|r| r.phase.as_str()));
    phases.sort_by_key(|p| phase_rank(p));
    let header: Vec<String> = [
        "peer",
        "phase",
        "trait",
        "native",
        "trait / native",
        "rounds",
    ]
    .map(String::from)
    .to_vec();
    let mut rows = Vec::new();
    for engine in natives {
        let native_name = format!("{engine}{NATIVE_SUFFIX}");
        for phase in &phases {
            let figures = |name: &str| -> Vec<f64> {
                reports
                    .iter()
                    .filter(|r| r.engine == name && r.phase == *phase)
                    .map(|r| r.ops_per_sec)
                    .collect()
            };
            let (through, native) = (figures(engine), figures(&native_name));
            let rounds = through.len().min(native.len());
            let (Some(t), Some(n)) = (median(through), median(native)) else {
                continue;
            };
            let ratio = if n > 0.0 {
                format!("{:.2}", t / n)
            } else {
                "-".into()
            };
            rows.push(vec![
                engine.to_string(),
                phase.to_string(),
                format!("{}/s", si(t)),
                format!("{}/s", si(n)),
                ratio,
                rounds.to_string(),
            ]);
        }
    }
    markdown(&header, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(engine: &str, phase: &str, ops_per_sec: f64) -> PhaseReport {
        PhaseReport {
            engine: engine.into(),
            phase: phase.into(),
            ops_per_sec,
            p99_us: Some(12.5),
            write_amp: Some(2.0),
            ..PhaseReport::default()
        }
    }

    #[test]
    fn rows_are_phases_and_columns_engines() {
        let reports = vec![
            report("mem", "fillrandom", 1_500_000.0),
            report("lsm", "fillrandom", 250_000.0),
            report("mem", "readrandom", 900.0),
        ];
        let table = throughput_table(&reports);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].contains("phase") && lines[0].find("mem") < lines[0].find("lsm"));
        assert!(
            lines[1].starts_with("|---") && lines[1].ends_with(":|"),
            "{}",
            lines[1]
        );
        assert_eq!(lines[1].len(), lines[0].len(), "the rule spans the header");
        assert!(lines[2].starts_with("| fillrandom") && lines[2].contains("1.50M/s"));
        assert!(lines[2].contains("250.0k/s (p99 12.5 µs)"));
        assert!(
            lines[3].contains("n/a"),
            "lsm has no readrandom: {}",
            lines[3]
        );
        assert!(amplification_table(&reports).contains("W 2.0 · R - · S -"));
    }

    #[test]
    fn a_phase_run_twice_gets_a_row_per_run() {
        let reports = vec![
            report("btree", "readseq", 1_000.0),
            report("btree", "readseq", 2_000.0),
            report("lsm", "readseq", 3_000.0),
        ];
        let table = throughput_table(&reports);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(lines[2].starts_with("| readseq ") && lines[2].contains("1.0k/s"));
        assert!(lines[2].contains("3.0k/s"), "{table}");
        assert!(lines[3].starts_with("| readseq (run 2)") && lines[3].contains("2.0k/s"));
        assert!(lines[3].contains("n/a"), "lsm ran it once: {table}");
    }

    #[test]
    fn a_peers_figures_carry_their_source_and_the_devices_are_not_used() {
        let peer = |source: &str| PhaseReport {
            engine: "lmdb".into(),
            phase: "fillrandom".into(),
            ops: 1000,
            user_bytes_written: 1000,
            io_source: source.into(),
            write_amp: Some(2.5),
            read_bytes_per_op: Some(4096.0),
            // The whole machine's counters: never shown for an engine.
            dev_write_bytes: Some(99_000),
            dev_read_bytes: Some(99_000_000),
            ..PhaseReport::default()
        };
        let table = amplification_table(&[peer("syscalls+faults")]);
        assert!(
            table.contains("W 2.5 (sys) · R 4.1 KB (blk) · S -"),
            "{table}"
        );
        let table = amplification_table(&[peer("vfs")]);
        assert!(table.contains("W 2.5 · R 4.1 KB · S -"), "{table}");
        let mem = PhaseReport {
            io_source: "none".into(),
            ..peer("none")
        };
        let table = amplification_table(&[PhaseReport {
            write_amp: None,
            read_bytes_per_op: None,
            ..mem
        }]);
        assert!(table.contains("W - · R - · S -"), "{table}");
    }

    #[test]
    fn the_adapter_table_sets_medians_side_by_side() {
        let mut reports = Vec::new();
        for (through, native) in [(80.0, 100.0), (90.0, 95.0), (70.0, 200.0)] {
            reports.push(report("lmdb", "readseq", through));
            reports.push(report("lmdb-native", "readseq", native));
        }
        reports.push(report("lmdb", "readrandom", 50.0));
        let table = adapter_table(&reports);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "readrandom has no native figure: {table}");
        // Medians 80 and 100: the trait runs at 0.80 of native, over three rounds.
        assert!(lines[2].starts_with("| lmdb | readseq"), "{table}");
        assert!(
            lines[2].contains(" 80/s") && lines[2].contains(" 100/s"),
            "{table}"
        );
        assert!(
            lines[2].contains("0.80") && lines[2].ends_with("3 |"),
            "{table}"
        );
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }

    #[test]
    fn units() {
        assert_eq!(si(999.0), "999");
        assert_eq!(bytes(4096.0), "4.1 KB");
        assert_eq!(bytes(100.0), "100 B");
    }
}
