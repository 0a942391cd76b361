// The flag grammar (docs/cli.md), checked on every command's --help: an Examples block whose
// every line parses as that command; defaults printed one way; one spelling per shared concept
// (the same flag and value name wherever it appears); old spellings hidden, still accepted and
// noted; "did you mean" for a mistyped command and a mistyped learner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { buildProgram } from '../src/cli/program.js';
import { FLAGS, examplesOf, oldSpellings } from '../src/cli/flags.js';
import { repoRoot } from './helpers.js';

interface Node {
  cmd: Command;
  path: string[];
}

function walk(cmd: Command, p: string[] = []): Node[] {
  return [{ cmd, path: p }, ...cmd.commands.flatMap((c) => walk(c, [...p, c.name()]))];
}

function helpOf(cmd: Command): string {
  let out = '';
  cmd.configureOutput({
    writeOut: (s) => {
      out += s;
    },
    writeErr: (s) => {
      out += s;
    },
  });
  cmd.outputHelp();
  return out;
}

/** Shell-like split: spaces, double quotes. */
function tokens(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

/** A program whose actions only record which command ran and with what options; errors throw, output is kept. */
async function stubbedProgram(): Promise<{
  program: Command;
  ran: { path: string; opts: Record<string, unknown>; args: unknown[] }[];
  err: () => string;
}> {
  const program = await buildProgram();
  const ran: { path: string; opts: Record<string, unknown>; args: unknown[] }[] = [];
  let err = '';
  for (const { cmd, path: p } of walk(program)) {
    cmd.exitOverride();
    cmd.configureOutput({
      writeOut: () => {},
      writeErr: (s) => {
        err += s;
      },
    });
    if (p.length > 0 && cmd.commands.length === 0)
      cmd.action((...args: unknown[]) => {
        ran.push({ path: p.join(' '), opts: cmd.opts(), args: args.slice(0, -2) });
      });
  }
  return { program, ran, err: () => err };
}

const canonical = new Map(Object.values(FLAGS).map((f) => [/--[a-z0-9-]+/.exec(f.flags)![0], f.flags.replace(/^-\w, /, '')]));
const everyOldSpelling = new Set<string>(Object.values(FLAGS).flatMap((f) => ('old' in f ? [...f.old] : [])));

test('every command: an Examples block whose lines parse as that command; defaults printed as (default: X)', async () => {
  const program = await buildProgram();
  const nodes = walk(program);
  assert.ok(nodes.length >= 20, `${nodes.length} commands`);
  for (const { cmd, path: p } of nodes) {
    const name = ['tunevlseg', ...p].join(' ');
    const help = helpOf(cmd);
    const ex = examplesOf(help);
    assert.ok(ex.length >= 1, `${name} --help has no Examples block`);
    for (const line of ex) {
      assert.ok(line === name || line.startsWith(`${name} `), `${name}: example "${line}" is not this command`);
      const { program: stub, ran, err } = await stubbedProgram();
      try {
        await stub.parseAsync(tokens(line).slice(1), { from: 'user' });
      } catch (e) {
        assert.fail(`${name}: example "${line}" does not parse: ${(e as Error).message} ${err()}`);
      }
      if (p.length > 0)
        assert.ok(
          ran.length === 1 && ran[0]!.path.startsWith(p.join(' ')),
          `${name}: example "${line}" ran ${ran.map((r) => r.path).join(', ')}`,
        );
    }
    // Defaults: one form, never JSON-quoted, never commander's choices list, at most one per option.
    assert.doesNotMatch(help, /\(default [^:]/, `${name}: a default without "default:"`);
    assert.doesNotMatch(help, /default: "/, `${name}: a JSON-quoted default`);
    assert.doesNotMatch(help, /\(choices: /, `${name}: commander's choices list (the help text names them)`);
    for (const o of cmd.options)
      assert.ok(
        (
          cmd
            .createHelp()
            .optionDescription(o)
            .match(/\(default:/g) ?? []
        ).length <= 1,
        `${name} ${o.flags}: two defaults`,
      );
  }
});

test('one spelling per concept: a shared flag is spelled, and takes its value, the same everywhere; old spellings are hidden', async () => {
  const program = await buildProgram();
  const seen = new Map<string, Set<string>>();
  for (const { cmd, path: p } of walk(program)) {
    const name = ['tunevlseg', ...p].join(' ');
    for (const o of cmd.options.filter((x) => !x.hidden && x.long)) {
      const spelled = o.flags.replace(/^-\w, /, '');
      if (canonical.has(o.long!) && o.long !== '--model' && o.long !== '--out')
        assert.equal(spelled, canonical.get(o.long!), `${name}: ${o.flags}`);
      if (o.long === '--model' && p[0] !== 'convert') assert.equal(spelled, FLAGS.model.flags, `${name}: ${o.flags}`);
      // --workers means worker processes wherever it is shown (loader threads are --loader-threads)
      if (o.long === '--workers') assert.match(o.description, /process/, `${name}: --workers ${o.description}`);
      else assert.ok(!everyOldSpelling.has(o.long!), `${name} shows the old spelling ${o.long}`);
      if (!seen.has(o.long!)) seen.set(o.long!, new Set());
      seen.get(o.long!)!.add(name);
    }
  }
  // The concepts the grammar unified are where the commands need them.
  for (const [flag, cmds] of [
    ['--dataset', ['train', 'eval', 'sweep', 'pretrain']],
    ['--image-size', ['train', 'eval', 'predict', 'export', 'convert']],
    ['--loader-threads', ['train', 'eval', 'pretrain']],
    ['--model', ['train', 'eval', 'predict', 'export', 'inspect', 'sweep', 'demo']],
  ] as const) {
    for (const c of cmds) assert.ok(seen.get(flag)?.has(`tunevlseg ${c}`), `tunevlseg ${c} has no ${flag}`);
  }
});

test('old spellings still work: the value reaches the new flag, with a one-line note on stderr', async () => {
  const program = await buildProgram();
  let checked = 0;
  for (const { cmd, path: p } of walk(program)) {
    for (const [old, now] of oldSpellings(cmd)) {
      const target = cmd.options.find((o) => o.long === now && !o.hidden)!;
      const args = [...p, ...cmd.registeredArguments.filter((a) => a.required).map(() => 'arg')];
      for (const o of cmd.options.filter((x) => x.mandatory && !x.hidden && x !== target)) args.push(o.long!, 'x');
      args.push(old, '7');
      const { program: stub, ran } = await stubbedProgram();
      const notes: string[] = [];
      const write = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((s: string) => {
        notes.push(String(s));
        return true;
      }) as typeof process.stderr.write;
      try {
        await stub.parseAsync(args, { from: 'user' });
      } finally {
        process.stderr.write = write;
      }
      const want = target.parseArg ? target.parseArg('7', undefined) : '7';
      assert.deepEqual(ran[0]?.opts[target.attributeName()], want, `tunevlseg ${p.join(' ')} ${old} 7 -> ${now}`);
      assert.deepEqual(notes, [`tunevlseg: ${old} is an old spelling: use ${now} (docs/cli.md)\n`]);
      checked++;
    }
  }
  assert.ok(checked >= 8, `${checked} old spellings checked`);
});

test('the flags named in open issues keep working', async () => {
  const program = await buildProgram();
  const has = (p: string, f: string): boolean => {
    const node = walk(program).find((n) => n.path.join(' ') === p);
    return node !== undefined && node.cmd.options.some((o) => o.long === f);
  };
  for (const [p, f] of [
    ['sweep', '--dataset'],
    ['sweep', '--model'],
    ['sweep', '--learner'],
    ['sweep', '--devices'],
    ['bench', '--devices'],
    ['bench', '--learners'],
    ['demo', '--learners'],
    ['train', '--overwrite'],
    ['worker', '--device'],
    ['bench', '--max-epochs'],
    ['train', '--lr'],
    ['data import', '--out'],
    ['data convert', '--anns'],
  ] as const) {
    assert.ok(has(p, f), `tunevlseg ${p} ${f}`);
  }
});

test('"did you mean": a mistyped command, subcommand, option or learner', async () => {
  for (const [args, want] of [
    [['demoo'], /Did you mean demo\?/],
    [['data', 'chek', 'x'], /Did you mean check\?/],
    [['train', '--datset', 'x'], /Did you mean --dataset\?/],
    [['inspect', '--learner', 'mapple'], /unknown learner "mapple" \(did you mean "maple"\?\)/],
    [['sweep', '--dataset', 'd', '--learner', 'shared_atn'], /did you mean "shared_attn"\?/],
    [['demo', '--learners', 'coop,mapple'], /did you mean "maple"\?/],
    [['inspect', '--quirks', 'fixd'], /expected reference \| fixed, got "fixd" \(did you mean "fixed"\?\)/],
  ] as const) {
    const { program, err } = await stubbedProgram();
    await assert.rejects(program.parseAsync([...args], { from: 'user' }), (e: Error) => {
      assert.match(`${e.message}\n${err()}`, want, args.join(' '));
      return true;
    });
  }
  // A learner in --model key=value (config validation) says it too.
  const { parseSegmenterConfig } = await import('../src/tuning/config.js');
  assert.throws(() => parseSegmenterConfig({ learner: 'mapple' }), /unknown learner "mapple" \(did you mean "maple"\?\)/);
});

test('docs/cli.md writes the grammar down: every shared flag and every old spelling', () => {
  const doc = readFileSync(path.join(repoRoot(), 'docs', 'cli.md'), 'utf8');
  for (const f of Object.values(FLAGS)) {
    assert.ok(doc.includes(`\`${/--[a-z0-9-]+/.exec(f.flags)![0]}`), `docs/cli.md does not name ${f.flags}`);
    for (const old of ('old' in f ? f.old : []) as readonly string[])
      assert.ok(doc.includes(`\`${old}\``), `docs/cli.md does not name the old spelling ${old}`);
  }
  assert.match(doc, /Examples:/);
});
