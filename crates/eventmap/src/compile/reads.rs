//! What a compiled mapping reads: every input path of its filters, `let` values, keys and
//! expression inputs, handed to the read set (`readset.rs`) that prunes events as they
//! are parsed.

use crate::input::readset::Reads;
use crate::program::{Input, KeyRule, NativeExpr, Program, Script, Source};

/// Everything `program` may read, plus `messageId` (reports name events by it).
pub(crate) fn read_set(program: &Program) -> Reads {
    let mut reads = Reads::default();
    let root = &mut reads;
    let top: [Vec<String>; 1] = [Vec::new()];
    root.mark(&["messageId".to_string()], true);
    root.add_path(&program.event_name_path, &top, true);
    root.add_path(&program.call_type_path, &top, true);
    for filter in &program.filters {
        add_script(root, &filter.condition, &top);
    }
    for plan in &program.plans {
        add_rules(root, &plan.lets, &top);
        for filter in &plan.filters {
            add_script(root, &filter.condition, &top);
        }
        add_rules(root, &plan.keys, &top);
    }
    reads
}

/// `bases` are the absolute key paths of the current element(s): the root at the top,
/// the `each` sources' paths inside an `each`.
fn add_rules(root: &mut Reads, rules: &[KeyRule], bases: &[Vec<String>]) {
    for rule in rules {
        if let Some(when) = &rule.when {
            add_script(root, when, bases);
        }
        match &rule.source {
            Source::Paths(paths) => paths.iter().for_each(|p| {
                root.add_path(p, bases, true);
            }),
            Source::Const(_) => {}
            Source::Expr(script) => add_script(root, script, bases),
            Source::Each { over, keys, .. } => {
                let element_bases: Vec<Vec<String>> = over
                    .iter()
                    .flat_map(|p| root.add_path(p, bases, false))
                    .collect();
                add_rules(root, keys, &element_bases);
            }
        }
    }
}

fn add_script(root: &mut Reads, script: &Script, bases: &[Vec<String>]) {
    let fields = fields_read_of_inputs(script);
    for (input, fields) in script.inputs.iter().zip(fields) {
        let Input::Paths(paths) = input else {
            continue;
        };
        for p in paths {
            match &fields {
                Some(fields) if !fields.is_empty() => {
                    for reached in root.add_path(p, bases, false) {
                        for field in fields {
                            let mut keys = reached.clone();
                            keys.push(field.clone());
                            root.mark(&keys, true);
                        }
                    }
                }
                _ => {
                    root.add_path(p, bases, true);
                }
            }
        }
    }
}

/// For each of a script's inputs, the fields read of it when it is read only by
/// transforms that read some fields ([`NativeExpr::Call`]'s `fields`); `None` when it is
/// read whole (anywhere in an expression Rhai runs).
fn fields_read_of_inputs(script: &Script) -> Vec<Option<Vec<String>>> {
    let Some(native) = &script.native else {
        return vec![None; script.inputs.len()];
    };
    let mut fields = vec![Some(Vec::new()); script.inputs.len()];
    note_reads(native, &mut fields);
    fields
}

fn note_reads(expr: &NativeExpr, fields: &mut [Option<Vec<String>>]) {
    match expr {
        NativeExpr::Input(i) => {
            if let Some(entry) = fields.get_mut(*i) {
                *entry = None;
            }
        }
        NativeExpr::Literal(_) => {}
        NativeExpr::Call {
            args,
            fields: call_reads,
            ..
        } => match (args.split_first(), call_reads) {
            (Some((NativeExpr::Input(i), rest)), Some(read)) => {
                if let Some(Some(entry)) = fields.get_mut(*i) {
                    entry.extend(read.iter().cloned());
                }
                rest.iter().for_each(|a| note_reads(a, fields));
            }
            _ => args.iter().for_each(|a| note_reads(a, fields)),
        },
        NativeExpr::Coalesce(items) => items.iter().for_each(|a| note_reads(a, fields)),
        NativeExpr::Compare { value, .. } => note_reads(value, fields),
        NativeExpr::If(parts) => parts.iter().for_each(|p| note_reads(p, fields)),
    }
}
