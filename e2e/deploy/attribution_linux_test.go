package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// canAttribute: on Linux, /proc tells which process holds a socket.
const canAttribute = true

// functionOf returns the Lambda function (AWS_LAMBDA_FUNCTION_NAME) of the local process that holds the TCP
// connection from client to server, both 127.0.0.1 addresses: the socket's inode from /proc/net/tcp, the
// process holding it from /proc/*/fd, its function from /proc/<pid>/environ.
func functionOf(client, server string) (string, error) {
	inode, state, err := socketInode(client, server)
	if err != nil {
		return "", err
	}
	pid, err := socketOwner(inode)
	if err != nil {
		return "", fmt.Errorf("socket from %s (state %s): %w", client, state, err)
	}
	environ, err := os.ReadFile(filepath.Join("/proc", pid, "environ"))
	if err != nil {
		return "", fmt.Errorf("read the environment of process %s: %w", pid, err)
	}
	for _, kv := range bytes.Split(environ, []byte{0}) {
		if name, ok := strings.CutPrefix(string(kv), "AWS_LAMBDA_FUNCTION_NAME="); ok {
			return name, nil
		}
	}
	cmdline, _ := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
	return "", fmt.Errorf("process %s (%s) is not a Lambda function", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte(" ")))
}

// socketInode finds the inode and the state (hex, as the kernel writes it) of the IPv4 socket whose local
// address is client and remote address is server.
func socketInode(client, server string) (inode, state string, err error) {
	local, err := procAddr(client)
	if err != nil {
		return "", "", err
	}
	remote, err := procAddr(server)
	if err != nil {
		return "", "", err
	}
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return "", "", fmt.Errorf("read /proc/net/tcp: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
		f := strings.Fields(sc.Text())
		if len(f) >= 10 && f[1] == local && f[2] == remote {
			return f[9], f[3], nil
		}
	}
	return "", "", fmt.Errorf("no socket from %s to %s in /proc/net/tcp", client, server)
}

// procAddr writes an IPv4 address as /proc/net/tcp does: the address as a little-endian hex word, the port in hex.
func procAddr(hostport string) (string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", hostport, err)
	}
	ip := net.ParseIP(host).To4()
	if ip == nil {
		return "", fmt.Errorf("address %q: not IPv4", hostport)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", hostport, err)
	}
	return fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], p), nil
}

// socketOwner finds the process with a file descriptor on the socket inode.
func socketOwner(inode string) (string, error) {
	want := "socket:[" + inode + "]"
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return "", fmt.Errorf("read /proc: %w", err)
	}
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		fdDir := filepath.Join("/proc", p.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue // gone, or not ours to read
		}
		for _, fd := range fds {
			if link, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && link == want {
				return p.Name(), nil
			}
		}
	}
	return "", errors.New("no process holds socket " + inode)
}
