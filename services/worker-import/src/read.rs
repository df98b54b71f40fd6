//! Reading an import file, record by record, in constant memory: CSV with a header row (any of
//! `,` `;` tab `|`, quoted fields with newlines, a BOM, UTF-8 or Latin-1), a JSON array of
//! objects, or NDJSON. Synchronous: the worker runs it on a blocking thread over the storage
//! stream.
//!
//! Every record becomes exactly one [`Record`], in file order, so a restarted import can skip
//! the ones already handled by counting. No record is held beyond `max_record_bytes`: a longer
//! one becomes a [`Record::Broken`] and the rest of it is read through without being stored.

use std::io::{BufRead, BufReader, Read};

use common::imports::{ImportFormat, TextEncoding};
use serde_json::{Map, Value};

/// How much of the file is looked at to detect its encoding and separator.
const SNIFF_BYTES: usize = 64 * 1024;

/// The longest CSV record, NDJSON line or JSON array item by default (`IMPORT_MAX_RECORD_BYTES`).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 64 * 1024;
/// How much of an over-long record is kept, to show in the error file.
const KEPT_OF_LONG_RECORD: usize = 1024;

/// What the request said about the file; `None`s are detected.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    pub format: Option<ImportFormat>,
    pub encoding: Option<TextEncoding>,
    pub separator: Option<char>,
    pub phone_column: Option<String>,
    pub name_column: Option<String>,
    /// The longest CSV record, NDJSON line or JSON array item, in bytes: a longer one fails as
    /// its row and is skipped without being held (a single-line 256 MiB file is read in
    /// constant memory).
    pub max_record_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            format: None,
            encoding: None,
            separator: None,
            phone_column: None,
            name_column: None,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

/// One contact as the file writes it, before its phone is checked.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRow {
    /// The line (CSV, NDJSON) or item (JSON array) it starts at, from 1.
    pub line: i64,
    pub phone: String,
    pub name: String,
    /// The other columns or keys with a value: text, numbers, booleans.
    pub fields: Map<String, Value>,
}

/// One record of the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Row(FileRow),
    /// A record that cannot be a contact (wrong number of columns, not an object, no phone):
    /// it fails alone.
    Broken {
        line: i64,
        value: String,
        reason: String,
    },
}

/// Why the file as a whole cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(
        "no phone column: the header has {found}; name it `phone` (or telefone, celular, whatsapp, number), or say which with `phoneColumn`"
    )]
    NoPhoneColumn { found: String },
    #[error("the column `{0}` given as `{1}` is not in the header")]
    NoSuchColumn(String, &'static str),
    #[error("the file has no header row")]
    NoHeader,
    #[error("the file is not {format}: {reason}")]
    Malformed {
        format: &'static str,
        reason: String,
    },
    #[error("reading the file failed: {0}")]
    Io(#[from] std::io::Error),
}

/// What the file was found to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detected {
    pub format: ImportFormat,
    pub encoding: TextEncoding,
    pub separator: char,
}

/// Reads every record of `input`, handing each to `emit` in order; stops early when `emit`
/// returns `false`. Returns what was detected.
pub fn read_records(
    input: impl Read,
    options: &ReadOptions,
    mut emit: impl FnMut(Record) -> bool,
) -> Result<Detected, FileError> {
    let mut reader = BufReader::with_capacity(SNIFF_BYTES, input);
    let head = reader.fill_buf()?;
    let bom = head.starts_with(b"\xEF\xBB\xBF");
    let encoding = options.encoding.unwrap_or(if bom {
        TextEncoding::Utf8
    } else {
        detect_encoding(head)
    });
    let format = options.format.unwrap_or_else(|| detect_format(head));
    let separator = options
        .separator
        .unwrap_or_else(|| detect_separator(first_line(head)));
    if bom {
        reader.consume(3);
    }
    let detected = Detected {
        format,
        encoding,
        separator,
    };
    match format {
        ImportFormat::Csv => read_csv(reader, options, detected, &mut emit)?,
        ImportFormat::Ndjson => read_ndjson(reader, options, encoding, &mut emit)?,
        ImportFormat::Json => read_json_array(reader, options, &mut emit)?,
    }
    Ok(detected)
}

