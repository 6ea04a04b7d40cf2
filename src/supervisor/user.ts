// `--user NAME|UID[:GROUP|GID]` resolved the way runc and gosu do it, from the image's own
// /etc/passwd and /etc/group: a name must exist; a numeric uid need not (then its primary
// group is 0 and its home /, as with `docker run --user 1000`). Without an explicit group the child gets
// the primary group plus every group that lists the user as a member; with one, only that.
import { readFileSync } from 'node:fs';
import { describeErrno, EXIT, exitCodeForErrno, InitError } from '../exit-codes';

export interface ResolvedUser {
  uid: number;
  gid: number;
  groups: number[];
  /** From /etc/passwd, or / for a uid it lacks; HOME is set to it, as gosu and runc do. */
  home: string;
  /** How the user was written, for messages. */
  spec: string;
  /** A numeric uid that /etc/passwd lacks: its group is 0 unless one was given (as Docker does). */
  unknownUid?: boolean;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

function readTable(file: string): string[][] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return []; // an image without /etc/passwd: numeric ids still work
    // Unreadable is not absent: reading it as empty would run a known user as gid 0.
    throw new InitError(`cannot read ${file}: ${describeErrno(code, (error as Error).message)}`, exitCodeForErrno(code, EXIT.OS_ERROR));
  }
  return text.split('\n').filter((line) => line && !line.startsWith('#')).map((line) => line.split(':'));
}

const isId = (text: string) => /^\d+$/.test(text);
const MAX_ID = 2 ** 32 - 2; // (uid_t)-1 means "unchanged" to the kernel

function parseId(text: string, what: string, spec: string): number {
  const n = Number(text);
  if (n > MAX_ID) throw new InitError(`--user ${spec}: ${what} ${text} is out of range`, EXIT.USAGE);
  return n;
}

export function resolveUser(spec: string, etc = '/etc'): ResolvedUser {
  const [userPart, groupPart, ...extra] = spec.split(':');
  if (!userPart || extra.length > 0 || groupPart === '') {
    throw new InitError(`--user "${spec}": expected USER, UID, USER:GROUP or UID:GID`, EXIT.USAGE);
  }
  // A line whose ids are not numbers is skipped, as glibc's files backend skips it: read as
  // Number("") it would be uid 0, root (found by test/fuzz/parsers.test.ts).
  const passwd: PasswdEntry[] = readTable(`${etc}/passwd`).filter((f) => isId(f[2] ?? '') && isId(f[3] ?? ''))
    .map((f) => ({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '' }));
  const group: GroupEntry[] = readTable(`${etc}/group`).filter((f) => isId(f[2] ?? ''))
    .map((f) => ({ name: f[0], gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));

  const entry = isId(userPart) ? passwd.find((p) => p.uid === Number(userPart)) : passwd.find((p) => p.name === userPart);
  if (!entry && !isId(userPart)) throw new InitError(`--user ${spec}: no user "${userPart}" in ${etc}/passwd`, EXIT.NO_USER);
  const uid = entry ? entry.uid : parseId(userPart, 'uid', spec);

  if (groupPart !== undefined) {
    const g = isId(groupPart) ? undefined : group.find((e) => e.name === groupPart);
    if (!g && !isId(groupPart)) throw new InitError(`--user ${spec}: no group "${groupPart}" in ${etc}/group`, EXIT.NO_USER);
    const gid = g ? g.gid : parseId(groupPart, 'gid', spec);
    return { uid, gid, groups: [gid], home: entry?.home || '/', spec };
  }
  const gid = entry ? entry.gid : 0;
  const member = entry ? group.filter((g) => g.members.includes(entry.name)).map((g) => g.gid) : [];
  return { uid, gid, groups: [...new Set([gid, ...member])], home: entry?.home || '/', spec, ...(entry ? {} : { unknownUid: true }) };
}

/** An owner or group for a file: a name from /etc/passwd or /etc/group, or a number. */
export function lookupId(kind: 'owner' | 'group', name: string, etc = '/etc'): number {
  if (isId(name)) {
    // Not parseId: its message is about --user.
    if (Number(name) > MAX_ID) throw new InitError(`${kind} ${name} is out of range`, EXIT.CONFIG);
    return Number(name);
  }
  const table = readTable(`${etc}/${kind === 'owner' ? 'passwd' : 'group'}`);
  const row = table.find((f) => f[0] === name && isId(f[2] ?? ''));
  if (!row) throw new InitError(`${kind} "${name}" is not in ${etc}/${kind === 'owner' ? 'passwd' : 'group'}`, EXIT.NO_USER);
  return Number(row[2]);
}
