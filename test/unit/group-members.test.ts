// The shutdown lines name what was left behind: "left 2 processes (pids 42, 43) in its
// process group"; the pids come from /proc.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { describeMembers, groupMembers } from '../../src/supervisor/processes';

describe('groupMembers and describeMembers', () => {
  it('find the live members of a process group, and only them', async () => {
    const leader = spawn('sh', ['-c', 'sleep 5 & sleep 5 & wait'], { detached: true, stdio: 'ignore' });
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const pids = groupMembers(leader.pid as number);
      expect(pids).toContain(leader.pid);
      expect(pids).toHaveLength(3);
      expect(groupMembers(2 ** 22 + 7)).toEqual([]);
    } finally {
      process.kill(-(leader.pid as number), 'SIGKILL');
    }
  });

  it('word the count', () => {
    expect(describeMembers([42])).toBe('1 process (pid 42)');
    expect(describeMembers([42, 43])).toBe('2 processes (pids 42, 43)');
    expect(describeMembers([1, 2, 3, 4, 5, 6, 7])).toBe('7 processes (pids 1, 2, 3, 4, 5, ...)');
    expect(describeMembers([])).toBe('processes');
  });
});
