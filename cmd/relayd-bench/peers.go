package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The processes the Go-driven phases start: Postfix's smtp-sink as the
// upstream, a private Postfix instance and relayd. Each has a bounded stop.

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

// postfixInstance is a private Postfix configured exactly as the project's
// original shell harness (peer-bench.sh, --peer postfix) configured it: a
// null client relaying everything to the sink (relayhost), Postfix
// defaults otherwise (fsync of every queue file before the 250), loopback
// only, no chroot, its own config, queue and data directories. The
// harness and the latency phase share it.
type postfixInstance struct {
	dir    string
	master int
}

// startPostfix writes main.cf and master.cf under dir and starts Postfix
// listening on 127.0.0.1:port, relaying to [127.0.0.1]:sinkPort. Root only.
func startPostfix(dir string, port, sinkPort int) (*postfixInstance, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("postfix needs root")
	}
	p := &postfixInstance{dir: dir}
	for _, d := range []string{"etc", "spool", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	mainCF := fmt.Sprintf(postfixMainCF, dir, dir, dir, sinkPort)
	masterCF := fmt.Sprintf(postfixMasterCF, port)
	if err := os.WriteFile(filepath.Join(dir, "etc", "main.cf"), []byte(mainCF), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "master.cf"), []byte(masterCF), 0o644); err != nil {
		return nil, err
	}
	etc := filepath.Join(dir, "etc")
	owner, err := exec.Command("postconf", "-c", etc, "-h", "mail_owner").Output()
	if err != nil {
		return nil, fmt.Errorf("postconf (apt-get install postfix): %w", err)
	}
	if out, err := exec.Command("chown", strings.TrimSpace(string(owner)), filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("chown data dir: %v: %s", err, out)
	}
	if out, err := exec.Command("postfix", "-c", etc, "check").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("postfix check: %v: %s", err, out)
	}
	if out, err := exec.Command("postfix", "-c", etc, "start").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("postfix start: %v: %s", err, out)
	}
	pidFile := filepath.Join(dir, "spool", "pid", "master.pid")
	for i := 0; i < 100 && p.master == 0; i++ {
		p.master = readPIDFile(pidFile)
		time.Sleep(50 * time.Millisecond)
	}
	if err := waitPort(fmt.Sprintf("127.0.0.1:%d", port), 20*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("postfix: %w", err)
	}
	return p, nil
}

// queued counts the files still in the instance's queue directories.
func (p *postfixInstance) queued() int {
	n := 0
	for _, q := range []string{"incoming", "active", "deferred", "maildrop", "hold"} {
		filepath.WalkDir(filepath.Join(p.dir, "spool", q), func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				n++
			}
			return nil
		})
	}
	return n
}

// stop stops the instance, aborting it after 10 s.
func (p *postfixInstance) stop() {
	etc := filepath.Join(p.dir, "etc")
	exec.Command("postfix", "-c", etc, "stop").Run()
	for i := 0; i < 100 && p.master > 0 && alive(p.master); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if p.master > 0 && alive(p.master) {
		exec.Command("postfix", "-c", etc, "abort").Run()
		time.Sleep(500 * time.Millisecond)
		syscall.Kill(p.master, syscall.SIGKILL)
	}
}

// postfixMainCF and postfixMasterCF are the shell harness's (postfix_start),
// line for line: Debian's master.cf services without chroot, smtpd only on
// 127.0.0.1:PORT, the log in a file (maillog_file: no syslog needed).
const postfixMainCF = `# private benchmark instance generated by relayd-bench: relay-only (null client /
# smarthost) on loopback, Postfix defaults otherwise (fsync before 250 included)
compatibility_level = 3.6
queue_directory = %[1]s/spool
data_directory = %[2]s/data
maillog_file = %[3]s/maillog
myhostname = relaybench.localdomain
mydomain = localdomain
myorigin = $myhostname
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 local delivery disabled
alias_maps =
alias_database =
relayhost = [127.0.0.1]:%[4]d
smtpd_relay_restrictions = permit_mynetworks, reject
biff = no
`

const postfixMasterCF = `127.0.0.1:%d inet n - n - - smtpd
pickup    unix  n - n 60    1 pickup
cleanup   unix  n - n -     0 cleanup
qmgr      unix  n - n 300   1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n -     - trivial-rewrite
bounce    unix  - - n -     0 bounce
defer     unix  - - n -     0 bounce
trace     unix  - - n -     0 bounce
verify    unix  - - n -     1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -     - proxymap
proxywrite unix - - n -     1 proxymap
smtp      unix  - - n -     - smtp
relay     unix  - - n -     - smtp
showq     unix  n - n -     - showq
error     unix  - - n -     - error
retry     unix  - - n -     - error
discard   unix  - - n -     - discard
local     unix  - n n -     - local
anvil     unix  - - n -     1 anvil
scache    unix  - - n -     1 scache
postlog   unix-dgram n - n - 1 postlogd
`

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
