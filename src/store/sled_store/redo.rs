//! The redo log's byte format: a sequence of `[op][key len u32][key]` with,
//! for puts, `[value len u32][value]` following. `P` and `D` put and remove
//! in the `records` tree (the only ops of the first layout, so a log it left
//! still replays); `X` removes a shard. Our own writer produces it; the
//! reader still checks every length, since it reads from disk.

#[derive(Default)]
pub struct Writer(Vec<u8>);

pub enum Op<'a> {
    Put(&'a [u8], &'a [u8]),
    Del(&'a [u8]),
    /// Removes a shard (key in the `shards` tree).
    DelShard(&'a [u8]),
}

impl Writer {
    pub fn with_capacity(bytes: usize) -> Writer {
        Writer(Vec::with_capacity(bytes))
    }

    fn chunk(&mut self, bytes: &[u8]) {
        self.0
            .extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        self.0.extend_from_slice(bytes);
    }

    pub fn put(&mut self, key: &[u8], value: &[u8]) {
        self.0.push(b'P');
        self.chunk(key);
        self.chunk(value);
    }

    pub fn del(&mut self, key: &[u8]) {
        self.0.push(b'D');
        self.chunk(key);
    }

    pub fn del_shard(&mut self, key: &[u8]) {
        self.0.push(b'X');
        self.chunk(key);
    }

    pub fn finish(self) -> Vec<u8> {
        self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn chunk<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], String> {
    let (len, rest) = buf.split_first_chunk::<4>().ok_or("truncated length")?;
    let len = u32::from_be_bytes(*len) as usize;
    if rest.len() < len {
        return Err("truncated data".into());
    }
    let (data, rest) = rest.split_at(len);
    *buf = rest;
    Ok(data)
}

pub fn decode(mut buf: &[u8]) -> Result<Vec<Op<'_>>, String> {
    let mut ops = Vec::new();
    while let Some((&op, rest)) = buf.split_first() {
        buf = rest;
        match op {
            b'P' => {
                let k = chunk(&mut buf)?;
                let v = chunk(&mut buf)?;
                ops.push(Op::Put(k, v));
            }
            b'D' => ops.push(Op::Del(chunk(&mut buf)?)),
            b'X' => ops.push(Op::DelShard(chunk(&mut buf)?)),
            other => return Err(format!("unknown operation {other:#x}")),
        }
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_truncation() {
        let mut w = Writer::default();
        w.put(b"k1", b"v1");
        w.del(b"k2");
        w.del_shard(b"s3");
        let bytes = w.finish();
        let ops = decode(&bytes).unwrap();
        assert!(matches!(ops[0], Op::Put(b"k1", b"v1")));
        assert!(matches!(ops[1], Op::Del(b"k2")));
        assert!(matches!(ops[2], Op::DelShard(b"s3")));
        for cut in 1..bytes.len() {
            // Every proper prefix either decodes to fewer ops or errors; never panics.
            let _ = decode(&bytes[..cut]);
        }
        assert!(decode(b"X").is_err());
    }
}
