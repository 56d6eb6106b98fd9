//! `portcullis gateway` with real parts: the `mcp` Python client over
//! Streamable HTTP, tokens from a real OpenID provider (`oidc-provider`)
//! through the client credentials grant, and real stdio servers behind it
//! (`server-everything`, and a server with a poisoned tool).

use portcullis_tests::gateway::{Gateway, HttpServer, OAuthClient, OpenIdProvider};
use portcullis_tests::mcp::{
    HttpAuth, everything_server, peers_dir, python, python_http_client, scratch,
};
use serde_json::{Value, json};

const ACME: OAuthClient = OAuthClient {
    id: "acme-agent",
    secret: "acme-client-secret-0123456789abcdef",
    tenant: "acme",
    roles: &["support"],
};

const GLOBEX: OAuthClient = OAuthClient {
    id: "globex-agent",
    secret: "globex-client-secret-0123456789abcdef",
    tenant: "globex",
    roles: &[],
};

/// An API key of the tenant `acme`, and its SHA-256 (`printf %s KEY | sha256sum`).
const API_KEY: &str = "pk-test-gateway-7c1f0e";
const API_KEY_SHA256: &str = "6248ee9294954ddec04d023954ca96fa97c0abfa8a27073a3909e87f088d133f";

/// A provider with both clients, and a gateway that trusts it, in front of
/// `everything` and `billing` (whose `lookup_invoice` is poisoned).
fn start(name: &str) -> (OpenIdProvider, Gateway, std::path::PathBuf) {
    let dir = scratch(name);
    let provider = OpenIdProvider::start(&[ACME, GLOBEX]);
    let everything: Vec<String> = everything_server()
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let config = format!(
        r#"
        [listen]
        address = "{{address}}"

        [auth.oauth]
        issuer = "{issuer}"
        tenant_claim = "tenant"

        [[auth.api_keys]]
        name = "ci-runner"
        tenant = "acme"
        sha256 = "{API_KEY_SHA256}"

        [[servers]]
        name = "everything"
        command = {everything}

        [[servers]]
        name = "billing"
        command = [{python:?}, {poisoned:?}]

        [audit]
        path = "audit.jsonl"
        "#,
        issuer = provider.issuer,
        everything = json!(everything),
        python = python(),
        poisoned = peers_dir().join("poisoned_server.py"),
    );
    let gateway = Gateway::start(&dir, &config);
    (provider, gateway, dir)
}

/// A gateway in front of the remote `everything`, which the API key of
/// `acme` may call, with `extra` TOML after the configuration.
fn keyed_everything(dir: &std::path::Path, everything: &HttpServer, extra: &str) -> Gateway {
    let auth = format!(
        "[[auth.api_keys]]\nname = \"ci-runner\"\ntenant = \"acme\"\nsha256 = \"{API_KEY_SHA256}\"\n{extra}"
    );
    Gateway::in_front_of(dir, everything, &auth)
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "1"}}})
}

/// `initialize` POSTed to `everything` with `token` as the bearer token.
fn initialize_with(gateway: &Gateway, token: &str) -> portcullis_tests::http::Reply {
    let bearer = format!("Bearer {token}");
    gateway.post("everything", &[("Authorization", &bearer)], &initialize())
}

fn list_tools(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/list", "params": {}})
}

