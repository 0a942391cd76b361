/**
 * The one place that keeps credentials out of what tunevlseg prints or writes: console output,
 * error messages, logs, run folders, study records and reports. Passwords in URLs
 * (`postgres://user:secret@host/db`, `?password=`), signed-URL query parameters and the values
 * of credential environment variables (`HF_TOKEN`, `PGPASSWORD`) become `***`.
 *
 * It lives in the ground floor (src/util) so that every layer that handles a credential (the
 * hub's HF token, the sweep storage's URLs) or prints one (the CLI) masks it the same way.
 */

const MASK = '***';

/** Query parameters whose value is a credential (passwords, tokens, signed-URL parts). */
const SECRET_PARAM = /pass|pwd|token|secret|key|sig|credential|auth|policy/i;

/** Environment variables that hold credentials; their values are masked wherever they appear. */
export const SECRET_ENV_VARS = ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'PGPASSWORD'] as const;

function parse(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/**
 * The URL with its password and credential query values masked (`postgres://tvs:***@host/db`).
 * `query: 'drop'` removes the whole query string instead (hub download URLs: signed, long, and
 * of no use in a message).
 */
export function redactUrl(url: string, opts: { query?: 'mask' | 'drop' } = {}): string {
  const u = parse(url);
  if (!u) return redactText(url);
  if (u.password) u.password = MASK;
  const hadQuery = u.search !== '';
  if (opts.query === 'drop') u.search = '';
  else for (const k of [...u.searchParams.keys()]) if (SECRET_PARAM.test(k)) u.searchParams.set(k, MASK);
  u.hash = '';
  // URL.toString() percent-encodes the mask in the query; show it as typed.
  return u.toString().replaceAll('%2A%2A%2A', MASK) + (opts.query === 'drop' && hadQuery ? '?…' : '');
}

/** The password a URL carries (in its user part or as `?password=`), or null. */
export function urlPassword(url: string): string | null {
  const u = parse(url);
  if (!u) return null;
  if (u.password) return decodeURIComponent(u.password);
  return u.searchParams.get('password');
}

/**
 * The URL without any credential (password removed, not masked): what a hint may show for the
 * user to copy, with the password then passed through the environment (PGPASSWORD, ~/.pgpass).
 */
export function urlWithoutPassword(url: string): string {
  const u = parse(url);
  if (!u) return url;
  const secrets = [...u.searchParams.keys()].filter((k) => SECRET_PARAM.test(k));
  // Nothing to remove: the URL as given (re-serialising would percent-encode a `sqlite:` path's spaces, naming another file).
  if (u.password === '' && secrets.length === 0) return url;
  u.password = '';
  for (const k of secrets) u.searchParams.delete(k);
  return u.toString();
}

/**
 * Any text (a message, a log line, a file's content) with credentials masked: passwords in the
 * URLs it contains and the values of SECRET_ENV_VARS found in `env`.
 */
export function redactText(text: string, env: NodeJS.ProcessEnv = process.env): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):([^\s@/]+)@/gi, `$1:${MASK}@`);
  out = out.replace(/([?&][^=\s&#]*(?:pass|pwd|token|secret|sig|credential)[^=\s&#]*=)[^\s&#]+/gi, `$1${MASK}`);
  for (const name of SECRET_ENV_VARS) {
    const v = env[name]?.trim();
    // Very short values would mask ordinary words; a real token or password is longer.
    if (v && v.length >= 4) out = out.split(v).join(MASK);
  }
  return out;
}
