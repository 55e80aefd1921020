//! Config and direct-sold catalog loading. The first byte chooses: the gateway config
//! (`config::from_toml_str`), or the catalog as TOML or JSON (`internal::Catalog::parse`),
//! indexed for serving when it loads.
#![no_main]

use bidgate::internal::{Catalog, Index, Syntax};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match mode % 3 {
        0 => {
            let _ = bidgate::config::from_toml_str(text, []);
        }
        m => {
            let syntax = if m == 1 { Syntax::Toml } else { Syntax::Json };
            if let Ok(catalog) = Catalog::parse(text, syntax) {
                let _ = catalog.unknown_placements(|p| p.starts_with('a'));
                let _ = Index::build(catalog);
            }
        }
    }
});
