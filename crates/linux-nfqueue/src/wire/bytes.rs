// SPDX-License-Identifier: MIT OR Apache-2.0
//! Checked byte-order helpers: every read returns `None` instead of panicking.

/// Rounds `len` up to the netlink alignment of 4, saturating at `usize::MAX & !3`.
#[inline]
pub(crate) const fn align4(len: usize) -> usize {
    match len.checked_add(3) {
        Some(n) => n & !3,
        None => usize::MAX & !3,
    }
}

#[inline]
pub(crate) fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    let end = at.checked_add(N)?;
    let s = b.get(at..end)?;
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    Some(a)
}

#[inline]
pub(crate) fn read_be16(b: &[u8], at: usize) -> Option<u16> {
    array(b, at).map(u16::from_be_bytes)
}

#[inline]
pub(crate) fn read_be32(b: &[u8], at: usize) -> Option<u32> {
    array(b, at).map(u32::from_be_bytes)
}

#[inline]
pub(crate) fn read_be64(b: &[u8], at: usize) -> Option<u64> {
    array(b, at).map(u64::from_be_bytes)
}

#[inline]
pub(crate) fn read_ne16(b: &[u8], at: usize) -> Option<u16> {
    array(b, at).map(u16::from_ne_bytes)
}

#[inline]
pub(crate) fn read_ne32(b: &[u8], at: usize) -> Option<u32> {
    array(b, at).map(u32::from_ne_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_checked() {
        let b = [1u8, 2, 3, 4, 5];
        assert_eq!(read_be16(&b, 0), Some(0x0102));
        assert_eq!(read_be32(&b, 1), Some(0x0203_0405));
        assert_eq!(read_be32(&b, 2), None);
        assert_eq!(read_be64(&b, 0), None);
        assert_eq!(read_be16(&b, usize::MAX), None);
        assert_eq!(align4(73), 76);
        assert_eq!(align4(76), 76);
        assert_eq!(align4(usize::MAX), usize::MAX & !3);
    }
}
