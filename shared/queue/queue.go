// Package queue declares the delivery-queue port: at-least-once messages with a per-message delay and a
// visibility timeout (a lease), like SQS.
//
// Adapters (SQLite for the local server, SQS on AWS) implement Queue and prove it by running the conformance
// suite in package queuetest.
package queue

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by Delete and ChangeVisibility for a receipt the queue does not know. The receipt
// of the latest receive always works; a receipt from an earlier receive (the lease expired and the message
// was received again) may return nil or ErrNotFound and may or may not act, as on SQS.
var ErrNotFound = errors.New("queue: receipt not found")

// Message is a message to send.
type Message struct {
	Body  []byte
	Delay time.Duration // not visible before this; adapters clamp it to their MaxDelay (900 s on SQS)
}

// Received is a message handed out by Receive. It stays invisible to other receivers until its
// visibility timeout passes, then it is received again unless it was deleted.
type Received struct {
	ID           string // stable across receives
	Receipt      string // valid for this receive only
	Body         []byte
	ReceiveCount int // 1 on the first receive
}

// Sender enqueues messages. It is all the domain needs.
type Sender interface {
	// Send enqueues all msgs or returns an error; on error some may have been sent (at-least-once).
	Send(ctx context.Context, msgs ...Message) error
	// MaxDelay is the longest delay the backend takes; longer waits are made of several hops.
	MaxDelay() time.Duration
}

// Queue is the full port used by workers (the local server, the test event-source poller).
type Queue interface {
	Sender
	// Receive returns up to max visible messages, each leased for visibility. It returns an empty
	// slice (not an error) when none are visible.
	Receive(ctx context.Context, max int, visibility time.Duration) ([]Received, error)
	// Delete acknowledges a message.
	Delete(ctx context.Context, receipt string) error
	// ChangeVisibility ends or extends a lease: the message becomes visible again after d (0: now).
	ChangeVisibility(ctx context.Context, receipt string, d time.Duration) error
}
