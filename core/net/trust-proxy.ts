import ipaddr from 'ipaddr.js';

/** Express's `trust proxy` setting, as TRUST_PROXY gives it: a boolean, a hop count, or the trusted proxies. */
export type TrustProxy = boolean | number | string[];

/** The names Express (proxy-addr) accepts besides addresses and subnets. */
const NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/** Whether Express takes `entry` as one trusted proxy: a name, an address, or a subnet (prefix length or netmask). */
function isProxyEntry(entry: string): boolean {
  if (NAMES.includes(entry)) return true;
  const slash = entry.lastIndexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  if (!ipaddr.isValid(address)) return false;
  if (slash === -1) return true;
  const range = entry.slice(slash + 1);
  const kind = ipaddr.parse(address).kind();
  if (/^\d+$/.test(range)) return Number(range) >= 1 && Number(range) <= (kind === 'ipv6' ? 128 : 32);
  return kind === 'ipv4' && ipaddr.IPv4.isValid(range) && ipaddr.IPv4.parse(range).prefixLengthFromSubnetMask() !== null;
}

/**
 * Reads `text` as Express reads `trust proxy`: `true`/`false`, a hop count (`1` is one hop, not `true`), or
 * comma-separated addresses, subnets and the names loopback, linklocal, uniquelocal. Checked here so that a value
 * Express would refuse stops the process at start-up with the other configuration errors; `bad` lists those entries.
 */
export function parseTrustProxy(text: string): { value: TrustProxy } | { bad: string[] } {
  const value = text.trim();
  if (value === 'true' || value === 'false') return { value: value === 'true' };
  if (/^\d+$/.test(value)) return { value: Number(value) };
  const entries = value.split(',').map((entry) => entry.trim());
  const bad = entries.filter((entry) => !isProxyEntry(entry));
  return bad.length > 0 ? { bad } : { value: entries };
}
