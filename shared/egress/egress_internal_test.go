package egress

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIsPublic(t *testing.T) {
	t.Parallel()

	refused := []string{
		"127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"169.254.169.254", "169.254.0.1", "100.64.0.1", "100.127.255.255", "0.0.0.0", "0.1.2.3",
		"224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "192.0.0.170", "198.18.0.1",
		"::", "::1", "fc00::1", "fd12:3456::1", "fd00:ec2::254", "fe80::1", "fe80::1%eth0", "ff02::1", "ff01::1",
		"::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254", "64:ff9b::a00:1", "64:ff9b::7f00:1",
		"fec0::1", "100::1",
	}
	for _, s := range refused {
		require.False(t, isPublic(netip.MustParseAddr(s)), s)
	}
	allowed := []string{
		"93.184.216.34", "1.1.1.1", "8.8.8.8", "172.32.0.1", "100.128.0.1", "169.255.0.1", "11.0.0.1",
		"2606:4700:4700::1111", "2a00:1450:4001::200e", "::ffff:1.1.1.1", "64:ff9b::101:101",
	}
	for _, s := range allowed {
		require.True(t, isPublic(netip.MustParseAddr(s)), s)
	}
	require.False(t, isPublic(netip.Addr{}))
}

func TestRefusePrivate(t *testing.T) {
	t.Parallel()

	require.NoError(t, refusePrivate("tcp4", "93.184.216.34:443", nil))
	require.NoError(t, refusePrivate("tcp6", "[2606:4700:4700::1111]:443", nil))
	require.EqualError(t, refusePrivate("tcp4", "127.0.0.1:8080", nil),
		"egress: refusing to connect to private address 127.0.0.1:8080")
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
