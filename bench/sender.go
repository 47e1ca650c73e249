package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
)

// A sender posts send requests over one kept-alive HTTP/1.1 connection to the API, one at a time. It writes
// each request in one write and reads the answer's status line, headers and body, and nothing more: a load
// generator that takes a fraction of the CPU net/http's client takes (the senders share the two cores with
// the server they measure). It understands the answers the API gives a send: a status, headers and a body of
// Content-Length bytes.
type sender struct {
	conn net.Conn
	r    *bufio.Reader
	req  []byte // the request being written
}

// connPool holds the idle connections of the bench, reused for the next send (keep-alive).
type connPool struct {
	addr string
	mu   sync.Mutex
	idle []*sender
}

// get returns an idle connection, or a new one.
func (p *connPool) get() (*sender, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		s := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return s, nil
	}
	p.mu.Unlock()
	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		return nil, fmt.Errorf("connect to the API: %w", err)
	}
	return &sender{conn: conn, r: bufio.NewReaderSize(conn, 4096)}, nil
}

// put keeps s for the next send.
func (p *connPool) put(s *sender) {
	p.mu.Lock()
	p.idle = append(p.idle, s)
	p.mu.Unlock()
}

func (p *connPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.idle {
		_ = s.conn.Close()
	}
	p.idle = nil
}

var errUnexpectedAnswer = errors.New("unexpected answer")

// post sends a POST of body to path on host and returns the answer's status code, having read the whole
// answer. keep is false when the connection cannot carry another request.
func (s *sender) post(host, path string, body []byte) (status int, keep bool, err error) {
	s.req = append(s.req[:0], "POST "...)
	s.req = append(s.req, path...)
	s.req = append(s.req, " HTTP/1.1\r\nHost: "...)
	s.req = append(s.req, host...)
	s.req = append(s.req, "\r\nAuthorization: Bearer "+apiKey+"\r\nContent-Type: application/json\r\nContent-Length: "...)
	s.req = strconv.AppendInt(s.req, int64(len(body)), 10)
	s.req = append(s.req, "\r\n\r\n"...)
	s.req = append(s.req, body...)
	if _, err := s.conn.Write(s.req); err != nil {
		return 0, false, fmt.Errorf("write the request: %w", err)
	}
	line, err := s.r.ReadSlice('\n')
	if err != nil {
		return 0, false, fmt.Errorf("read the status line: %w", err)
	}
	// "HTTP/1.1 202 Accepted\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, false, fmt.Errorf("%w: status line %q", errUnexpectedAnswer, line)
	}
	if status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return 0, false, fmt.Errorf("%w: status line %q", errUnexpectedAnswer, line)
	}
	length, keep := -1, true
	for {
		line, err := s.r.ReadSlice('\n')
		if err != nil {
			return 0, false, fmt.Errorf("read the headers: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, false, fmt.Errorf("%w: Content-Length %q", errUnexpectedAnswer, value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, false, fmt.Errorf("%w: Transfer-Encoding %q", errUnexpectedAnswer, value)
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			keep = false
		}
	}
	if length < 0 {
		return 0, false, fmt.Errorf("%w: no Content-Length", errUnexpectedAnswer)
	}
	if _, err := s.r.Discard(length); err != nil {
		return 0, false, fmt.Errorf("read the body: %w", err)
	}
	return status, keep, nil
}
