/**
 * nRD, the resource discovery of DMM's nStack: rules that pick, per socket, the plane (and so the
 * stack) that carries it, from the destination address (or the bound address) and the protocol.
 *
 *   {
 *     "default": "nstack-linux",
 *     "rules": [
 *       { "prefix": "10.0.0.0/8", "plane": "nstack-memif" },
 *       { "prefix": "10.1.0.0/16", "protocol": "tcp", "plane": "nstack-linux" },
 *       { "protocol": "udp", "plane": "nstack-memif", "priority": 1 }
 *     ]
 *   }
 *
 * A rule matches when the address lies in its `prefix` (IPv4 or IPv6 CIDR; none = any address)
 * and the socket's protocol is its `protocol` (none = both). Of the matching rules the one with
 * the longest prefix wins (a rule without prefix is the least specific), then the lowest
 * `priority` (0 = highest, the default), then the first in the file. No match: the `default`
 * plane, or, without one, the registry's highest-priority stack (decided by the registry).
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, RulesError } from '../errors';
import { formatIp, parseIp, parsePrefix, prefixContains, unmapIp, type IpPrefix } from './ip';
import type { Protocol } from './stack';

/** One rule as written in a rules file. */
export interface NrdRuleSpec {
  /** IPv4 or IPv6 CIDR prefix the address must lie in ('10.0.0.0/8'); none = any address. */
  prefix?: string;
  /** The protocol the socket must have; none = both. */
  protocol?: Protocol;
  /** The plane that carries matching sockets ('nstack-linux', 'nstack-memif'). */
  plane: string;
  /** Breaks ties between prefixes of the same length: 0 (the default) is the highest. */
  priority?: number;
}

/** What a rules file holds (or what setRules() takes as an object). */
export interface NrdRulesSpec {
  /** The plane of sockets no rule matches; none = the registry's highest-priority stack. */
  default?: string;
  /** The rules, in file order (the order breaks the last ties). */
  rules?: NrdRuleSpec[];
}

/** One validated rule; `index` is its place in the file. */
export interface NrdRule {
  /** Its place in the file's `rules` array. */
  readonly index: number;
  /** The parsed prefix, or null (any address). */
  readonly prefix: IpPrefix | null;
  /** The protocol it is limited to, or null (both). */
  readonly protocol: Protocol | null;
  /** The plane it picks. */
  readonly plane: string;
  /** Its priority (0 = highest). */
  readonly priority: number;
}

/** Why a plane was chosen: the rule (its index in the file), or the default plane. */
export interface NrdMatch {
  /** The plane chosen. */
  plane: string;
  /** The rule that chose it, or null when it is the default plane. */
  rule: NrdRule | null;
}

const PROTOCOLS: readonly Protocol[] = ['udp', 'tcp'];
const RULE_KEYS = ['prefix', 'protocol', 'plane', 'priority'];
const TOP_KEYS = ['default', 'rules'];
const MAX_PRIORITY = 65535;

function checkKeys(obj: object, known: string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      const field = where === '' ? key : `${where}.${key}`;
      throw new RulesError(field, `unknown key; known keys: ${known.join(', ')}`);
    }
  }
}

function checkPlane(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw new RulesError(field, `must be a plane name (a non-empty string like "nstack-linux"), got ${JSON.stringify(value)}`);
  return value;
}

function parseRule(spec: unknown, index: number): NrdRule {
  const where = `rules[${index}]`;
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new RulesError(where, 'must be an object like {"prefix": "10.0.0.0/8", "plane": "nstack-memif"}');
  checkKeys(spec, RULE_KEYS, where);
  const r = spec as Record<string, unknown>;
  let prefix: IpPrefix | null = null;
  if (r.prefix !== undefined) {
    if (typeof r.prefix !== 'string') throw new RulesError(`${where}.prefix`, `must be a string like "10.0.0.0/8", got ${JSON.stringify(r.prefix)}`);
    const p = parsePrefix(r.prefix);
    if (typeof p === 'string') throw new RulesError(`${where}.prefix`, p);
    prefix = p;
  }
  let protocol: Protocol | null = null;
  if (r.protocol !== undefined) {
    if (!PROTOCOLS.includes(r.protocol as Protocol)) throw new RulesError(`${where}.protocol`, `must be "udp" or "tcp", got ${JSON.stringify(r.protocol)}`);
    protocol = r.protocol as Protocol;
  }
  if (prefix === null && protocol === null) {
    throw new RulesError(where, 'a rule needs a prefix, a protocol or both (a plane for everything else is "default")');
  }
  const plane = checkPlane(r.plane, `${where}.plane`);
  const priority = r.priority ?? 0;
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > MAX_PRIORITY) {
    throw new RulesError(`${where}.priority`, `must be an integer from 0 (highest) to ${MAX_PRIORITY}, got ${JSON.stringify(r.priority)}`);
  }
  return { index, prefix, protocol, plane, priority };
}

