//! First stage of the CSV import pipeline: raw file bytes → a table of string cells
//! with exact row and physical line numbers.
//!
//! What happens here (see `docs/reference/csv.md`, section "Dialect"):
//!
//! 1. Refuse files that are obviously not CSV (ZIP/XLSX/ODS, old Excel, PDF, gzip, HTML,
//!    binary with NUL bytes) before decoding, with a message saying what the file looks like.
//! 2. Pick the encoding. A byte-order mark always wins (it proves the encoding), whatever
//!    [`EncodingChoice`] says; without one, `Auto`/`Utf8` mean strict UTF-8, `Windows1252` means
//!    Windows-1252 and `Utf16` means UTF-16LE. Invalid input is refused with the line of the first
//!    bad byte; nothing is ever decoded lossily.
//! 3. Normalise line endings (CRLF and lone CR become LF, also inside quoted cells), so LF, CRLF,
//!    CR and mixed files give identical cells and identical line numbers.
//! 4. Detect the delimiter from the header record (unless forced), refuse unterminated quotes,
//!    then parse with the `csv` crate.
//! 5. Skip blank and delimiter-only records; the first remaining record is the header (trimmed),
//!    the rest are data records numbered from 1 (cells returned exactly as parsed).
//!
//! Field counts are not checked here; a later stage reports rows with too many or too few fields.

use std::borrow::Cow;

/// Which encoding to decode the file with (`--encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingChoice {
    /// UTF-8 (BOM optional) or UTF-16 with a BOM.
    Auto,
    /// Strict UTF-8 (a UTF-8 BOM is stripped).
    Utf8,
    /// Windows-1252, what Excel's "CSV (Comma delimited)" writes in western locales.
    Windows1252,
    /// UTF-16; the BOM gives the byte order, little-endian without one.
    Utf16,
}

/// Options for [`read_table`].
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Forced delimiter (`--delimiter`); `None` detects it from the header record.
    pub delimiter: Option<u8>,
    /// Forced encoding (`--encoding`), or [`EncodingChoice::Auto`].
    pub encoding: EncodingChoice,
}

/// A decoded and parsed CSV file.
#[derive(Debug, Clone)]
pub struct Table {
    /// "utf-8", "utf-16le", "utf-16be" or "windows-1252" (a stripped UTF-8 BOM reports "utf-8").
    pub encoding: &'static str,
    /// Whether the file started with a byte-order mark.
    pub bom: bool,
    /// The delimiter used (detected or forced).
    pub delimiter: u8,
    /// Header cells, trimmed of ASCII space, tab and no-break space.
    pub headers: Vec<String>,
    /// Physical line of the header (1 unless blank lines precede it).
    pub header_line: usize,
    /// Data records, blank and delimiter-only records skipped.
    pub records: Vec<Record>,
}

/// One data record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 1-based number among the data records (header and skipped lines not counted).
    pub row: usize,
    /// Physical line (1-based) where the record starts.
    pub line: usize,
    /// Cells exactly as parsed (not trimmed); the count is not checked here.
    pub fields: Vec<String>,
}

/// A problem with the file as a whole.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct FileError {
    /// Stable code: `E_NOT_CSV`, `E_ENCODING`, `E_EMPTY_FILE`, `E_UNTERMINATED_QUOTE`,
    /// `E_DELIMITER` (unusable forced delimiter) or `E_PARSE` (should not happen).
    pub code: &'static str,
    /// Physical line (1-based) the problem is on, when there is one.
    pub line: Option<usize>,
    /// Human-readable explanation.
    pub message: String,
}

impl FileError {
    fn new(code: &'static str, line: Option<usize>, message: impl Into<String>) -> Self {
        FileError {
            code,
            line,
            message: message.into(),
        }
    }
}

/// Human name of a delimiter for reports: ",", ";", "tab", "|".
pub fn delimiter_name(d: u8) -> &'static str {
    // Printable ASCII 0x21..=0x7E, so any printable delimiter gets a `&'static str` of itself.
    const PRINTABLE: &str = "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";
    match d {
        b'\t' => "tab",
        b' ' => "space",
        0x21..=0x7E => {
            let i = usize::from(d - 0x21);
            PRINTABLE.get(i..i + 1).unwrap_or("?")
        }
        0x80..=0xFF => "non-ASCII byte",
        _ => "control character",
    }
}

/// Candidate delimiters for detection, in tie-break order.
const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

const SAVE_AS_CSV: &str = "save it as 'CSV UTF-8' and import that";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Enc {
    Utf8,
    Windows1252,
    Utf16Le,
    Utf16Be,
}

