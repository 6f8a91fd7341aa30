//! `eventmap schema`: the JSON Schema of mapping files, for editors.
//! `docs/mapping.schema.json` is this output, checked in.

use crate::exit;

pub(crate) fn run() -> anyhow::Result<u8> {
    let schema = serde_json::to_string_pretty(&eventmap::mapping_schema())?;
    println!("{schema}");
    Ok(exit::OK)
}
