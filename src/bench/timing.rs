//! Latency histograms and splitting a phase's operations over threads.

use std::ops::Range;
use std::time::Instant;

use hdrhistogram::Histogram;

use crate::error::{Error, Result};

/// A latency histogram in nanoseconds, from 1 ns to an hour at 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds")
}

/// Records the time since `since` in `hist`.
pub fn record(hist: &mut Histogram<u64>, since: Instant) {
    let ns = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
    hist.saturating_record(ns.max(1));
}

/// The `q` quantile of `hist` in µs: `None` for a phase without a histogram or samples.
pub fn quantile_us(hist: Option<&Histogram<u64>>, q: f64) -> Option<f64> {
    hist.filter(|h| !h.is_empty())
        .map(|h| h.value_at_quantile(q) as f64 / 1000.0)
}

/// The positions of batch `b` when `0..total` is cut into batches of `len`.
pub fn batch(b: u64, len: u64, total: u64) -> Range<u64> {
    b * len..((b + 1) * len).min(total)
}

fn worker_panicked() -> Error {
    Error::invalid("a benchmark thread panicked")
}

/// Splits `0..total` over `threads` workers and merges their latency histograms.
pub fn parallel<F>(threads: usize, total: u64, work: F) -> Result<Histogram<u64>>
where
    F: Fn(usize, Range<u64>, &mut Histogram<u64>) -> Result<()> + Sync,
{
    let threads = threads.max(1) as u64;
    if threads == 1 {
        // On the calling thread: a thread started for each phase is given another of
        // glibc's malloc arenas, and what the last phase's thread freed stays in its own
        // (peak RSS of a 1M fill, read and overwrite of the LSM: 192 MB, 125 MB here).
        let mut hist = histogram();
        return std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            work(0, 0..total, &mut hist)
        }))
        .unwrap_or_else(|_| Err(worker_panicked()))
        .map(|()| hist);
    }
    let results: Vec<Result<Histogram<u64>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|w| {
                let work = &work;
                let range = total * w / threads..total * (w + 1) / threads;
                s.spawn(move || {
                    let mut hist = histogram();
                    work(w as usize, range, &mut hist).map(|()| hist)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(worker_panicked())))
            .collect()
    });
    let mut merged = histogram();
    for hist in results {
        merged
            .add(hist?)
            .map_err(|e| Error::invalid(format!("merging histograms: {e}")))?;
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_the_range_once() {
        let positions: Vec<u64> = (0..4).flat_map(|b| batch(b, 3, 10)).collect();
        assert_eq!(positions, (0..10).collect::<Vec<_>>());
        assert!(batch(4, 3, 10).is_empty());
    }

    #[test]
    fn one_worker_runs_on_the_calling_thread_and_many_split_the_range() {
        let caller = std::thread::current().id();
        let seen = std::sync::Mutex::new(Vec::new());
        let hist = parallel(1, 10, |w, range, hist| {
            assert_eq!(std::thread::current().id(), caller);
            seen.lock().unwrap().push((w, range));
            hist.record(5).unwrap();
            Ok(())
        })
        .unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![(0, 0..10)]);
        assert_eq!(hist.len(), 1);

        seen.lock().unwrap().clear();
        let hist = parallel(3, 10, |w, range, hist| {
            assert_ne!(std::thread::current().id(), caller);
            seen.lock().unwrap().push((w, range.clone()));
            for _ in range {
                hist.record(5).unwrap();
            }
            Ok(())
        })
        .unwrap();
        let mut ranges = seen.lock().unwrap().clone();
        ranges.sort_by_key(|(w, _)| *w);
        assert_eq!(ranges, vec![(0, 0..3), (1, 3..6), (2, 6..10)]);
        assert_eq!(hist.len(), 10);
    }

    #[test]
    fn a_panicking_worker_is_an_error_with_one_thread_or_many() {
        for threads in [1, 2] {
            let result = parallel(threads, 4, |_, _, _| panic!("worker fails"));
            assert!(result.is_err(), "{threads} thread(s)");
        }
    }
}
