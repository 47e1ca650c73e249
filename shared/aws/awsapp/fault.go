//go:build faultinject

package awsapp

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/outhook/outhook/shared/queue"
)

// Crash points of the durability tests, only in binaries built with -tags faultinject. With
// OUTHOOK_FAULT set to one of them, the first queue send of the process tree crashes the process
// (exit status 2) at that point and creates the file OUTHOOK_FAULT_MARKER, so the crash happens once:
// the retry that follows runs normally.
//
//   - crash-after-store: right before the SQS send, after the domain's store write (send: the event, or a
//     keyed send's reservation, is stored but no message is queued; deliver: the attempt is recorded but its
//     retry is not queued).
//   - crash-after-enqueue: right after the SQS send, before the function answers (a keyed send: before it
//     writes its event).
const (
	envFault       = "OUTHOOK_FAULT"
	envFaultMarker = "OUTHOOK_FAULT_MARKER"

	faultAfterStore   = "crash-after-store"
	faultAfterEnqueue = "crash-after-enqueue"

	faultExitCode = 2
)

func wrapSender(s queue.Sender) (queue.Sender, error) {
	fault, marker := os.Getenv(envFault), os.Getenv(envFaultMarker)
	switch {
	case fault == "":
		return s, nil
	case marker == "":
		return nil, fmt.Errorf("%s=%s needs %s", envFault, fault, envFaultMarker)
	case fault != faultAfterStore && fault != faultAfterEnqueue:
		return nil, fmt.Errorf("%s=%s: want %s or %s", envFault, fault, faultAfterStore, faultAfterEnqueue)
	}
	return crashingSender{Sender: s, fault: fault, marker: marker}, nil
}

type crashingSender struct {
	queue.Sender
	fault  string
	marker string
}

func (c crashingSender) Send(ctx context.Context, msgs ...queue.Message) error {
	if c.fault == faultAfterStore {
		c.crashOnce()
	}
	if err := c.Sender.Send(ctx, msgs...); err != nil {
		return err
	}
	if c.fault == faultAfterEnqueue {
		c.crashOnce()
	}
	return nil
}

// crashOnce exits the process unless the marker exists; it creates the marker first.
func (c crashingSender) crashOnce() {
	f, err := os.OpenFile(c.marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return // the marker exists: this crash point already fired
	}
	fmt.Fprintf(f, "%s at %s\n", c.fault, time.Now().UTC().Format(time.RFC3339Nano))
	f.Close()
	fmt.Fprintf(os.Stderr, "faultinject: %s: exiting\n", c.fault)
	os.Exit(faultExitCode)
}
