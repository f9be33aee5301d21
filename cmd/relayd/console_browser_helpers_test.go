package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The console's browser tests drive Debian's chromium (headless, through
// chromedp) against a relayd on loopback. Locally a missing chromium
// skips them with what to install; under CI=true it fails them.

// chromiumPath finds the browser on PATH or skips (fails under CI=true).
// Only PATH is searched: Debian's /usr/bin/chromium is a shell script that
// needs the usual tools (grep) on PATH, so a bare PATH without it must skip
// the test, not fail to start the browser.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missingPeer(t, "chromium (the console's browser tests)", "chromium")
	return ""
}

// newBrowser starts a headless chromium with a fresh profile that
// resolves no name but localhost and reaches nothing but loopback, and
// returns its context; Cleanup closes it.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"),
		chromedp.Flag("no-proxy-server", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium (%s): %v", path, err)
	}
	return ctx
}

// browse runs steps with a bound of 60 s, failing the test with what
// was being done.
func browse(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// click presses the element and waits for the page it loads.
func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := chromedp.RunResponse(tctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
}

// text returns the text of the first element matching sel.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// location is the page's URL.
func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// screenshotDir is RELAYD_SCREENSHOTS, else a new temp dir (kept, logged).
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("RELAYD_SCREENSHOTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "relayd-screenshots-"); err != nil {
			t.Fatal(err)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("console screenshots in %s", dir)
	return dir
}

// screenshot writes the whole page as DIR/name.png.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// apiItem reads message id through the admin API (loopback, no token).
func apiItem(t *testing.T, adminAddr, id string) map[string]any {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + adminAddr + "/api/v1/queue/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var it map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&it); err != nil {
		t.Fatal(err)
	}
	return it
}

// waitState waits (bounded) until message id's summary state is want.
func waitState(t *testing.T, adminAddr, id, want string) {
	t.Helper()
	var got any
	if err := poll(30*time.Second, func() (bool, error) {
		got = apiItem(t, adminAddr, id)["state"]
		return got == want, nil
	}); err != nil {
		t.Fatalf("message %s is %v, want %s", id, got, want)
	}
}

// submit sends one message to relayd's listener at addr; extra header
// lines (such as X-Relay-Profile) go before Subject.
func submit(t *testing.T, addr, from, to, subject, extra string) string {
	t.Helper()
	msg := fmt.Sprintf("From: %s\r\nTo: %s\r\n%sSubject: %s\r\n\r\nHello from the console test.\r\n",
		orDefault(from, "crm@example.com"), to, extra, subject)
	res, err := sendMail(addr, from, []string{to}, msg, 10*time.Second)
	if err != nil {
		t.Fatalf("submitting %q: %v", subject, err)
	}
	return res.QueueID
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// delivered reports whether the upstream received a message with subject.
func delivered(u *e2eUpstream, subject string) bool {
	for _, m := range u.messages() {
		if strings.Contains(string(m.Data), "Subject: "+subject+"\r\n") {
			return true
		}
	}
	return false
}

// refusingPeer is a loopback SMTP server that refuses every recipient
// with 550 5.1.1: the upstream that bounces.
func refusingPeer(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				fmt.Fprint(c, "220 refuse.test ESMTP\r\n")
				r := bufio.NewReader(io.LimitReader(c, 1<<20))
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
					case "EHLO", "HELO":
						fmt.Fprint(c, "250 refuse.test\r\n")
					case "RCPT":
						fmt.Fprint(c, "550 5.1.1 mailbox unavailable: no such user here\r\n")
					case "QUIT":
						fmt.Fprint(c, "221 2.0.0 bye\r\n")
						return
					default:
						fmt.Fprint(c, "250 2.0.0 ok\r\n")
					}
				}
			})
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}