/// UTF-8 when the start of the file is valid UTF-8 (a character cut by the end of the sample
/// counts as valid), Latin-1 otherwise.
fn detect_encoding(head: &[u8]) -> TextEncoding {
    match std::str::from_utf8(head) {
        Ok(_) => TextEncoding::Utf8,
        Err(e) if e.error_len().is_none() => TextEncoding::Utf8,
        Err(_) => TextEncoding::Latin1,
    }
}

fn detect_format(head: &[u8]) -> ImportFormat {
    let start = head
        .iter()
        .copied()
        .find(|b| !(b.is_ascii_whitespace() || *b == 0xEF || *b == 0xBB || *b == 0xBF));
    match start {
        Some(b'[') => ImportFormat::Json,
        Some(b'{') => ImportFormat::Ndjson,
        _ => ImportFormat::Csv,
    }
}

fn first_line(head: &[u8]) -> &[u8] {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    head.split(|b| *b == b'\n').next().unwrap_or(head)
}

/// The candidate separator found most often in the header line outside quotes (`,` on a tie
/// or none).
fn detect_separator(line: &[u8]) -> char {
    let mut counts = [(',', 0usize), (';', 0), ('\t', 0), ('|', 0)];
    let mut quoted = false;
    for byte in line {
        if *byte == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (candidate, count) in &mut counts {
                if *byte == *candidate as u8 {
                    *count += 1;
                }
            }
        }
    }
    counts
        .iter()
        .fold(
            (',', 0),
            |best, &(c, n)| if n > best.1 { (c, n) } else { best },
        )
        .0
}

fn decode(bytes: &[u8], encoding: TextEncoding) -> Result<String, String> {
    match encoding {
        TextEncoding::Utf8 => std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| "not valid UTF-8 (send `encoding=latin-1` for Latin-1 files)".to_owned()),
        // ISO-8859-1 maps each byte to the code point of the same value.
        TextEncoding::Latin1 => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// A header or key reduced for matching: lower case, no accents, letters and digits only.
fn normalise_name(name: &str) -> String {
    name.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            other => other,
        })
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

const PHONE_NAMES: [&str; 14] = [
    "phone",
    "phonenumber",
    "telephone",
    "telefone",
    "tel",
    "fone",
    "celular",
    "cell",
    "mobile",
    "whatsapp",
    "number",
    "numero",
    "msisdn",
    "contato",
];
const NAME_NAMES: [&str; 5] = ["name", "nome", "fullname", "nomecompleto", "contactname"];

/// Which of `names` is the phone and which the name.
#[derive(Debug, Clone)]
struct Columns {
    phone: usize,
    name: Option<usize>,
    names: Vec<String>,
}

impl Columns {
    fn find(names: Vec<String>, options: &ReadOptions) -> Result<Self, FileError> {
        let position = |wanted: &str, option: &'static str| {
            names
                .iter()
                .position(|n| n.trim() == wanted.trim())
                .or_else(|| {
                    names
                        .iter()
                        .position(|n| normalise_name(n) == normalise_name(wanted))
                })
                .ok_or_else(|| FileError::NoSuchColumn(wanted.to_owned(), option))
        };
        let by_alias = |aliases: &[&str]| {
            aliases
                .iter()
                .find_map(|alias| names.iter().position(|n| normalise_name(n) == *alias))
        };
        let phone = match &options.phone_column {
            Some(column) => position(column, "phoneColumn")?,
            None => by_alias(&PHONE_NAMES).ok_or_else(|| FileError::NoPhoneColumn {
                found: if names.is_empty() {
                    "no columns".to_owned()
                } else {
                    names
                        .iter()
                        .map(|n| format!("`{}`", n.trim()))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            })?,
        };
        let name = match &options.name_column {
            Some(column) => Some(position(column, "nameColumn")?),
            None => by_alias(&NAME_NAMES).filter(|i| *i != phone),
        };
        Ok(Self { phone, name, names })
    }

    /// A record's values (already decoded) as a row.
    fn row(&self, line: i64, values: Vec<String>) -> Record {
        let phone = values.get(self.phone).cloned().unwrap_or_default();
        let name = self
            .name
            .and_then(|i| values.get(i).cloned())
            .unwrap_or_default();
        let mut fields = Map::new();
        for (i, value) in values.into_iter().enumerate() {
            if i == self.phone || Some(i) == self.name || value.trim().is_empty() {
                continue;
            }
            let key = self.names.get(i).map(|k| k.trim()).unwrap_or_default();
            if !key.is_empty() {
                fields.insert(key.to_owned(), Value::String(value.trim().to_owned()));
            }
        }
        Record::Row(FileRow {
            line,
            phone,
            name: name.trim().to_owned(),
            fields,
        })
    }
}

