//! `ferry-bench`: measures Ferry against baselines taken in the same run.
//!
//! It starts real servers (itself, re-run as `serve-internal`, one process
//! per server so their memory can be read) on loopback over a temp folder,
//! drives them with the real client library, prints a table and writes
//! the figures as JSON. `--quick` shrinks every size so that a test can run
//! the whole tool in seconds; the targets are checked by running the tool,
//! not by timed tests.

mod bench;
mod data;
mod figures;
mod idle;
mod report;
mod server;
mod sync;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ferry_proto::time::Timestamp;

use crate::bench::{Bench, Sizes};
use crate::figures::load::LoadArgs;
use crate::report::{Figure, Machine, Report};
use crate::server::ServeArgs;

/// Ferry's benchmark and load tool.
#[derive(Parser)]
#[command(name = "ferry-bench", version, about, long_about = None)]
struct Args {
    /// Small sizes: seconds instead of minutes (targets are scaled where
    /// they scale, and are not meaningful otherwise).
    #[arg(long, global = true)]
    quick: bool,
    /// Where to write the results as JSON.
    #[arg(
        long,
        global = true,
        default_value = "bench-results.json",
        value_name = "PATH"
    )]
    json: PathBuf,
    /// Keep the temp folder (the servers' data and logs) and say where it is.
    #[arg(long, global = true)]
    keep: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Every figure below, in this order (the default).
    All,
    /// Upload and download of one large file, beside an MD5 pass and a raw
    /// TCP copy of the same bytes.
    Transfer,
    /// Many small files, from one client and from several at once.
    Small,
    /// A tree of 10,000 small files in 100 folders, up and down in one
    /// call each, with the round trips it took.
    Tree,
    /// LIST of many files.
    List,
    /// Many clients each uploading and downloading a file at once.
    Concurrent,
    /// Server memory: idle, and with many idle connections.
    Memory,
    /// One download from one rate-limited mirror, and from four.
    Mirrors,
    /// N clients doing a list/upload/download mix for T seconds while M
    /// idle connections are held open.
    Load(LoadArgs),
    /// Runs a server for the benchmark (internal).
    #[command(hide = true)]
    ServeInternal(ServeArgs),
}

/// A group of figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Group {
    Transfer,
    Small,
    Tree,
    List,
    Concurrent,
    Memory,
    Mirrors,
    Load,
}

impl Group {
    const ALL: [Group; 8] = [
        Group::Transfer,
        Group::Small,
        Group::Tree,
        Group::List,
        Group::Concurrent,
        Group::Memory,
        Group::Mirrors,
        Group::Load,
    ];

    fn name(self) -> &'static str {
        match self {
            Group::Transfer => "transfer",
            Group::Small => "small",
            Group::Tree => "tree",
            Group::List => "list",
            Group::Concurrent => "concurrent",
            Group::Memory => "memory",
            Group::Mirrors => "mirrors",
            Group::Load => "load",
        }
    }

    fn run(self, b: &mut Bench, load: &LoadArgs) -> anyhow::Result<()> {
        match self {
            Group::Transfer => figures::transfer::run(b),
            Group::Small => figures::small::run(b),
            Group::Tree => figures::tree::run(b),
            Group::List => figures::list::run(b),
            Group::Concurrent => figures::concurrent::run(b),
            Group::Memory => figures::memory::run(b),
            Group::Mirrors => figures::mirrors::run(b),
            Group::Load => figures::load::run(b, load),
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Command::ServeInternal(serve)) = &args.command {
        return match server::serve_internal(serve) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ferry-bench serve-internal: error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    match run(&args) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(failed) => {
            eprintln!("ferry-bench: {failed} group(s) could not be measured; see the table");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("ferry-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the chosen groups; returns how many failed outright (a missed
/// target is a result, not a failure).
fn run(args: &Args) -> anyhow::Result<usize> {
    let default_load = LoadArgs::default();
    let (groups, load): (Vec<Group>, &LoadArgs) = match &args.command {
        None | Some(Command::All) => (Group::ALL.to_vec(), &default_load),
        Some(Command::Transfer) => (vec![Group::Transfer], &default_load),
        Some(Command::Small) => (vec![Group::Small], &default_load),
        Some(Command::Tree) => (vec![Group::Tree], &default_load),
        Some(Command::List) => (vec![Group::List], &default_load),
        Some(Command::Concurrent) => (vec![Group::Concurrent], &default_load),
        Some(Command::Memory) => (vec![Group::Memory], &default_load),
        Some(Command::Mirrors) => (vec![Group::Mirrors], &default_load),
        Some(Command::Load(load)) => (vec![Group::Load], load),
        Some(Command::ServeInternal(_)) => unreachable!("handled in main"),
    };
    let temp = tempfile::Builder::new()
        .prefix("ferry-bench-")
        .tempdir()
        .context("while creating a temp folder")?;
    let machine = Machine::detect();
    let mut notes = vec![
        "Servers run as separate processes (ferry-bench serve-internal) with the default \
         configuration: bcrypt cost 10, server.log at info level, every upload fsynced."
            .to_owned(),
        "The large test file is hot in the page cache for the MD5 baseline, the raw TCP copy \
         and the transfers alike."
            .to_owned(),
        "Timed sections exclude logins unless a figure's details say they include them.".to_owned(),
    ];
    if args.quick {
        notes.push(
            "Quick run: small sizes, targets scaled by count where they scale; PASS/FAIL is \
             not meaningful here."
                .to_owned(),
        );
    }
    let mut b = Bench {
        quick: args.quick,
        sizes: if args.quick {
            Sizes::quick()
        } else {
            Sizes::full()
        },
        root: temp.path().to_owned(),
        password: format!("bench-{:016x}", data::run_seed()),
        report: Report {
            tool: "ferry-bench",
            version: env!("CARGO_PKG_VERSION"),
            date: Timestamp::now().to_string(),
            command: command_line(),
            quick: args.quick,
            machine,
            notes,
            figures: Vec::new(),
        },
        json: args.json.clone(),
    };
    b.say(format!("on {}", b.report.machine.summary()));
    let mut failed = 0;
    for group in groups {
        let started = Instant::now();
        if let Err(e) = group.run(&mut b, load) {
            failed += 1;
            b.push(Figure::failed(group.name(), format!("{e:#}")));
        }
        b.say(format!(
            "{} done in {:.1} s",
            group.name(),
            started.elapsed().as_secs_f64()
        ));
    }
    b.report.machine.load_average_end = report::load_average();
    println!();
    println!("{}", b.report.machine.summary());
    print!("{}", report::table(&b.report.figures));
    b.report.write_json(&b.json)?;
    b.say(format!("results written to {}", b.json.display()));
    if args.keep {
        let kept = temp.keep();
        b.say(format!("kept the servers' folders in {}", kept.display()));
    }
    Ok(failed)
}

/// The command line as typed, with the program's path shortened to its name.
fn command_line() -> String {
    let mut words: Vec<String> = std::env::args().collect();
    if let Some(first) = words.first_mut()
        && let Some(name) = Path::new(first.as_str()).file_name()
    {
        *first = name.to_string_lossy().into_owned();
    }
    words.join(" ")
}
