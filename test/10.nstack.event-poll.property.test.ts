/**
 * Property test (fast-check): on any sequence of epoll_ctl operations, writes, drains and
 * peer shutdowns over eventfds and socket pairs, an EventPoll over the real fds and one over
 * virtual sources mirroring them report exactly what the kernel's own epoll reports, at every
 * check (helpers/epoll-compare.ts runs the three side by side). fast-check shrinks a failing
 * sequence to a minimal one.
 */
import test from 'ava';
import fc from 'fast-check';
import { Trio, sorted } from './helpers/epoll-compare';
import { EPOLLET, EPOLLIN, EPOLLONESHOT, EPOLLOUT, EPOLLRDHUP } from '../src/nstack/constants';

const NAMES = ['e0', 'e1', 'e2', 's0', 's1'] as const;
type Name = (typeof NAMES)[number];
const isSocket = (n: Name) => n.startsWith('s');

const MODES = [
  EPOLLIN,
  EPOLLOUT,
  EPOLLIN | EPOLLOUT,
  EPOLLIN | EPOLLET,
  EPOLLOUT | EPOLLET,
  EPOLLIN | EPOLLONESHOT,
  (EPOLLIN | EPOLLET | EPOLLONESHOT) >>> 0,
  EPOLLIN | EPOLLRDHUP,
  EPOLLIN | EPOLLOUT | EPOLLET,
];

type Op =
  | { op: 'add' | 'mod'; name: Name; mode: number }
  | { op: 'del' | 'write' | 'drain' | 'check' | 'shutdown'; name: Name };

const name = fc.constantFrom(...NAMES);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constantFrom('add' as const, 'mod' as const), name, mode: fc.constantFrom(...MODES) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('write' as const), name }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('del' as const, 'drain' as const), name }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('shutdown' as const), name }) },
  { weight: 3, arbitrary: fc.constant({ op: 'check' as const, name: 'e0' as Name }) },
);

test('EventPoll (real fds and virtual sources) reports what kernel epoll reports, for any operation sequence', async (t) => {
  let checks = 0;
  let reported = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 20, maxLength: 80 }), async (ops) => {
      const trio = new Trio();
      const added = new Set<Name>();
      const shut = new Set<Name>();
      try {
        for (const n of NAMES) {
          if (isSocket(n)) trio.socketpair(n);
          else trio.eventfd(n);
        }
        for (const [i, o] of [...ops, { op: 'check' as const, name: 'e0' as Name }].entries()) {
          switch (o.op) {
            case 'add':
            case 'mod':
              // Operations epoll refuses (add twice, mod/del of a non-member) are not the point here.
              if ((o.op === 'add') === added.has(o.name)) break;
              trio.ctl(o.op, o.name, o.mode);
              added.add(o.name);
              break;
            case 'del':
              if (!added.has(o.name)) break;
              trio.ctl('del', o.name);
              added.delete(o.name);
              break;
            case 'write':
              if (!shut.has(o.name)) trio.write(o.name);
              break;
            case 'drain':
              trio.drain(o.name);
              break;
            case 'shutdown':
              if (isSocket(o.name) && !shut.has(o.name)) {
                trio.shutdownPeer(o.name, 'wr');
                shut.add(o.name);
              }
              break;
            case 'check': {
              const seen = await trio.check();
              checks++;
              reported += seen.kernel.length;
              const kernel = JSON.stringify(sorted(seen.kernel));
              if (JSON.stringify(sorted(seen.real)) !== kernel) throw new Error(`step ${i}: real fds ${JSON.stringify(seen.real)} vs kernel ${kernel}`);
              if (JSON.stringify(sorted(seen.virtual)) !== kernel) throw new Error(`step ${i}: virtual ${JSON.stringify(seen.virtual)} vs kernel ${kernel}`);
            }
          }
        }
      } finally {
        trio.close();
      }
    }),
    { numRuns: 150 },
  );
  t.true(checks >= 150, `${checks} comparisons made`);
  t.true(reported >= checks / 2, `${reported} events reported in ${checks} comparisons: the sequences exercise readiness`);
  t.log(`${checks} comparisons, ${reported} events`);
});
