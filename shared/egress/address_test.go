package egress_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/egress"
)

// TestRefused holds the guard to the IANA IPv4 and IPv6 Special-Purpose Address Registries: every address
// that is not globally reachable is refused with the entry that makes it so (issue 9 item 9: the audit's
// IPv4-compatible, IPv4-translated, 6to4, Teredo, local NAT64, documentation and TEST-NET addresses were
// allowed), and public addresses, including the registries' globally reachable entries, are not.
func TestRefused(t *testing.T) {
	t.Parallel()

	refused := map[string]string{
		// The audit's findings.
		"::7f00:1":                             "IPv4-compatible address (deprecated) (RFC 4291)",
		"::ffff:0:7f00:1":                      "IPv4-translated address (RFC 2765)",
		"2002::1":                              "6to4 (RFC 3056)",
		"2002:7f00:1::1":                       "6to4 (RFC 3056)",
		"2002:808:808::1":                      "6to4 (RFC 3056)",
		"2001::1":                              "TEREDO (RFC 4380)",
		"2001:0:4136:e378:8000:63bf:3fff:fdd2": "TEREDO (RFC 4380)",
		"64:ff9b:1::1":                         "IPv4-IPv6 Translation (local use) (RFC 8215)",
		"64:ff9b:1::7f00:1":                    "IPv4-IPv6 Translation (local use) (RFC 8215)",
		"2001:db8::1":                          "Documentation (RFC 3849)",
		"192.0.2.1":                            "Documentation (TEST-NET-1) (RFC 5737)",
		"198.51.100.7":                         "Documentation (TEST-NET-2) (RFC 5737)",
		"203.0.113.255":                        "Documentation (TEST-NET-3) (RFC 5737)",

		// IPv4 registry entries that are not globally reachable.
		"0.0.0.0":         `"This host on this network" (RFC 1122)`,
		"0.1.2.3":         `"This network" (RFC 791)`,
		"10.0.0.1":        "Private-Use (RFC 1918)",
		"100.64.0.1":      "Shared Address Space (RFC 6598)",
		"100.127.255.255": "Shared Address Space (RFC 6598)",
		"127.0.0.1":       "Loopback (RFC 1122)",
		"127.8.9.10":      "Loopback (RFC 1122)",
		"169.254.169.254": "Link Local (RFC 3927)",
		"172.16.0.1":      "Private-Use (RFC 1918)",
		"172.31.255.255":  "Private-Use (RFC 1918)",
		"192.0.0.1":       "IPv4 Service Continuity Prefix (RFC 7335)",
		"192.0.0.8":       "IPv4 dummy address (RFC 7600)",
		"192.0.0.100":     "IETF Protocol Assignments (RFC 6890)",
		"192.0.0.170":     "NAT64/DNS64 Discovery (RFC 8880)",
		"192.88.99.1":     "Deprecated (6to4 Relay Anycast) (RFC 7526)",
		"192.168.1.1":     "Private-Use (RFC 1918)",
		"198.18.0.1":      "Benchmarking (RFC 2544)",
		"198.19.255.255":  "Benchmarking (RFC 2544)",
		"240.0.0.1":       "Reserved (RFC 1112)",
		"255.255.255.255": "Limited Broadcast (RFC 919)",
		"224.0.0.1":       "Multicast (RFC 5771)",
		"239.255.255.250": "Multicast (RFC 5771)",

		// IPv6 registry entries that are not globally reachable, and what lies outside 2000::/3.
		"::":            "Unspecified Address (RFC 4291)",
		"::1":           "Loopback Address (RFC 4291)",
		"100::1":        "Discard-Only Address Block (RFC 6666)",
		"2001:2::1":     "Benchmarking (RFC 5180)",
		"2001:10::1":    "Deprecated (previously ORCHID) (RFC 4843)",
		"2001:100::1":   "IETF Protocol Assignments (RFC 2928)",
		"3fff::1":       "Documentation (RFC 9637)",
		"5f00::1":       "Segment Routing (SRv6) SIDs (RFC 9602)",
		"fc00::1":       "Unique-Local (RFC 4193)",
		"fd00:ec2::254": "Unique-Local (RFC 4193)",
		"fe80::1":       "Link-Local Unicast (RFC 4291)",
		"fe80::1%eth0":  "Link-Local Unicast (RFC 4291)",
		"fec0::1":       "Site-local (deprecated) (RFC 3879)",
		"ff02::1":       "Multicast (RFC 4291)",
		"4000::1":       "outside the IPv6 global unicast space 2000::/3 (RFC 4291)",

		// IPv4 addresses embedded in IPv6 forms the kernel or a NAT64 gateway turns back into IPv4.
		"::ffff:127.0.0.1":       "IPv4-mapped address of 127.0.0.1, Loopback (RFC 1122)",
		"::ffff:169.254.169.254": "IPv4-mapped address of 169.254.169.254, Link Local (RFC 3927)",
		"::ffff:192.0.2.1":       "IPv4-mapped address of 192.0.2.1, Documentation (TEST-NET-1) (RFC 5737)",
		"64:ff9b::7f00:1":        "NAT64 address of 127.0.0.1 (RFC 6052), Loopback (RFC 1122)",
		"64:ff9b::a9fe:a9fe":     "NAT64 address of 169.254.169.254 (RFC 6052), Link Local (RFC 3927)",
	}
	for s, want := range refused {
		reason, ok := egress.Refused(netip.MustParseAddr(s))
		require.True(t, ok, "%s must be refused", s)
		require.Equal(t, want, reason, s)
	}

	allowed := []string{
		"1.1.1.1", "8.8.8.8", "93.184.216.34", "11.0.0.1", "100.128.0.1", "169.255.0.1", "172.32.0.1",
		"192.0.1.1", "192.0.3.1", "198.17.255.255", "198.20.0.1", "198.51.101.1", "203.0.114.1", "223.255.255.254",
		"192.0.0.9", "192.0.0.10", "192.31.196.1", "192.52.193.1", "192.175.48.1", // globally reachable entries
		"2606:4700:4700::1111", "2a00:1450:4001::200e", "2001:4860:4860::8888", "2001:200::1",
		"2001:1::1", "2001:1::2", "2001:1::3", "2001:3::1", "2001:4:112::1", "2001:20::1", "2001:30::1",
		"2620:4f:8000::1",
		"::ffff:1.1.1.1", "64:ff9b::101:101", "64:ff9b::808:808",
	}
	for _, s := range allowed {
		reason, ok := egress.Refused(netip.MustParseAddr(s))
		require.False(t, ok, "%s must be allowed, refused as %s", s, reason)
	}

	_, ok := egress.Refused(netip.Addr{})
	require.True(t, ok, "the zero Addr is refused")
}

