package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/relayd/relayd/cmd/internal/postfixpeer"
)

// The processes the Go-driven phases start: Postfix's smtp-sink as the
// upstream, a private Postfix instance (package postfixpeer) and relayd. Each has a bounded stop.

// sink is a running smtp-sink, started as the shell harness started it
// (-c counts, -m 1024 sessions, backlog 1024; -u nobody as root).
type sink struct {
	cmd *exec.Cmd
	out string // its -c counter output
}

// startSink runs smtp-sink on 127.0.0.1:port, counting messages.
func startSink(dir string, port int) (*sink, error) {
	s := &sink{out: filepath.Join(dir, fmt.Sprintf("sink-%d.out", port))}
	f, err := os.Create(s.out)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	args := []string{"-c"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody") // smtp-sink refuses root without -u
	}
	args = append(args, "-m", "1024", fmt.Sprintf("127.0.0.1:%d", port), "1024")
	s.cmd = exec.Command("smtp-sink", args...)
	s.cmd.Stdout, s.cmd.Stderr = f, f
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("smtp-sink (apt-get install postfix): %w", err)
	}
	if err := waitPort(fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("smtp-sink: %w", err)
	}
	return s, nil
}

// sinkMesg matches smtp-sink -c's records, "sess=N quit=N mesg=N\r".
var sinkMesg = regexp.MustCompile(`mesg=(\d+)\r`)

// count is the number of messages (DATA transactions) the sink accepted:
// the last complete record. Only the file's tail is read (it is polled
// every 10 ms while a load runs).
func (s *sink) count() int {
	f, err := os.Open(s.out)
	if err != nil {
		return 0
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	off := max(st.Size()-256, 0)
	b := make([]byte, st.Size()-off)
	n, _ := f.ReadAt(b, off)
	m := sinkMesg.FindAllSubmatch(b[:n], -1)
	if len(m) == 0 {
		return 0
	}
	c, _ := strconv.Atoi(string(m[len(m)-1][1]))
	return c
}

func (s *sink) stop() { stopProcess(s.cmd, 5*time.Second) }

// waitCount waits until the sink counted want messages, the deadline
// passes, or it made no progress for stall; it returns the last count.
func (s *sink) waitCount(want int, deadline, stall time.Duration) int {
	return s.waitDelivered(context.Background(), want, time.Now().Add(deadline), stall)
}

// waitDelivered polls the count every 10 ms until it reaches want, end
// passes, ctx ends or the count made no progress for stall; it returns the
// last count.
func (s *sink) waitDelivered(ctx context.Context, want int, end time.Time, stall time.Duration) int {
	last, lastT := -1, time.Now()
	for {
		n := s.count()
		if n >= want || time.Now().After(end) || ctx.Err() != nil {
			return n
		}
		if n != last {
			last, lastT = n, time.Now()
		} else if time.Since(lastT) > stall {
			return n
		}
		time.Sleep(harnessPollSink)
	}
}

// stopProcess sends SIGTERM, waits up to grace, then SIGKILL.
func stopProcess(cmd *exec.Cmd, grace time.Duration) error {
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(grace):
		cmd.Process.Kill()
		return <-done
	}
}

// waitPort waits until addr accepts TCP connections.
func waitPort(addr string, limit time.Duration) error {
	end := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("%s not listening after %s: %w", addr, limit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wait220 waits until addr answers with an SMTP 220 greeting.
func wait220(ctx context.Context, addr string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		if greeting(addr) == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: no 220 within %s", addr, limit)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func greeting(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "220") {
		return fmt.Errorf("greeting %q", strings.TrimSpace(line))
	}
	c.Write([]byte("QUIT\r\n"))
	return nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startPostfix starts the benchmark's private Postfix (package
// postfixpeer) in dir, listening on 127.0.0.1:port and relaying to
// [127.0.0.1]:sinkPort, configured exactly as the project's original
// shell harness (peer-bench.sh, --peer postfix) configured it: a null
// client relaying everything to the sink (relayhost), Postfix defaults
// otherwise (fsync of every queue file before the 250), loopback only, no
// chroot, its own config, queue and data directories. The harness, the
// latency phase and the sendmail and attachment phases share it. Root only.
func startPostfix(dir string, port, sinkPort int) (*postfixpeer.Instance, error) {
	return postfixpeer.Start(benchPostfix(dir, port, sinkPort))
}

// benchPostfix is the benchmark's Postfix: postfixpeer's null client and
// nothing else (no setting of the interop tests' faster retries).
func benchPostfix(dir string, port, sinkPort int) postfixpeer.Options {
	return postfixpeer.Options{
		Dir: dir, SMTPPort: port, RelayHost: fmt.Sprintf("[127.0.0.1]:%d", sinkPort),
		Hostname: "relaybench.localdomain", Domain: "localdomain",
		Comment: "private benchmark instance generated by relayd-bench: relay-only (null client /\n" +
			"smarthost) on loopback, Postfix defaults otherwise (fsync before 250 included)",
	}
}

// relaydProc is a relayd started by relayd-bench.
type relaydProc struct {
	cmd     *exec.Cmd
	started time.Time
	log     *os.File
}

// startRelayd starts bin serve -config cfg, its output appended to logPath.
func startRelayd(bin, cfg, logPath string) (*relaydProc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	r := &relaydProc{log: f, cmd: exec.Command(bin, "serve", "-config", cfg)}
	r.cmd.Stdout, r.cmd.Stderr = f, f
	r.started = time.Now()
	if err := r.cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func (r *relaydProc) pid() int { return r.cmd.Process.Pid }

// stop sends SIGTERM and waits up to grace (relayd drains deliveries for
// up to 20 s), then kills. It returns how long the stop took.
func (r *relaydProc) stop(grace time.Duration) (time.Duration, error) {
	t := time.Now()
	err := stopProcess(r.cmd, grace)
	r.log.Close()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 0 {
		err = nil
	}
	return time.Since(t), err
}

// tail returns the last lines of the relayd log, for error messages.
func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
