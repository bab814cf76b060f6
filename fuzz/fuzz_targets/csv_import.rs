//! Any bytes through the import's pure stages: read (encoding, delimiter,
//! quoting), map columns, validate every row, plan against an empty store.
//! An error report or a plan, never a panic (docs/development.md, Fuzzing: a malformed CSV gets
//! an error). The corpus starts from real spreadsheet exports.
#![no_main]

use autoprov::config::ImportPolicy;
use autoprov::domain::Site;
use autoprov::import::Mode;
use autoprov::import::columns::map_header;
use autoprov::import::plan::{self, Mention, PlanContext};
use autoprov::import::read::{EncodingChoice, ReadOptions, read_table};
use autoprov::import::validate::{RowContext, validate_row};
use autoprov::store::Snapshot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = ReadOptions { delimiter: None, encoding: EncodingChoice::Auto };
    let Ok(table) = read_table(data, &opts) else { return };
    let Ok((map, _)) = map_header(&table.headers, table.header_line) else { return };
    let sites = vec![Site::default()];
    let policy = ImportPolicy::default();
    let ctx = RowContext { map: &map, header_len: table.headers.len(), sites: &sites, policy: &policy };
    let rows: Vec<_> = table.records.iter().filter_map(|r| validate_row(r, &ctx).ok()).collect();
    let mentions: Vec<Mention> = rows
        .iter()
        .map(|r| Mention { username: r.username.clone(), row: r.row, line: r.line })
        .collect();
    let snapshot = Snapshot { sites, next_id: 1, ..Snapshot::default() };
    let pctx = PlanContext {
        snapshot: &snapshot,
        mode: Mode::Upsert,
        source: None,
        show_secrets: false,
        mentions: &mentions,
        reassign_macs: false,
        allow_override: &[],
        labels: None,
    };
    let _ = plan::plan(&rows, &pctx);
});