impl Enc {
    fn label(self) -> &'static str {
        match self {
            Enc::Utf8 => "utf-8",
            Enc::Windows1252 => "windows-1252",
            Enc::Utf16Le => "utf-16le",
            Enc::Utf16Be => "utf-16be",
        }
    }

    fn is_utf16(self) -> bool {
        matches!(self, Enc::Utf16Le | Enc::Utf16Be)
    }
}

/// Decode, split and number a CSV file.
pub fn read_table(bytes: &[u8], opts: &ReadOptions) -> Result<Table, FileError> {
    if bytes.is_empty() {
        return Err(empty_file());
    }
    refuse_by_magic(bytes)?;

    // A BOM proves the encoding, whatever was forced.
    let (enc, bom_len) = if bytes.starts_with(UTF8_BOM) {
        (Enc::Utf8, 3)
    } else if bytes.starts_with(b"\xFF\xFE") {
        (Enc::Utf16Le, 2)
    } else if bytes.starts_with(b"\xFE\xFF") {
        (Enc::Utf16Be, 2)
    } else {
        let enc = match opts.encoding {
            EncodingChoice::Auto | EncodingChoice::Utf8 => Enc::Utf8,
            EncodingChoice::Windows1252 => Enc::Windows1252,
            EncodingChoice::Utf16 => Enc::Utf16Le,
        };
        (enc, 0)
    };
    let body = bytes.get(bom_len..).unwrap_or_default();

    if !enc.is_utf16() {
        if body.contains(&0) {
            return Err(binary_file());
        }
        refuse_html(body)?;
    }

    let text: Cow<'_, str> = match enc {
        Enc::Utf8 => match std::str::from_utf8(body) {
            Ok(s) => Cow::Borrowed(s),
            Err(e) => return Err(utf8_error(body, e.valid_up_to())),
        },
        Enc::Windows1252 => {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(body)
                .0
        }
        Enc::Utf16Le | Enc::Utf16Be => {
            let big_endian = enc == Enc::Utf16Be;
            let encoding = if big_endian {
                encoding_rs::UTF_16BE
            } else {
                encoding_rs::UTF_16LE
            };
            let decoded = encoding
                .decode_without_bom_handling_and_without_replacement(body)
                .ok_or_else(|| utf16_error(body, big_endian))?;
            if decoded.contains('\0') {
                return Err(binary_file());
            }
            refuse_html(decoded.as_bytes())?;
            decoded
        }
    };

    let text = normalize_newlines(text);
    let delimiter = match opts.delimiter {
        Some(d) => check_forced_delimiter(d)?,
        None => detect_delimiter(text.as_bytes()),
    };
    check_quotes(text.as_bytes(), delimiter)?;
    let (headers, header_line, records) = parse(&text, delimiter)?;

    Ok(Table {
        encoding: enc.label(),
        bom: bom_len > 0,
        delimiter,
        headers,
        header_line,
        records,
    })
}

fn empty_file() -> FileError {
    FileError::new(
        "E_EMPTY_FILE",
        None,
        "the file is empty (no header line, only blank lines or nothing at all)",
    )
}

fn binary_file() -> FileError {
    FileError::new(
        "E_NOT_CSV",
        None,
        "the file contains NUL bytes: it looks like a binary file, not CSV text \
         (if it is UTF-16 without a byte-order mark, pass --encoding utf-16)",
    )
}

fn refuse_by_magic(bytes: &[u8]) -> Result<(), FileError> {
    let what = if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        // ODF puts an uncompressed `mimetype` member first.
        let head = &bytes[..bytes.len().min(128)];
        if contains_subslice(head, b"application/vnd.oasis.opendocument.spreadsheet") {
            format!("looks like a LibreOffice .ods spreadsheet (a ZIP file); {SAVE_AS_CSV}")
        } else {
            format!("looks like an Excel .xlsx workbook (a ZIP file); {SAVE_AS_CSV}")
        }
    } else if bytes.starts_with(b"\xD0\xCF\x11\xE0") {
        format!("looks like an old Excel .xls workbook (an OLE2 compound file); {SAVE_AS_CSV}")
    } else if bytes.starts_with(b"%PDF") {
        "looks like a PDF document, not a CSV file".to_owned()
    } else if bytes.starts_with(b"\x1F\x8B") {
        "looks like a gzip-compressed file; decompress it and import the CSV inside".to_owned()
    } else {
        return Ok(());
    };
    Err(FileError::new(
        "E_NOT_CSV",
        None,
        format!("the file {what}"),
    ))
}

