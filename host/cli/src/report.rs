//! `portcullis report`: detection rate and false positives over labelled JSONL.
//!
//! A malicious case counts as detected when it is flagged (denied or
//! escalated); a benign case flagged is a false positive. Denies are counted
//! apart, since an escalation costs a human's attention but does not break
//! the agent.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use portcullis::Verdict;
use serde::Serialize;

use crate::case::read_cases;
use crate::options::PolicyOptions;

/// Arguments of `portcullis report`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Labelled JSONL files (each line has `label`: `malicious` or `benign`).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Print the report as JSON instead of Markdown.
    #[arg(long)]
    json: bool,

    /// List the ids of missed malicious cases and of false positives.
    #[arg(long)]
    show_misses: bool,

    #[command(flatten)]
    policies: PolicyOptions,
}

/// How the cases of one label fared.
#[derive(Debug, Default, Serialize)]
struct Tally {
    cases: usize,
    flagged: usize,
    denied: usize,
}

impl Tally {
    fn add(&mut self, verdict: Verdict) {
        self.cases += 1;
        if verdict != Verdict::Allow {
            self.flagged += 1;
        }
        if verdict == Verdict::Deny {
            self.denied += 1;
        }
    }

    fn rate(&self) -> f64 {
        if self.cases == 0 {
            0.0
        } else {
            100.0 * self.flagged as f64 / self.cases as f64
        }
    }
}

/// The report for one file.
#[derive(Debug, Serialize)]
struct FileReport {
    file: String,
    malicious: Tally,
    benign: Tally,
    /// Percentage of malicious cases flagged.
    recall: f64,
    /// Percentage of benign cases flagged.
    false_positive_rate: f64,
    attacks: BTreeMap<String, Tally>,
    missed: Vec<serde_json::Value>,
    false_positives: Vec<serde_json::Value>,
}

/// Decides every case of every file and prints the tallies.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (_engine, policies) = args.policies.load()?;
    let mut reports = Vec::new();
    for path in &args.files {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut report = FileReport {
            file: path.display().to_string(),
            malicious: Tally::default(),
            benign: Tally::default(),
            recall: 0.0,
            false_positive_rate: 0.0,
            attacks: BTreeMap::new(),
            missed: Vec::new(),
            false_positives: Vec::new(),
        };
        for (line, case) in read_cases(BufReader::new(file)) {
            let case = case.with_context(|| format!("{}:{line}", path.display()))?;
            let verdict = case
                .decide(&policies)
                .with_context(|| format!("{}:{line}", path.display()))?
                .verdict;
            match case.label.as_deref() {
                Some("malicious") => {
                    report.malicious.add(verdict);
                    let attack = case
                        .attack
                        .clone()
                        .unwrap_or_else(|| "unspecified".to_owned());
                    report.attacks.entry(attack).or_default().add(verdict);
                    if verdict == Verdict::Allow {
                        report.missed.push(case.id);
                    }
                }
                Some("benign") => {
                    report.benign.add(verdict);
                    if verdict != Verdict::Allow {
                        report.false_positives.push(case.id);
                    }
                }
                other => bail!(
                    "{}:{line}: label {other:?}: expected malicious or benign",
                    path.display()
                ),
            }
        }
        report.recall = report.malicious.rate();
        report.false_positive_rate = report.benign.rate();
        if !args.show_misses {
            report.missed.clear();
            report.false_positives.clear();
        }
        reports.push(report);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for report in &reports {
            print_markdown(report);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_markdown(report: &FileReport) {
    println!("### {}\n", report.file);
    println!("| cases | count | flagged | denied | rate |");
    println!("| --- | ---: | ---: | ---: | --- |");
    let row = |name: &str, tally: &Tally, what: &str| {
        println!(
            "| {name} | {} | {} | {} | {what} {:.1}% |",
            tally.cases,
            tally.flagged,
            tally.denied,
            tally.rate()
        );
    };
    row("malicious", &report.malicious, "recall");
    row("benign", &report.benign, "false positives");
    println!("\n| attack | cases | flagged | denied | recall |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (attack, tally) in &report.attacks {
        println!(
            "| {attack} | {} | {} | {} | {:.1}% |",
            tally.cases,
            tally.flagged,
            tally.denied,
            tally.rate()
        );
    }
    if !report.missed.is_empty() || !report.false_positives.is_empty() {
        let ids = |ids: &[serde_json::Value]| {
            ids.iter()
                .map(|id| id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("\nmissed: {}", ids(&report.missed));
        println!("false positives: {}", ids(&report.false_positives));
    }
    println!();
}
