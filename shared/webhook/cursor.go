package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// cursorTTL bounds how long a list cursor stays valid; an older one is stale.
const cursorTTL = 24 * time.Hour

// cursorClaims is what a list cursor carries: the set it pages, the store's own position, and its expiry.
type cursorClaims struct {
	Set     string `json:"s"`
	Pos     string `json:"p"`
	Expires int64  `json:"e"`
}

// sealCursor wraps the store's cursor so clients can neither forge nor reuse it for another set.
func (s *Service) sealCursor(set, pos string) string {
	claims, _ := json.Marshal(cursorClaims{Set: set, Pos: pos, Expires: s.now().Add(cursorTTL).Unix()})
	body := base64.RawURLEncoding.EncodeToString(claims)
	return body + "." + base64.RawURLEncoding.EncodeToString(s.cursorMAC(body))
}

// openCursor checks a cursor and returns the store's position.
func (s *Service) openCursor(set, cursor string) (string, error) {
	bad := invalid("invalid_cursor", "cursor is malformed, was altered, or belongs to another list")
	if len(cursor) > MaxCursorLen {
		return "", bad
	}
	body, tag, ok := strings.Cut(cursor, ".")
	if !ok {
		return "", bad
	}
	got, err := base64.RawURLEncoding.DecodeString(tag)
	if err != nil || !hmac.Equal(got, s.cursorMAC(body)) {
		return "", bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return "", bad
	}
	var c cursorClaims
	if err := json.Unmarshal(raw, &c); err != nil || c.Set != set {
		return "", bad
	}
	if s.now().Unix() > c.Expires {
		return "", invalid("stale_cursor", "cursor has expired (cursors are valid for %s); list again from the start", cursorTTL)
	}
	return c.Pos, nil
}

func (s *Service) cursorMAC(body string) []byte {
	m := hmac.New(sha256.New, s.cursor)
	m.Write([]byte("outhook-cursor-v1:"))
	m.Write([]byte(body))
	return m.Sum(nil)[:16]
}