/// A CSV record as [`BoundedCsv::next`] read it.
#[derive(Debug, PartialEq, Eq)]
enum CsvRead {
    /// Its fields are [`BoundedCsv::fields`]; `line` is where it starts.
    Record {
        line: i64,
    },
    /// Its fields passed the limit: only the start of its text is kept ([`BoundedCsv::text`]),
    /// and the rest of it was read through without being stored.
    TooLong {
        line: i64,
        bytes: u64,
    },
    End,
}

/// CSV records read with `csv_core` into buffers that never grow past the record limit (the
/// `csv` crate's reader grows its record to any size: a 256 MiB quoted field would be held
/// whole).
struct BoundedCsv {
    core: csv_core::Reader,
    max: usize,
    /// The current record's fields, one after the other.
    data: Vec<u8>,
    /// Where each field of `data` ends.
    ends: Vec<usize>,
    data_len: usize,
    fields: usize,
}

impl BoundedCsv {
    fn new(separator: u8, max: usize) -> Self {
        Self {
            core: csv_core::ReaderBuilder::new().delimiter(separator).build(),
            max,
            data: vec![0; max.min(4096)],
            ends: vec![0; 64],
            data_len: 0,
            fields: 0,
        }
    }

    fn next(&mut self, reader: &mut impl BufRead) -> std::io::Result<CsvRead> {
        // As the `csv` crate counts: the line the reader is on when the record begins.
        let line = (self.core.line() as i64).max(1);
        self.data_len = 0;
        self.fields = 0;
        let mut consumed = 0u64;
        let mut too_long = false;
        loop {
            let input = match reader.fill_buf() {
                Ok(input) => input,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let (result, read, written, ended) = self.core.read_record(
                input,
                &mut self.data[self.data_len..],
                &mut self.ends[self.fields..],
            );
            reader.consume(read);
            consumed += read as u64;
            self.data_len += written;
            self.fields += ended;
            match result {
                csv_core::ReadRecordResult::InputEmpty => {}
                csv_core::ReadRecordResult::OutputFull if self.data.len() < self.max => {
                    let size = (self.data.len() * 2).min(self.max);
                    self.data.resize(size, 0);
                }
                csv_core::ReadRecordResult::OutputFull => {
                    // Past the limit: keep the start for the error file, write the rest over
                    // the same bytes, and forget where its fields end.
                    too_long = true;
                    self.data_len = KEPT_OF_LONG_RECORD.min(self.data.len() / 2);
                    self.fields = 0;
                }
                // The field ends count against the limit too (empty fields take no data):
                // at most `max / 8` of them, so both buffers stay within twice the limit.
                csv_core::ReadRecordResult::OutputEndsFull
                    if too_long || self.ends.len() >= (self.max / 8).max(64) =>
                {
                    too_long = true;
                    self.fields = 0;
                }
                csv_core::ReadRecordResult::OutputEndsFull => {
                    let size = (self.ends.len() * 2).min((self.max / 8).max(64));
                    self.ends.resize(size, 0);
                }
                csv_core::ReadRecordResult::Record if too_long => {
                    return Ok(CsvRead::TooLong {
                        line,
                        bytes: consumed,
                    });
                }
                csv_core::ReadRecordResult::Record => return Ok(CsvRead::Record { line }),
                csv_core::ReadRecordResult::End => return Ok(CsvRead::End),
            }
        }
    }

    /// The fields of the record just read.
    fn fields(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends[..self.fields].iter().map(move |&end| {
            let field = &self.data[start..end];
            start = end;
            field
        })
    }

    /// The record's text (its fields run together), or the kept start of a long one.
    fn text(&self) -> &[u8] {
        &self.data[..self.data_len]
    }
}

fn read_csv(
    mut reader: impl BufRead,
    options: &ReadOptions,
    detected: Detected,
    emit: &mut impl FnMut(Record) -> bool,
) -> Result<(), FileError> {
    let max = options.max_record_bytes;
    let mut csv = BoundedCsv::new(detected.separator as u8, max);
    let header: Vec<Vec<u8>> = loop {
        match csv.next(&mut reader)? {
            CsvRead::End => return Err(FileError::NoHeader),
            CsvRead::TooLong { bytes, .. } => {
                return Err(FileError::Malformed {
                    format: "CSV",
                    reason: format!("header: {}", too_long("row", max, bytes)),
                });
            }
            // Blank lines before the header are not a header.
            CsvRead::Record { .. } if csv.fields().all(<[u8]>::is_empty) => {}
            CsvRead::Record { .. } => break csv.fields().map(<[u8]>::to_vec).collect(),
        }
    };
    let names = header
        .iter()
        .map(|field| decode(field, detected.encoding))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|reason| FileError::Malformed {
            format: "CSV",
            reason: format!("header: {reason}"),
        })?;
    let columns = Columns::find(names, options)?;
    let width = header.len();
    loop {
        let outcome = match csv.next(&mut reader)? {
            CsvRead::End => return Ok(()),
            CsvRead::TooLong { line, bytes } => Record::Broken {
                line,
                value: excerpt(&String::from_utf8_lossy(csv.text())),
                reason: too_long("row", max, bytes),
            },
            // A blank line is nothing, not a contact without a phone.
            CsvRead::Record { .. } if csv.fields == 1 && csv.data_len == 0 => continue,
            CsvRead::Record { line } if csv.fields != width => Record::Broken {
                line,
                value: excerpt(&String::from_utf8_lossy(csv.text())),
                reason: format!("{} columns where the header has {width}", csv.fields),
            },
            CsvRead::Record { line } => match csv
                .fields()
                .map(|field| decode(field, detected.encoding))
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(values) => columns.row(line, values),
                Err(reason) => Record::Broken {
                    line,
                    value: excerpt(&String::from_utf8_lossy(csv.text())),
                    reason,
                },
            },
        };
        if !emit(outcome) {
            return Ok(());
        }
    }
}