/// `text` is the file after its BOM (UTF-8/Windows-1252 bytes or decoded UTF-16).
fn refuse_html(text: &[u8]) -> Result<(), FileError> {
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    let rest = &text[start..];
    let is_html = [&b"<!doctype html"[..], b"<html", b"<head", b"<body"]
        .iter()
        .any(|tag| rest.len() >= tag.len() && rest[..tag.len()].eq_ignore_ascii_case(tag));
    if is_html {
        return Err(FileError::new(
            "E_NOT_CSV",
            None,
            "the file looks like an HTML page, e.g. a login page from a failed download; \
             download the CSV again (check the URL and that you are logged in)",
        ));
    }
    Ok(())
}

fn contains_subslice(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Physical line (1-based) of byte offset `pos`: LF, CRLF and lone CR each end one line.
fn physical_line(bytes: &[u8], pos: usize) -> usize {
    let before = &bytes[..pos.min(bytes.len())];
    let mut line = 1;
    for (i, &b) in before.iter().enumerate() {
        if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
            line += 1;
        }
    }
    line
}

fn utf8_error(body: &[u8], pos: usize) -> FileError {
    let line = physical_line(body, pos);
    let byte = body.get(pos).copied().unwrap_or(0);
    FileError::new(
        "E_ENCODING",
        Some(line),
        format!(
            "byte 0x{byte:02X} is not valid UTF-8. The file is probably in a legacy \
             encoding such as Windows-1252 (what Excel's \"CSV (Comma delimited)\" writes): \
             re-save it as \"CSV UTF-8\", or import it with the encoding windows-1252 \
             (--encoding windows-1252)"
        ),
    )
}

