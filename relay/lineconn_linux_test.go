package relay

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMultilineReplyOneWrite: the EHLO reply's lines go out in one write,
// not one per line as textproto flushes them. Over implicit TLS one read
// (one TLS record) returns all of it; in plain text the client's socket
// counts the data segments it received (TCP_INFO): one for the banner, one
// for the reply.
func TestMultilineReplyOneWrite(t *testing.T) {
	srvTLS, cliTLS := hostileTLS(t)
	for _, mode := range []string{"none", "implicit"} {
		t.Run(mode, func(t *testing.T) {
			r := startHeldRelay(t, func(c *Config) {
				c.Listeners[0].TLS = mode
				c.Listeners[0].TLSConfig = srvTLS
			})
			var c net.Conn
			c, err := net.Dial("tcp", r.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if mode == "implicit" {
				c = tls.Client(c, cliTLS)
			}
			c.SetDeadline(time.Now().Add(20 * time.Second))
			tcp := c
			if mode == "implicit" {
				tcp = c.(*tls.Conn).NetConn()
			}
			buf := make([]byte, 8192)
			n, err := c.Read(buf)
			if err != nil || !strings.HasPrefix(string(buf[:n]), "220 ") {
				t.Fatalf("banner %q, %v", buf[:n], err)
			}
			if _, err := c.Write([]byte("EHLO client.test\r\n")); err != nil {
				t.Fatal(err)
			}
			n, err = c.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(buf[:n]), "\r\n"), "\r\n")
			last := lines[len(lines)-1]
			if len(lines) < 3 || !strings.HasPrefix(lines[0], "250-") || !strings.HasPrefix(last, "250 ") {
				t.Fatalf("one read of the EHLO reply got %q, want all of it", buf[:n])
			}
			if segs := segmentsIn(t, tcp); mode == "none" && segs != 2 {
				t.Errorf("the client received %d data segments for the banner and the EHLO reply, want 2", segs)
			}
			// The session goes on as usual.
			if _, err := c.Write([]byte("NOOP\r\n")); err != nil {
				t.Fatal(err)
			}
			if n, err = c.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "250 ") {
				t.Fatalf("NOOP: %q, %v", buf[:n], err)
			}
		})
	}
}

// segmentsIn returns the data segments c's socket has received.
func segmentsIn(t *testing.T, c net.Conn) uint32 {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var serr error
	if err := rc.Control(func(fd uintptr) {
		info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil || serr != nil {
		t.Fatalf("TCP_INFO: %v %v", err, serr)
	}
	return info.Data_segs_in
}
