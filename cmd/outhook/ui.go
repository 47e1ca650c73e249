package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/outhook/outhook/shared/client"
	"github.com/outhook/outhook/shared/dashboard"
)

var uiCommand = &command{
	name:     "ui",
	summary:  "serve the web dashboard of a deployed stack on 127.0.0.1, signing its API calls with your AWS credentials",
	synopsis: "ui --aws --url API_URL [--addr 127.0.0.1:8090]",
}

// uiHeader is the header the dashboard sends with every API call. The proxy forwards only calls that carry it:
// a page of another site cannot add it without a CORS preflight, which the proxy never allows.
const uiHeader = "X-Outhook-Ui"

// forwardedHeaders are the request headers the proxy passes to the API (the browser's cookies, origin and
// the like stay behind).
var forwardedHeaders = []string{"Accept", "Content-Type", "Idempotency-Key"}

func runUI(ctx context.Context, e *env, args []string) error {
	fs := uiCommand.flags(e)
	useAWS := fs.Bool("aws", false, "sign the API calls with SigV4 (the AWS SDK's default credential chain and region)")
	rawURL := fs.String("url", e.getenv("OUTHOOK_URL"), "the deployed API's base URL (the stack's ApiUrl output; default $OUTHOOK_URL)")
	addr := fs.String("addr", "127.0.0.1:8090", "loopback address to serve the dashboard on (port 0: any free port)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !*useAWS {
		return usagef("ui serves a deployed stack's dashboard: pass --aws (the local server serves its own at http://127.0.0.1:8080/ui/)")
	}
	target, err := url.Parse(*rawURL)
	if err != nil || (target.Scheme != "https" && target.Scheme != "http") || target.Host == "" {
		return usagef("--url: want the deployed API's base URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com")
	}
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return usagef("--addr %s: the dashboard listens on a loopback address only (e.g. 127.0.0.1:8090)", *addr)
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS config: %w", err)
	}
	signer, err := client.SigV4Transport(cfg, nil)
	if err != nil {
		return usagef("%s", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	srv := &http.Server{
		Handler:           uiHandler(ln.Addr().String(), target, signer, log),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(e.stderr, "dashboard: http://%s/ui/ (API calls go to %s, signed with SigV4 in %s)\n", ln.Addr(), target, cfg.Region)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}

// uiHandler serves the dashboard and forwards its /v1 calls to target through signer. listen is the address
// the browser reaches it on: other Host headers (a DNS-rebinding page) are refused.
func uiHandler(listen string, target *url.URL, signer http.RoundTripper, log *slog.Logger) http.Handler {
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			out := http.Header{}
			for _, name := range forwardedHeaders {
				if v := pr.In.Header.Values(name); len(v) > 0 {
					out[name] = v
				}
			}
			out.Set("User-Agent", "outhook-ui")
			pr.Out.Header = out
		},
		Transport: signer,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.Warn("the API call failed", "path", r.URL.Path, "error", err)
			http.Error(w, `{"error":{"code":"bad_gateway","message":"the deployed API could not be reached or the call could not be signed; see the terminal"}}`, http.StatusBadGateway)
		},
	}
	allowedHosts := map[string]bool{listen: true, "localhost:" + portOf(listen): true}
	mux := http.NewServeMux()
	mux.Handle(dashboard.Prefix, dashboard.Handler(dashboard.AuthProxy))
	mux.Handle("GET /{$}", http.RedirectHandler(dashboard.Prefix, http.StatusFound))
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		if !allowedHosts[r.Host] || r.Header.Get(uiHeader) != "1" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":{"code":"forbidden","message":"only the dashboard served here may call the API through it"}}`))
			return
		}
		proxy.ServeHTTP(w, r)
	})
	return mux
}

// portOf is the port of a host:port address.
func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}
