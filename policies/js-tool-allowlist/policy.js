// tool-allowlist: denies calls to tools whose names are on a deny list.
// Implements the WIT world `portcullis:policy/policy@0.2.0` (../../wit/policy.wit).
//
// Settings: `{"deny": ["exec", ...]}` replaces the default deny list below.
import { log, settings } from 'portcullis:policy/host@0.2.0';

const NAME = 'tool-allowlist';
const VERSION = '0.2.0';

// Exact tool names (compared case-insensitively) that are never allowed,
// unless the operator's settings give another list.
const DEFAULT_DENIED = [
  'exec',
  'shell',
  'run_shell_command',
  'execute_command',
  'delete_file',
  'drop_database',
];

const ALLOW = { verdict: 'allow', reasons: [] };

// The deny list in `text` (the settings JSON), or a setting-error record.
function denyList(text) {
  const value = JSON.parse(text);
  if (value === null) {
    return DEFAULT_DENIED;
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    return { field: '', message: 'the settings must be an object such as {"deny": ["exec"]}' };
  }
  for (const key of Object.keys(value)) {
    if (key !== 'deny') {
      return { field: `/${key}`, message: `unknown setting \`${key}\`; the only setting is \`deny\`` };
    }
  }
  if (!('deny' in value)) {
    return DEFAULT_DENIED;
  }
  if (!Array.isArray(value.deny)) {
    return { field: '/deny', message: 'must be a list of tool names' };
  }
  const index = value.deny.findIndex((name) => typeof name !== 'string' || name === '');
  if (index >= 0) {
    return { field: `/deny/${index}`, message: 'must be a tool name (a non-empty string)' };
  }
  return value.deny;
}

export function metadata() {
  return {
    name: NAME,
    version: VERSION,
    events: ['tool-call'],
    patterns: [],
  };
}

// `result<_, setting-error>`: returning is `ok`, throwing the record is `err`.
export function configure(text) {
  const list = denyList(text);
  if (!Array.isArray(list)) {
    throw list;
  }
}

export function checkTool(_ctx, _tool, _findings) {
  return ALLOW;
}

export function checkCall(ctx, call, _findings) {
  const denied = new Set(denyList(settings()).map((name) => name.toLowerCase()));
  const name = String(call.name).toLowerCase();
  if (!denied.has(name)) {
    return ALLOW;
  }
  log('info', `denied call to ${call.name} on server ${ctx.server}`);
  return {
    verdict: 'deny',
    reasons: [
      {
        rule: 'denied-tool',
        message: `Tool "${call.name}" is on the deny list.`,
        findings: [],
      },
    ],
  };
}

export function checkResult(_ctx, _result, _findings) {
  return ALLOW;
}
