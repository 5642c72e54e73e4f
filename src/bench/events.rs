//! The events table the layout benchmark loads: a deterministic generator of `n` rows
//! (fixed seed; row `i` is a function of `i` alone, so any row can be regenerated to check
//! an answer), and the answers the queries must give, computed from the generator.
//!
//! | column | type | values |
//! | --- | --- | --- |
//! | id | u64 | 0 .. n, the primary key |
//! | ts | u64 | milliseconds, 1 s apart on average with up to 1 s of jitter |
//! | user_id | u64 | zipfian (0.99) over 100,000 users |
//! | country | string | 30 two-letter codes, zipfian (0.99) |
//! | device | string | mobile 55%, desktop 35%, tablet 8%, tv 2% |
//! | amount | f64 | 0.01 .. 1000.00, two decimals |
//! | is_refund | bool | true for 2% |
//! | note | string | 40 random letters and digits (incompressible) |

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::zipf::Zipfian;
use crate::table::{Column, ColumnType, Record, Schema, Value};

const SEED: u64 = 0x6576_656e_7473; // "events"
/// The first event's time: 2024-01-01T00:00:00Z in milliseconds.
pub const TS_START: u64 = 1_704_067_200_000;
/// Users the zipfian user_id draws from.
pub const USERS: u64 = 100_000;
/// The country codes, most frequent first.
pub const COUNTRIES: [&str; 30] = [
    "us", "de", "gb", "fr", "in", "br", "jp", "ca", "it", "es", "mx", "kr", "au", "nl", "tr", "pl",
    "se", "ch", "be", "ar", "no", "at", "dk", "fi", "ie", "pt", "cz", "nz", "gr", "cl",
];
/// The devices and their weights (percent).
pub const DEVICES: [(&str, u32); 4] = [("mobile", 55), ("desktop", 35), ("tablet", 8), ("tv", 2)];
const NOTE_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The schema of the events table.
pub fn schema() -> Schema {
    Schema::new(vec![
        Column::new("id", ColumnType::U64),
        Column::new("ts", ColumnType::U64),
        Column::new("user_id", ColumnType::U64),
        Column::new("country", ColumnType::String),
        Column::new("device", ColumnType::String),
        Column::new("amount", ColumnType::F64),
        Column::new("is_refund", ColumnType::Bool),
        Column::new("note", ColumnType::String),
    ])
    .expect("the events schema is valid")
}

/// Row `i` of the table, as plain fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The primary key, `i`.
    pub id: u64,
    /// Milliseconds since the epoch.
    pub ts: u64,
    /// The user.
    pub user_id: u64,
    /// Index into [`COUNTRIES`].
    pub country: usize,
    /// Index into the devices.
    pub device: usize,
    /// The amount in cents (the f64 column holds cents / 100).
    pub cents: u64,
    /// Whether the event is a refund.
    pub is_refund: bool,
    /// 40 random letters and digits.
    pub note: String,
}

impl Event {
    /// The amount as the table stores it.
    pub fn amount(&self) -> f64 {
        cents_to_amount(self.cents)
    }

    /// The event as a record of [`schema`].
    pub fn record(&self) -> Record {
        vec![
            Value::U64(self.id),
            Value::U64(self.ts),
            Value::U64(self.user_id),
            Value::String(COUNTRIES[self.country].to_owned()),
            Value::String(DEVICES[self.device].0.to_owned()),
            Value::F64(self.amount()),
            Value::Bool(self.is_refund),
            Value::String(self.note.clone()),
        ]
    }

    /// Bytes of the event's fields in fixed-width binary: 8 per integer and f64, 1 per
    /// bool, and the bytes of each string (the "raw" size the layouts are compared with).
    pub fn raw_bytes(&self) -> u64 {
        (8 * 4 + 1 + COUNTRIES[self.country].len() + DEVICES[self.device].0.len() + self.note.len())
            as u64
    }
}

/// Cents as the two-decimal f64 the table stores.
pub fn cents_to_amount(cents: u64) -> f64 {
    cents as f64 / 100.0
}

/// The generator: row `i` is the same for every call.
pub struct Events {
    users: Zipfian,
    countries: Zipfian,
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}

impl Events {
    /// A generator (building the zipfian tables takes a few milliseconds).
    pub fn new() -> Self {
        Events {
            users: Zipfian::new(USERS, 0.99),
            countries: Zipfian::new(COUNTRIES.len() as u64, 0.99),
        }
    }

    fn rng(i: u64, salt: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(SEED ^ salt ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    /// Row `i`.
    pub fn event(&self, i: u64) -> Event {
        let mut rng = Self::rng(i, 0);
        let ts = TS_START + i * 1000 + rng.random_range(0..1000);
        let user_id = self.users.next(&mut rng);
        let country = self.countries.next(&mut rng) as usize;
        let pick = rng.random_range(0..100u32);
        let mut device = 0;
        let mut upto = 0;
        for (d, (_, weight)) in DEVICES.iter().enumerate() {
            upto += weight;
            if pick < upto {
                device = d;
                break;
            }
        }
        let cents = rng.random_range(1..=100_000);
        let is_refund = rng.random_range(0..100) < 2;
        let note = (0..40)
            .map(|_| char::from(NOTE_CHARS[rng.random_range(0..NOTE_CHARS.len())]))
            .collect();
        Event {
            id: i,
            ts,
            user_id,
            country,
            device,
            cents,
            is_refund,
            note,
        }
    }

    /// The new amount (cents) the update query gives row `i`.
    pub fn updated_cents(i: u64) -> u64 {
        Self::rng(i, 1).random_range(1..=100_000)
    }
}

/// `count` distinct rows of `0..n`, drawn with seed `salt` (sorted).
pub fn sample_rows(n: u64, count: u64, salt: u64) -> Vec<u64> {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ salt);
    let mut chosen = std::collections::BTreeSet::new();
    let count = count.min(n);
    while (chosen.len() as u64) < count {
        chosen.insert(rng.random_range(0..n));
    }
    chosen.into_iter().collect()
}

/// `count` rows of `0..n` drawn with repetition, in draw order.
pub fn random_rows(n: u64, count: u64, salt: u64) -> Vec<u64> {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ salt);
    (0..count).map(|_| rng.random_range(0..n.max(1))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_deterministic_and_fit_the_schema() {
        let events = Events::new();
        let schema = schema();
        for i in [0, 1, 999, 123_456] {
            let e = events.event(i);
            assert_eq!(e, Events::new().event(i));
            assert_eq!(schema.check_record(&e.record()).unwrap(), i);
            assert_eq!(e.note.len(), 40);
            assert!((1..=100_000).contains(&e.cents));
        }
    }

    #[test]
    fn the_distributions_are_as_documented() {
        let events = Events::new();
        let rows: Vec<Event> = (0..20_000).map(|i| events.event(i)).collect();
        let refunds = rows.iter().filter(|e| e.is_refund).count();
        assert!((250..550).contains(&refunds), "{refunds} refunds of 20000");
        let mobile = rows.iter().filter(|e| e.device == 0).count();
        assert!((10_500..11_500).contains(&mobile), "{mobile}");
        let us = rows.iter().filter(|e| e.country == 0).count();
        let cl = rows.iter().filter(|e| e.country == 29).count();
        assert!(us > 5 * cl, "skewed: {us} vs {cl}");
        assert!(rows.windows(2).all(|w| w[1].ts + 1000 > w[0].ts));
        assert_eq!(sample_rows(100, 10, 3).len(), 10);
    }
}
