//! The names of the functions Rhai's standard library defines (`to_string`, `trim`, …).
//! Where a transform has such a name, Rhai may call its own function for some argument
//! types, so expressions using it are never run natively.
//!
//! Written out rather than asked of an engine at start-up: building the standard package
//! and formatting every signature was a quarter of `map`'s start-up (docs/benchmarks.md).
//! A test holds the list to what the Rhai this crate builds with defines.

/// Sorted, for a binary search.
const NAMES: &[&str] = &[
    "!",
    "!=",
    "%",
    "&",
    "*",
    "**",
    "+",
    "+=",
    "-",
    "-=",
    "/",
    "<",
    "<<",
    "<=",
    "==",
    ">",
    ">=",
    ">>",
    "E",
    "PI",
    "^",
    "abs",
    "acos",
    "acosh",
    "all",
    "append",
    "as_string",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "bits",
    "blob",
    "bytes",
    "ceiling",
    "chars",
    "chop",
    "clear",
    "contains",
    "cos",
    "cosh",
    "crop",
    "debug",
    "dedup",
    "drain",
    "elapsed",
    "end",
    "ends_with",
    "exit",
    "exp",
    "extract",
    "fill_with",
    "filter",
    "find",
    "find_map",
    "floor",
    "for_each",
    "fraction",
    "get",
    "get_bit",
    "get_bits",
    "get_fn_metadata_list",
    "hypot",
    "index_of",
    "insert",
    "int",
    "is_anonymous",
    "is_empty",
    "is_even",
    "is_exclusive",
    "is_finite",
    "is_inclusive",
    "is_infinite",
    "is_nan",
    "is_odd",
    "is_zero",
    "keys",
    "len",
    "ln",
    "log",
    "make_lower",
    "make_upper",
    "map",
    "max",
    "min",
    "mixin",
    "name",
    "order",
    "order_by",
    "order_desc",
    "pad",
    "parse_be_float",
    "parse_be_int",
    "parse_float",
    "parse_int",
    "parse_json",
    "parse_le_float",
    "parse_le_int",
    "pop",
    "print",
    "push",
    "range",
    "reduce",
    "reduce_rev",
    "remove",
    "replace",
    "retain",
    "reverse",
    "round",
    "set",
    "set_bit",
    "set_bits",
    "set_tag",
    "shift",
    "sign",
    "sin",
    "sinh",
    "sleep",
    "some",
    "sort",
    "sort_by",
    "sort_desc",
    "splice",
    "split",
    "split_rev",
    "sqrt",
    "start",
    "starts_with",
    "sub_string",
    "tag",
    "take",
    "tan",
    "tanh",
    "timestamp",
    "to_array",
    "to_binary",
    "to_blob",
    "to_chars",
    "to_debug",
    "to_degrees",
    "to_float",
    "to_hex",
    "to_int",
    "to_json",
    "to_lower",
    "to_octal",
    "to_radians",
    "to_string",
    "to_upper",
    "trim",
    "truncate",
    "values",
    "write_ascii",
    "write_be",
    "write_le",
    "write_utf8",
    "zip",
    "|",
];

pub(crate) fn is_rhai_standard_name(name: &str) -> bool {
    NAMES.binary_search(&name).is_ok()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use rhai::packages::{Package, StandardPackage};
    use rhai::Engine;

    #[test]
    fn the_list_is_what_rhai_defines() {
        let mut engine = Engine::new_raw();
        engine.register_global_module(StandardPackage::new().as_shared_module());
        let defined: BTreeSet<String> = engine
            .gen_fn_signatures(true)
            .iter()
            .filter_map(|sig| sig.split('(').next())
            .map(|name| {
                name.trim()
                    .trim_start_matches("get$")
                    .trim_start_matches("set$")
                    .to_string()
            })
            .collect();
        let listed: BTreeSet<String> = super::NAMES.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            listed, defined,
            "update NAMES to this Rhai's standard library"
        );
        assert!(
            super::NAMES.windows(2).all(|w| w[0] < w[1]),
            "NAMES must stay sorted"
        );
    }

    #[test]
    fn builtins_are_listed_and_ours_are_not() {
        for builtin in ["to_string", "to_int", "trim", "len", "parse_int"] {
            assert!(super::is_rhai_standard_name(builtin), "{builtin}");
        }
        for ours in [
            "minor_units",
            "sha256_email",
            "country_alpha2",
            "upper",
            "lower",
        ] {
            assert!(
                !super::is_rhai_standard_name(ours),
                "{ours} is not a Rhai builtin"
            );
        }
    }
}