/// At most 200 characters of a value, for the error file.
pub fn excerpt(value: &str) -> String {
    let value = value.trim();
    match value.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

/// An object of a JSON file as a row: the phone, name and field keys matched like CSV headers.
fn object_row(line: i64, value: Value, options: &ReadOptions) -> Record {
    let Value::Object(object) = value else {
        return Record::Broken {
            line,
            value: excerpt(&value.to_string()),
            reason: "not an object".to_owned(),
        };
    };
    let names: Vec<String> = object.keys().cloned().collect();
    let columns = match Columns::find(names, options) {
        Ok(columns) => columns,
        Err(e) => {
            return Record::Broken {
                line,
                value: excerpt(&Value::Object(object).to_string()),
                reason: e.to_string(),
            };
        }
    };
    let mut values = Vec::with_capacity(object.len());
    for (key, value) in &object {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => String::new(),
            Value::Array(_) | Value::Object(_) => {
                return Record::Broken {
                    line,
                    value: excerpt(&Value::Object(object.clone()).to_string()),
                    reason: format!("`{key}` must be text, a number or a boolean"),
                };
            }
        };
        values.push(text);
    }
    match columns.row(line, values) {
        // Keep numbers and booleans as such in the fields.
        Record::Row(mut row) => {
            for (key, value) in object {
                if let Some(slot) = row.fields.get_mut(&key)
                    && (value.is_number() || value.is_boolean())
                {
                    *slot = value;
                }
            }
            Record::Row(row)
        }
        broken => broken,
    }
}

/// The reason an over-long record fails with.
fn too_long(what: &str, max: usize, bytes: u64) -> String {
    format!("the {what} has {bytes} bytes, more than the limit of {max} (IMPORT_MAX_RECORD_BYTES)")
}

/// A line as [`read_line_bounded`] read it.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// Whole, in the buffer (without its `\n`).
    Whole,
    /// Longer than the limit: the buffer holds its start only, and the rest was skipped.
    TooLong { bytes: u64 },
}

