//! `portcullis scan`: start every stdio server the MCP clients on this
//! machine are configured with, list its tools and decide each one, all
//! locally.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use portcullis::{Context, Decision, Event, PolicySet, SessionState, ToolDefinition, Verdict};
use serde_json::{Value, json};

use crate::clients::{ClientName, ServerEntry, Transport};
use crate::options::PolicyOptions;

/// The most pages of a listing read from one server.
const MAX_PAGES: usize = 100;

/// The protocol revision the scan speaks; servers answer with theirs.
const PROTOCOL_VERSION: &str = "2025-06-18";

/// Arguments of `portcullis scan`.
#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    /// Scan only these clients' configurations (repeatable; default: all).
    #[arg(long, value_enum, value_name = "CLIENT")]
    client: Vec<ClientName>,
    /// Scan this configuration file instead, read as `--client`'s format
    /// (the first one given, else `mcpServers`).
    #[arg(long, value_name = "FILE")]
    config: Vec<PathBuf>,
    /// The project whose own configuration files are read too (`.mcp.json`,
    /// `.cursor/mcp.json`, `.vscode/mcp.json`; default: the current
    /// directory).
    #[arg(long, value_name = "DIR")]
    project: Option<PathBuf>,
    /// How long one server may take to start and list its tools.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    timeout: u64,
    /// Print one JSON object per tool (and per server that could not be
    /// scanned) instead of a report.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    policy: PolicyOptions,
}

/// What the scan found in one server.
enum Scanned {
    Tools(Vec<(String, Decision)>),
    Skipped(String),
    Failed(String),
}

/// Scans; exits 1 when a tool is denied or escalated or a server could not
/// be scanned.
pub(crate) fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .context("HOME is not set: cannot find the clients' configurations")?;
    let project = match &args.project {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let files: Vec<(ClientName, PathBuf)> = if args.config.is_empty() {
        let clients = if args.client.is_empty() {
            ClientName::ALL.to_vec()
        } else {
            args.client.clone()
        };
        clients
            .into_iter()
            .flat_map(|client| {
                client
                    .config_files(&home, &project)
                    .into_iter()
                    .map(move |path| (client, path))
            })
            .collect()
    } else {
        let client = args.client.first().copied().unwrap_or(ClientName::Cursor);
        args.config
            .iter()
            .map(|path| (client, path.clone()))
            .collect()
    };
    if files.is_empty() {
        eprintln!("portcullis: no MCP client configuration found");
        return Ok(ExitCode::SUCCESS);
    }
    let (engine, policies) = args.policy.load()?;
    let timeout = Duration::from_secs(args.timeout);
    let mut stdout = std::io::stdout().lock();
    let mut flagged = false;
    for (client, path) in files {
        let entries = match client.servers(&path) {
            Ok(entries) => entries,
            Err(error) => {
                flagged = true;
                report_file_error(&mut stdout, args.json, client, &path, &error)?;
                continue;
            }
        };
        if !args.json {
            writeln!(stdout, "{}  {}", client.name(), path.display())?;
        }
        for entry in entries {
            let scanned = scan_server(&entry, &policies, &engine, timeout);
            flagged |= match &scanned {
                Scanned::Tools(tools) => tools
                    .iter()
                    .any(|(_, decision)| decision.verdict != Verdict::Allow),
                Scanned::Skipped(_) => false,
                Scanned::Failed(_) => true,
            };
            report(&mut stdout, args.json, client, &path, &entry, &scanned)?;
        }
    }
    Ok(if flagged {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn scan_server(
    entry: &ServerEntry,
    policies: &PolicySet,
    engine: &portcullis::Engine,
    timeout: Duration,
) -> Scanned {
    let (command, args, env) = match &entry.transport {
        Transport::Stdio { command, args, env } => (command, args, env),
        Transport::Remote(url) => {
            return Scanned::Skipped(format!(
                "remote server {url}: not started (put it behind the gateway)"
            ));
        }
        Transport::Unknown => {
            return Scanned::Skipped("no command and no URL".to_owned());
        }
    };
    let tools = match list_tools(command, args, env, timeout) {
        Ok(tools) => tools,
        Err(error) => return Scanned::Failed(format!("{error:#}")),
    };
    let context = Context::new(format!("scan-{}", entry.name), &entry.name);
    let session = SessionState::new(engine.config().get_state_quota());
    let mut decided = Vec::with_capacity(tools.len());
    for tool in &tools {
        let name = tool
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        let decision = match ToolDefinition::from_mcp(tool) {
            Ok(definition) => policies.evaluate(&context, &Event::Tool(definition), &session),
            Err(error) => Decision::new(
                Verdict::Deny,
                portcullis::Reason::new(
                    "portcullis",
                    "invalid-tool",
                    format!("the server lists a tool Portcullis cannot read: {error}"),
                ),
                policies.generation(),
            ),
        };
        decided.push((name, decision));
    }
    Scanned::Tools(decided)
}

/// Stops the server when the scan is done with it, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the server, initializes a session and lists its tools, page by
/// page, within `timeout`.
fn list_tools(
    command: &str,
    args: &[String],
    env: &[(String, String)],
    timeout: Duration,
) -> anyhow::Result<Vec<Value>> {
    let deadline = Instant::now() + timeout;
    let mut server = Server(
        Command::new(command)
            .args(args)
            .envs(env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start `{command}`"))?,
    );
    let stdout = server.0.stdout.take().context("the server's stdout")?;
    let stdin = server.0.stdin.take().context("the server's stdin")?;
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut peer = Peer {
        stdin,
        received,
        deadline,
        next_id: 0,
    };
    peer.request(
        "initialize",
        json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": { "name": "portcullis-scan", "version": env!("CARGO_PKG_VERSION") },
        }),
    )?;
    send(
        &mut peer.stdin,
        &json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
    )?;
    let mut tools = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let params = match &cursor {
            Some(cursor) => json!({ "cursor": cursor }),
            None => json!({}),
        };
        let result = peer.request("tools/list", params)?;
        tools.extend(
            result
                .get("tools")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        );
        cursor = result
            .get("nextCursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if cursor.is_none() {
            return Ok(tools);
        }
    }
    bail!("the server's listing goes on past {MAX_PAGES} pages")
}

/// The scan's side of an MCP session over the server's stdio.
struct Peer {
    stdin: ChildStdin,
    received: mpsc::Receiver<std::io::Result<String>>,
    deadline: Instant,
    next_id: u64,
}

impl Peer {
    /// Sends a request and waits for its result.
    fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        send(
            &mut self.stdin,
            &json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }),
        )?;
        answer(&self.received, &mut self.stdin, id, self.deadline)
            .with_context(|| format!("`{method}` got no answer"))
    }
}