#[test]
fn a_real_client_discovers_the_issuer_gets_a_token_and_is_enforced() {
    let (provider, gateway, dir) = start("gateway-oauth");
    let auth = HttpAuth::OAuth {
        issuer: &provider.issuer,
        client_id: ACME.id,
        secret: ACME.secret,
    };
    let steps = json!([
        {"list": true},
        {"call": "lookup_invoice", "arguments": {"number": "INV-7", "memo": ""}},
    ]);
    let lines = python_http_client(&steps, &gateway.url("billing"), auth);
    let names: Vec<&str> = lines[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["convert_units"], "the poisoned tool is withheld");
    assert_eq!(lines[1]["isError"], true, "{}", lines[1]);
    assert!(
        lines[1]["text"].as_str().unwrap().contains("Portcullis"),
        "{}",
        lines[1]
    );

    let echoed = python_http_client(
        &json!([{"call": "echo", "arguments": {"message": "through the gateway"}}]),
        &gateway.url("everything"),
        auth,
    );
    assert_eq!(
        echoed[0],
        json!({"isError": false, "text": "Echo: through the gateway"})
    );

    let records: Vec<Value> = std::fs::read_to_string(dir.join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let withheld = records
        .iter()
        .find(|record| record["tool"] == "lookup_invoice" && record["event"] == "tool")
        .expect("the withheld tool is audited");
    assert_eq!(withheld["tenant"], "acme");
    assert_eq!(withheld["principal"], ACME.id);
    assert_eq!(withheld["server"], "billing");
    assert!(records.iter().all(|record| record["tenant"] == "acme"));
}

#[test]
fn an_api_key_authenticates_and_a_wrong_one_does_not() {
    let (_provider, gateway, _dir) = start("gateway-api-key");
    let lines = python_http_client(
        &json!([{"call": "echo", "arguments": {"message": "keyed"}}]),
        &gateway.url("everything"),
        HttpAuth::Bearer(API_KEY),
    );
    assert_eq!(lines[0]["text"], "Echo: keyed");
    for wrong in [API_KEY_SHA256, "pk-test-gateway-7c1f0f", ""] {
        let reply = initialize_with(&gateway, wrong);
        assert_eq!(reply.status, 401, "{wrong:?}: {}", reply.body);
    }
}

#[test]
fn without_a_valid_token_the_answer_is_401_with_the_resource_metadata() {
    let (provider, gateway, _dir) = start("gateway-401");
    let reply = gateway.post("everything", &[], &initialize());
    assert_eq!(reply.status, 401);
    let challenge = reply.header("www-authenticate").expect("a challenge");
    let metadata_url = format!(
        "{}/.well-known/oauth-protected-resource",
        gateway.resource()
    );
    assert!(
        challenge.contains(&format!("resource_metadata=\"{metadata_url}\"")),
        "{challenge}"
    );

    let metadata = portcullis_tests::http::request(
        &gateway.address,
        "GET",
        "/.well-known/oauth-protected-resource/mcp/everything",
        &[],
        "",
    );
    let metadata: Value = serde_json::from_str(&metadata.body).unwrap();
    assert_eq!(metadata["resource"], gateway.resource());
    assert_eq!(metadata["authorization_servers"], json!([provider.issuer]));

    let for_elsewhere = provider.token(ACME, "https://another-resource.example");
    let good = provider.token(ACME, &gateway.resource());
    let (head, rest) = good.split_once('.').unwrap();
    let (claims, signature) = rest.split_once('.').unwrap();
    let forged_signature = format!(
        "{head}.{claims}.{}",
        signature.chars().rev().collect::<String>()
    );
    let other_claims = provider.token(GLOBEX, &gateway.resource());
    let swapped_claims = format!(
        "{head}.{}.{signature}",
        other_claims.split('.').nth(1).unwrap()
    );
    for (what, token) in [
        ("another audience", for_elsewhere.as_str()),
        ("a forged signature", forged_signature.as_str()),
        ("claims of another token", swapped_claims.as_str()),
        ("no token at all", "not-a-token"),
    ] {
        let reply = initialize_with(&gateway, token);
        assert_eq!(reply.status, 401, "{what}: {}", reply.body);
        assert!(
            reply
                .header("www-authenticate")
                .is_some_and(|value| value.contains("invalid_token")),
            "{what}"
        );
    }
    let reply = initialize_with(&gateway, &good);
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[test]
fn another_tenant_cannot_read_resume_or_end_a_session() {
    let (provider, gateway, _dir) = start("gateway-tenants");
    let acme = format!("Bearer {}", provider.token(ACME, &gateway.resource()));
    let globex = format!("Bearer {}", provider.token(GLOBEX, &gateway.resource()));
    let opened = gateway.post("everything", &[("Authorization", &acme)], &initialize());
    assert_eq!(opened.status, 200, "{}", opened.body);
    let session = opened
        .header("mcp-session-id")
        .expect("a session id")
        .to_owned();
    assert_eq!(opened.messages()[0]["id"], 1);

    let as_globex = [
        ("Authorization", globex.as_str()),
        ("Mcp-Session-Id", session.as_str()),
    ];
    assert_eq!(
        gateway
            .post("everything", &as_globex, &list_tools(2))
            .status,
        404
    );
    let get = portcullis_tests::http::request(
        &gateway.address,
        "GET",
        "/mcp/everything",
        &[("Accept", "text/event-stream"), as_globex[0], as_globex[1]],
        "",
    );
    assert_eq!(get.status, 404);
    let delete = portcullis_tests::http::request(
        &gateway.address,
        "DELETE",
        "/mcp/everything",
        &as_globex,
        "",
    );
    assert_eq!(delete.status, 404);

    let as_acme = [
        ("Authorization", acme.as_str()),
        ("Mcp-Session-Id", session.as_str()),
    ];
    let listed = gateway.post("everything", &as_acme, &list_tools(2));
    assert_eq!(listed.status, 200, "{}", listed.body);
    let messages = listed.messages();
    assert_eq!(messages.last().unwrap()["id"], 2);
    assert!(
        messages.last().unwrap()["result"]["tools"]
            .as_array()
            .is_some_and(|tools| !tools.is_empty())
    );

    let delete = portcullis_tests::http::request(
        &gateway.address,
        "DELETE",
        "/mcp/everything",
        &as_acme,
        "",
    );
    assert_eq!(delete.status, 204);
    assert_eq!(
        gateway.post("everything", &as_acme, &list_tools(3)).status,
        404,
        "a deleted session is gone"
    );
}

#[test]
fn a_rebound_host_or_a_foreign_origin_is_refused() {
    let (provider, gateway, _dir) = start("gateway-rebinding");
    let token = format!("Bearer {}", provider.token(ACME, &gateway.resource()));
    for headers in [
        vec![
            ("Host", "rebound.attacker.example"),
            ("Authorization", token.as_str()),
        ],
        vec![
            ("Origin", "http://rebound.attacker.example"),
            ("Authorization", token.as_str()),
        ],
    ] {
        let reply = gateway.post("everything", &headers, &initialize());
        assert_eq!(reply.status, 403, "{headers:?}: {}", reply.body);
    }
    let own_origin = gateway.resource();
    let reply = gateway.post(
        "everything",
        &[
            ("Origin", own_origin.as_str()),
            ("Authorization", token.as_str()),
        ],
        &initialize(),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[test]
fn a_request_without_its_session_or_for_an_unknown_server_is_refused() {
    let (provider, gateway, _dir) = start("gateway-bad-requests");
    let token = format!("Bearer {}", provider.token(ACME, &gateway.resource()));
    let auth = [("Authorization", token.as_str())];
    let reply = gateway.post("everything", &auth, &list_tools(5));
    assert_eq!(reply.status, 400);
    assert_eq!(reply.messages()[0]["id"], 5, "the error names the request");
    assert_eq!(gateway.post("nowhere", &auth, &initialize()).status, 404);
    let not_json = portcullis_tests::http::request(
        &gateway.address,
        "POST",
        "/mcp/everything",
        &[
            auth[0],
            ("Accept", "application/json, text/event-stream"),
            ("Content-Type", "application/json"),
        ],
        "{\"jsonrpc\": \"2.0\", \"id\": 9, \"method\": \"tools/list\"",
    );
    assert_eq!(not_json.status, 400);
    let json_only = portcullis_tests::http::request(
        &gateway.address,
        "POST",
        "/mcp/everything",
        &[
            auth[0],
            ("Accept", "application/json"),
            ("Content-Type", "application/json"),
        ],
        &initialize().to_string(),
    );
    assert_eq!(json_only.status, 406);
}

/// The modern client in `mode` against `url`, approving with `action`.
fn modern_client(mode: &str, action: &str, url: &str) -> Vec<Value> {
    let output = std::process::Command::new(python())
        .args(["-W", "ignore"])
        .arg(peers_dir().join("modern_client.py"))
        .args([mode, action, url])
        .output()
        .expect("the modern client runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

#[test]
fn both_revisions_ask_a_human_through_the_gateway() {
    let dir = scratch("gateway-revisions");
    let config = format!(
        r#"
        [listen]
        address = "{{address}}"
        [auth]
        anonymous = true
        [[servers]]
        name = "notes"
        command = [{python:?}, {server:?}]
        "#,
        python = python(),
        server = peers_dir().join("modern_server.py"),
    );
    let gateway = Gateway::start(&dir, &config);
    // 2026-07-28 has no sessions: the approval is a multi-round-trip
    // retry; 2025-11-25 gets `elicitation/create` on the call's stream.
    for (mode, revision) in [("auto", "2026-07-28"), ("legacy", "2025-11-25")] {
        for action in ["accept", "decline"] {
            let lines = modern_client(mode, action, &gateway.url("notes"));
            assert_eq!(lines[0]["negotiated"], revision, "{lines:?}");
            assert_eq!(
                lines[1],
                json!({"tool": "add", "isError": false, "text": "3"})
            );
            let question = lines[2]["elicitation"]
                .as_str()
                .expect("the human is asked");
            assert!(question.contains("delete_note"), "{question}");
            assert_eq!(
                lines[3]["isError"],
                action == "decline",
                "{mode} {action}: {lines:?}"
            );
        }
    }
}

#[test]
fn a_remote_server_gets_its_own_credential_never_the_clients() {
    let dir = scratch("gateway-remote");
    let provider = OpenIdProvider::start(&[ACME]);
    let remote = HttpServer::remote();
    let everything = HttpServer::everything();
    let config = format!(
        r#"
        [listen]
        address = "{{address}}"
        [auth.oauth]
        issuer = "{issuer}"
        tenant_claim = "tenant"
        [[servers]]
        name = "remote"
        url = "{remote}"
        headers = {{ Authorization = "Bearer credential-of-the-gateway" }}
        [[servers]]
        name = "everything"
        url = "{everything}"
        "#,
        issuer = provider.issuer,
        remote = remote.url,
        everything = everything.url,
    );
    let gateway = Gateway::start(&dir, &config);
    let auth = HttpAuth::OAuth {
        issuer: &provider.issuer,
        client_id: ACME.id,
        secret: ACME.secret,
    };
    let lines = python_http_client(
        &json!([
            {"call": "echo", "arguments": {"message": "over two hops"}},
            {"call": "seen_authorization", "arguments": {}},
        ]),
        &gateway.url("remote"),
        auth,
    );
    assert_eq!(lines[0]["text"], "over two hops");
    assert_eq!(
        lines[1]["text"], "Bearer credential-of-the-gateway",
        "no token passthrough"
    );

    let lines = python_http_client(
        &json!([{"list": true}, {"call": "echo", "arguments": {"message": "remote everything"}}]),
        &gateway.url("everything"),
        auth,
    );
    assert!(
        lines[0]["tools"]
            .as_array()
            .is_some_and(|tools| tools.len() > 3)
    );
    assert_eq!(lines[1]["text"], "Echo: remote everything");
}

#[test]
fn concurrent_sessions_lose_and_misroute_no_answer() {
    let dir = scratch("gateway-load");
    let everything = HttpServer::everything();
    let gateway = keyed_everything(&dir, &everything, "");
    let bearer = format!("Bearer {API_KEY}");
    let load = portcullis_tests::gateway::load(
        &gateway.url("everything"),
        &[("Authorization", &bearer)],
        12,
        25,
    );
    assert_eq!((load.lost, load.misrouted), (0, 0));
    assert_eq!(load.latencies.len(), 12 * 25);
}

#[test]
fn a_principal_over_its_rate_limit_is_refused_with_the_reason() {
    let dir = scratch("gateway-rate-limit");
    let everything = HttpServer::everything();
    let limits = "[[rate_limits]]\ntool = \"echo\"\nper_minute = 1\nburst = 2\n[audit]\npath = \"audit.jsonl\"";
    let gateway = keyed_everything(&dir, &everything, limits);
    let echo = json!({"call": "echo", "arguments": {"message": "again"}});
    let lines = python_http_client(
        &json!([echo, echo, echo, {"call": "get-sum", "arguments": {"a": 1, "b": 2}}]),
        &gateway.url("everything"),
        HttpAuth::Bearer(API_KEY),
    );
    assert_eq!(lines[0]["isError"], false);
    assert_eq!(lines[1]["isError"], false);
    assert_eq!(lines[2]["isError"], true, "{}", lines[2]);
    assert!(
        lines[2]["text"].as_str().unwrap().contains("rate-limit"),
        "{}",
        lines[2]
    );
    assert_eq!(
        lines[3]["isError"], false,
        "another tool has no limit: {}",
        lines[3]
    );
    // A new session does not refill the principal's bucket.
    let again = python_http_client(
        &json!([echo]),
        &gateway.url("everything"),
        HttpAuth::Bearer(API_KEY),
    );
    assert_eq!(again[0]["isError"], true, "{}", again[0]);
    let audit = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    assert!(
        audit.contains("\"rule\":\"rate-limit\""),
        "the refusal is audited"
    );
}

#[test]
fn roles_grant_tools_per_tenant_settings() {
    let dir = scratch("gateway-rbac");
    let provider = OpenIdProvider::start(&[ACME, GLOBEX]);
    let everything = HttpServer::everything();
    // acme grants its support role `echo` alone; globex configures no
    // access control, so its callers see every tool.
    std::fs::write(
        dir.join("settings.json"),
        json!({"tenants": {"acme": {"rbac": {"roles": {"support": ["echo"]}}}}}).to_string(),
    )
    .unwrap();
    let config = format!(
        r#"
        [listen]
        address = "{{address}}"
        [auth.oauth]
        issuer = "{issuer}"
        tenant_claim = "tenant"
        [[servers]]
        name = "everything"
        url = "{url}"
        [policies]
        settings = "settings.json"
        [audit]
        path = "audit.jsonl"
        "#,
        issuer = provider.issuer,
        url = everything.url,
    );
    let gateway = Gateway::start(&dir, &config);
    let steps = json!([{"list": true}, {"call": "get-sum", "arguments": {"a": 1, "b": 2}}]);
    let listed = |lines: &[Value]| -> Vec<String> {
        lines[0]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tool| tool["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let as_client = |client: OAuthClient| {
        python_http_client(
            &steps,
            &gateway.url("everything"),
            HttpAuth::OAuth {
                issuer: &provider.issuer,
                client_id: client.id,
                secret: client.secret,
            },
        )
    };
    let acme = as_client(ACME);
    assert_eq!(listed(&acme), ["echo"], "the listing is filtered by role");
    assert_eq!(acme[1]["isError"], true);
    assert!(
        acme[1]["text"]
            .as_str()
            .unwrap()
            .contains("tool-not-granted"),
        "{}",
        acme[1]
    );
    let globex = as_client(GLOBEX);
    assert!(listed(&globex).len() > 3, "{:?}", listed(&globex));
    assert_eq!(globex[1]["isError"], false, "{}", globex[1]);
}

/// Sends a raw HTTP request on a new connection and returns it, to read
/// the response as it streams.
fn open_stream(address: &str, head: &str, body: &str) -> std::net::TcpStream {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(stream, "{head}Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    stream
}

/// Reads `stream` until what it received contains `needle`; all of it.
fn read_until(stream: &mut std::net::TcpStream, needle: &str) -> String {
    use std::io::Read;
    let mut received = String::new();
    let mut buffer = [0u8; 4096];
    while !received.contains(needle) {
        let read = stream.read(&mut buffer).expect("the stream goes on");
        assert!(read > 0, "the stream ended before {needle:?}: {received}");
        received.push_str(&String::from_utf8_lossy(&buffer[..read]));
    }
    received
}

#[test]
fn a_client_that_loses_a_stream_resumes_it_and_loses_no_answer() {
    let dir = scratch("gateway-resume");
    let everything = HttpServer::everything();
    let gateway = Gateway::in_front_of(&dir, &everything, "[auth]\nanonymous = true");
    let opened = gateway.post("everything", &[], &initialize());
    let session = opened.header("mcp-session-id").unwrap().to_owned();
    let headers = [
        ("Mcp-Session-Id", session.as_str()),
        ("MCP-Protocol-Version", "2025-11-25"),
    ];
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(
        gateway.post("everything", &headers, &initialized).status,
        202
    );

    // A call that reports its progress for two seconds; the client reads
    // the first event and goes away.
    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "name": "trigger-long-running-operation",
        "arguments": {"duration": 2, "steps": 4},
        "_meta": {"progressToken": "p"}}});
    let head = format!(
        "POST /mcp/everything HTTP/1.1\r\nHost: {}\r\nAccept: application/json, text/event-stream\r\nContent-Type: application/json\r\nMcp-Session-Id: {session}\r\nMCP-Protocol-Version: 2025-11-25\r\n",
        gateway.address
    );
    let mut lost = open_stream(&gateway.address, &head, &call.to_string());
    let first = read_until(&mut lost, "\n\n");
    let last_event = first
        .lines()
        .find_map(|line| line.strip_prefix("id:"))
        .expect("every event has an id")
        .trim()
        .to_owned();
    drop(lost);

    std::thread::sleep(std::time::Duration::from_secs(3));
    let head = format!(
        "GET /mcp/everything HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\nMcp-Session-Id: {session}\r\nLast-Event-ID: {last_event}\r\n",
        gateway.address
    );
    let mut resumed = open_stream(&gateway.address, &head, "");
    let received = read_until(&mut resumed, "Long running operation completed");
    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
    assert!(
        received.contains(r#""id":7"#),
        "the answer arrives: {received}"
    );
}

#[test]
fn the_gateway_serves_tls_with_its_certificate() {
    let dir = scratch("gateway-tls");
    let certificate = portcullis_tests::gateway::self_signed_certificate(&dir);
    let everything = HttpServer::everything();
    let gateway = keyed_everything(
        &dir,
        &everything,
        "[listen.tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"",
    );
    let port = gateway.address.rsplit(':').next().unwrap();
    let url = format!("https://localhost:{port}/mcp/everything");
    let trusted = portcullis_tests::gateway::https_client(Some(&certificate));
    let reply = trusted
        .post(&url)
        .header("Authorization", format!("Bearer {API_KEY}"))
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .body(initialize().to_string())
        .send()
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert!(reply.headers().contains_key("mcp-session-id"));
    assert!(reply.text().unwrap().contains("serverInfo"));

    let untrusting = portcullis_tests::gateway::https_client(None);
    assert!(
        untrusting.get(&url).send().is_err(),
        "a self-signed certificate is not trusted by default"
    );
    let plain = untrusting
        .get(format!("http://{}/healthz", gateway.address))
        .send();
    assert!(plain.is_err(), "no plain HTTP beside TLS: {plain:?}");
}

#[test]
fn a_changed_configuration_is_put_in_force_and_a_broken_one_is_not() {
    let dir = scratch("gateway-reload");
    let everything = HttpServer::everything();
    let config = |sha256: &str| {
        format!(
            r#"
            [listen]
            address = "{{address}}"
            [[auth.api_keys]]
            name = "ci-runner"
            tenant = "acme"
            sha256 = "{sha256}"
            [[servers]]
            name = "everything"
            url = "{url}"
            "#,
            url = everything.url,
        )
    };
    let gateway = Gateway::start(&dir, &config(API_KEY_SHA256));
    let with_key = |key: &str| initialize_with(&gateway, key).status;
    assert_eq!(with_key(API_KEY), 200);
    // The key is rotated (printf %s pk-rotated-key-2 | sha256sum).
    let rotated = "pk-rotated-key-2";
    let rotated_sha256 = "c831a061114ab74da7f2614fa92664f48c4d81ac7f4ae2a67f1719e77b383903";
    let text = config(rotated_sha256).replace("{address}", &gateway.address);
    std::fs::write(&gateway.config, text).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while with_key(rotated) != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the new configuration never took over"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        with_key(API_KEY),
        401,
        "the old key went with the old configuration"
    );
    std::fs::write(&gateway.config, "[listen]\naddress = \"nonsense").unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(with_key(rotated), 200, "a broken file changes nothing");
    assert_eq!(with_key(API_KEY), 401);
}
