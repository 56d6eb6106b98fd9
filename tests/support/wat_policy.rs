//! Policies written by hand in WebAssembly text: a core module that
//! implements the canonical ABI of the `policy` world, turned into a
//! component with `wit-component` exactly as a toolchain would.
//!
//! They let the tests make a policy misbehave in ways no SDK would let it:
//! loop forever, grow memory without end, trap, cite findings it was never
//! given, import WASI.
//!
//! Every policy built here subscribes to tool calls only. Its `check-call`
//! runs the behaviour under test on calls to the tool [`TARGET`], and allows
//! every other call, so a test can check that the engine still serves
//! after the behaviour.

use std::path::Path;

use anyhow::Context as _;
use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::Resolve;

/// The tool whose calls trigger a policy's behaviour.
pub const TARGET: &str = "target";

/// Runs forever.
pub const LOOP_FOREVER: &str = "(loop $forever (br $forever)) (unreachable)";

/// Grows memory by 1 MiB at a time, ignoring failure, forever.
pub const GROW_MEMORY: &str =
    "(loop $more (drop (memory.grow (i32.const 16))) (br $more)) (unreachable)";

/// Executes `unreachable`.
pub const UNREACHABLE: &str = "(unreachable)";

/// Denies, with the reason `seen-before`.
pub const DENY: &str = "(global.get $deny)";

/// Escalates, with the reason `seen-before`.
pub const ESCALATE: &str = "(i32.store8 (global.get $deny) (i32.const 1)) (global.get $deny)";

/// Allows, citing finding 5 although it was given none.
pub const CITE_MISSING_FINDING: &str = "(global.get $cites_missing)";

/// Denies, with one reason that cites every finding the policy was given.
pub const CITE_ALL_FINDINGS: &str = r#"
    ;; The findings list (pointer, length) follows ctx (88 bytes) and the call (60 bytes).
    (local.set $count (i32.load offset=152 (local.get $args)))
    (block $done
        (loop $next
            (br_if $done (i32.ge_u (local.get $index) (local.get $count)))
            (i32.store (i32.add (global.get $indices) (i32.shl (local.get $index) (i32.const 2)))
                (local.get $index))
            (local.set $index (i32.add (local.get $index) (i32.const 1)))
            (br $next)))
    (i32.store offset=16 (global.get $deny_reason) (global.get $indices))
    (i32.store offset=20 (global.get $deny_reason) (local.get $count))
    (global.get $deny)"#;

/// Allows the first call of a session and denies the next ones (reason
/// `seen-before`): it remembers the first in session state.
pub const DENY_AFTER_FIRST_CALL: &str = r#"
    (call $state_get (global.get $key) (i32.const 5) (global.get $scratch))
    (if (result i32) (i32.load8_u (global.get $scratch))
        (then (global.get $deny))
        (else
            (call $state_set (global.get $key) (i32.const 5) (global.get $value) (i32.const 1)
                (global.get $scratch))
            (global.get $allow)))"#;

/// Allows the first call in an instance and denies the next ones (reason
/// `seen-before`): it counts calls in a guest global, which only an
/// instance that is reused keeps.
pub const DENY_AFTER_FIRST_CALL_IN_INSTANCE: &str = r#"
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (if (result i32) (i32.gt_u (global.get $calls) (i32.const 1))
        (then (global.get $deny))
        (else (global.get $allow)))"#;

/// Traps on the second call in an instance, and allows the others.
pub const TRAP_ON_SECOND_CALL_IN_INSTANCE: &str = r#"
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (if (i32.eq (global.get $calls) (i32.const 2)) (then (unreachable)))
    (global.get $allow)"#;

/// Grows memory by 1 MiB (16 pages), and goes on.
pub const GROW_ONE_MIB: &str = "(drop (memory.grow (i32.const 16)))";

/// Denies the calls of every session but the first event's (reason
/// `seen-before`): it reads the context's sequence number, a u64 at offset
/// 80 of the context.
pub const DENY_AFTER_FIRST_EVENT: &str = r#"
    (if (result i32) (i64.gt_u (i64.load offset=80 (local.get $args)) (i64.const 1))
        (then (global.get $deny))
        (else (global.get $allow)))"#;