/** Most specific first: longest prefix, then lowest priority, then file order. */
function compareRules(a: NrdRule, b: NrdRule): number {
  const la = a.prefix?.length ?? -1;
  const lb = b.prefix?.length ?? -1;
  return lb - la || a.priority - b.priority || a.index - b.index;
}

/** Validated nRD rules (immutable). */
export class NrdRules {
  /** The `default` plane of the rules, or null when they name none. */
  readonly defaultPlane: string | null;
  /** In file order. */
  readonly rules: readonly NrdRule[];
  readonly #ordered: readonly NrdRule[];

  private constructor(defaultPlane: string | null, rules: NrdRule[]) {
    this.defaultPlane = defaultPlane;
    this.rules = Object.freeze(rules);
    this.#ordered = [...rules].sort(compareRules);
  }

  /** Validates a rules object; a RulesError names the bad field (`rules[2].prefix`). */
  static parse(spec: unknown): NrdRules {
    if (spec instanceof NrdRules) return spec;
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
      throw new RulesError('', 'rules must be an object like {"default": "nstack-linux", "rules": [...]}');
    }
    checkKeys(spec, TOP_KEYS, '');
    const s = spec as Record<string, unknown>;
    const def = s.default === undefined ? null : checkPlane(s.default, 'default');
    if (s.rules !== undefined && !Array.isArray(s.rules)) throw new RulesError('rules', 'must be an array of rules');
    const rules = ((s.rules as unknown[] | undefined) ?? []).map(parseRule);
    return new NrdRules(def, rules);
  }

  /** Reads and validates a JSON rules file. */
  static readFile(file: string): NrdRules {
    const text = readFileSync(file, 'utf8');
    let spec: unknown;
    try {
      spec = JSON.parse(text);
    } catch (err) {
      throw new RulesError('', `${file} is not JSON: ${(err as Error).message}`, { cause: err });
    }
    try {
      return NrdRules.parse(spec);
    } catch (err) {
      if (err instanceof RulesError) {
        const reason = err.field === '' ? err.message : err.message.slice(err.field.length + 2);
        throw new RulesError(err.field, `${reason} (in ${file})`, { cause: err });
      }
      throw err;
    }
  }

  /** The rule or default plane for `address` (an IP) and `protocol`; null = neither. */
  match(address: string, protocol: Protocol): NrdMatch | null {
    const ip = parseIp(address);
    if (ip === undefined) throw new InvalidArgumentError(`nRD routes IP addresses, got ${JSON.stringify(address)}`);
    const addr = unmapIp(ip);
    for (const rule of this.#ordered) {
      if (rule.protocol !== null && rule.protocol !== protocol) continue;
      if (rule.prefix !== null && !prefixContains(rule.prefix, addr)) continue;
      return { plane: rule.plane, rule };
    }
    return this.defaultPlane === null ? null : { plane: this.defaultPlane, rule: null };
  }

  /** The rules as a rules file would hold them. */
  toJSON(): NrdRulesSpec {
    const out: NrdRulesSpec = {};
    if (this.defaultPlane !== null) out.default = this.defaultPlane;
    out.rules = this.rules.map((r) => {
      const spec: NrdRuleSpec = { plane: r.plane };
      if (r.prefix !== null) spec.prefix = `${formatIp(r.prefix)}/${r.prefix.length}`;
      if (r.protocol !== null) spec.protocol = r.protocol;
      if (r.priority !== 0) spec.priority = r.priority;
      return spec;
    });
    return out;
  }
}

/** Describes a rule for --explain and logs: `rules[0] (10.0.0.0/8, udp, priority 1)`. */
export function describeRule(rule: NrdRule): string {
  const parts: string[] = [];
  if (rule.prefix !== null) parts.push(`${formatIp(rule.prefix)}/${rule.prefix.length}`);
  if (rule.protocol !== null) parts.push(rule.protocol);
  if (rule.priority !== 0) parts.push(`priority ${rule.priority}`);
  return `rules[${rule.index}] (${parts.join(', ')})`;
}
