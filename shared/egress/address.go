package egress

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// refusePrivate is the dialer's Control hook: it runs after name resolution, for each IP dialled, once the
// socket exists and before it connects.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &PrivateAddressError{Addr: address, Reason: "not an IP address"}
	}
	if reason, refused := Refused(ap.Addr()); refused {
		return &PrivateAddressError{Addr: address, Reason: reason}
	}
	return nil
}

// CheckURL returns a *PrivateAddressError when rawURL's host is an IP address literal the guard refuses, or a
// localhost name (RFC 6761): without allowPrivateNetwork no delivery to it can succeed. Any other host name
// returns nil: only the dial, after resolution, can tell. A URL that does not parse returns nil too (the
// config loader reports it).
func CheckURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	addr := net.JoinHostPort(host, port)
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return &PrivateAddressError{Addr: addr, Reason: "localhost names resolve to loopback (RFC 6761)"}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil
	}
	if reason, refused := Refused(ip); refused {
		return &PrivateAddressError{Addr: addr, Reason: reason}
	}
	return nil
}

// Refused reports whether the guard refuses to connect to ip and, if so, why (the registry entry or rule that
// makes it not globally reachable, e.g. "Loopback (RFC 1122)"). An address is refused when
//   - its most specific entry in the IANA IPv4 or IPv6 Special-Purpose Address Registry is not globally
//     reachable ("N/A" entries, the 6to4 and Teredo tunnels and the deprecated 6to4 relay anycast, count as
//     not reachable: they reach an address embedded in them);
//   - it is multicast or limited broadcast;
//   - it is IPv6 outside the global unicast space 2000::/3 (this covers the deprecated IPv4-compatible
//     ::a.b.c.d and site-local forms, and the IPv4-translated ::ffff:0:a.b.c.d);
//   - it embeds an IPv4 address that is refused: IPv4-mapped ::ffff:a.b.c.d (which the kernel dials as IPv4)
//     and the well-known NAT64 prefix 64:ff9b::/96 are judged by their IPv4 address.
func Refused(ip netip.Addr) (reason string, refused bool) {
	ip = ip.WithZone("")
	if !ip.IsValid() {
		return "not an IP address", true
	}
	if ip.Is4In6() {
		v4 := ip.Unmap()
		if reason, refused := Refused(v4); refused {
			return fmt.Sprintf("IPv4-mapped address of %s, %s", v4, reason), true
		}
		return "", false
	}
	if nat64.Contains(ip) {
		b := ip.As16()
		v4 := netip.AddrFrom4([4]byte(b[12:]))
		if reason, refused := Refused(v4); refused {
			return fmt.Sprintf("NAT64 address of %s (RFC 6052), %s", v4, reason), true
		}
		return "", false
	}
	if r, ok := mostSpecific(ip); ok {
		if r.global {
			return "", false
		}
		return r.String(), true
	}
	if ip.Is6() && !globalUnicast6.Contains(ip) {
		return "outside the IPv6 global unicast space 2000::/3 (RFC 4291)", true
	}
	return "", false
}

// nat64 is the well-known NAT64 prefix: its addresses reach the IPv4 address in their last 32 bits.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// globalUnicast6 is the only IPv6 space IANA allocates for global unicast.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// A special is one entry of an address registry (or one of the guard's own rules).
type special struct {
	prefix netip.Prefix
	name   string // the registry's name of the entry
	rfc    string
	global bool // the registry's "Globally Reachable"
}

func (s special) String() string { return s.name + " (" + s.rfc + ")" }

// mostSpecific returns the longest entry of specials that contains ip.
func mostSpecific(ip netip.Addr) (special, bool) {
	var best special
	found := false
	for _, s := range specials {
		if s.prefix.Contains(ip) && (!found || s.prefix.Bits() > best.prefix.Bits()) {
			best, found = s, true
		}
	}
	return best, found
}

func entry(prefix, name, rfc string, global bool) special {
	return special{prefix: netip.MustParsePrefix(prefix), name: name, rfc: rfc, global: global}
}

