//! `eventmap destinations [NAME]`: the destinations this eventmap knows, each with its
//! settings (and the environment variables they are read from), batch limits, test mode
//! and rules. Never prints a setting's value.

use eventmap_pipeline::destination::Destination;

use crate::exit;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Only this destination.
    name: Option<String>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<u8> {
    let registry = eventmap_cli::destinations::registry();
    let names = match &args.name {
        Some(name) => vec![registry.named(name).map_err(anyhow::Error::msg)?.name()],
        None => registry.names(),
    };
    for (i, name) in names.into_iter().enumerate() {
        if i > 0 {
            println!();
        }
        if let Some(destination) = registry.get(name) {
            describe(destination);
        }
    }
    Ok(exit::OK)
}

fn describe(destination: &dyn Destination) {
    println!("{}", destination.name());
    let settings = destination.settings();
    if settings.is_empty() {
        println!("  validates only: it has no sink");
    } else {
        println!("  settings (a flag, else the environment variable):");
        for s in settings {
            let mut notes = Vec::new();
            if s.required {
                notes.push("required".to_string());
            }
            if s.secret {
                notes.push("secret".to_string());
            }
            if let Some(default) = s.default {
                notes.push(format!("default {default}"));
            }
            let flag = s
                .flag
                .map_or_else(|| format!("--setting {}=…", s.name), str::to_string);
            println!(
                "    {:<20} {:<28} {:<26} {}{}",
                s.name,
                s.env,
                flag,
                s.what,
                if notes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", notes.join(", "))
                }
            );
        }
        let limits = destination.limits();
        println!(
            "  batches: up to {} events a request (default {}), {} bytes by default",
            limits.max_events, limits.default_events, limits.max_bytes
        );
        println!("  test mode: {}", destination.test_mode());
    }
    println!("  rules (relax by name in `validate: {{ relax: [...] }}`):");
    for (name, requires) in destination.rules() {
        println!("    {name:<28} {requires}");
    }
}
