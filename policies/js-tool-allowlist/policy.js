// tool-allowlist: denies calls to tools whose names are on a deny list.
// Implements the WIT world `portcullis:policy/policy@0.1.0` (../../wit/policy.wit).
import { log } from 'portcullis:policy/host@0.1.0';

const NAME = 'tool-allowlist';
const VERSION = '0.1.0';

// Exact tool names (compared case-insensitively) that are never allowed.
const DENIED = new Set([
  'exec',
  'shell',
  'run_shell_command',
  'execute_command',
  'delete_file',
  'drop_database',
]);

const ALLOW = { verdict: 'allow', reasons: [] };

export function metadata() {
  return {
    name: NAME,
    version: VERSION,
    events: ['tool-call'],
    patterns: [],
  };
}

export function checkTool(_ctx, _tool, _findings) {
  return ALLOW;
}

export function checkCall(ctx, call, _findings) {
  const name = String(call.name).toLowerCase();
  if (!DENIED.has(name)) {
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
