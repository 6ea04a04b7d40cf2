// Why --user cannot change user: the reason init gives, from /proc/self/status's CapEff.
import { describe, expect, it } from 'vitest';
import { whyNotPermitted } from '../../src/supervisor/processes';

const status = (capEff: string) => `Name:\tinit\nUid:\t0\t0\t0\t0\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\nCapBnd:\t${capEff}\n`;
const root = process.getuid?.() === 0;
// The cases below are for root (the tests run as root: they start PID-1 namespaces).
const asRoot = root ? it : it.skip;

describe('whyNotPermitted', () => {
  it('says init is not root when it is not, and reads the capabilities when it is', () => {
    if (!root) expect(whyNotPermitted(status('0000000000000000'))).toBe('init is not root');
    else expect(whyNotPermitted(status('0000000000000000'))).toMatch(/^init is root but lacks/);
  });

  asRoot('names both capabilities when --cap-drop ALL took them', () => {
    expect(whyNotPermitted(status('0000000000000000'))).toBe('init is root but lacks CAP_SETUID and CAP_SETGID: the container\'s capabilities were dropped '
      + '(e.g. --cap-drop ALL); add --cap-add SETUID --cap-add SETGID, or start the container as the user (docker run --user)');
  });

  asRoot('names the one that is missing', () => {
    expect(whyNotPermitted(status('0000000000000040'))).toMatch(/^init is root but lacks CAP_SETUID: .*add --cap-add SETUID,/); // SETGID (bit 6) only
    expect(whyNotPermitted(status('0000000000000080'))).toMatch(/^init is root but lacks CAP_SETGID: .*add --cap-add SETGID,/); // SETUID (bit 7) only
  });

  asRoot('with both present, blames what is left (a security module)', () => {
    expect(whyNotPermitted(status('00000000a80425fb'))).toBe('init is root with CAP_SETUID and CAP_SETGID; a security module refused');
  });

  asRoot('without a CapEff line, says what it would need', () => {
    expect(whyNotPermitted('Name:\tinit\n')).toBe('init lacks CAP_SETUID or CAP_SETGID');
  });
});
