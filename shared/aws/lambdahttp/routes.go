package lambdahttp

import "net/http"

// notFoundBody is the API's JSON error for a route this function does not serve.
const notFoundBody = `{"error":{"code":"not_found","message":"no such route"}}` + "\n"

// Routes passes to h only the requests matching one of patterns (net/http ServeMux patterns such as
// "POST /v1/webhooks/{set}/events") and answers the API's JSON 404 to the others. Each function serves
// its own routes, so a misconfigured API Gateway route cannot reach code the function has no permissions for.
func Routes(h http.Handler, patterns ...string) http.Handler {
	mux := http.NewServeMux()
	for _, p := range patterns {
		mux.Handle(p, h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(notFoundBody))
			return
		}
		mux.ServeHTTP(w, r)
	})
}
