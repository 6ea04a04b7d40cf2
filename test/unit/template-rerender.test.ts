// A template rendered again after start (a secret changed) is rendered as it was at start:
// under the same --template-*-limit values, with its bytes read the same way.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLog } from '../../src/log';
import { renderAll, rerender } from '../../src/template/apply';
import { DEFAULT_LIMITS } from '../../src/template/limits';
import type { TemplateContext } from '../../src/template/context';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-rerender-'));
  dirs.push(dir);
  return dir;
}

const contextWith = (value: string): TemplateContext => ({ env: { VALUE: value }, secrets: {}, secretEnv: new Set<string>() });

describe('rerender', () => {
  it('keeps the memory limit it was first rendered under: an output past it fails, the old file stays', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'a.liquid'), '{{ env.VALUE }}');
    const limits = { ...DEFAULT_LIMITS, memoryChars: 64 };
    const [file] = renderAll([{ src: join(dir, 'a.liquid'), dest: join(dir, 'a.out'), at: '--template' }], contextWith('short'), createLog('error'), undefined, limits);
    writeFileSync(file.dest, file.rendered.text);
    expect(file.limits).toEqual(limits);
    // Within the default limits, over the one given at start.
    expect(() => rerender(file, contextWith('x'.repeat(1000)))).toThrow();
    expect(readFileSync(file.dest, 'utf8')).toBe('short');
    expect(rerender(file, contextWith('longer')).written).toBe(true);
    expect(readFileSync(file.dest, 'utf8')).toBe('longer');
  });

  it('keeps bytes of the template that are not UTF-8 as they are, as the first rendering does', () => {
    const dir = scratch();
    const src = join(dir, 'b.template');
    // Latin-1 "é" (0xe9) around a variable.
    writeFileSync(src, Buffer.concat([Buffer.from([0xe9]), Buffer.from(' ${VALUE} '), Buffer.from([0xe9])]));
    const [file] = renderAll([{ src, dest: join(dir, 'b.out'), at: '--template', engine: 'envsubst' }], contextWith('one'), createLog('error'));
    const first = file.rendered.text;
    const { file: next } = rerender(file, contextWith('two'));
    expect(next.rendered.text).toBe(first.replace('one', 'two'));
  });
});
