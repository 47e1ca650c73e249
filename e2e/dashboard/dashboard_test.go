package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/local/localserver/localservertest"
)

// chromiumFlags are what Chromium needs to start quickly and quietly on a machine without a network or GPU.
var chromiumFlags = []string{"headless", "no-sandbox", "disable-gpu", "disable-quic", "no-first-run",
	"disable-background-networking", "disable-component-update", "disable-sync", "disable-dev-shm-usage"}

// browser starts Chromium with a fresh profile and returns a chromedp context; both end with the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if testing.Short() {
			t.Skip("chromium is not installed (make test installs it)")
		}
		t.Fatal("chromium is not installed: run `make test`, which installs it (Debian: apt-get install chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(path), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900)}
	for _, f := range chromiumFlags {
		opts = append(opts, chromedp.Flag(f, true))
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first call starts the browser and lives as long as ctx: no deadline on it.
	require.NoError(t, chromedp.Do(ctx), "start chromium")
	return ctx
}

// deadline bounds each step generously (the machine may be loaded).
const deadline = 45 * time.Second

// run runs steps in order.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		// What the page showed, to tell a wrong page from a slow one.
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		page, _ := chromedp.Run(c, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		t.Fatalf("%s: %v\nthe page:\n%s", what, err, page)
	}
}

// get runs one action and returns its value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	v, err := chromedp.Run(c, a)
	require.NoError(t, err, what)
	return v
}

// shot saves a screenshot of the page as name.png.
func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png := get(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	path := filepath.Join(dir, name+".png")
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot: %s", path)
}

// count is the number of elements that match a CSS selector.
func count(t *testing.T, ctx context.Context, selector string) int {
	t.Helper()
	return get(t, ctx, "count "+selector, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, selector)))
}

// text is the text of the first element that matches a CSS selector.
func text(t *testing.T, ctx context.Context, selector string) string {
	t.Helper()
	return get(t, ctx, "text of "+selector, chromedp.Text(chromedp.CSS(selector)))
}

// waitFor polls a JavaScript condition.
func waitFor(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(deadline))
}

type apiClient struct {
	t   *testing.T
	url string
}

func (c apiClient) call(method, path string, body, out any) int {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.url+path, r)
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer "+localservertest.APIKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	if out != nil {
		require.NoError(c.t, json.Unmarshal(data, out), "%s %s: %s", method, path, data)
	}
	return res.StatusCode
}

type secretView struct {
	Current  struct{ Value string }
	Previous *struct{ Value string }
}

