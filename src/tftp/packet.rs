//! TFTP packets (RFC 1350 §5, the OACK of RFC 2347), parsed from and
//! encoded to bytes, with no I/O. Everything a datagram can hold is
//! checked here: a malformed one is an error, never a panic
//! (fuzz/fuzz_targets/tftp_parse.rs).

/// Opcodes (RFC 1350 §5, RFC 2347).
const RRQ: u16 = 1;
const WRQ: u16 = 2;
const DATA: u16 = 3;
const ACK: u16 = 4;
const ERROR: u16 = 5;
const OACK: u16 = 6;

/// Options a request may carry before we stop reading them: a real client
/// sends at most five (blksize, tsize, timeout, windowsize, utimeout).
const MAX_OPTIONS: usize = 16;

/// The transfer mode of a request (RFC 1350 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Octet,
    /// Text: line ends go out as CR LF, a bare CR as CR NUL.
    Netascii,
    /// Obsolete (RFC 1350 says "should not" be implemented): refused.
    Mail,
}

/// A read or write request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub filename: String,
    pub mode: Mode,
    /// Option names lower-cased, values as sent, first of each name only.
    pub options: Vec<(String, String)>,
}

/// One packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    Read(Request),
    Write(Request),
    Data { block: u16, data: &'a [u8] },
    Ack(u16),
    Error { code: u16, message: String },
    Oack(Vec<(String, String)>),
}

/// Why a datagram is not a TFTP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("shorter than a TFTP header")]
    Short,
    #[error("unknown opcode {0}")]
    Opcode(u16),
    #[error("a string is not NUL-terminated")]
    Unterminated,
    #[error("a string is not UTF-8")]
    NotText,
    #[error("unknown transfer mode {0:?}")]
    Mode(String),
    #[error("an option has no value")]
    OptionWithoutValue,
    #[error("empty file name")]
    EmptyName,
}

/// Error codes (RFC 1350 appendix, RFC 2347 for 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum ErrorCode {
    NotDefined = 0,
    FileNotFound = 1,
    AccessViolation = 2,
    IllegalOperation = 4,
    UnknownTid = 5,
    OptionRefused = 8,
}

/// Parses one datagram.
pub fn parse(buf: &[u8]) -> Result<Packet<'_>, ParseError> {
    let (op, rest) = split_u16(buf)?;
    match op {
        RRQ => Ok(Packet::Read(request(rest)?)),
        WRQ => Ok(Packet::Write(request(rest)?)),
        DATA => {
            let (block, data) = split_u16(rest)?;
            Ok(Packet::Data { block, data })
        }
        ACK => Ok(Packet::Ack(split_u16(rest)?.0)),
        ERROR => {
            let (code, rest) = split_u16(rest)?;
            // Clients do not always terminate the message; take it as is.
            let text = rest.split(|b| *b == 0).next().unwrap_or_default();
            Ok(Packet::Error {
                code,
                message: String::from_utf8_lossy(text).into_owned(),
            })
        }
        OACK => Ok(Packet::Oack(options(&mut Strings(rest))?)),
        other => Err(ParseError::Opcode(other)),
    }
}

fn split_u16(buf: &[u8]) -> Result<(u16, &[u8]), ParseError> {
    match buf {
        [a, b, rest @ ..] => Ok((u16::from_be_bytes([*a, *b]), rest)),
        _ => Err(ParseError::Short),
    }
}

/// NUL-terminated strings, one after another.
struct Strings<'a>(&'a [u8]);

impl<'a> Strings<'a> {
    /// The next string; `None` at the end of the buffer.
    fn next(&mut self) -> Option<Result<&'a str, ParseError>> {
        if self.0.is_empty() {
            return None;
        }
        let Some(end) = self.0.iter().position(|b| *b == 0) else {
            return Some(Err(ParseError::Unterminated));
        };
        let (s, rest) = self.0.split_at(end);
        self.0 = &rest[1..];
        Some(std::str::from_utf8(s).map_err(|_| ParseError::NotText))
    }
}

fn request(buf: &[u8]) -> Result<Request, ParseError> {
    let mut s = Strings(buf);
    let filename = s.next().ok_or(ParseError::Unterminated)??;
    if filename.is_empty() {
        return Err(ParseError::EmptyName);
    }
    let mode = s.next().ok_or(ParseError::Unterminated)??;
    let mode = match mode.to_ascii_lowercase().as_str() {
        "octet" => Mode::Octet,
        "netascii" => Mode::Netascii,
        "mail" => Mode::Mail,
        _ => return Err(ParseError::Mode(mode.chars().take(32).collect())),
    };
    Ok(Request {
        filename: filename.to_string(),
        mode,
        options: options(&mut s)?,
    })
}

