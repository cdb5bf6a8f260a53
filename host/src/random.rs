//! WASI `random_get`: SHA-256 in counter mode over a fixed seed. One file for both hosts: the
//! browser host compiles it too (`#[path]`), so a fresh instance sees the same byte stream in the
//! browser as under the CLI, and hash-map orders (and so the order of reasons in a message)
//! agree. Pure: sha2 only, no wasmtime.

use sha2::{Digest, Sha256};

/// The generator behind WASI `random_get`: SHA-256 in counter mode over a fixed seed, so every
/// fresh instance sees the same byte stream. Deliberately reproducible: guests use randomness
/// for hash-map seeds, and a fixed seed keeps their iteration order, and so the order of the
/// reasons in a rejection message, the same from run to run. Not for secrets: a policy has
/// none to keep offline. (A request crafted against the known seeds could slow a guest's hash
/// maps; the timeout bounds that.)
pub struct Drbg {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl Default for Drbg {
    fn default() -> Self {
        Drbg::new()
    }
}

impl Drbg {
    /// A generator at the start of the fixed stream.
    pub fn new() -> Drbg {
        Drbg {
            seed: Sha256::digest(b"aksid-host random_get v1").into(),
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    /// The next `out.len()` bytes of the stream.
    pub fn fill(&mut self, out: &mut [u8]) {
        for byte in out {
            if self.used == self.block.len() {
                let mut hasher = Sha256::new();
                hasher.update(self.seed);
                hasher.update(self.counter.to_le_bytes());
                self.block = hasher.finalize().into();
                self.counter += 1;
                self.used = 0;
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_the_hosts_and_independent_of_chunking() {
        let seed: [u8; 32] = Sha256::digest(b"aksid-host random_get v1").into();
        let mut first = Sha256::new();
        first.update(seed);
        first.update(0u64.to_le_bytes());
        let mut second = Sha256::new();
        second.update(seed);
        second.update(1u64.to_le_bytes());
        let expected: Vec<u8> = first
            .finalize()
            .into_iter()
            .chain(second.finalize())
            .collect();
        let mut whole = [0u8; 64];
        Drbg::new().fill(&mut whole);
        assert_eq!(whole.to_vec(), expected);
        let mut chunked = Drbg::new();
        let mut parts = [0u8; 64];
        let (a, b) = parts.split_at_mut(7);
        chunked.fill(a);
        chunked.fill(b);
        assert_eq!(parts, whole);
    }
}
