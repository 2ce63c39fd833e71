//! The guide's key table is the keymap's own: written from the default bindings, so a key
//! added, moved or redescribed cannot leave the guide behind.

use std::collections::BTreeMap;

use mrflow::tui::keymap::Keymap;

use crate::common::repo;

const START: &str = "<!-- keys: generated from the keymap; tests/tui/docs.rs checks it -->\n";
const END: &str = "<!-- /keys -->";

#[test]
fn the_guides_key_table_is_the_default_keymaps() {
    let expected = Keymap::new(&BTreeMap::new()).unwrap().key_table();
    let path = repo().join("docs/guide.md");
    let guide = std::fs::read_to_string(&path).unwrap();
    let (Some(start), Some(end)) = (guide.find(START), guide.find(END)) else {
        panic!("docs/guide.md has no key table between `{}` and `{END}`", START.trim());
    };
    let table = &guide[start + START.len()..end];
    if table != expected {
        // MRFLOW_UPDATE_DOCS=1 writes the table in place, as insta writes snapshots.
        if std::env::var_os("MRFLOW_UPDATE_DOCS").is_some() {
            let updated = format!("{}{expected}{}", &guide[..start + START.len()], &guide[end..]);
            std::fs::write(&path, updated).unwrap();
        } else {
            panic!(
                "docs/guide.md's key table differs from the keymap; run with MRFLOW_UPDATE_DOCS=1, or paste:\n{expected}"
            );
        }
    }
}
