// The option table of docs/configuration.md is what `init --help` says: the same flags, each
// with the same environment variable and default; the README's short table agrees with both.
// A flag added to one and not the other fails here.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { INIT, ROOT } from '../support/paths';

interface Row { variable?: string; defaultValue?: string }

/** --help's options: long flag -> its variable and default, from the description text. */
function helpOptions(): Map<string, Row> {
  const r = spawnSync(INIT, ['--help'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  const options = new Map<string, Row>();
  const text = r.stdout.slice(r.stdout.indexOf('Options:'), r.stdout.indexOf('Secret references'));
  // Each option starts on a line with two spaces and a dash; its description wraps below.
  for (const block of text.split(/\n(?= {2}-)/).slice(1)) {
    const flag = /--[a-z-]+/.exec(block)?.[0] as string;
    const description = block.replace(/\s+/g, ' ');
    options.set(flag, {
      variable: /\b(SESAME_[A-Z_]+)\b/.exec(description)?.[1],
      defaultValue: /default:? ([^;),]+)/.exec(description)?.[1].trim(),
    });
  }
  return options;
}

/** A table that starts with `header`: long flag -> variable and default. */
function tableOptions(file: string, header: string): Map<string, Row> {
  const readme = readFileSync(join(ROOT, file), 'utf8');
  const start = readme.indexOf(header);
  expect(start).toBeGreaterThan(0);
  const rows = readme.slice(start).split('\n\n')[0].split('\n').slice(2);
  const options = new Map<string, Row>();
  for (const row of rows) {
    const [flags, variable, defaultValue] = row.split(' | ').map((c) => c.replace(/^\| ?/, '').trim());
    const flag = /--[a-z-]+/.exec(flags)?.[0];
    if (!flag) continue; // variables without a flag (SESAME_NATIVE...)
    options.set(flag, { variable: /`(SESAME_[A-Z_]+)`/.exec(variable)?.[1], defaultValue: /^`([^`]+)`/.exec(defaultValue)?.[1] });
  }
  return options;
}

const referenceOptions = () => tableOptions('docs/configuration.md', '| option | variable | default | meaning |');

describe('the option tables and --help', () => {
  const help = helpOptions();
  const readme = referenceOptions();

  it('list the same flags', () => {
    expect([...readme.keys()].sort()).toEqual([...help.keys()].sort());
    expect(help.size).toBeGreaterThan(15);
  });

  it('give each flag the same environment variable', () => {
    for (const [flag, row] of help) expect(readme.get(flag)?.variable, flag).toBe(row.variable);
  });

  it('give the same defaults where --help states one', () => {
    const stated = [...help].filter(([, row]) => row.defaultValue && !row.defaultValue.startsWith('init'));
    expect(stated.map(([flag]) => flag).sort()).toEqual(['--grace-period', '--lease-threshold', '--log-format', '--log-level', '--on-change', '--on-expiry', '--refresh', '--secrets-timeout', '--splay', '--wait']);
    for (const [flag, row] of stated) expect(readme.get(flag)?.defaultValue, flag).toBe((row.defaultValue as string).split(' ')[0]);
  });

  it('the README\'s short table names real flags with their variables', () => {
    const short = tableOptions('README.md', '| option | variable | what for |');
    expect(short.size).toBeGreaterThan(4);
    for (const [flag, row] of short) {
      expect(help.has(flag), flag).toBe(true);
      expect(row.variable, flag).toBe(help.get(flag)?.variable);
    }
  });

  it('--help fits in 80 columns and names every variable-only setting', () => {
    const r = spawnSync(INIT, ['--help'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '200' } });
    for (const line of r.stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    for (const name of ['SESAME_LITERAL', 'SESAME_OPTIONAL_SECRETS', 'SESAME_FILE_VARS', 'SESAME_PASSTHROUGH', 'SESAME_VAULT_AUTH', 'vault:', 'keywhiz:', 'file:', 'NAME_FILE']) {
      expect(r.stdout, name).toContain(name);
    }
  });

  it('and the exit codes in --help are in the tables of the README and docs/configuration.md', () => {
    const r = spawnSync(INIT, ['--help'], { encoding: 'utf8' });
    const codes = [...r.stdout.slice(r.stdout.indexOf('Exit status:')).matchAll(/\b(\d{2,3}) [a-z]/g)].map((m) => m[1]);
    expect(codes.length).toBeGreaterThan(6);
    for (const file of ['README.md', 'docs/configuration.md']) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const code of codes) expect(text, `${file}: ${code}`).toContain(`| ${code} |`);
    }
  });
});
