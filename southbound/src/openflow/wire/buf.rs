//! Checked reading and writing of big-endian OpenFlow fields.

use super::WireError;

/// A cursor over a byte slice whose every read is bounds-checked and
/// names what it was reading when the bytes ran out.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `data`.
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if self.remaining() < n {
            return Err(WireError::Truncated(what));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.data[self.pos..];
        self.pos = self.data.len();
        s
    }

    /// Whether the next `n` bytes exist and are all zero.
    pub fn rest_is_padded(&self, n: usize) -> bool {
        self.data[self.pos..]
            .get(..n)
            .is_some_and(|b| b.iter().all(|&x| x == 0))
    }

    /// Skips `n` bytes (padding).
    pub fn skip(&mut self, n: usize, what: &'static str) -> Result<(), WireError> {
        self.bytes(n, what).map(|_| ())
    }

    /// One byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.bytes(1, what)?[0])
    }

    /// A big-endian u16.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A big-endian u32.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A big-endian u64.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, WireError> {
        let b = self.bytes(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// A sub-reader over the next `n` bytes.
    pub fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>, WireError> {
        Ok(Reader::new(self.bytes(n, what)?))
    }
}

/// Appends a big-endian u16.
pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian u32.
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian u64.
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends zeros until `out.len() - start` is a multiple of 8.
pub fn pad8(out: &mut Vec<u8>, start: usize) {
    while !(out.len() - start).is_multiple_of(8) {
        out.push(0);
    }
}

/// `n` rounded up to a multiple of 8.
pub fn round8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

/// Writes the length of the structure that starts at `start` (its u16
/// length field at `start + at`), failing when it does not fit.
pub fn set_len16(out: &mut [u8], start: usize, at: usize) -> Result<(), WireError> {
    let len = u16::try_from(out.len() - start).map_err(|_| WireError::TooLong)?;
    out[start + at..start + at + 2].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// An OpenFlow property (`struct ofp_prop_header` and its data): type,
/// length (without padding) and data; padded to 8 bytes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// Property type.
    pub ty: u16,
    /// Property data (without the 4-byte header and the padding).
    pub data: Vec<u8>,
}

impl Property {
    /// A property.
    pub fn new(ty: u16, data: Vec<u8>) -> Property {
        Property { ty, data }
    }

    /// Parses properties until `r` is empty (`ofpprop_pull`); each is
    /// padded to 8 bytes except possibly the last.
    pub fn parse_list(r: &mut Reader<'_>) -> Result<Vec<Property>, WireError> {
        let mut out = Vec::new();
        while !r.is_empty() {
            let ty = r.u16("property type")?;
            let len = r.u16("property length")? as usize;
            if len < 4 {
                return Err(WireError::BadLength("property", len));
            }
            let data = r.bytes(len - 4, "property data")?.to_vec();
            let pad = (round8(len) - len).min(r.remaining());
            let padding = r.bytes(pad, "property padding")?;
            if padding.iter().any(|&b| b != 0) {
                return Err(WireError::Invalid("non-zero property padding"));
            }
            out.push(Property { ty, data });
        }
        Ok(out)
    }

    /// Bytes on the wire, padding included.
    pub fn buffer_len(&self) -> usize {
        round8(4 + self.data.len())
    }

    /// Appends the property, padded to 8 bytes (`ofpprop_put`).
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let start = out.len();
        put_u16(out, self.ty);
        put_u16(out, 0);
        out.extend_from_slice(&self.data);
        set_len16(out, start, 2)?;
        pad8(out, start);
        Ok(())
    }

    /// Appends every property.
    pub fn emit_list(props: &[Property], out: &mut Vec<u8>) -> Result<(), WireError> {
        props.iter().try_for_each(|p| p.emit(out))
    }
}