func TestCheckURL(t *testing.T) {
	t.Parallel()

	refused := map[string]string{
		"http://127.0.0.1:9000/x":        "egress: refusing to connect to private address 127.0.0.1:9000: Loopback (RFC 1122)",
		"https://[::7f00:1]/x":           "egress: refusing to connect to private address [::7f00:1]:443: IPv4-compatible address (deprecated) (RFC 4291)",
		"http://[2001:db8::1]/x":         "egress: refusing to connect to private address [2001:db8::1]:80: Documentation (RFC 3849)",
		"https://203.0.113.5:8443/":      "egress: refusing to connect to private address 203.0.113.5:8443: Documentation (TEST-NET-3) (RFC 5737)",
		"http://169.254.169.254/latest/": "egress: refusing to connect to private address 169.254.169.254:80: Link Local (RFC 3927)",
		"http://LocalHost./x":            "egress: refusing to connect to private address LocalHost.:80: localhost names resolve to loopback (RFC 6761)",
		"http://api.localhost/x":         "egress: refusing to connect to private address api.localhost:80: localhost names resolve to loopback (RFC 6761)",
	}
	for u, want := range refused {
		err := egress.CheckURL(u)
		require.ErrorIs(t, err, egress.ErrPrivateAddress, u)
		require.EqualError(t, err, want, u)
	}
	// Host names are judged when dialled, after resolution; unparsable URLs are the config loader's to report.
	for _, u := range []string{"https://example.com/x", "https://1.1.1.1/x", "https://[2606:4700::1111]/", "://bad", ""} {
		require.NoError(t, egress.CheckURL(u), u)
	}
}