fn send(stdin: &mut ChildStdin, message: &Value) -> anyhow::Result<()> {
    writeln!(stdin, "{message}").context("the server closed its input")?;
    stdin.flush().context("the server closed its input")
}

/// The result of request `id`: the server's own requests meanwhile are
/// answered with an error, its notifications skipped.
fn answer(
    received: &mpsc::Receiver<std::io::Result<String>>,
    stdin: &mut ChildStdin,
    id: u64,
    deadline: Instant,
) -> anyhow::Result<Value> {
    loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        let line = match received.recv_timeout(wait) {
            Ok(line) => line.context("reading the server's output")?,
            Err(mpsc::RecvTimeoutError::Timeout) => bail!("the server did not answer in time"),
            Err(mpsc::RecvTimeoutError::Disconnected) => bail!("the server exited"),
        };
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if message.get("method").is_some() {
            if let Some(request) = message.get("id") {
                send(
                    stdin,
                    &json!({ "jsonrpc": "2.0", "id": request, "error": { "code": -32601, "message": "not supported by portcullis scan" } }),
                )?;
            }
            continue;
        }
        if message.get("id") != Some(&json!(id)) {
            continue;
        }
        if let Some(error) = message.get("error") {
            bail!("the server answered with an error: {error}");
        }
        return Ok(message.get("result").cloned().unwrap_or(Value::Null));
    }
}

fn report_file_error(
    out: &mut impl Write,
    json: bool,
    client: ClientName,
    path: &std::path::Path,
    error: &anyhow::Error,
) -> anyhow::Result<()> {
    if json {
        writeln!(
            out,
            "{}",
            json!({ "client": client.name(), "config": path, "error": format!("{error:#}") })
        )?;
    } else {
        writeln!(
            out,
            "{}  {}\n  cannot read: {error:#}",
            client.name(),
            path.display()
        )?;
    }
    Ok(())
}

fn report(
    out: &mut impl Write,
    json: bool,
    client: ClientName,
    path: &std::path::Path,
    entry: &ServerEntry,
    scanned: &Scanned,
) -> anyhow::Result<()> {
    let base = json!({ "client": client.name(), "config": path, "server": entry.name });
    match scanned {
        Scanned::Tools(tools) if json => {
            for (tool, decision) in tools {
                let mut line = base.clone();
                line["tool"] = json!(tool);
                line["verdict"] = json!(decision.verdict);
                line["reasons"] = json!(decision.reasons);
                writeln!(out, "{line}")?;
            }
        }
        Scanned::Tools(tools) => {
            writeln!(out, "  {} ({} tools)", entry.name, tools.len())?;
            for (tool, decision) in tools {
                writeln!(out, "    {:<8} {tool}", decision.verdict.to_string())?;
                for reason in &decision.reasons {
                    writeln!(
                        out,
                        "             {}/{}: {}",
                        reason.policy, reason.rule, reason.message
                    )?;
                }
            }
        }
        Scanned::Skipped(why) | Scanned::Failed(why) if json => {
            let mut line = base;
            let key = if matches!(scanned, Scanned::Skipped(_)) {
                "skipped"
            } else {
                "error"
            };
            line[key] = json!(why);
            writeln!(out, "{line}")?;
        }
        Scanned::Skipped(why) => writeln!(out, "  {}: skipped, {why}", entry.name)?,
        Scanned::Failed(why) => writeln!(out, "  {}: could not be scanned: {why}", entry.name)?,
    }
    Ok(())
}