// specials are the IANA IPv4 Special-Purpose Address Registry (iana-ipv4-special-registry) and IPv6
// Special-Purpose Address Registry (iana-ipv6-special-registry) as of 2025, then the non-unicast ranges they
// leave out. The IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96) entries are handled by Refused through
// their embedded IPv4 address. The most specific entry decides, so the globally reachable anycast addresses
// inside 192.0.0.0/24 and 2001::/23 stay reachable.
var specials = []special{
	// IPv4 registry.
	entry("0.0.0.0/8", `"This network"`, "RFC 791", false),
	entry("0.0.0.0/32", `"This host on this network"`, "RFC 1122", false),
	entry("10.0.0.0/8", "Private-Use", "RFC 1918", false),
	entry("100.64.0.0/10", "Shared Address Space", "RFC 6598", false),
	entry("127.0.0.0/8", "Loopback", "RFC 1122", false),
	entry("169.254.0.0/16", "Link Local", "RFC 3927", false),
	entry("172.16.0.0/12", "Private-Use", "RFC 1918", false),
	entry("192.0.0.0/24", "IETF Protocol Assignments", "RFC 6890", false),
	entry("192.0.0.0/29", "IPv4 Service Continuity Prefix", "RFC 7335", false),
	entry("192.0.0.8/32", "IPv4 dummy address", "RFC 7600", false),
	entry("192.0.0.9/32", "Port Control Protocol Anycast", "RFC 7723", true),
	entry("192.0.0.10/32", "Traversal Using Relays around NAT Anycast", "RFC 8155", true),
	entry("192.0.0.170/32", "NAT64/DNS64 Discovery", "RFC 8880", false),
	entry("192.0.0.171/32", "NAT64/DNS64 Discovery", "RFC 8880", false),
	entry("192.0.2.0/24", "Documentation (TEST-NET-1)", "RFC 5737", false),
	entry("192.31.196.0/24", "AS112-v4", "RFC 7535", true),
	entry("192.52.193.0/24", "AMT", "RFC 7450", true),
	entry("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "RFC 7526", false),
	entry("192.168.0.0/16", "Private-Use", "RFC 1918", false),
	entry("192.175.48.0/24", "Direct Delegation AS112 Service", "RFC 7534", true),
	entry("198.18.0.0/15", "Benchmarking", "RFC 2544", false),
	entry("198.51.100.0/24", "Documentation (TEST-NET-2)", "RFC 5737", false),
	entry("203.0.113.0/24", "Documentation (TEST-NET-3)", "RFC 5737", false),
	entry("240.0.0.0/4", "Reserved", "RFC 1112", false),
	entry("255.255.255.255/32", "Limited Broadcast", "RFC 919", false),

	// IPv6 registry.
	entry("::1/128", "Loopback Address", "RFC 4291", false),
	entry("::/128", "Unspecified Address", "RFC 4291", false),
	entry("64:ff9b:1::/48", "IPv4-IPv6 Translation (local use)", "RFC 8215", false),
	entry("100::/64", "Discard-Only Address Block", "RFC 6666", false),
	entry("100:0:0:1::/64", "Dummy IPv6 Prefix", "RFC 9780", false),
	entry("2001::/23", "IETF Protocol Assignments", "RFC 2928", false),
	entry("2001::/32", "TEREDO", "RFC 4380", false),
	entry("2001:1::1/128", "Port Control Protocol Anycast", "RFC 7723", true),
	entry("2001:1::2/128", "Traversal Using Relays around NAT Anycast", "RFC 8155", true),
	entry("2001:1::3/128", "DNS-SD Service Registration Protocol Anycast", "RFC 9665", true),
	entry("2001:2::/48", "Benchmarking", "RFC 5180", false),
	entry("2001:3::/32", "AMT", "RFC 7450", true),
	entry("2001:4:112::/48", "AS112-v6", "RFC 7535", true),
	entry("2001:10::/28", "Deprecated (previously ORCHID)", "RFC 4843", false),
	entry("2001:20::/28", "ORCHIDv2", "RFC 7343", true),
	entry("2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "RFC 9374", true),
	entry("2001:db8::/32", "Documentation", "RFC 3849", false),
	entry("2002::/16", "6to4", "RFC 3056", false),
	entry("2620:4f:8000::/48", "Direct Delegation AS112 Service", "RFC 7534", true),
	entry("3fff::/20", "Documentation", "RFC 9637", false),
	entry("5f00::/16", "Segment Routing (SRv6) SIDs", "RFC 9602", false),
	entry("fc00::/7", "Unique-Local", "RFC 4193", false),
	entry("fe80::/10", "Link-Local Unicast", "RFC 4291", false),

	// Not in the registries, never a unicast destination on the internet.
	entry("224.0.0.0/4", "Multicast", "RFC 5771", false),
	entry("::/96", "IPv4-compatible address (deprecated)", "RFC 4291", false),
	entry("::ffff:0:0:0/96", "IPv4-translated address", "RFC 2765", false),
	entry("fec0::/10", "Site-local (deprecated)", "RFC 3879", false),
	entry("ff00::/8", "Multicast", "RFC 4291", false),
}
