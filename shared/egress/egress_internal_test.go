package egress

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRefusePrivate(t *testing.T) {
	t.Parallel()

	require.NoError(t, refusePrivate("tcp4", "93.184.216.34:443", nil))
	require.NoError(t, refusePrivate("tcp6", "[2606:4700:4700::1111]:443", nil))
	require.EqualError(t, refusePrivate("tcp4", "127.0.0.1:8080", nil),
		"egress: refusing to connect to private address 127.0.0.1:8080: Loopback (RFC 1122)")
	require.ErrorIs(t, refusePrivate("tcp6", "[fd00:ec2::254]:80", nil), ErrPrivateAddress)
	require.ErrorIs(t, refusePrivate("tcp", "not-an-address", nil), ErrPrivateAddress)
}

func TestNew_Transport(t *testing.T) {
	t.Parallel()

	c := New()
	for _, hc := range []*http.Client{c.public, c.private} {
		tr, ok := hc.Transport.(*http.Transport)
		require.True(t, ok)
		require.Nil(t, tr.Proxy, "proxy environment variables must be ignored")
		require.Equal(t, 256, tr.MaxIdleConnsPerHost)
		require.NotNil(t, hc.CheckRedirect)
	}
	require.NotSame(t, c.public.Transport, c.private.Transport)
}
