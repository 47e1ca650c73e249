// Package egress is the HTTP client that POSTs webhooks to user-configured URLs. It never follows redirects,
// ignores proxy environment variables and, unless an endpoint allows private networks, refuses to connect
// to loopback, private, link-local, metadata and other non-public addresses. The check runs on the IP
// actually being dialled, after DNS resolution, so a hostname that resolves (or re-resolves) to a private
// address is refused too.
package egress

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrPrivateAddress is matched (errors.Is) by the error of a request refused because the address it would
// connect to is not public.
var ErrPrivateAddress = errors.New("egress: refusing to connect to private address")

// PrivateAddressError names the refused address (ip:port); it is ErrPrivateAddress.
type PrivateAddressError struct {
	Addr string
}

func (e *PrivateAddressError) Error() string { return ErrPrivateAddress.Error() + " " + e.Addr }

// Is reports whether target is ErrPrivateAddress.
func (e *PrivateAddressError) Is(target error) bool { return target == ErrPrivateAddress }

// Transport limits, sized for thousands of deliveries per second, many to the same host.
const (
	maxIdleConns        = 1024
	maxIdleConnsPerHost = 256
	dialTimeout         = 10 * time.Second
	tlsHandshakeTimeout = 10 * time.Second
	idleConnTimeout     = 90 * time.Second
)

// Client sends requests through one of two independent HTTP clients: one restricted to public addresses and
// one, for endpoints with allowPrivateNetwork, without that restriction. It is safe for concurrent use.
type Client struct {
	public  *http.Client
	private *http.Client
}

// New returns a Client.
func New() *Client {
	return &Client{
		public:  newHTTPClient(refusePrivate),
		private: newHTTPClient(nil),
	}
}

// Do sends req and returns the response, a 3xx included (redirects are not followed). The caller bounds the
// request with its context and closes the response body. Without allowPrivate, connecting to a non-public
// address fails with an error matching ErrPrivateAddress.
func (c *Client) Do(req *http.Request, allowPrivate bool) (*http.Response, error) {
	if allowPrivate {
		return c.private.Do(req)
	}
	return c.public.Do(req)
}

func newHTTPClient(control func(network, address string, _ syscall.RawConn) error) *http.Client {
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second, Control: control}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          maxIdleConns,
			MaxIdleConnsPerHost:   maxIdleConnsPerHost,
			IdleConnTimeout:       idleConnTimeout,
			TLSHandshakeTimeout:   tlsHandshakeTimeout,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// refusePrivate is the dialer's Control hook: it runs after name resolution, for each IP dialled.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !isPublic(ap.Addr()) {
		return &PrivateAddressError{Addr: address}
	}
	return nil
}

// blocked are the non-public ranges that netip.Addr's predicates do not cover.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),         // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),     // carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),      // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),     // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),       // reserved, and the broadcast address
	netip.MustParsePrefix("100::/64"),          // discard-only
	netip.MustParsePrefix("fec0::/10"),         // deprecated site-local
	netip.MustParsePrefix("fd00:ec2::254/128"), // AWS IPv6 instance metadata (also inside fc00::/7)
}

// nat64 is the well-known NAT64 prefix: its addresses reach the embedded IPv4 address.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// isPublic reports whether ip is a public unicast address.
func isPublic(ip netip.Addr) bool {
	ip = ip.WithZone("").Unmap()
	if nat64.Contains(ip) {
		b := ip.As16()
		return isPublic(netip.AddrFrom4([4]byte(b[12:])))
	}
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsLinkLocalUnicast() ||
		ip.IsMulticast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}
