import ipaddr from 'ipaddr.js';

/**
 * Which addresses an image fetch may connect to: global unicast only. Loopback, private, link-local, CGNAT,
 * multicast, unspecified, broadcast, documentation, benchmarking and reserved ranges are refused, and so are the
 * cloud metadata addresses and every IPv6 form that embeds a refused IPv4 address (IPv4-mapped, NAT64, 6to4,
 * Teredo). FETCH_ALLOWED_HOSTS lists host names or CIDRs that may be fetched anyway (how the demo and tests serve
 * images from 127.0.0.1).
 */

const METADATA = ['169.254.169.254', '169.254.170.2', '100.100.100.200', 'fd00:ec2::254'];

export interface AllowList {
  hosts: Set<string>;
  cidrs: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]>;
}

export function parseAllowList(entries: string[]): AllowList {
  const allow: AllowList = { hosts: new Set(), cidrs: [] };
  for (const raw of entries.map((e) => e.trim().toLowerCase()).filter(Boolean)) {
    if (raw.includes('/')) allow.cidrs.push(ipaddr.parseCIDR(raw));
    else if (ipaddr.isValid(raw)) allow.cidrs.push([ipaddr.parse(raw), ipaddr.parse(raw).kind() === 'ipv4' ? 32 : 128]);
    else allow.hosts.add(raw);
  }
  return allow;
}

function embeddedIPv4(address: ipaddr.IPv6): ipaddr.IPv4 | null {
  const range = address.range();
  if (range === 'ipv4Mapped') return address.toIPv4Address();
  const bytes = address.toByteArray();
  if (range === 'rfc6052' || range === 'rfc6145') return new ipaddr.IPv4(bytes.slice(12, 16)); // NAT64 / SIIT
  if (range === '6to4') return new ipaddr.IPv4(bytes.slice(2, 6));
  if (range === 'teredo') return new ipaddr.IPv4(bytes.slice(12, 16).map((b) => b ^ 0xff));
  return null;
}

/** Why `address` may not be fetched, or null when it is a global unicast address. */
export function refusalReason(address: string): string | null {
  if (!ipaddr.isValid(address)) return 'not an IP address';
  let parsed = ipaddr.parse(address);
  if (METADATA.includes(parsed.toNormalizedString()) || METADATA.includes(parsed.toString())) return 'a cloud metadata address';
  if (parsed.kind() === 'ipv6') {
    const inner = embeddedIPv4(parsed as ipaddr.IPv6);
    if (inner) {
      const reason = refusalReason(inner.toString());
      return reason ? `an IPv6 form of ${inner.toString()} (${reason})` : null;
    }
  } else {
    parsed = parsed as ipaddr.IPv4;
  }
  const range = parsed.range();
  return range === 'unicast' ? null : `a ${range} address`;
}

export function isAllowedByList(allow: AllowList, host: string, address: string): boolean {
  if (allow.hosts.has(host.toLowerCase())) return true;
  const parsed = ipaddr.parse(address);
  return allow.cidrs.some(([network, bits]) => parsed.kind() === network.kind() && parsed.match(network, bits));
}
