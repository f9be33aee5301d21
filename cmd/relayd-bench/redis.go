package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The -cluster measurement runs relayd with [cluster] redis pointing at a
// redis-server (Debian's package redis-server) that the harness starts on
// loopback in its own network namespace, persistence off, and stops at
// the end.

// clusterRate is the profile's rate under -cluster: large enough never to
// bind, so every message passes the shared window script in Redis without
// waiting.
const clusterRate = "1000000/m"

// redisProc is a running redis-server.
type redisProc struct {
	cmd  *exec.Cmd
	addr string
}

// redisArgs are redis-server's arguments: loopback, port, no RDB
// snapshots, no append-only file, its working directory dir.
func redisArgs(dir string, port int) []string {
	return []string{"--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--dir", dir, "--loglevel", "warning"}
}

// startRedis runs redis-server on 127.0.0.1:port, its output in
// dir/redis.log, and waits until it answers PING.
func startRedis(dir string, port int) (*redisProc, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found: -cluster needs Debian's redis-server package (apt-get install redis-server)")
	}
	f, err := os.Create(filepath.Join(dir, "redis.log"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := &redisProc{cmd: exec.Command(bin, redisArgs(dir, port)...), addr: fmt.Sprintf("127.0.0.1:%d", port)}
	r.cmd.Stdout, r.cmd.Stderr = f, f
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting redis-server: %w", err)
	}
	end := time.Now().Add(10 * time.Second)
	for {
		if _, err := redisCommand(r.addr, "PING"); err == nil {
			return r, nil
		} else if time.Now().After(end) {
			r.stop()
			return nil, fmt.Errorf("redis-server on %s did not answer PING within 10 s: %v", r.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *redisProc) stop() { stopProcess(r.cmd, 5*time.Second) }

func (r *redisProc) pid() int { return r.cmd.Process.Pid }

// url is relayd's [cluster] redis for r.
func (r *redisProc) url() string { return "redis://" + r.addr + "/0" }

// redisCommand sends one inline command and returns the reply: a simple
// string, an integer or a bulk string's content.
func redisCommand(addr, cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
		return "", err
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "+"), strings.HasPrefix(line, ":"):
		return line[1:], nil
	case strings.HasPrefix(line, "-"):
		return "", fmt.Errorf("redis: %s", line[1:])
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("redis: unexpected reply %q", line)
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return "", err
		}
		return string(b[:n]), nil
	}
	return "", fmt.Errorf("redis: unexpected reply %q", line)
}

// scriptCalls is the number of Lua script runs (EVAL, EVALSHA, their _RO
// forms, FCALL) in INFO commandstats' text.
func scriptCalls(info string) int64 {
	var n int64
	for _, l := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(l), ":")
		if !ok {
			continue
		}
		switch name {
		case "cmdstat_eval", "cmdstat_evalsha", "cmdstat_eval_ro", "cmdstat_evalsha_ro", "cmdstat_fcall", "cmdstat_fcall_ro":
		default:
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				c, _ := strconv.ParseInt(v, 10, 64)
				n += c
			}
		}
	}
	return n
}

// redisScriptCalls asks the server at addr how many scripts it ran.
func redisScriptCalls(addr string) (int64, error) {
	info, err := redisCommand(addr, "INFO commandstats")
	if err != nil {
		return 0, err
	}
	return scriptCalls(info), nil
}
