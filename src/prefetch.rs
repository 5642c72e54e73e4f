//! A hint to the CPU, shared by the engines: load these bytes' cache lines now.

/// Asks the CPU to start loading every cache line of `data` (a hint, for bytes about to be
/// searched or copied: their misses then overlap instead of following one another).
#[inline]
pub(crate) fn prefetch_lines(data: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        for at in (0..data.len()).step_by(64) {
            // SAFETY: a prefetch is only a hint, and the address is inside `data`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(data.as_ptr().add(at).cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}
