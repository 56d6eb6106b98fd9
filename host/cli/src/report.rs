//! `portcullis report`: detection rate and false positives over labelled JSONL.
//!
//! A malicious case counts as detected when it is flagged (denied or
//! escalated); a benign case flagged is a false positive. Denies are counted
//! apart, since an escalation costs a human's attention but does not break
//! the agent.
//!
//! With `--by-source`, cases are grouped by where they come from (a
//! repository, a benchmark suite) and each group gets its own figures and
//! the figures of every other group without it: leave one source out. The
//! rules are not fitted to the data, so a source where they do much worse
//! than on the rest shows wording they were unknowingly shaped on.

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

    /// Give figures per source (repository or suite) and with each source
    /// left out.
    #[arg(long)]
    by_source: bool,

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
        percentage(self.flagged, self.cases)
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
    /// Per source, with `--by-source`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sources: Vec<SourceReport>,
    missed: Vec<serde_json::Value>,
    false_positives: Vec<serde_json::Value>,
}

/// The figures of one source, and of all the others without it.
#[derive(Debug, Serialize)]
struct SourceReport {
    source: String,
    malicious: Tally,
    benign: Tally,
    recall: f64,
    false_positive_rate: f64,
    /// Recall over every other source.
    recall_without: f64,
    /// False-positive rate over every other source.
    false_positive_rate_without: f64,
}

/// The source group of a case: a repository without its commit and path
/// (`github:gitleaks/gitleaks`), a package without the rest
/// (`pypi:agentdojo==0.1.35`), with a benchmark suite kept when the source
/// names one (`… (suite slack)`).
fn source_group(source: &str) -> String {
    // A scoped npm package starts with `@` (`npm:@scope/name@1.2.3`).
    let name_start = source.find(':').map_or(0, |colon| colon + 2);
    let base_end = source
        .get(name_start..)
        .and_then(|rest| rest.find(['@', ' ']))
        .map_or(source.len(), |end| name_start + end);
    let mut group = source[..base_end].to_owned();
    if let Some(suite) = source
        .split_once("(suite ")
        .and_then(|(_, rest)| rest.split([',', ')']).next())
    {
        group.push_str(&format!(" (suite {suite})"));
    }
    group
}

fn percentage(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// Per-source figures and leave-one-source-out figures from the tallies
/// of each source.
fn source_reports(groups: BTreeMap<String, (Tally, Tally)>) -> Vec<SourceReport> {
    let total = |pick: fn(&(Tally, Tally)) -> &Tally| {
        groups
            .values()
            .map(pick)
            .fold((0, 0), |(cases, flagged), tally| {
                (cases + tally.cases, flagged + tally.flagged)
            })
    };
    let (malicious_cases, malicious_flagged) = total(|(malicious, _)| malicious);
    let (benign_cases, benign_flagged) = total(|(_, benign)| benign);
    groups
        .into_iter()
        .map(|(source, (malicious, benign))| SourceReport {
            recall: malicious.rate(),
            false_positive_rate: benign.rate(),
            recall_without: percentage(
                malicious_flagged - malicious.flagged,
                malicious_cases - malicious.cases,
            ),
            false_positive_rate_without: percentage(
                benign_flagged - benign.flagged,
                benign_cases - benign.cases,
            ),
            source,
            malicious,
            benign,
        })
        .collect()
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
            sources: Vec::new(),
            missed: Vec::new(),
            false_positives: Vec::new(),
        };
        let mut groups: BTreeMap<String, (Tally, Tally)> = BTreeMap::new();
        for (line, case) in read_cases(BufReader::new(file)) {
            let case = case.with_context(|| format!("{}:{line}", path.display()))?;
            let verdict = case
                .decide(&policies)
                .with_context(|| format!("{}:{line}", path.display()))?
                .verdict;
            let group = groups
                .entry(source_group(case.source.as_deref().unwrap_or("unknown")))
                .or_default();
            match case.label.as_deref() {
                Some("malicious") => {
                    report.malicious.add(verdict);
                    group.0.add(verdict);
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
                    group.1.add(verdict);
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
        if args.by_source {
            report.sources = source_reports(groups);
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
    if !report.sources.is_empty() {
        print_sources(&report.sources);
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

fn print_sources(sources: &[SourceReport]) {
    println!(
        "\n| source | malicious | recall | benign | false positives | recall without it | false positives without it |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for source in sources {
        println!(
            "| {} | {} | {:.1}% | {} | {:.1}% | {:.1}% | {:.1}% |",
            source.source,
            source.malicious.cases,
            source.recall,
            source.benign.cases,
            source.false_positive_rate,
            source.recall_without,
            source.false_positive_rate_without
        );
    }
    let with_attacks = sources.iter().filter(|source| source.malicious.cases > 0);
    if let Some(worst) = with_attacks.min_by(|a, b| a.recall.total_cmp(&b.recall)) {
        println!("\nworst recall: {:.1}% ({})", worst.recall, worst.source);
    }
    let with_benign = sources.iter().filter(|source| source.benign.cases > 0);
    if let Some(worst) =
        with_benign.max_by(|a, b| a.false_positive_rate.total_cmp(&b.false_positive_rate))
    {
        println!(
            "worst false positives: {:.1}% ({})",
            worst.false_positive_rate, worst.source
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_group_by_repository_and_suite() {
        assert_eq!(
            source_group("github:gitleaks/gitleaks@b58d3f1:cmd/rules/aws.go#L42"),
            "github:gitleaks/gitleaks"
        );
        assert_eq!(
            source_group("pypi:agentdojo==0.1.35 (suite slack, injection task 2)"),
            "pypi:agentdojo==0.1.35 (suite slack)"
        );
        assert_eq!(
            source_group("npm:@modelcontextprotocol/server-memory@2025.4.25"),
            "npm:@modelcontextprotocol/server-memory"
        );
        assert_eq!(source_group("hand-written"), "hand-written");
    }

    #[test]
    fn leaving_a_source_out_uses_only_the_others() {
        let tally = |cases, flagged| Tally {
            cases,
            flagged,
            denied: 0,
        };
        let groups = BTreeMap::from([
            ("a".to_owned(), (tally(10, 5), tally(10, 1))),
            ("b".to_owned(), (tally(30, 30), tally(0, 0))),
        ]);
        let reports = source_reports(groups);
        assert_eq!(reports[0].recall, 50.0);
        assert_eq!(reports[0].recall_without, 100.0);
        assert_eq!(reports[0].false_positive_rate_without, 0.0);
        assert_eq!(reports[1].recall_without, 50.0);
        assert_eq!(reports[1].false_positive_rate_without, 10.0);
    }
}