/// Name/value pairs to the end; names lower-cased, the first of a name kept.
fn options(s: &mut Strings<'_>) -> Result<Vec<(String, String)>, ParseError> {
    let mut out: Vec<(String, String)> = Vec::new();
    while let Some(name) = s.next() {
        let name = name?.to_ascii_lowercase();
        let value = s.next().ok_or(ParseError::OptionWithoutValue)??;
        if out.len() < MAX_OPTIONS && !out.iter().any(|(n, _)| *n == name) {
            out.push((name, value.to_string()));
        }
    }
    Ok(out)
}

/// A DATA packet into `out` (cleared first), so a transfer reuses one buffer.
pub fn data_into(out: &mut Vec<u8>, block: u16, data: &[u8]) {
    out.clear();
    out.extend_from_slice(&DATA.to_be_bytes());
    out.extend_from_slice(&block.to_be_bytes());
    out.extend_from_slice(data);
}

/// An ERROR packet; the message is cut at 255 bytes (at a char boundary).
pub fn error(code: ErrorCode, message: &str) -> Vec<u8> {
    let mut end = message.len().min(255);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = Vec::with_capacity(5 + end);
    out.extend_from_slice(&ERROR.to_be_bytes());
    out.extend_from_slice(&(code as u16).to_be_bytes());
    out.extend_from_slice(message[..end].replace('\0', " ").as_bytes());
    out.push(0);
    out
}

/// An OACK with these options, in this order.
pub fn oack(options: &[(String, String)]) -> Vec<u8> {
    let mut out = OACK.to_be_bytes().to_vec();
    for (name, value) in options {
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value.as_bytes());
        out.push(0);
    }
    out
}

/// An ACK (tests and the benchmark client use it; the server only sends data).
pub fn ack(block: u16) -> [u8; 4] {
    let [a, b] = ACK.to_be_bytes();
    let [c, d] = block.to_be_bytes();
    [a, b, c, d]
}

/// A read request (tests, the benchmark client and the fuzz corpus).
pub fn read_request(filename: &str, mode: &str, options: &[(&str, &str)]) -> Vec<u8> {
    let mut out = RRQ.to_be_bytes().to_vec();
    for s in [filename, mode]
        .into_iter()
        .chain(options.iter().flat_map(|(n, v)| [*n, *v]))
    {
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let raw = read_request(
            "SEP001122334455.cnf.xml",
            "OCTET",
            &[("BlkSize", "1428"), ("tsize", "0")],
        );
        let Ok(Packet::Read(r)) = parse(&raw) else {
            panic!("not a read request")
        };
        assert_eq!(r.filename, "SEP001122334455.cnf.xml");
        assert_eq!(r.mode, Mode::Octet);
        assert_eq!(
            r.options,
            vec![
                ("blksize".to_string(), "1428".to_string()),
                ("tsize".to_string(), "0".to_string())
            ]
        );
        let mut w = raw.clone();
        w[1] = 2;
        assert!(matches!(parse(&w), Ok(Packet::Write(_))));
    }

    #[test]
    fn malformed_requests_are_errors() {
        assert_eq!(parse(&[0]), Err(ParseError::Short));
        assert_eq!(parse(&[0, 9]), Err(ParseError::Opcode(9)));
        assert_eq!(parse(b"\0\x01f\0octet"), Err(ParseError::Unterminated));
        assert_eq!(parse(b"\0\x01\0octet\0"), Err(ParseError::EmptyName));
        assert!(matches!(
            parse(b"\0\x01f\0binary\0"),
            Err(ParseError::Mode(_))
        ));
        assert_eq!(
            parse(b"\0\x01f\0octet\0blksize\0"),
            Err(ParseError::OptionWithoutValue)
        );
        assert_eq!(parse(b"\0\x01\xff\0octet\0"), Err(ParseError::NotText));
    }

    #[test]
    fn acks_errors_and_data() {
        assert_eq!(parse(&ack(65535)), Ok(Packet::Ack(65535)));
        let e = error(ErrorCode::FileNotFound, "File not found");
        assert_eq!(
            parse(&e),
            Ok(Packet::Error {
                code: 1,
                message: "File not found".into()
            })
        );
        let mut d = Vec::new();
        data_into(&mut d, 7, b"abc");
        assert_eq!(
            parse(&d),
            Ok(Packet::Data {
                block: 7,
                data: b"abc"
            })
        );
        let o = oack(&[("blksize".into(), "1428".into())]);
        assert_eq!(
            parse(&o),
            Ok(Packet::Oack(vec![("blksize".into(), "1428".into())]))
        );
    }
}
