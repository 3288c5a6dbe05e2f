/** Owns turning a client address into a network key: a keyed hash of its /24 (IPv4) or /48 (IPv6), never the address. */
import { createHmac } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * The network an address belongs to, as the caps on one network's weight need it: IPv4 /24,
 * IPv6 /48 (a site), IPv4-mapped IPv6 as IPv4. Stored only as an HMAC under a server secret,
 * so the store never holds addresses and keys cannot be reversed by enumerating prefixes.
 */
export function networkPrefix(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const ip = mapped ? mapped[1] : address;
  if (isIPv4(ip)) return `${ip.split('.').slice(0, 3).join('.')}.0/24`;
  if (isIPv6(ip)) return `${expandIPv6(ip).slice(0, 3).join(':')}::/48`;
  return `other:${ip}`;
}

export function networkKey(secret: string, address: string): string {
  return createHmac('sha256', secret).update(networkPrefix(address)).digest('hex').slice(0, 32);
}

function expandIPv6(ip: string): string[] {
  const [head, tail = ''] = ip.split('%')[0].split('::');
  const h = head ? head.split(':') : [];
  const t = ip.includes('::') && tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.map((g) => parseInt(g || '0', 16).toString(16));
}
