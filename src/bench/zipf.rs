//! Skewed choices for YCSB: the zipfian generator of Gray et al. ("Quickly generating
//! billion-record synthetic databases", SIGMOD'94), as YCSB uses it, with constant 0.99.
//!
//! - [`Zipfian`] returns item 0 most often, item 1 next, and so on.
//! - [`ScrambledZipfian`] hashes that rank over the key space, so the hot keys are spread
//!   out rather than clustered at the low indices (YCSB's default request distribution).
//! - [`Latest`] favours the most recently inserted items (YCSB workload D).

use rand::{Rng, RngExt};

use super::keys::scramble;

/// YCSB's zipfian constant.
pub const ZIPF_THETA: f64 = 0.99;

/// Zipfian ranks in `0..n`.
#[derive(Clone, Debug)]
pub struct Zipfian {
    n: u64,
    theta: f64,
    alpha: f64,
    zeta_n: f64,
    zeta_2: f64,
    eta: f64,
}

fn zeta(from: u64, to: u64, theta: f64, start: f64) -> f64 {
    (from..to).fold(start, |sum, i| sum + 1.0 / ((i + 1) as f64).powf(theta))
}

impl Zipfian {
    /// Ranks over `n` items (`n` >= 1) with constant `theta` in (0, 1).
    pub fn new(n: u64, theta: f64) -> Self {
        let n = n.max(1);
        let zeta_2 = zeta(0, 2, theta, 0.0);
        let mut z = Zipfian {
            n,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zeta_n: zeta(0, n, theta, 0.0),
            zeta_2,
            eta: 0.0,
        };
        z.eta = z.compute_eta();
        z
    }

    fn compute_eta(&self) -> f64 {
        (1.0 - (2.0 / self.n as f64).powf(1.0 - self.theta)) / (1.0 - self.zeta_2 / self.zeta_n)
    }

    /// Grows the item count to `n`, extending zeta incrementally (for [`Latest`]).
    pub fn grow(&mut self, n: u64) {
        if n > self.n {
            self.zeta_n = zeta(self.n, n, self.theta, self.zeta_n);
            self.n = n;
            self.eta = self.compute_eta();
        }
    }

    /// The number of items.
    pub fn items(&self) -> u64 {
        self.n
    }

    /// The probability of rank 0, for tests.
    pub fn p_first(&self) -> f64 {
        1.0 / self.zeta_n
    }

    /// The next rank: 0 is the most popular.
    pub fn next(&self, rng: &mut impl Rng) -> u64 {
        let u: f64 = rng.random();
        let uz = u * self.zeta_n;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1.min(self.n - 1);
        }
        let rank = (self.n as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        rank.min(self.n - 1)
    }
}

/// Zipfian popularity, with the popular items scattered over `0..n`.
#[derive(Clone, Debug)]
pub struct ScrambledZipfian {
    zipf: Zipfian,
}

impl ScrambledZipfian {
    /// Over `n` items.
    pub fn new(n: u64) -> Self {
        ScrambledZipfian {
            zipf: Zipfian::new(n, ZIPF_THETA),
        }
    }

    /// The next item.
    pub fn next(&self, rng: &mut impl Rng) -> u64 {
        scramble(self.zipf.next(rng)) % self.zipf.items()
    }
}

/// Recent items are popular: `newest - zipfian rank`.
#[derive(Clone, Debug)]
pub struct Latest {
    zipf: Zipfian,
}

impl Latest {
    /// Over the `n` items inserted so far.
    pub fn new(n: u64) -> Self {
        Latest {
            zipf: Zipfian::new(n, ZIPF_THETA),
        }
    }

    /// Records that the item count is now `n`.
    pub fn grow(&mut self, n: u64) {
        self.zipf.grow(n);
    }

    /// The next item.
    pub fn next(&self, rng: &mut impl Rng) -> u64 {
        let newest = self.zipf.items() - 1;
        newest - self.zipf.next(rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn zipfian_follows_the_power_law() {
        let n = 1000;
        let z = Zipfian::new(n, ZIPF_THETA);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let samples = 400_000;
        let mut counts = vec![0u64; n as usize];
        for _ in 0..samples {
            counts[z.next(&mut rng) as usize] += 1;
        }
        let freq = |r: usize| counts[r] as f64 / samples as f64;
        // Rank 0 has probability 1/zeta(n), about 0.134 for n = 1000.
        let p0 = z.p_first();
        assert!((freq(0) - p0).abs() < 0.05 * p0, "{} vs {p0}", freq(0));
        // p(r) ~ 1/(r+1)^theta: rank 9 about 10^-0.99 of rank 0, rank 99 about 100^-0.99.
        for r in [9usize, 99] {
            let want = p0 / ((r + 1) as f64).powf(ZIPF_THETA);
            assert!(
                (freq(r) - want).abs() < 0.25 * want,
                "rank {r}: {} vs {want}",
                freq(r)
            );
        }
    }

    #[test]
    fn latest_prefers_new_items_and_grows() {
        let mut l = Latest::new(100);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let newest = (0..10_000).filter(|_| l.next(&mut rng) == 99).count();
        assert!(newest > 1_000, "{newest}");
        l.grow(200);
        assert!((0..1_000).all(|_| l.next(&mut rng) < 200));
        assert!((0..1_000).any(|_| l.next(&mut rng) >= 100));
    }

    #[test]
    fn scrambled_spreads_the_hot_items() {
        let s = ScrambledZipfian::new(1_000_000);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let hot: Vec<u64> = (0..1000).map(|_| s.next(&mut rng)).collect();
        assert!(hot.iter().all(|&i| i < 1_000_000));
        assert!(hot.iter().any(|&i| i > 500_000) && hot.iter().any(|&i| i < 500_000));
    }
}