/// A policy component written in WebAssembly text.
#[derive(Debug, Clone)]
pub struct WatPolicy {
    name: String,
    check_call: String,
    metadata: String,
    patterns: Vec<Pattern>,
    import_environment: bool,
    refuse_settings: Option<(String, String)>,
    contract_0_1: bool,
}

/// A prefilter pattern of a [`WatPolicy`].
#[derive(Debug, Clone)]
struct Pattern {
    id: String,
    /// The WIT `matcher` case: 0 for a literal, 1 for a regular expression.
    case: u32,
    text: String,
}

impl WatPolicy {
    /// A policy named `name` that allows every call.
    pub fn new(name: &str) -> Self {
        WatPolicy {
            name: name.to_owned(),
            check_call: "(global.get $allow)".into(),
            metadata: "(global.get $metadata)".into(),
            patterns: Vec::new(),
            import_environment: false,
            refuse_settings: None,
            contract_0_1: false,
        }
    }

    /// Refuses any settings in `configure`, blaming `field` with `message`.
    pub fn refuse_settings(mut self, field: &str, message: &str) -> Self {
        self.refuse_settings = Some((field.to_owned(), message.to_owned()));
        self
    }

    /// Builds the policy for the previous contract, `portcullis:policy@0.1.0`
    /// (`tests/fixtures/policy-0.1.0.wit`), as an old SDK would have: for
    /// checking that the host refuses it. Only its imports and exports are
    /// of 0.1; it is not meant to run.
    pub fn contract_0_1(mut self) -> Self {
        self.contract_0_1 = true;
        self
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `body` (instructions leaving the address of an outcome) on calls to [`TARGET`].
    pub fn on_target(mut self, body: &str) -> Self {
        self.check_call = body.to_owned();
        self
    }

    /// Runs `body` (instructions leaving the address of a metadata record) in `metadata`.
    pub fn metadata(mut self, body: &str) -> Self {
        self.metadata = body.to_owned();
        self
    }

    /// Asks the prefilter for a literal pattern.
    pub fn literal(mut self, id: &str, text: &str) -> Self {
        self.patterns.push(Pattern {
            id: id.to_owned(),
            case: 0,
            text: text.to_owned(),
        });
        self
    }

    /// Asks the prefilter for a regular expression pattern.
    pub fn regex(mut self, id: &str, regex: &str) -> Self {
        self.patterns.push(Pattern {
            id: id.to_owned(),
            case: 1,
            text: regex.to_owned(),
        });
        self
    }

    /// Imports `wasi:cli/environment@0.2.0`'s `get-environment`, as a
    /// module built for WASI would.
    pub fn import_environment(mut self) -> Self {
        self.import_environment = true;
        self
    }

    /// The core module, in WebAssembly text.
    pub fn wat(&self) -> String {
        const METADATA: u32 = 1024;
        const NAME: u32 = 1280;
        const VERSION: u32 = 1536;
        const EVENTS: u32 = 1792;
        const ALLOW: u32 = 2048;
        const DENY_OUTCOME: u32 = 2064;
        const DENY_REASON: u32 = 2080;
        const RULE: u32 = 2112;
        const MESSAGE: u32 = 2176;
        const KEY: u32 = 2304;
        const VALUE: u32 = 2312;
        const CITES_MISSING: u32 = 2400;
        const CITES_MISSING_REASON: u32 = 2416;
        const MISSING_INDEX: u32 = 2448;
        const SCRATCH: u32 = 2560;
        const TARGET_NAME: u32 = 2592;
        const PATTERNS: u32 = 3072;
        const PATTERN_TEXTS: u32 = 4096;
        const INDICES: u32 = 8192;
        const CONFIGURE_RESULT: u32 = 2600;
        const SETTING_FIELD: u32 = 2640;
        const SETTING_MESSAGE: u32 = 2704;
        let version = "0.1.0";
        let rule = "seen-before";
        let message = "the policy decided so";
        let name = &self.name;
        let len = |text: &str| u32::try_from(text.len()).expect("a short text");
        // metadata: name, version, events (list<event-kind>), patterns (list<pattern>).
        let count = u32::try_from(self.patterns.len()).expect("a few patterns");
        let metadata = bytes(&[
            NAME,
            len(name),
            VERSION,
            len(version),
            EVENTS,
            1,
            PATTERNS,
            count,
        ]);
        // pattern: id, matcher (case as u8, padded; string).
        let mut patterns = String::new();
        let mut text_at = PATTERN_TEXTS;
        for (index, pattern) in (0u32..).zip(&self.patterns) {
            let (id, text) = (text_at, text_at + len(&pattern.id));
            text_at = text + len(&pattern.text);
            let record = [id, len(&pattern.id), pattern.case, text, len(&pattern.text)];
            patterns.push_str(&format!(
                "(data (i32.const {}) \"{}\")\n  (data (i32.const {id}) \"{}\")\n  (data (i32.const {text}) \"{}\")\n  ",
                PATTERNS + 20 * index,
                bytes(&record),
                escaped(&pattern.id),
                escaped(&pattern.text),
            ));
        }
        assert!(text_at <= INDICES, "the patterns' texts are too long");
        // outcome: verdict (u8, padded), reasons (list<reason>).
        let allow = bytes(&[0, 0, 0]);
        let deny = bytes(&[2, DENY_REASON, 1]);
        let cites_missing = bytes(&[0, CITES_MISSING_REASON, 1]);
        // reason: rule, message, findings (list<u32>).
        let deny_reason = bytes(&[RULE, len(rule), MESSAGE, len(message), 0, 0]);
        let cites_missing_reason =
            bytes(&[RULE, len(rule), MESSAGE, len(message), MISSING_INDEX, 1]);
        let missing_index = bytes(&[5]);
        let environment = if self.import_environment {
            r#"(import "wasi:cli/environment@0.2.0" "get-environment" (func (param i32)))"#
        } else {
            ""
        };
        // configure's result<_, setting-error>: a case byte, then the
        // record's two strings (field, message) at offset 4.
        let (configure_result, setting_field, setting_message) = match &self.refuse_settings {
            None => (bytes(&[0, 0, 0, 0, 0]), String::new(), String::new()),
            Some((field, message)) => (
                bytes(&[1, SETTING_FIELD, len(field), SETTING_MESSAGE, len(message)]),
                escaped(field),
                escaped(message),
            ),
        };
        let (contract, configure, check_tool_params) = if self.contract_0_1 {
            ("0.1.0", String::new(), "i32 ".repeat(16))
        } else {
            (
                "0.2.0",
                format!(
                    "(func (export \"configure\") (param i32 i32) (result i32)\n    (i32.const {CONFIGURE_RESULT}))"
                ),
                "i32".to_owned(),
            )
        };
        let name_data = escaped(name);
        let metadata_body = &self.metadata;
        let check_call = &self.check_call;
        let target = TARGET;
        format!(
            r#"(module
  (import "portcullis:policy/host@{contract}" "state-get" (func $state_get (param i32 i32 i32)))
  (import "portcullis:policy/host@{contract}" "state-set" (func $state_set (param i32 i32 i32 i32 i32)))
  {environment}
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 65536))
  (global $calls (mut i32) (i32.const 0))
  (global $metadata i32 (i32.const {METADATA}))
  (global $allow i32 (i32.const {ALLOW}))
  (global $deny i32 (i32.const {DENY_OUTCOME}))
  (global $cites_missing i32 (i32.const {CITES_MISSING}))
  (global $key i32 (i32.const {KEY}))
  (global $value i32 (i32.const {VALUE}))
  (global $scratch i32 (i32.const {SCRATCH}))
  (global $deny_reason i32 (i32.const {DENY_REASON}))
  (global $indices i32 (i32.const {INDICES}))
  (data (i32.const {METADATA}) "{metadata}")
  (data (i32.const {NAME}) "{name_data}")
  (data (i32.const {VERSION}) "{version}")
  (data (i32.const {EVENTS}) "\01")
  (data (i32.const {ALLOW}) "{allow}")
  (data (i32.const {DENY_OUTCOME}) "{deny}")
  (data (i32.const {DENY_REASON}) "{deny_reason}")
  (data (i32.const {RULE}) "{rule}")
  (data (i32.const {MESSAGE}) "{message}")
  (data (i32.const {KEY}) "calls")
  (data (i32.const {VALUE}) "1")
  (data (i32.const {CITES_MISSING}) "{cites_missing}")
  (data (i32.const {CITES_MISSING_REASON}) "{cites_missing_reason}")
  (data (i32.const {MISSING_INDEX}) "{missing_index}")
  (data (i32.const {TARGET_NAME}) "{target}")
  (data (i32.const {CONFIGURE_RESULT}) "{configure_result}")
  (data (i32.const {SETTING_FIELD}) "{setting_field}")
  (data (i32.const {SETTING_MESSAGE}) "{setting_message}")
  {patterns}

  ;; A bump allocator that never frees: an instance lives for one call, or
  ;; for a few when the engine reuses it.
  (func (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32)
      (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (i32.and
      (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
      (i32.sub (i32.const 0) (local.get $align))))
    (global.set $heap (i32.add (local.get $ptr) (local.get $size)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then
        (if (i32.eq (i32.const -1) (memory.grow (i32.add (i32.const 1) (i32.shr_u
              (i32.sub (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
              (i32.const 16)))))
          (then (unreachable)))))
    (if (local.get $old)
      (then (memory.copy (local.get $ptr) (local.get $old) (local.get $old_size))))
    (local.get $ptr))

  (func (export "metadata") (result i32)
    {metadata_body})

  {configure}

  (func (export "check-tool") (param {check_tool_params}) (result i32)
    (global.get $allow))

  ;; The arguments are stored at $args: the context (88 bytes: session,
  ;; server, tenant, principal, client, then the u64 timestamp at 72 and
  ;; sequence at 80), then the call, whose name is at offset 88 (pointer)
  ;; and 92 (length).
  (func $is_target (param $args i32) (result i32)
    (if (i32.ne (i32.load offset=92 (local.get $args)) (i32.const {target_len}))
      (then (return (i32.const 0))))
    (i32.eqz (call $compare
      (i32.load offset=88 (local.get $args)) (i32.const {TARGET_NAME}) (i32.const {target_len}))))

  ;; 0 when the `len` bytes at `a` and `b` are equal.
  (func $compare (param $a i32) (param $b i32) (param $len i32) (result i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $len)))
        (if (i32.ne (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b)))
          (then (return (i32.const 1))))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $len (i32.sub (local.get $len) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  (func (export "check-call") (param $args i32) (result i32)
    (local $index i32) (local $count i32)
    (if (i32.eqz (call $is_target (local.get $args)))
      (then (return (global.get $allow))))
    {check_call})

  (func (export "check-result") (param i32) (result i32)
    (global.get $allow))
)"#,
            target_len = TARGET.len(),
        )
    }

