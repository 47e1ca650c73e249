//go:build linux

package lambda

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/webhook"
)

// TestLambda_ListPagesFitTheResponseLimit lists 30 events whose payloads are 254 KiB of quotes (which the
// Lambda response escapes twice) through the query function: every page is answered (under Lambda's 6 MB
// response limit) and the pages continue by cursor to every event.
func TestLambda_ListPagesFitTheResponseLimit(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	s := newStack(t, config.Config{Sets: []config.Set{{Name: "big", Endpoints: []config.Endpoint{endpoint("hook", rcv.URL+"/hook")}}}},
		nil, visibilityTimeout)
	send, query := s.start(variantProd, "send"), s.start(variantProd, "query")

	payload := `"` + strings.Repeat(`\"`, 130000) + `"` // 260,002 bytes of JSON: a string of 130,000 quotes
	sent := map[string]bool{}
	for range 30 {
		var res webhook.SendResult
		send.call(t, http.MethodPost, "/v1/webhooks/big/events", map[string]any{"type": "big", "payload": rawJSON(payload)}).
			decode(t, http.StatusAccepted, &res)
		sent[res.EventID] = true
	}

	listed := map[string]bool{}
	cursor, pages := "", 0
	for {
		pages++
		require.Less(t, pages, 30, "pagination ends")
		resp := query.call(t, http.MethodGet, "/v1/webhooks/big/events?limit=100&cursor="+url.QueryEscape(cursor), nil)
		var page webhook.EventList
		resp.decode(t, http.StatusOK, &page)
		require.NotEmpty(t, page.Events)
		require.Less(t, len(resp.body), 6<<20)
		for _, ev := range page.Events {
			require.False(t, listed[ev.ID], "listed once")
			listed[ev.ID] = true
			require.Len(t, ev.Payload, len(payload))
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	require.Equal(t, sent, listed, "every event, across the pages")
	require.Greater(t, pages, 2, "30 events of ~0.5 MB each in the response take several pages")
}

// rawJSON is JSON text sent as is.
type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }
