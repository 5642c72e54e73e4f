//! What a benchmark run does, and how big: the numbers every phase reads.

use super::keys::KEY_LEN;
use crate::error::{Error, Result};

/// What to run, and how big.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// n: the records `fillseq`/`fillrandom` insert.
    pub records: u64,
    /// Value size of the db_bench phases (100).
    pub value_size: usize,
    /// Entries per write batch, one commit each (1000).
    pub batch: usize,
    /// Threads sharing each phase's operations (1).
    pub threads: usize,
    /// Gets in each random-read phase (default n).
    pub reads: Option<u64>,
    /// Gets in `readrandom_cold` (default min(n, 10 000): each reaches the device).
    pub cold_reads: Option<u64>,
    /// Short scans in the seek phases (default n / 10).
    pub seeks: Option<u64>,
    /// Durable single puts in `syncwrite` (default min(n, 1000)).
    pub sync_writes: Option<u64>,
    /// Operations of a YCSB run (default n).
    pub ycsb_ops: Option<u64>,
    /// Record size of YCSB, key included (1 KiB).
    pub ycsb_record: usize,
    /// Seed of every random choice.
    pub seed: u64,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            records: 100_000,
            value_size: 100,
            batch: 1000,
            threads: 1,
            reads: None,
            cold_reads: None,
            seeks: None,
            sync_writes: None,
            ycsb_ops: None,
            ycsb_record: 1024,
            seed: 0x006b_766c_6162, // "kvlab"
        }
    }
}

impl BenchConfig {
    /// Checks the numbers make sense.
    pub fn validate(&self) -> Result<()> {
        if self.records == 0 {
            return Err(Error::invalid("--records must be at least 1"));
        }
        if self.batch == 0 {
            return Err(Error::invalid("--batch must be at least 1"));
        }
        if self.threads == 0 || self.threads > 256 {
            return Err(Error::invalid("--threads must be 1 to 256"));
        }
        if self.value_size > crate::MAX_VALUE_LEN {
            return Err(Error::invalid(
                "--value-size is over the 16 MiB value limit",
            ));
        }
        if self.ycsb_record <= KEY_LEN {
            return Err(Error::invalid(
                "the YCSB record must be larger than its 16-byte key",
            ));
        }
        Ok(())
    }

    pub(crate) fn reads(&self) -> u64 {
        self.reads.unwrap_or(self.records)
    }
}
