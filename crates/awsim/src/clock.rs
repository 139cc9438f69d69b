//! Simulated time: real elapsed time divided by the scenario's time scale. Time advances only
//! when someone looks (each request), which keeps runs deterministic for a given request timing.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Simulated milliseconds since the emulator started.
pub type SimMs = u64;

/// Maps real time to simulated time and simulated time to wall-clock timestamps.
#[derive(Debug, Clone)]
pub struct Clock {
    start_real: Instant,
    start_epoch: f64,
    anchor_real: Instant,
    anchor_sim: SimMs,
    scale: f64,
}

impl Clock {
    /// A clock starting now with the given time scale (real seconds per simulated second).
    pub fn new(scale: f64) -> Self {
        let now = Instant::now();
        let start_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        Self {
            start_real: now,
            start_epoch,
            anchor_real: now,
            anchor_sim: 0,
            scale,
        }
    }

    /// Current simulated time.
    pub fn now(&self) -> SimMs {
        let real = self.anchor_real.elapsed().as_secs_f64();
        self.anchor_sim + (real / self.scale * 1000.0) as u64
    }

    /// Changes the time scale without making simulated time jump.
    pub fn set_scale(&mut self, scale: f64) {
        let now_sim = self.now();
        self.anchor_real = Instant::now();
        self.anchor_sim = now_sim;
        self.scale = scale;
    }

    /// Jumps simulated time forward by `secs` simulated seconds.
    pub fn advance(&mut self, secs: f64) {
        self.anchor_sim += Self::ms(secs);
    }

    /// Wall-clock epoch seconds at which simulated instant `sim` happens (or happened).
    /// Timestamps shown to clients are in real time, consistent with the client's own clock.
    pub fn epoch(&self, sim: SimMs) -> f64 {
        let anchor_offset = (self.anchor_real - self.start_real).as_secs_f64();
        let delta = (sim as f64 - self.anchor_sim as f64) / 1000.0 * self.scale;
        let t = self.start_epoch + anchor_offset + delta;
        (t * 1000.0).round() / 1000.0
    }

    /// Simulated seconds to simulated milliseconds (negative and NaN become 0).
    pub fn ms(secs: f64) -> SimMs {
        if secs.is_finite() && secs > 0.0 {
            (secs * 1000.0) as u64
        } else {
            0
        }
    }
}

/// SplitMix64: a tiny, well-mixed deterministic hash used for seeded draws and ids.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes a seed and a list of parts into one u64 (FNV over the parts, then SplitMix).
pub fn hash_parts(seed: u64, parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    mix(h)
}

/// A deterministic uniform draw in [0, 1).
pub fn unit(seed: u64, parts: &[&str]) -> f64 {
    (hash_parts(seed, parts) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_time_runs_faster() {
        let c = Clock::new(0.001);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(c.now() >= 20_000, "{}", c.now());
        let e0 = c.epoch(0);
        assert!((c.epoch(1_000_000) - e0 - 1.0).abs() < 0.01);
    }

    #[test]
    fn draws_are_deterministic() {
        assert_eq!(unit(1, &["a", "b"]), unit(1, &["a", "b"]));
        assert_ne!(unit(1, &["a", "b"]), unit(2, &["a", "b"]));
        let u = unit(3, &["x"]);
        assert!((0.0..1.0).contains(&u));
    }
}
