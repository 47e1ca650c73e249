package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/outhook/outhook/shared/webhook"
)

// errorBody is the JSON shape of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeJSON answers v as compact JSON with the given status. It does not escape <, > and & (the answers are
// application/json, never HTML), so messages and payloads read as they were written.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Every value answered here is a plain struct of the webhook package; this cannot happen.
		status = http.StatusInternalServerError
		b.Reset()
		b.WriteString(`{"error":{"code":"internal","message":"internal error"}}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: message}})
}

// writeError answers a service error: a *webhook.Error with the status of its kind, anything else 500
// with a generic message (the real error is logged).
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var we *webhook.Error
	if errors.As(err, &we) {
		if status, ok := statusOf(we.Kind); ok {
			writeJSONError(w, status, we.Code, we.Message)
			return
		}
	}
	h.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	writeJSONError(w, http.StatusInternalServerError, "internal", "internal error")
}

// statusOf maps an error kind of package webhook to its HTTP status.
func statusOf(kind error) (int, bool) {
	switch {
	case errors.Is(kind, webhook.ErrInvalid):
		return http.StatusBadRequest, true
	case errors.Is(kind, webhook.ErrNotFound):
		return http.StatusNotFound, true
	case errors.Is(kind, webhook.ErrConflict):
		return http.StatusConflict, true
	case errors.Is(kind, webhook.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, true
	}
	return 0, false
}

// decodeBody reads a JSON object of at most limit bytes into v, rejecting unknown fields. An empty body is
// accepted (v left as is) unless required. It answers the error itself and returns false on bad input.
func (h *handler) decodeBody(w http.ResponseWriter, r *http.Request, limit int64, required bool, v any) bool {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeJSONError(w, http.StatusRequestEntityTooLarge, "payload_too_large",
				fmt.Sprintf("request body exceeds %d bytes (the payload limit is %d bytes)", limit, webhook.MaxPayloadBytes))
			return false
		}
		writeJSONError(w, http.StatusBadRequest, "invalid_body", "could not read the request body")
		return false
	}
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0 && !required:
		return true
	case len(data) == 0:
		writeJSONError(w, http.StatusBadRequest, "invalid_body", "the request body must be a JSON object")
		return false
	case !json.Valid(data):
		writeJSONError(w, http.StatusBadRequest, "invalid_json", "the request body is not valid JSON")
		return false
	case data[0] != '{':
		writeJSONError(w, http.StatusBadRequest, "invalid_body", "the request body must be a JSON object")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSONError(w, http.StatusBadRequest, "invalid_body", decodeMessage(err))
		return false
	}
	return true
}

// str is a string field of a request body. JSON null is refused like any other non-string, as the OpenAPI
// schema says (encoding/json alone would read null as ""), and so are bytes that are not UTF-8 (encoding/json
// alone would replace them with U+FFFD and store what the client did not send); set tells an empty string
// from an absent field.
type str struct {
	value string
	set   bool
}

func (s *str) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return &json.UnmarshalTypeError{Value: "null", Type: reflect.TypeFor[string]()}
	}
	if !utf8.Valid(data) {
		return &json.UnmarshalTypeError{Value: notUTF8, Type: reflect.TypeFor[string]()}
	}
	s.set = true
	return json.Unmarshal(data, &s.value)
}

// strs is an array of strings in a request body, refusing bytes that are not UTF-8 like str.
type strs []string

func (s *strs) UnmarshalJSON(data []byte) error {
	if !utf8.Valid(data) {
		return &json.UnmarshalTypeError{Value: notUTF8, Type: reflect.TypeFor[[]string]()}
	}
	return json.Unmarshal(data, (*[]string)(s))
}

// notUTF8 is the UnmarshalTypeError.Value of a string field whose bytes are not UTF-8.
const notUTF8 = "bytes that are not UTF-8"

// decodeMessage says which field of a valid JSON object did not fit.
func decodeMessage(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" && typeErr.Value == notUTF8 {
		return fmt.Sprintf("field %q is not valid UTF-8 (JSON text must be UTF-8)", typeErr.Field)
	}
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return fmt.Sprintf("field %q must be a %s", typeErr.Field, typeErr.Type.Kind())
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "unknown field " + field
	}
	return "the request body does not match the expected object"
}
