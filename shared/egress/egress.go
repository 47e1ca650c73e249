// Package egress is the HTTP client that POSTs webhooks to user-configured URLs. It never follows redirects,
// ignores proxy environment variables and, unless an endpoint allows private networks, refuses to connect
// to any address that is not globally reachable: every special-purpose range of the IANA IPv4 and IPv6
// registries that is not marked globally reachable, multicast, and the IPv6 forms that embed such an IPv4
// address (see Refused). The check runs on the IP actually being dialled, after DNS resolution and before the
// connection is made, so a hostname that resolves (or re-resolves) to a private address is refused too.
package egress

import (
	"errors"
	"net"
	"net/http"
	"syscall"
	"time"
)

// ErrPrivateAddress is matched (errors.Is) by the error of a request refused because the address it would
// connect to is not public.
var ErrPrivateAddress = errors.New("egress: refusing to connect to private address")

// PrivateAddressError is the refusal of one address. It is permanent: the same URL is refused on every
// attempt until the endpoint allows private networks (or its name resolves elsewhere). It is ErrPrivateAddress.
type PrivateAddressError struct {
	Addr   string // the refused address, ip:port (or host:port for CheckURL)
	Reason string // why it is not public, e.g. "Loopback (RFC 1122)"
}

func (e *PrivateAddressError) Error() string {
	msg := ErrPrivateAddress.Error() + " " + e.Addr
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

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
// address fails, before any packet is sent, with an error that wraps a *PrivateAddressError.
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
