//! Content digests: sha256 in hex, and the fingerprint of a (model) file that backends put in
//! their identity and trained adapters record as their base. Pure over what it is given: the
//! caller opens the file.

use std::io::{Read, Seek, SeekFrom};

/// sha256 of `bytes`, in hex.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Blocks read by `fingerprint`, and their size.
const FINGERPRINT_BLOCKS: u64 = 32;
const FINGERPRINT_BLOCK: u64 = 64 * 1024;

/// A content fingerprint of a (model) file of `len` bytes read from `f`: sha256 over its
/// length and 32 blocks of 64 KiB spread evenly from its first byte to its last (the whole
/// file when it is smaller than that). A replaced, re-quantised or fine-tuned GGUF changes
/// it, while hundreds of megabytes are not read at every start.
pub fn fingerprint(mut f: impl Read + Seek, len: u64) -> std::io::Result<String> {
    let mut data = len.to_le_bytes().to_vec();
    if len <= FINGERPRINT_BLOCKS * FINGERPRINT_BLOCK {
        f.read_to_end(&mut data)?;
    } else {
        let step = (len - FINGERPRINT_BLOCK) / (FINGERPRINT_BLOCKS - 1);
        let mut block = vec![0u8; FINGERPRINT_BLOCK as usize];
        for i in 0..FINGERPRINT_BLOCKS {
            let at = if i + 1 == FINGERPRINT_BLOCKS {
                len - FINGERPRINT_BLOCK
            } else {
                i * step
            };
            f.seek(SeekFrom::Start(at))?;
            f.read_exact(&mut block)?;
            data.extend_from_slice(&block);
        }
    }
    Ok(digest(&data))
}
