package webhook

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"
)

// ID prefixes.
const (
	eventPrefix   = "whevt_"
	attemptPrefix = "whatt_"
)

// crockford is Crockford's base32 alphabet: sortable in ASCII order.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// idSource makes ULID-style ids: 48 bits of milliseconds then 80 random bits, 26 base32 characters, so ids
// sort by creation time. Within one millisecond the random part is incremented, so ids from one process are
// strictly increasing.
type idSource struct {
	mu     sync.Mutex
	rand   io.Reader
	lastMs uint64
	hi     uint16 // top 16 of the 80 random bits
	lo     uint64 // low 64 of the 80 random bits
}

func newIDSource(r io.Reader) *idSource { return &idSource{rand: r} }

func (g *idSource) next(prefix string, now time.Time) (string, error) {
	ms := uint64(now.UnixMilli())
	g.mu.Lock()
	defer g.mu.Unlock()
	if ms <= g.lastMs {
		ms = g.lastMs
		g.lo++
		if g.lo == 0 {
			g.hi++
		}
	} else {
		var b [10]byte
		if _, err := io.ReadFull(g.rand, b[:]); err != nil {
			return "", fmt.Errorf("read random id bits: %w", err)
		}
		g.hi = binary.BigEndian.Uint16(b[:2])
		g.lo = binary.BigEndian.Uint64(b[2:])
		g.lastMs = ms
	}
	var raw [16]byte
	binary.BigEndian.PutUint16(raw[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(raw[2:6], uint32(ms))
	binary.BigEndian.PutUint16(raw[6:8], g.hi)
	binary.BigEndian.PutUint64(raw[8:16], g.lo)
	return prefix + encodeBase32(raw), nil
}

// firstAttemptID is the id of the first attempt of the delivery of event eventID, made at createdAt, to
// endpoint (of userID, for a user's endpoint). It is made from the event's id, not drawn: a replay that plans
// an event again under the id its key reserved (reissue) plans the same ids, so the attempt that the first
// call's message records is the one the event names.
func firstAttemptID(eventID string, createdAt time.Time, userID, endpoint string) string {
	h := sha256.Sum256([]byte(eventID + "\x00" + userID + "\x00" + endpoint))
	var raw [16]byte
	ms := uint64(max(createdAt.UnixMilli(), 0))
	binary.BigEndian.PutUint16(raw[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(raw[2:6], uint32(ms))
	copy(raw[6:], h[:10])
	return attemptPrefix + encodeBase32(raw)
}

// idFloor is the smallest id with prefix made at t's millisecond: ids made at or after t sort at or above it,
// ids made before t below it.
func idFloor(prefix string, t time.Time) string {
	var raw [16]byte
	ms := uint64(max(t.UnixMilli(), 0))
	binary.BigEndian.PutUint16(raw[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(raw[2:6], uint32(ms))
	return prefix + encodeBase32(raw)
}

// encodeBase32 encodes 128 bits as 26 Crockford characters (the first carries 3 bits).
func encodeBase32(b [16]byte) string {
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// validID reports whether id looks like one of ours with the given prefix.
func validID(prefix, id string) bool {
	if len(id) != len(prefix)+26 || id[:len(prefix)] != prefix {
		return false
	}
	for i := len(prefix); i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') || c == 'I' || c == 'L' || c == 'O' || c == 'U' {
			return false
		}
	}
	return id[len(prefix)] <= '7'
}