/// Locate the first malformed code unit of UTF-16 input that encoding_rs refused.
fn utf16_error(body: &[u8], big_endian: bool) -> FileError {
    let units: Vec<u16> = body
        .chunks_exact(2)
        .map(|c| {
            let pair = [c[0], c[1]];
            if big_endian {
                u16::from_be_bytes(pair)
            } else {
                u16::from_le_bytes(pair)
            }
        })
        .collect();
    let mut line = 1;
    let mut i = 0;
    let mut problem = None;
    while i < units.len() {
        let u = units[i];
        match u {
            0x000A => line += 1,
            0x000D if units.get(i + 1) != Some(&0x000A) => line += 1,
            0xD800..=0xDBFF => {
                if matches!(units.get(i + 1), Some(0xDC00..=0xDFFF)) {
                    i += 1;
                } else {
                    problem = Some(format!("an unpaired surrogate 0x{u:04X}"));
                    break;
                }
            }
            0xDC00..=0xDFFF => {
                problem = Some(format!("an unpaired surrogate 0x{u:04X}"));
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let problem = problem.unwrap_or_else(|| {
        "an odd number of bytes (the file ends in the middle of a character)".to_owned()
    });
    let order = if big_endian { "UTF-16BE" } else { "UTF-16LE" };
    FileError::new(
        "E_ENCODING",
        Some(line),
        format!("the file is not valid {order}: {problem}"),
    )
}

/// CRLF and lone CR → LF. Borrows when there is no CR at all.
fn normalize_newlines(text: Cow<'_, str>) -> Cow<'_, str> {
    if !text.contains('\r') {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest: &str = &text;
    while let Some(i) = rest.find('\r') {
        out.push_str(&rest[..i]);
        out.push('\n');
        rest = &rest[i + 1..];
        if let Some(after) = rest.strip_prefix('\n') {
            rest = after;
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn check_forced_delimiter(d: u8) -> Result<u8, FileError> {
    if d.is_ascii() && !matches!(d, b'"' | b'\n' | b'\r' | 0) {
        Ok(d)
    } else {
        Err(FileError::new(
            "E_DELIMITER",
            None,
            format!(
                "cannot use byte 0x{d:02X} as the delimiter: it must be an ASCII character other \
                 than a quote or a line break (usually ',', ';', tab or '|')"
            ),
        ))
    }
}

/// Not content for blank-record purposes: whitespace or a candidate delimiter.
fn is_filler_char(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{a0}' | ',' | ';' | '|')
}

fn is_trim_char(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{a0}')
}

fn trim_cell(s: &str) -> &str {
    s.trim_matches(is_trim_char)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Q {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// Count candidate delimiters outside quotes in the header record: the first record with any
/// content besides whitespace and candidate delimiters. `text` uses LF line endings only.
///
/// The delimiter is not known yet, so a quote opens a quoted field at the start of a line or right
/// after any candidate delimiter.
fn detect_delimiter(text: &[u8]) -> u8 {
    let mut counts = [0usize; 4];
    let mut content = false;
    let mut state = Q::FieldStart;
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        i += 1;
        let cand = CANDIDATES.iter().position(|&c| c == b);
        match state {
            Q::Quoted => {
                if b == b'"' {
                    state = Q::QuoteInQuoted;
                    continue;
                }
                // Delimiters and newlines inside quotes are data.
                if b == b'\n' || cand.is_some() {
                    continue;
                }
            }
            Q::FieldStart | Q::Unquoted | Q::QuoteInQuoted => {
                if b == b'"' && state == Q::QuoteInQuoted {
                    // Escaped quote: a literal `"` in the cell.
                    state = Q::Quoted;
                    content = true;
                    continue;
                }
                if b == b'"' && state == Q::FieldStart {
                    state = Q::Quoted;
                    continue;
                }
                if let Some(k) = cand {
                    counts[k] += 1;
                    state = Q::FieldStart;
                    continue;
                }
                if b == b'\n' {
                    if content {
                        break;
                    }
                    counts = [0; 4];
                    state = Q::FieldStart;
                    continue;
                }
                state = Q::Unquoted;
            }
        }
        // `b` is a cell byte: content unless it is whitespace (space, or NBSP = C2 A0).
        if b == b' ' {
            continue;
        }
        if b == 0xC2 && text.get(i) == Some(&0xA0) {
            i += 1;
            continue;
        }
        content = true;
    }
    if !content {
        return b',';
    }
    let mut best = 0;
    for k in 1..CANDIDATES.len() {
        if counts[k] > counts[best] {
            best = k;
        }
    }
    if counts[best] == 0 {
        b','
    } else {
        CANDIDATES[best]
    }
}

/// Refuse a quoted field that is never closed (the csv crate silently accepts EOF inside quotes).
/// Mirrors csv-core: a quote opens a quoted field only as the first byte of a field; inside, `""`
/// is an escaped quote and a lone `"` closes it. `text` uses LF line endings only.
fn check_quotes(text: &[u8], delimiter: u8) -> Result<(), FileError> {
    let mut state = Q::FieldStart;
    let mut open_at = 0usize;
    for (i, &b) in text.iter().enumerate() {
        state = match state {
            Q::FieldStart if b == b'"' => {
                open_at = i;
                Q::Quoted
            }
            Q::Quoted if b == b'"' => Q::QuoteInQuoted,
            Q::Quoted => Q::Quoted,
            Q::QuoteInQuoted if b == b'"' => Q::Quoted,
            _ if b == delimiter || b == b'\n' => Q::FieldStart,
            _ => Q::Unquoted,
        };
    }
    if state == Q::Quoted {
        // Only computed on error: the line where the quote opened.
        let open_line = 1 + text[..open_at].iter().filter(|&&b| b == b'\n').count();
        return Err(FileError::new(
            "E_UNTERMINATED_QUOTE",
            Some(open_line),
            "a quoted field starts here but its closing quote (\") is never \
             found, so the rest of the file would become one cell; check this line for a \
             stray or missing \""
                .to_string(),
        ));
    }
    Ok(())
}

type Parsed = (Vec<String>, usize, Vec<Record>);

/// Parse LF-normalised text with the csv crate; number records by physical start line.
fn parse(text: &str, delimiter: u8) -> Result<Parsed, FileError> {
    let bytes = text.as_bytes();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .quoting(true)
        .double_quote(true)
        .buffer_capacity(64 * 1024)
        .from_reader(bytes);

    let mut record = csv::StringRecord::new();
    let mut header: Option<(Vec<String>, usize)> = None;
    let mut records = Vec::new();
    // Newlines are counted incrementally: `line` is the line of byte offset `counted_to`.
    let mut line = 1usize;
    let mut counted_to = 0usize;

    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let at = e.position().map(|p| p.line() as usize);
                return Err(FileError::new(
                    "E_PARSE",
                    at,
                    format!("the file could not be parsed as CSV: {e}"),
                ));
            }
        }
        // The csv position is where the previous record ended; skip the empty lines csv-core
        // skipped to find where this record really starts.
        let mut start = record
            .position()
            .map_or(counted_to, |p| {
                usize::try_from(p.byte()).unwrap_or(usize::MAX)
            })
            .clamp(counted_to, bytes.len());
        while bytes.get(start) == Some(&b'\n') {
            start += 1;
        }
        line += bytes[counted_to..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        counted_to = start;

        match &header {
            None => {
                if record.iter().all(|cell| cell.chars().all(is_filler_char)) {
                    continue;
                }
                let cells = record.iter().map(|c| trim_cell(c).to_owned()).collect();
                header = Some((cells, line));
            }
            Some(_) => {
                if record.iter().all(|cell| trim_cell(cell).is_empty()) {
                    continue;
                }
                records.push(Record {
                    row: records.len() + 1,
                    line,
                    fields: record.iter().map(str::to_owned).collect(),
                });
            }
        }
    }

    let (headers, header_line) = header.ok_or_else(empty_file)?;
    Ok((headers, header_line, records))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto() -> ReadOptions {
        ReadOptions {
            delimiter: None,
            encoding: EncodingChoice::Auto,
        }
    }

    fn with_enc(encoding: EncodingChoice) -> ReadOptions {
        ReadOptions {
            delimiter: None,
            encoding,
        }
    }

    fn read(bytes: &[u8]) -> Table {
        match read_table(bytes, &auto()) {
            Ok(t) => t,
            Err(e) => panic!("unexpected error {}: {}", e.code, e.message),
        }
    }

    fn err(bytes: &[u8], opts: &ReadOptions) -> FileError {
        match read_table(bytes, opts) {
            Ok(t) => panic!("expected an error, got {t:?}"),
            Err(e) => e,
        }
    }

    fn fields(t: &Table) -> Vec<Vec<&str>> {
        t.records
            .iter()
            .map(|r| r.fields.iter().map(String::as_str).collect())
            .collect()
    }

    fn lines(t: &Table) -> Vec<(usize, usize)> {
        t.records.iter().map(|r| (r.row, r.line)).collect()
    }

    fn utf16(s: &str, big_endian: bool) -> Vec<u8> {
        let mut out = if big_endian {
            vec![0xFE, 0xFF]
        } else {
            vec![0xFF, 0xFE]
        };
        for u in s.encode_utf16() {
            let b = if big_endian {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            };
            out.extend_from_slice(&b);
        }
        out
    }

    #[test]
    fn plain_utf8() {
        let t = read("username,first_name\njdoe,Jürgen\nasmith,Ann\n".as_bytes());
        assert_eq!(t.encoding, "utf-8");
        assert!(!t.bom);
        assert_eq!(t.delimiter, b',');
        assert_eq!(t.headers, ["username", "first_name"]);
        assert_eq!(t.header_line, 1);
        assert_eq!(fields(&t), [["jdoe", "Jürgen"], ["asmith", "Ann"]]);
        assert_eq!(lines(&t), [(1, 2), (2, 3)]);
    }

    #[test]
    fn utf8_bom_is_stripped() {
        let t = read(b"\xEF\xBB\xBFmac,username\r\n0004f2aabbcc,jdoe\r\n");
        assert_eq!(t.encoding, "utf-8");
        assert!(t.bom);
        assert_eq!(t.headers, ["mac", "username"]);
        assert_eq!(fields(&t), [["0004f2aabbcc", "jdoe"]]);
    }

    #[test]
    fn utf16le_bom_with_tab() {
        let bytes = utf16("username\tdisplay_name\r\njdoe\tJosé Doe\r\n", false);
        let t = read(&bytes);
        assert_eq!(t.encoding, "utf-16le");
        assert!(t.bom);
        assert_eq!(t.delimiter, b'\t');
        assert_eq!(t.headers, ["username", "display_name"]);
        assert_eq!(fields(&t), [["jdoe", "José Doe"]]);
        assert_eq!(lines(&t), [(1, 2)]);
    }

    #[test]
    fn utf16be_bom() {
        let bytes = utf16("username;extension\nanna;0042\n", true);
        let t = read(&bytes);
        assert_eq!(t.encoding, "utf-16be");
        assert!(t.bom);
        assert_eq!(t.delimiter, b';');
        assert_eq!(fields(&t), [["anna", "0042"]]);
    }

    #[test]
    fn utf16_forced_without_bom_is_le_and_unpaired_surrogate_refused() {
        let mut bytes: Vec<u8> = "a,b\n1,2\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let t = read_table(&bytes, &with_enc(EncodingChoice::Utf16)).unwrap();
        assert_eq!(t.encoding, "utf-16le");
        assert!(!t.bom);
        assert_eq!(fields(&t), [["1", "2"]]);
        // Without the forced encoding the NULs say "binary".
        assert_eq!(err(&bytes, &auto()).code, "E_NOT_CSV");
        // A lone high surrogate on line 3.
        bytes.extend_from_slice(&0xD800u16.to_le_bytes());
        let e = err(&bytes, &with_enc(EncodingChoice::Utf16));
        assert_eq!((e.code, e.line), ("E_ENCODING", Some(3)));
        assert!(e.message.contains("0xD800"), "{}", e.message);
    }

    #[test]
    fn cp1252_refused_with_line_and_hint() {
        let bytes = b"username,last_name\r\njdoe,Doe\r\nrene,Ren\xE9 \x80uro\r\n";
        let e = err(bytes, &auto());
        assert_eq!(e.code, "E_ENCODING");
        assert_eq!(e.line, Some(3));
        // The line is the issue's field; the message does not repeat it.
        assert!(!e.message.contains("line 3"), "{}", e.message);
        assert!(e.message.contains("0xE9"), "{}", e.message);
        assert!(
            e.message.contains("--encoding windows-1252"),
            "{}",
            e.message
        );
        assert!(e.message.contains("CSV (Comma delimited)"), "{}", e.message);
        // Forcing UTF-8 behaves the same.
        assert_eq!(err(bytes, &with_enc(EncodingChoice::Utf8)), e);
        // Same line with CR-only line endings.
        let cr = b"username,last_name\rjdoe,Doe\rrene,Ren\xE9\r";
        assert_eq!(err(cr, &auto()).line, Some(3));
    }

    #[test]
    fn cp1252_accepted_when_forced() {
        let bytes = b"username;last_name\r\nrene;Ren\xE9 \x80uro\r\n";
        let t = read_table(bytes, &with_enc(EncodingChoice::Windows1252)).unwrap();
        assert_eq!(t.encoding, "windows-1252");
        assert!(!t.bom);
        assert_eq!(t.delimiter, b';');
        assert_eq!(fields(&t), [["rene", "René €uro"]]);
        assert!(!t.records[0].fields[1].contains('\u{FFFD}'));
    }

    #[test]
    fn forced_cp1252_with_utf8_bom_decodes_utf8() {
        let bytes = "\u{FEFF}a,b\nx,é\n".as_bytes();
        let t = read_table(bytes, &with_enc(EncodingChoice::Windows1252)).unwrap();
        assert_eq!(t.encoding, "utf-8");
        assert!(t.bom);
        assert_eq!(fields(&t), [["x", "é"]]);
    }

    #[test]
    fn each_delimiter_detected() {
        for (d, name) in [(b',', ","), (b';', ";"), (b'\t', "tab"), (b'|', "|")] {
            let sep = char::from(d);
            let text = format!("a{sep}b{sep}c\n1{sep}2{sep}3\n");
            let t = read(text.as_bytes());
            assert_eq!(t.delimiter, d, "{name}");
            assert_eq!(delimiter_name(t.delimiter), name);
            assert_eq!(t.headers, ["a", "b", "c"]);
            assert_eq!(fields(&t), [["1", "2", "3"]]);
        }
    }

    #[test]
    fn delimiter_ties_and_defaults() {
        assert_eq!(read(b"a;b,c\n").delimiter, b',');
        assert_eq!(read(b"a;b\tc\n").delimiter, b';');
        assert_eq!(read(b"a|b\tc\n").delimiter, b'\t');
        assert_eq!(read(b"a;b;c,d\n").delimiter, b';');
        let single = read(b"username\njdoe\n");
        assert_eq!(single.delimiter, b',');
        assert_eq!(fields(&single), [["jdoe"]]);
    }

    #[test]
    fn delimiter_inside_quotes_not_counted() {
        let t = read(b"\"last, first\";\"a,b,c\";x\n\"Doe, J\";1;2\n");
        assert_eq!(t.delimiter, b';');
        assert_eq!(t.headers, ["last, first", "a,b,c", "x"]);
        assert_eq!(fields(&t), [["Doe, J", "1", "2"]]);
        // Detection uses the first non-blank record, skipping blank and `;;;` lines.
        let t = read(b"\n;;;\n  \na|b|c\n1|2|3\n");
        assert_eq!(t.delimiter, b'|');
        assert_eq!(t.header_line, 4);
        assert_eq!(lines(&t), [(1, 5)]);
    }

    #[test]
    fn forced_delimiter() {
        let opts = ReadOptions {
            delimiter: Some(b';'),
            encoding: EncodingChoice::Auto,
        };
        let t = read_table(b"a,b;c\n1,2;3\n", &opts).unwrap();
        assert_eq!(t.delimiter, b';');
        assert_eq!(t.headers, ["a,b", "c"]);
        for bad in [b'"', b'\n', b'\r', 0xE9] {
            let opts = ReadOptions {
                delimiter: Some(bad),
                encoding: EncodingChoice::Auto,
            };
            assert_eq!(err(b"a,b\n", &opts).code, "E_DELIMITER");
        }
    }

    #[test]
    fn line_endings_give_identical_tables() {
        let lf = "h1,h2\n\na,\"multi\nline\"\n,,\nb,c\nd,e";
        let variants = [
            lf.to_owned(),
            lf.replace('\n', "\r\n"),
            lf.replace('\n', "\r"),
            // mixed
            "h1,h2\r\n\na,\"multi\rline\"\r\n,,\rb,c\nd,e\r\n".to_owned(),
        ];
        for v in &variants {
            let t = read(v.as_bytes());
            assert_eq!(t.headers, ["h1", "h2"], "{v:?}");
            assert_eq!(t.header_line, 1);
            assert_eq!(
                fields(&t),
                [vec!["a", "multi\nline"], vec!["b", "c"], vec!["d", "e"]],
                "{v:?}"
            );
            assert_eq!(lines(&t), [(1, 3), (2, 6), (3, 7)], "{v:?}");
        }
    }

    #[test]
    fn quoted_newline_shifts_next_line() {
        let t = read(b"a,b\n\"x\n\ny\",1\nz,2\n");
        assert_eq!(fields(&t), [["x\n\ny", "1"], ["z", "2"]]);
        assert_eq!(lines(&t), [(1, 2), (2, 5)]);
    }

    #[test]
    fn doubled_quotes_are_escapes() {
        let t = read(b"a,b\n\"say \"\"hi\"\"\",\"\"\"\"\nx\"y,\"\"\n");
        assert_eq!(fields(&t), [["say \"hi\"", "\""], ["x\"y", ""]]);
    }

    #[test]
    fn unterminated_quote_names_opening_line() {
        let e = err(b"a,b\n1,2\n3,\"open\n4,5\n6,7\n", &auto());
        assert_eq!(e.code, "E_UNTERMINATED_QUOTE");
        assert_eq!(e.line, Some(3));
        // The line is the issue's field, not repeated in the message.
        assert!(!e.message.contains("line 3"), "{}", e.message);
        // Same with CRLF, and a closed quote followed by an unclosed one.
        let e = err(b"a,b\r\n\"ok\r\nstill\",2\r\n\r\nx,\"\"\"\r\n", &auto());
        assert_eq!((e.code, e.line), ("E_UNTERMINATED_QUOTE", Some(5)));
        // A quote in the middle of an unquoted field is literal, not an opening quote.
        let t = read(b"a,b\nx\"y,1\n");
        assert_eq!(fields(&t), [["x\"y", "1"]]);
    }

    #[test]
    fn blank_and_delimiter_only_lines_skipped() {
        let t = read(b"\n\n  user , ext \n\n,,,\n a ,1\n ; , \t \n\"\",\"\"\nb,2\n\n");
        assert_eq!(t.header_line, 3);
        assert_eq!(t.headers, ["user", "ext"]);
        // Data cells are not trimmed.
        assert_eq!(
            fields(&t),
            [vec![" a ", "1"], vec![" ; ", " \t "], vec!["b", "2"]]
        );
        let t = read("user;ext\n;;;\n\u{a0};\nb;2\n".as_bytes());
        assert_eq!(fields(&t), [["b", "2"]]);
        assert_eq!(lines(&t), [(1, 4)]);
    }

    #[test]
    fn header_cells_trimmed_including_nbsp() {
        // One comma and one tab: the tie goes to the comma.
        let t = read(" \u{a0}username\u{a0} , \tmac \n".as_bytes());
        assert_eq!(t.headers, ["username", "mac"]);
        assert!(t.records.is_empty());
    }

    #[test]
    fn ragged_rows_returned_as_parsed() {
        let t = read(b"a,b\n1\n1,2,3\n");
        assert_eq!(fields(&t), [vec!["1"], vec!["1", "2", "3"]]);
    }

    #[test]
    fn not_csv_refused() {
        let cases: [(&[u8], &str); 8] = [
            (b"PK\x03\x04\x14\x00\x06\x00rest", ".xlsx"),
            (
                b"PK\x03\x04\x14\x00\x00\x00\x00\x00mimetypeapplication/vnd.oasis.opendocument.spreadsheet",
                ".ods",
            ),
            (b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", ".xls"),
            (b"%PDF-1.7\n", "PDF"),
            (b"\xEF\xBB\xBF  \r\n<!DOCTYPE html><html>", "HTML"),
            (b"<HTML><body>Login</body></HTML>", "HTML"),
            (b"\n<head><title>x</title>", "HTML"),
            (b"a,b\n1,\x002\n", "binary"),
        ];
        for (bytes, what) in cases {
            let e = err(bytes, &auto());
            assert_eq!(e.code, "E_NOT_CSV", "{what}");
            assert_eq!(e.line, None);
            assert!(e.message.contains(what), "{what}: {}", e.message);
        }
        let e = err(b"<html>", &with_enc(EncodingChoice::Windows1252));
        assert!(e.message.contains("login page"), "{}", e.message);
        let e = err(&utf16("<!doctype html>\n", false), &auto());
        assert_eq!(e.code, "E_NOT_CSV");
        let e = err(&utf16("a,b\n1,\u{0}\n", true), &auto());
        assert_eq!(e.code, "E_NOT_CSV");
        // A cell mentioning html is fine.
        assert_eq!(read(b"note\n<html> tag\n").headers, ["note"]);
    }

    #[test]
    fn empty_files() {
        for bytes in [
            &b""[..],
            b"\xEF\xBB\xBF",
            b"\xFF\xFE",
            b"\n\n\r\n",
            b"  \n,,,\n;;\n\t\n",
            b"\"\",\"\"\n",
        ] {
            let e = err(bytes, &auto());
            assert_eq!(e.code, "E_EMPTY_FILE", "{bytes:?}");
            assert_eq!(e.line, None);
        }
        // A header alone is not empty.
        let t = read(b"username\n");
        assert!(t.records.is_empty());
    }

    #[test]
    fn delimiter_names() {
        assert_eq!(delimiter_name(b','), ",");
        assert_eq!(delimiter_name(b';'), ";");
        assert_eq!(delimiter_name(b'\t'), "tab");
        assert_eq!(delimiter_name(b'|'), "|");
        assert_eq!(delimiter_name(b':'), ":");
        assert_eq!(delimiter_name(b' '), "space");
        assert_eq!(delimiter_name(0x7F), "control character");
        assert_eq!(delimiter_name(0xFF), "non-ASCII byte");
        for d in 0..=255u8 {
            assert!(!delimiter_name(d).is_empty());
        }
    }

    /// Small deterministic generator (xorshift64*), no extra dependencies.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const ALPHABET: &[u8] =
        b"\"\",,;;\t|\n\n\r a b\xC3\xA9\xC2\xA0\xE9\x00\xFF\xFE\xEF\xBB\xBF<hPK";

    fn random_bytes(rng: &mut Rng) -> Vec<u8> {
        let len = rng.below(48);
        (0..len)
            .map(|_| {
                if rng.below(8) == 0 {
                    rng.next() as u8
                } else {
                    ALPHABET[rng.below(ALPHABET.len())]
                }
            })
            .collect()
    }

    fn summary(r: &Result<Table, FileError>) -> String {
        match r {
            Ok(t) => format!(
                "{} {} {} {:?} {} {:?}",
                t.encoding, t.bom, t.delimiter, t.headers, t.header_line, t.records
            ),
            Err(e) => format!("{e:?}"),
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let encodings = [
            EncodingChoice::Auto,
            EncodingChoice::Utf8,
            EncodingChoice::Windows1252,
            EncodingChoice::Utf16,
        ];
        let delimiters = [
            None,
            Some(b','),
            Some(b';'),
            Some(b'\t'),
            Some(b'"'),
            Some(0xA0),
        ];
        for _ in 0..4000 {
            let bytes = random_bytes(&mut rng);
            let opts = ReadOptions {
                delimiter: delimiters[rng.below(delimiters.len())],
                encoding: encodings[rng.below(encodings.len())],
            };
            if let Ok(t) = read_table(&bytes, &opts) {
                for (i, r) in t.records.iter().enumerate() {
                    assert_eq!(r.row, i + 1);
                    assert!(r.line > t.header_line);
                }
            }
        }
    }

    #[test]
    fn random_line_endings_agree() {
        // Any LF-only input gives the same result (cells, lines, errors) as CRLF and CR.
        let mut rng = Rng(0xD1B5_4A32_D192_ED03);
        for _ in 0..3000 {
            let lf: Vec<u8> = random_bytes(&mut rng)
                .into_iter()
                .filter(|&b| b != b'\r')
                .collect();
            if lf.starts_with(b"\xFF\xFE") || lf.starts_with(b"\xFE\xFF") {
                // Inserting CR bytes into UTF-16 is not a line-ending change.
                continue;
            }
            let crlf: Vec<u8> = lf
                .iter()
                .flat_map(|&b| {
                    if b == b'\n' {
                        vec![b'\r', b'\n']
                    } else {
                        vec![b]
                    }
                })
                .collect();
            let cr: Vec<u8> = lf
                .iter()
                .map(|&b| if b == b'\n' { b'\r' } else { b })
                .collect();
            let opts = auto();
            let want = summary(&read_table(&lf, &opts));
            assert_eq!(summary(&read_table(&crlf, &opts)), want, "{lf:?}");
            assert_eq!(summary(&read_table(&cr, &opts)), want, "{lf:?}");
        }
    }

    #[test]
    fn a_big_file_reads_every_record() {
        let mut text = String::from("username,first_name,last_name,email,extension,mac,site\r\n");
        for i in 0..100_000 {
            text.push_str(&format!(
                "user{i},First{i},\"Last, {i}\",user{i}@example.com,{},00:04:f2:{:02x}:{:02x}:{:02x},Berlin HQ\r\n",
                1000 + i,
                i % 256,
                (i / 256) % 256,
                i % 7
            ));
        }
        let t = read(text.as_bytes());
        assert_eq!(t.records.len(), 100_000);
        assert_eq!(t.records[99_999].line, 100_001);
        assert_eq!(t.records[5].fields[2], "Last, 5");
        // Its speed is measured by scripts/bench-import.sh, not here: a
        // timed test fails on a loaded CI machine and proves nothing.
    }
}
