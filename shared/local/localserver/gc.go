package localserver

import (
	"os"
	"runtime/debug"
)

// GCPercent is the garbage collector's target (GOGC) the local server runs with when the environment does
// not set GOGC. Its live heap is small (about 10 MB under load), so at Go's default of 100 the collector ran
// after every few MB allocated, which a burst of deliveries allocates in a few milliseconds; at 200 it runs
// half as often: in `make bench` the burst used about 15% less CPU per delivery, and the server's peak RSS
// went from 28 to 32 MB (400 saved no more and took 40 MB).
const GCPercent = 200

// TuneGC sets the garbage collector's target to GCPercent unless GOGC is set. The programs that run the
// local server call it when they start (outhook serve, the bench's server process).
func TuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(GCPercent)
	}
}