func TestDashboard(t *testing.T) {
	t.Parallel()
	shots := os.Getenv("OUTHOOK_DASHBOARD_SHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	var healthy atomic.Bool
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/flaky" && !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"error":"down for maintenance"}`)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(receiver.Close)
	srv := localservertest.Start(t, `
sets:
  - name: orders
    endpoints:
      - name: shop
        url: `+receiver.URL+`/shop
        allowPrivateNetwork: true
      - name: flaky
        url: `+receiver.URL+`/flaky
        allowPrivateNetwork: true
        retry: {attempts: 1}
    userEndpoints: {enabled: true, allowPrivateNetwork: true}
`, nil)
	api := apiClient{t: t, url: srv.URL}

	var ids []string
	for i, user := range []string{"", "user_1", ""} {
		var res struct{ EventID string }
		status := api.call(http.MethodPost, "/v1/webhooks/orders/events",
			map[string]any{"type": "order.created", "userId": user, "payload": map[string]any{"orderId": fmt.Sprintf("ord_%d", i), "lines": []int{1, 2}}}, &res)
		require.Equal(t, http.StatusAccepted, status)
		ids = append(ids, res.EventID)
	}
	require.Eventually(t, func() bool {
		var list struct{ Events []struct{ Status string } }
		api.call(http.MethodGet, "/v1/webhooks/orders/events?status=pending", nil, &list)
		return len(list.Events) == 0
	}, 30*time.Second, 50*time.Millisecond, "every delivery ends")

	// A user's own endpoint, registered after the events: it shows on the user's page.
	require.Equal(t, http.StatusCreated, api.call(http.MethodPut, "/v1/webhooks/orders/users/user_1/endpoints/mine",
		map[string]any{"url": receiver.URL + "/mine"}, nil))

	ctx := browser(t)
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }

	// The key is asked once and kept in the tab's session storage.
	run(t, ctx, "log in",
		chromedp.Navigate(srv.URL+"/ui/"),
		chromedp.WaitVisible(chromedp.ID("apikey")),
		chromedp.SendKeys(chromedp.ID("apikey"), localservertest.APIKey),
		chromedp.Click(css(`#login button[type="submit"]`)),
		chromedp.WaitVisible(css(`tr[data-endpoint="flaky"]`)))
	url := get(t, ctx, "url", chromedp.Location())
	require.NotContains(t, url, localservertest.APIKey, "the key is never in a URL")
	shot(t, ctx, shots, "1-sets")

	// The event list, newest first, with each event's deliveries.
	run(t, ctx, "event list",
		chromedp.Navigate(srv.URL+"/ui/#/events/orders"),
		chromedp.WaitVisible(css("#events tbody tr")))
	require.Equal(t, 3, count(t, ctx, "#events tbody tr"))
	require.Equal(t, ids[2], text(t, ctx, "#events tbody tr:first-child td:first-child"))
	shot(t, ctx, shots, "2-events")

	// A filter narrows the list.
	run(t, ctx, "filter by user",
		chromedp.SetValue(css(`#filters input[name="userId"]`), "user_1"),
		chromedp.Click(css(`#filters button[type="submit"]`)),
		waitFor(`document.querySelectorAll("#events tbody tr").length === 1`))
	require.Equal(t, ids[1], text(t, ctx, "#events tbody tr td:first-child"))

	// An event's page: the payload and each delivery's attempts; the failed one has one attempt.
	flakyAttempts := `.delivery[data-endpoint="flaky"] .attempt`
	run(t, ctx, "open an event",
		chromedp.Click(css(fmt.Sprintf(`a[href="#/event/orders/%s"]`, ids[1]))),
		chromedp.WaitVisible(css(flakyAttempts)))
	require.Equal(t, 1, count(t, ctx, flakyAttempts))
	require.Contains(t, text(t, ctx, ".payload"), `"orderId": "ord_1"`, "pretty-printed")
	require.Contains(t, text(t, ctx, flakyAttempts), "HTTP 503")
	shot(t, ctx, shots, "3-event-failed")

	// Resend the failed delivery: the page shows the new attempt when it is made.
	healthy.Store(true)
	run(t, ctx, "resend",
		chromedp.Click(css(`.delivery[data-endpoint="flaky"] button.resend`)),
		waitFor(fmt.Sprintf(`document.querySelectorAll(%q).length === 2`, flakyAttempts)),
		chromedp.WaitVisible(css(`.delivery[data-endpoint="flaky"] .badge.delivered`)))
	attemptText := text(t, ctx, flakyAttempts+":last-child")
	require.Contains(t, attemptText, "#2")
	require.Contains(t, attemptText, "HTTP 200")
	shot(t, ctx, shots, "4-event-resent")

	// The user's secret: masked, revealed on request, rotated after a confirmation.
	var before secretView
	require.Equal(t, http.StatusOK, api.call(http.MethodGet, "/v1/webhooks/orders/users/user_1/secret", nil, &before))
	run(t, ctx, "secret",
		chromedp.Navigate(srv.URL+"/ui/#/secrets/orders?userId=user_1"),
		chromedp.WaitVisible(css(".secret-value")))
	require.NotContains(t, text(t, ctx, ".secret-value"), before.Current.Value, "masked until revealed")
	run(t, ctx, "reveal", chromedp.Click(css(".reveal")))
	require.Equal(t, before.Current.Value, text(t, ctx, ".secret-value"))
	run(t, ctx, "rotate asks first",
		chromedp.Click(chromedp.ID("rotate")),
		chromedp.WaitVisible(chromedp.ID("confirm-rotate")))
	var during secretView
	api.call(http.MethodGet, "/v1/webhooks/orders/users/user_1/secret", nil, &during)
	require.Equal(t, before.Current.Value, during.Current.Value, "nothing rotates before the confirmation")
	run(t, ctx, "confirm",
		chromedp.Click(chromedp.ID("confirm-rotate")),
		waitFor(`document.querySelectorAll(".secrets tr").length === 2`))
	var after secretView
	require.Equal(t, http.StatusOK, api.call(http.MethodGet, "/v1/webhooks/orders/users/user_1/secret", nil, &after))
	require.NotEqual(t, before.Current.Value, after.Current.Value)
	require.NotNil(t, after.Previous)
	require.Equal(t, before.Current.Value, after.Previous.Value)
	shot(t, ctx, shots, "5-secret-rotated")

	// The user's endpoint: paused and resumed from the page.
	run(t, ctx, "pause the user's endpoint",
		chromedp.WaitVisible(css(`#user-endpoints tr[data-endpoint="mine"] button`)),
		chromedp.Click(css(`#user-endpoints tr[data-endpoint="mine"] button`)),
		chromedp.WaitVisible(css(`#user-endpoints tr[data-endpoint="mine"] .badge.paused`)))
	var mine struct{ Status string }
	api.call(http.MethodGet, "/v1/webhooks/orders/users/user_1/endpoints/mine", nil, &mine)
	require.Equal(t, "paused", mine.Status)

	// Charts of the last hour: attempts per minute by outcome, latency per endpoint.
	run(t, ctx, "charts",
		chromedp.Navigate(srv.URL+"/ui/#/charts/orders"),
		chromedp.WaitVisible(css("#latency tbody tr")))
	require.Positive(t, count(t, ctx, "#per-minute rect.ok"))
	require.Positive(t, count(t, ctx, "#per-minute rect.fail"), "the failed deliveries")
	require.Equal(t, 2, count(t, ctx, "#latency tbody tr"), "shop and flaky")
	shot(t, ctx, shots, "6-charts")

	// Endpoints: pause from the page, and the API says paused.
	run(t, ctx, "pause",
		chromedp.Navigate(srv.URL+"/ui/#/"),
		chromedp.WaitVisible(css(`tr[data-endpoint="shop"] button`)),
		chromedp.Click(css(`tr[data-endpoint="shop"] button`)),
		chromedp.WaitVisible(css(`tr[data-endpoint="shop"] .badge.paused`)))
	var eps struct {
		Endpoints []struct{ Name, Status string }
	}
	api.call(http.MethodGet, "/v1/webhooks/orders/endpoints", nil, &eps)
	require.Equal(t, "shop", eps.Endpoints[0].Name)
	require.Equal(t, "paused", eps.Endpoints[0].Status)
	shot(t, ctx, shots, "7-paused")

	// Forgetting the key asks for it again.
	run(t, ctx, "forget key",
		chromedp.Click(chromedp.ID("signout")),
		chromedp.WaitVisible(chromedp.ID("apikey")))
	require.Zero(t, get(t, ctx, "session storage", chromedp.Evaluate[int](`sessionStorage.length`)))
}
