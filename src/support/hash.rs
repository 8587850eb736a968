//! A fast, non-cryptographic hasher for in-memory maps keyed by short names.

/// FxHash (rustc's hasher): a multiply and a rotate per word. Series keys are
/// short and not attacker-chosen in a way that matters here, and this lookup
/// runs once per row.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let word = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` hasher builder for [`FxHasher`].
pub type FxBuild = std::hash::BuildHasherDefault<FxHasher>;