    /// The policy as a component.
    ///
    /// # Errors
    /// When the WAT, the WIT in `wit/` or the componentization is wrong.
    pub fn component(&self) -> anyhow::Result<Vec<u8>> {
        let mut module = wat::parse_str(self.wat()).context("parsing the policy's WAT")?;
        let mut resolve = Resolve::default();
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (policy_package, _) = if self.contract_0_1 {
            resolve
                .push_file(manifest.join("fixtures/policy-0.1.0.wit"))
                .map(|package| (package, ()))
                .context("reading the 0.1 WIT")?
        } else {
            resolve
                .push_dir(manifest.join("../wit"))
                .map(|(package, _)| (package, ()))
                .context("reading wit/")?
        };
        let world = if self.import_environment {
            resolve.push_str(
                "wasi-cli.wit",
                "package wasi:cli@0.2.0;
                 interface environment {
                     get-environment: func() -> list<tuple<string, string>>;
                 }",
            )?;
            let package = resolve.push_str(
                "hostile.wit",
                "package test:hostile;
                 world policy-with-environment {
                     include portcullis:policy/policy@0.2.0;
                     import wasi:cli/environment@0.2.0;
                 }",
            )?;
            resolve.select_world(&[package], Some("policy-with-environment"))?
        } else {
            resolve.select_world(&[policy_package], Some("policy"))?
        };
        wit_component::embed_component_metadata(
            &mut module,
            &resolve,
            world,
            StringEncoding::UTF8,
            false,
        )?;
        ComponentEncoder::default()
            .module(&module)?
            .validate(true)
            .encode()
            .context("componentizing the policy")
    }
}

/// Every byte of `text`, escaped for a WAT data string.
fn escaped(text: &str) -> String {
    text.bytes().map(|byte| format!("\\{byte:02x}")).collect()
}

/// `values` as little-endian 32-bit words, escaped for a WAT data string.
fn bytes(values: &[u32]) -> String {
    values
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .map(|byte| format!("\\{byte:02x}"))
        .collect()
}
