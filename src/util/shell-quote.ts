/**
 * Commands printed for the user to paste (`tunevlseg worker --storage ... --study ...`, `train
 * --resume <dir>`, `download <repo>`): every argument is quoted for a POSIX shell, so a folder
 * named `kv; touch PWNED` is one argument, never a second command. Same rule as Python's
 * `shlex.quote`: arguments made only of safe characters stay as they are; anything else is put in
 * single quotes, inside which a shell interprets nothing, with each `'` written as `'"'"'`.
 */
const SAFE = /^[A-Za-z0-9@%+=:,./_-]+$/;

/** One argument, quoted for sh/bash/zsh. */
export function shellQuote(arg: string): string {
  if (arg === '') return "''";
  if (SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'"'"'`)}'`;
}

/** A whole command line: each argument quoted, joined by spaces. */
export function shellCommand(args: readonly string[]): string {
  return args.map(shellQuote).join(' ');
}
