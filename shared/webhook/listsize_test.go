package webhook

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
)

// TestService_ListPagesEndBeforeMaxPageBytes: with payloads that the Lambda response escapes twice, a page of
// the events list stays under MaxPageBytes as the query function would return it, and continues by cursor.
func TestService_ListPagesEndBeforeMaxPageBytes(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("a", r)}})
	ctx := context.Background()
	payload := json.RawMessage(`"` + strings.Repeat(`\"`, 130000) + `"`)
	sent := map[string]bool{}
	for range 30 {
		sent[send(t, b, "s", SendRequest{Type: "big", Payload: payload}).EventID] = true
	}
	listed := map[string]bool{}
	q, pages := ListQuery{Limit: MaxListLimit}, 0
	for {
		pages++
		require.Less(t, pages, 30, "pagination ends")
		page, err := b.svc.ListEvents(ctx, "s", q)
		require.NoError(t, err)
		require.NotEmpty(t, page.Events)
		body, err := json.Marshal(page)
		require.NoError(t, err)
		inLambda, err := json.Marshal(string(body))
		require.NoError(t, err)
		require.LessOrEqual(t, len(inLambda), MaxPageBytes+1024, "the page as the query function's response carries it")
		for _, ev := range page.Events {
			require.False(t, listed[ev.ID])
			listed[ev.ID] = true
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	require.Equal(t, sent, listed)
	require.Greater(t, pages, 2)
}
