package client_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSet_Send_DoesNotHTMLEscape: a payload holding <, > and & is sent as written, not as \u003c, \u003e, \u0026.
func TestSet_Send_DoesNotHTMLEscape(t *testing.T) {
	t.Parallel()
	f, c := newFlaky(t)
	_, err := c.Set("s").Send(t.Context(), "t<1>", map[string]string{"html": "<b>Tom & Jerry</b>"})
	require.NoError(t, err)
	_, err = c.Set("s").Send(t.Context(), "t", json.RawMessage(`{"raw":"a<b>&c"}`))
	require.NoError(t, err)
	_, bodies, _ := f.seen()
	require.Len(t, bodies, 2)
	require.JSONEq(t, `{"type":"t<1>","payload":{"html":"<b>Tom & Jerry</b>"}}`, bodies[0])
	require.Contains(t, bodies[0], `"payload":{"html":"<b>Tom & Jerry</b>"}`)
	require.Contains(t, bodies[0], `"type":"t<1>"`)
	require.Contains(t, bodies[1], `"payload":{"raw":"a<b>&c"}`)
}
