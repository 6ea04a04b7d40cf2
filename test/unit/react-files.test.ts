// The react step for files init writes itself (an issued certificate): a change to one of
// their names runs the entry's on_change once per event, through the supervisor's paths;
// `none` and unrelated changes do nothing.
import { describe, expect, it } from 'vitest';
import { createLog } from '../../src/log';
import { Reactor, type Reactions, type ReactState } from '../../src/react/react';
import type { Action, Wiring } from '../../src/react/wiring';

function reactions() {
  const done: string[] = [];
  const r: Reactions = {
    setEnvironment: () => {},
    restart: async (service) => void done.push(`restart ${service}`),
    signal: (service, signal) => { done.push(`signal ${signal} ${service}`); return true; },
    run: async (argv) => { done.push(`run ${argv.join(' ')}`); return null; },
    exit: (why) => void done.push(`exit ${why}`),
  };
  return { r, done };
}

const state = (): ReactState => ({ childEnv: {}, templateSecrets: {}, secretEnv: new Set(), rendered: [], files: [], environments: () => new Map() });
const cert = new Set(['file:/tls/web.crt', 'file:/tls/web.key']);

describe('Reactor: certificate files', () => {
  it('sends the entry its signal once for a rotation that changed certificate and key together', async () => {
    const { r, done } = reactions();
    const wiring: Wiring = { services: [], templates: [], files: [{ what: 'certificate web', names: cert, action: { kind: 'signal', service: 'nginx', signal: 1 } }] };
    const reactor = new Reactor(wiring, state(), r, createLog('error'));
    await reactor.apply({ changed: new Map([['file:/tls/web.crt', Buffer.from('c')], ['file:/tls/web.key', Buffer.from('k')]]), current: new Map() });
    expect(done).toEqual(['signal 1 nginx']);
    await reactor.apply({ changed: new Map([['OTHER', Buffer.from('x')]]), current: new Map() });
    expect(done).toEqual(['signal 1 nginx']);
  });

  it('runs a command, restarts, or does nothing, as its on_change says', async () => {
    const cases: Array<[Action, string[]]> = [
      [{ kind: 'command', argv: ['nginx', '-s', 'reload'], timeoutMs: 1000 }, ['run nginx -s reload']],
      [{ kind: 'restart', service: 'web' }, ['restart web']],
      [{ kind: 'none' }, []],
    ];
    for (const [action, expected] of cases) {
      const { r, done } = reactions();
      const reactor = new Reactor({ services: [], templates: [], files: [{ what: 'certificate web', names: cert, action }] }, state(), r, createLog('error'));
      await reactor.apply({ changed: new Map([['file:/tls/web.crt', Buffer.from('c')]]), current: new Map() });
      expect(done).toEqual(expected);
    }
  });
});