/// Reads the next line into `buffer` (cleared first), holding at most `max` bytes of it: a
/// longer line keeps its first [`KEPT_OF_LONG_RECORD`] bytes and is read through to its `\n`
/// without being stored. `None` at the end of the input.
fn read_line_bounded(
    reader: &mut impl BufRead,
    buffer: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<Line>> {
    buffer.clear();
    let mut bytes = 0u64;
    let mut any = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        any = true;
        let newline = available.iter().position(|b| *b == b'\n');
        let part = &available[..newline.unwrap_or(available.len())];
        bytes += part.len() as u64;
        if bytes as usize <= max {
            buffer.extend_from_slice(part);
        } else if buffer.len() < KEPT_OF_LONG_RECORD {
            let keep = (KEPT_OF_LONG_RECORD - buffer.len()).min(part.len());
            buffer.extend_from_slice(&part[..keep]);
        }
        let used = part.len() + usize::from(newline.is_some());
        reader.consume(used);
        if newline.is_some() {
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    if bytes > max as u64 {
        buffer.truncate(KEPT_OF_LONG_RECORD);
        return Ok(Some(Line::TooLong { bytes }));
    }
    Ok(Some(Line::Whole))
}

fn read_ndjson(
    mut reader: impl BufRead,
    options: &ReadOptions,
    encoding: TextEncoding,
    emit: &mut impl FnMut(Record) -> bool,
) -> Result<(), FileError> {
    let max = options.max_record_bytes;
    let mut bytes = Vec::new();
    let mut line_number = 0i64;
    while let Some(line) = read_line_bounded(&mut reader, &mut bytes, max)? {
        line_number += 1;
        if let Line::TooLong { bytes: length } = line {
            if !emit(Record::Broken {
                line: line_number,
                value: excerpt(&String::from_utf8_lossy(&bytes)),
                reason: too_long("line", max, length),
            }) {
                return Ok(());
            }
            continue;
        }
        let text = match decode(&bytes, encoding) {
            Ok(text) => text,
            Err(reason) => {
                if !emit(Record::Broken {
                    line: line_number,
                    value: excerpt(&String::from_utf8_lossy(&bytes)),
                    reason,
                }) {
                    return Ok(());
                }
                continue;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        let record = match serde_json::from_str::<Value>(&text) {
            Ok(value) => object_row(line_number, value, options),
            Err(e) => Record::Broken {
                line: line_number,
                value: excerpt(&text),
                reason: format!("not JSON: {e}"),
            },
        };
        if !emit(record) {
            return Ok(());
        }
    }
    Ok(())
}

/// Where the scan of a JSON array is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArrayState {
    /// Before the `[`.
    Start,
    /// After `[` or `,`: an item, or (after `[` only) the `]`.
    Item { first: bool },
    /// Inside an item.
    InItem,
    /// After the `]`: only whitespace may follow.
    End,
}

/// The file ended in `state` after `items` items: fine after the array's end, else the reason
/// the file is malformed.
fn at_end_of_file(state: ArrayState, items: i64) -> Result<(), String> {
    match state {
        ArrayState::End => Ok(()),
        ArrayState::Start => Err("the file is empty".to_owned()),
        _ => Err(format!(
            "the file ends inside the array, after {items} complete item(s)"
        )),
    }
}

/// One item of a JSON array being cut out: its bytes (those past `max_record_bytes` dropped but
/// counted), and where the scan is inside it.
#[derive(Default)]
struct ItemScan {
    item: Vec<u8>,
    bytes: u64,
    /// The bracket depth, and whether in a string (and after its `\`).
    depth: usize,
    in_string: bool,
    escaped: bool,
}

/// What an item's byte was.
enum ItemByte {
    Inside,
    /// A `,` or `]` outside brackets and strings: the item ended before it.
    End,
    /// A `}` with no `{` open: the file is not JSON.
    UnmatchedBrace,
}

impl ItemScan {
    /// Starts a new item (the buffer is reused).
    fn start(&mut self) {
        self.item.clear();
        self.bytes = 0;
        self.depth = 0;
        self.in_string = false;
        self.escaped = false;
    }

    /// Takes the item's next byte, kept while the item is within `max` bytes (or until a long
    /// item's excerpt is kept).
    fn push(&mut self, byte: u8, max: usize) -> ItemByte {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if byte == b'\\' {
                self.escaped = true;
            } else if byte == b'"' {
                self.in_string = false;
            }
        } else {
            match byte {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' if self.depth > 0 => self.depth -= 1,
                b',' | b']' if self.depth == 0 => return ItemByte::End,
                b'}' => return ItemByte::UnmatchedBrace,
                _ => {}
            }
        }
        self.bytes += 1;
        if self.bytes as usize <= max || self.item.len() < KEPT_OF_LONG_RECORD {
            self.item.push(byte);
        }
        ItemByte::Inside
    }

    /// The ended item as record `number`: a broken row when it was too long, else its object's
    /// fields. Not JSON: the reason the file is malformed.
    fn record(&mut self, number: i64, options: &ReadOptions) -> Result<Record, String> {
        let max = options.max_record_bytes;
        if self.bytes as usize > max {
            self.item.truncate(KEPT_OF_LONG_RECORD);
            Ok(Record::Broken {
                line: number,
                value: excerpt(&String::from_utf8_lossy(&self.item)),
                reason: too_long("item", max, self.bytes),
            })
        } else {
            match serde_json::from_slice::<Value>(&self.item) {
                Ok(value) => Ok(object_row(number, value, options)),
                Err(e) => Err(format!("item {number}: {e}")),
            }
        }
    }
}

/// A JSON array read one item at a time, each item held only up to `max_record_bytes`: the
/// items are cut out by their brackets and strings, then parsed alone, so an over-long item
/// fails as its row and is skipped without being stored. A syntax error (the file is not one
/// JSON array, or is cut short) fails the file after its complete items.
fn read_json_array(
    mut reader: impl BufRead,
    options: &ReadOptions,
    emit: &mut impl FnMut(Record) -> bool,
) -> Result<(), FileError> {
    let malformed = |reason: String| FileError::Malformed {
        format: "a JSON array",
        reason,
    };
    let max = options.max_record_bytes;
    let mut state = ArrayState::Start;
    let mut item = ItemScan::default();
    let mut items = 0i64;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FileError::Io(e)),
        };
        if available.is_empty() {
            return at_end_of_file(state, items).map_err(malformed);
        }
        let mut used = 0;
        let mut ended_item = None;
        for (i, &byte) in available.iter().enumerate() {
            used = i + 1;
            match state {
                ArrayState::Start | ArrayState::End | ArrayState::Item { .. }
                    if byte.is_ascii_whitespace() => {}
                ArrayState::Start if byte == b'[' => state = ArrayState::Item { first: true },
                ArrayState::Item { first: true } if byte == b']' => state = ArrayState::End,
                ArrayState::Start | ArrayState::End => {
                    return Err(malformed(format!(
                        "unexpected `{}` {}",
                        char::from(byte).escape_default(),
                        if state == ArrayState::Start {
                            "where the array should begin"
                        } else {
                            "after the array's end"
                        }
                    )));
                }
                ArrayState::Item { .. } if byte == b',' || byte == b']' => {
                    return Err(malformed(format!("an empty item after item {items}")));
                }
                ArrayState::Item { .. } | ArrayState::InItem => {
                    if state != ArrayState::InItem {
                        state = ArrayState::InItem;
                        item.start();
                    }
                    match item.push(byte, max) {
                        ItemByte::Inside => {}
                        ItemByte::End => {
                            ended_item = Some(byte == b']');
                            break;
                        }
                        ItemByte::UnmatchedBrace => {
                            return Err(malformed(format!(
                                "an unmatched `}}` in item {}",
                                items + 1
                            )));
                        }
                    }
                }
            }
        }
        reader.consume(used);
        let Some(last) = ended_item else {
            continue;
        };
        items += 1;
        state = if last {
            ArrayState::End
        } else {
            ArrayState::Item { first: false }
        };
        let record = item.record(items, options).map_err(malformed)?;
        if !emit(record) {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &[u8], options: ReadOptions) -> Result<Vec<Record>, FileError> {
        let mut records = Vec::new();
        read_records(input, &options, |r| {
            records.push(r);
            true
        })?;
        Ok(records)
    }

    fn row(line: i64, phone: &str, name: &str, fields: Value) -> Record {
        Record::Row(FileRow {
            line,
            phone: phone.to_owned(),
            name: name.to_owned(),
            fields: fields.as_object().cloned().unwrap_or_default(),
        })
    }

    #[test]
    fn csv_with_a_bom_semicolons_quoted_newlines_and_custom_fields() {
        let file = "\u{feff}Nome;Telefone;Cidade\n\"Ana\nMaria\";+55 11 99999-0001;Recife\nBeto;11 99999-0002;\n";
        let records = read(file.as_bytes(), ReadOptions::default()).unwrap();
        assert_eq!(
            records,
            vec![
                row(
                    2,
                    "+55 11 99999-0001",
                    "Ana\nMaria",
                    serde_json::json!({"Cidade": "Recife"})
                ),
                row(4, "11 99999-0002", "Beto", serde_json::json!({})),
            ]
        );
    }

    #[test]
    fn latin1_is_detected_and_decoded() {
        let mut file = b"nome,telefone\n".to_vec();
        file.extend_from_slice(b"Jo\xe3o,5511999990003\n");
        let records = read(&file, ReadOptions::default()).unwrap();
        assert_eq!(
            records,
            vec![row(2, "5511999990003", "João", serde_json::json!({}))]
        );
    }

    #[test]
    fn a_broken_line_fails_alone() {
        let file = "phone,name\n5511999990001,Ana\n5511999990002,Beto,extra\n5511999990003,Caio\n";
        let records = read(file.as_bytes(), ReadOptions::default()).unwrap();
        assert_eq!(records.len(), 3);
        assert!(
            matches!(&records[1], Record::Broken { line: 3, reason, .. } if reason.contains("3 columns"))
        );
        assert_eq!(
            records[2],
            row(4, "5511999990003", "Caio", serde_json::json!({}))
        );
    }

    #[test]
    fn a_missing_phone_column_names_the_columns_found() {
        let err = read(b"nome,cidade\nAna,Recife\n", ReadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("`nome`, `cidade`"), "{err}");
        let options = ReadOptions {
            phone_column: Some("Cel".to_owned()),
            ..ReadOptions::default()
        };
        let records = read(b"Nome,Cel\nAna,5511999990001\n", options).unwrap();
        assert_eq!(
            records,
            vec![row(2, "5511999990001", "Ana", serde_json::json!({}))]
        );
    }

    #[test]
    fn json_arrays_and_ndjson_give_the_same_rows() {
        let array = br#"[{"phone": 5511999990001, "name": "Ana", "vip": true}, "oops", {"phone": "5511999990002"}]"#;
        let records = read(array, ReadOptions::default()).unwrap();
        assert_eq!(
            records[0],
            row(1, "5511999990001", "Ana", serde_json::json!({"vip": true}))
        );
        assert!(matches!(&records[1], Record::Broken { line: 2, .. }));
        assert_eq!(
            records[2],
            row(3, "5511999990002", "", serde_json::json!({}))
        );

        let lines = b"{\"phone\": \"5511999990001\", \"name\": \"Ana\"}\n{broken\n\n{\"telefone\": \"5511999990002\"}\n";
        let records = read(lines, ReadOptions::default()).unwrap();
        assert_eq!(records.len(), 3);
        assert!(matches!(&records[1], Record::Broken { line: 2, .. }));
        assert_eq!(
            records[2],
            row(4, "5511999990002", "", serde_json::json!({}))
        );
    }

    #[test]
    fn a_truncated_json_array_is_a_file_error_after_its_complete_items() {
        let mut seen = 0;
        let result = read_records(
            &br#"[{"phone": "5511999990001"}, {"phone": "55"#[..],
            &ReadOptions::default(),
            |_| {
                seen += 1;
                true
            },
        );
        assert!(matches!(result, Err(FileError::Malformed { .. })));
        assert_eq!(seen, 1);
    }

    #[test]
    fn an_over_long_ndjson_line_fails_alone_and_is_never_held_whole() {
        // 32 MiB on one line, then a good row: the long line is skipped through with a buffer
        // of the limit's size, and the next line reads as usual.
        let long = std::io::repeat(b'x').take(32 * 1024 * 1024);
        let file = b"{\"phone\": \"5511999990001\"}\n"
            .chain(long)
            .chain(&b"\n{\"phone\": \"5511999990002\"}\n"[..]);
        let options = ReadOptions {
            max_record_bytes: 1024,
            ..ReadOptions::default()
        };
        let mut records = Vec::new();
        let mut reader = BufReader::new(file);
        read_ndjson(&mut reader, &options, TextEncoding::Utf8, &mut |r| {
            records.push(r);
            true
        })
        .unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(
            records[0],
            row(1, "5511999990001", "", serde_json::json!({}))
        );
        let Record::Broken {
            line,
            value,
            reason,
        } = &records[1]
        else {
            panic!("{:?}", records[1]);
        };
        assert_eq!(*line, 2);
        assert!(value.chars().count() <= 201, "an excerpt, not the line");
        assert_eq!(
            reason,
            "the line has 33554432 bytes, more than the limit of 1024 (IMPORT_MAX_RECORD_BYTES)"
        );
        assert_eq!(
            records[2],
            row(3, "5511999990002", "", serde_json::json!({}))
        );
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_read_and_one_more_byte_is_not() {
        let options = |max| ReadOptions {
            max_record_bytes: max,
            ..ReadOptions::default()
        };
        let line = br#"{"phone": "5511999990001"}"#;
        let mut file = line.to_vec();
        file.extend_from_slice(b"\n");
        let records = read(&file, options(line.len())).unwrap();
        assert!(matches!(records[0], Record::Row(_)), "{records:?}");
        let records = read(&file, options(line.len() - 1)).unwrap();
        assert!(
            matches!(records[0], Record::Broken { line: 1, .. }),
            "{records:?}"
        );
    }

    #[test]
    fn an_over_long_json_item_fails_alone_and_the_array_reads_on() {
        let big = "y".repeat(5000);
        let file = format!(
            r#"[{{"phone": "5511999990001", "note": "a ] b, \" {{"}}, {{"phone": "5511999990002", "note": "{big}"}}, [1, {{"x": "]"}}], {{"phone": "5511999990003"}}]"#
        );
        let options = ReadOptions {
            max_record_bytes: 1024,
            ..ReadOptions::default()
        };
        let records = read(file.as_bytes(), options).unwrap();
        assert_eq!(records.len(), 4, "{records:?}");
        assert_eq!(
            records[0],
            row(
                1,
                "5511999990001",
                "",
                serde_json::json!({"note": "a ] b, \" {"})
            )
        );
        assert!(
            matches!(&records[1], Record::Broken { line: 2, reason, .. } if reason.starts_with("the item has 5038 bytes")),
            "{:?}",
            records[1]
        );
        assert!(
            matches!(&records[2], Record::Broken { line: 3, reason, .. } if reason == "not an object")
        );
        assert_eq!(
            records[3],
            row(4, "5511999990003", "", serde_json::json!({}))
        );
    }

    #[test]
    fn json_arrays_that_are_not_one_array_fail_as_files() {
        for file in [
            &b""[..],
            b"[",
            b"[1,]",
            b"[1] 2",
            b"{}",
            b"[1}",
            b"[{\"a\": }]",
        ] {
            let json = ReadOptions {
                format: Some(ImportFormat::Json),
                ..ReadOptions::default()
            };
            let result = read(file, json);
            assert!(
                matches!(result, Err(FileError::Malformed { .. })),
                "{}: {result:?}",
                String::from_utf8_lossy(file)
            );
        }
        assert_eq!(read(b" [ ] ", ReadOptions::default()).unwrap(), vec![]);
    }

    #[test]
    fn an_over_long_csv_record_fails_alone_and_is_never_held_whole() {
        // A quoted field of 8 MiB across lines, then a good row; and a row of many empty
        // fields, which takes no field bytes but as many field ends.
        let long = std::io::repeat(b'x').take(8 * 1024 * 1024);
        let empties = ",".repeat(10_000);
        let tail = format!("\"\n{empties}\n5511999990003,Caio\n");
        let file = b"phone,name\n5511999990001,Ana\n5511999990002,\"a\nb"
            .chain(long)
            .chain(tail.as_bytes());
        let options = ReadOptions {
            max_record_bytes: 1024,
            ..ReadOptions::default()
        };
        let mut records = Vec::new();
        read_records(file, &options, |r| {
            records.push(r);
            true
        })
        .unwrap();
        assert_eq!(records.len(), 4, "{records:?}");
        assert_eq!(
            records[0],
            row(2, "5511999990001", "Ana", serde_json::json!({}))
        );
        let Record::Broken { line, reason, .. } = &records[1] else {
            panic!("{:?}", records[1]);
        };
        assert_eq!(*line, 3);
        assert!(reason.starts_with("the row has 83886"), "{reason}");
        assert!(
            matches!(&records[2], Record::Broken { line: 5, reason, .. } if reason.contains("more than the limit of 1024")),
            "{:?}",
            records[2]
        );
        assert_eq!(
            records[3],
            row(6, "5511999990003", "Caio", serde_json::json!({}))
        );
    }

    #[test]
    fn reading_stops_when_asked() {
        let file = "phone\n1\n2\n3\n";
        let mut seen = 0;
        read_records(file.as_bytes(), &ReadOptions::default(), |_| {
            seen += 1;
            seen < 2
        })
        .unwrap();
        assert_eq!(seen, 2);
    }
}
