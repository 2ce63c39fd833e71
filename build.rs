//! The token tables bpe-openai ships (MessagePack, decoded value by value: about 31 ms
//! for o200k at start-up), written again as bincode with fixed-width integers, which
//! decodes in about 20 ms. Both come from the same bpe crate, locked to one version, so
//! the tables are the ones bpe-openai would load (`context::tokenizer` tests compare the
//! counts).

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let config = bincode::config::standard().with_fixed_int_encoding();
    for (name, tokenizer) in [
        ("o200k_base", bpe_openai::o200k_base()),
        ("cl100k_base", bpe_openai::cl100k_base()),
    ] {
        let bytes = bincode::serde::encode_to_vec(&tokenizer.bpe, config).expect("the tables serialize");
        std::fs::write(out.join(format!("{name}.bincode")), bytes).expect("OUT_DIR is writable");
    }
    println!("cargo::rerun-if-changed=build.rs");
}
