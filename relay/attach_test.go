package relay

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"github.com/relayd/relayd/relay/attachments/attachtest"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/sys/unix"

	"github.com/relayd/relayd/policy"
	"github.com/relayd/relayd/relay/attachments"
	"github.com/relayd/relayd/spool"
	"github.com/relayd/relayd/upstream"
)

// attachRelay is a relay with an attachment store whose download server
// runs on loopback; the store and the relay share the injected clock.
type attachRelay struct {
	*testRelay
	att   *attachments.Store
	files *httptest.Server
	api   *httptest.Server
}

func startAttachRelay(t *testing.T, cfg *Config) *attachRelay {
	t.Helper()
	clock := newClock()
	store, err := spool.Open(spool.Options{Dir: t.TempDir(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	files := httptest.NewUnstartedServer(nil)
	reg := prometheus.NewRegistry()
	att, err := attachments.Open(attachments.Options{Dir: t.TempDir(), BaseURL: "http://" + files.Listener.Addr().String() + "/relayd",
		Retention: 30 * 24 * time.Hour, Now: clock.Now, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	files.Config.Handler = http.StripPrefix("/relayd", att.Handler())
	files.Start()
	t.Cleanup(files.Close)
	srv, err := New(Options{Config: cfg, Spool: store, Registerer: reg, Now: clock.Now, Attachments: att})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &testRelay{t: t, srv: srv, store: store, clock: clock, reg: reg, addr: srv.Addrs()["local"].String(),
		cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		srv.Run(ctx, 5*time.Second)
	}()
	t.Cleanup(r.stop)
	api := httptest.NewServer(srv.Handler())
	t.Cleanup(api.Close)
	return &attachRelay{testRelay: r, att: att, files: files, api: api}
}

// sendErr submits body and returns the final reply's error (nil on 250).
func sendErr(t *testing.T, addr, body string) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail("alice@example.com", []string{"bob@example.org"}, strings.NewReader(body)); err != nil {
		return err
	}
	return c.Quit()
}

func attachProfile(cfg *Config, limit int64, mode string) {
	cfg.Profiles["sink"].MaxAttachmentSize = limit
	cfg.Profiles["sink"].AttachmentsAsURL = mode
}

// leafBytes returns the raw octets of each leaf of msg, by index.
func leafBytes(msg []byte) [][]byte {
	var out [][]byte
	for _, p := range attachments.Walk(msg).Leaves {
		out = append(out, msg[p.Start:p.End])
	}
	return out
}

var linkRE = regexp.MustCompile(`http://[^\s]+/a/[a-z2-7]{32}/[^\s]+`)

// linkOf decodes leaf i of msg (a replacement part) and returns its URL.
func linkOf(t *testing.T, msg []byte, i int) (string, string) {
	t.Helper()
	p := attachments.Walk(msg).Leaves[i]
	if p.MediaType != "text/plain" || p.Attachment {
		t.Fatalf("leaf %d is %s (attachment %v), want the link text", i, p.MediaType, p.Attachment)
	}
	text, _ := io.ReadAll(p.Content(msg))
	u := linkRE.FindString(string(text))
	if u == "" {
		t.Fatalf("no link in part %d:\n%s", i, text)
	}
	return u, string(text)
}

func httpGet(t *testing.T, method, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestAttachmentNeverRefuses: over the limit with "never", the end of DATA
// answers 552 5.3.4 naming the file, its size, the limit and the profile;
// nothing is queued. Within the limit the message goes out unchanged.
func TestAttachmentNeverRefuses(t *testing.T) {
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	attachProfile(cfg, 50<<10, AttachNever)
	r := startAttachRelay(t, cfg)
	err := sendErr(t, r.addr, attachtest.Thunderbird(attachtest.Content(200<<10, 1), attachtest.Content(1000, 2)))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 552 || se.EnhancedCode != (smtp.EnhancedCode{5, 3, 4}) {
		t.Fatalf("DATA: %v, want 552 5.3.4", err)
	}
	for _, want := range []string{`"report.pdf"`, "204800 bytes", "51200 bytes", `profile "sink"`} {
		if !strings.Contains(se.Message, want) {
			t.Errorf("reply %q lacks %s", se.Message, want)
		}
	}
	if n := r.store.Counts(); n[spool.StateReady]+n[spool.StateSending]+n[spool.StateSent] != 0 {
		t.Errorf("refused message queued: %v", n)
	}
	if got := testutil.ToFloat64(r.srv.metrics.rejected.WithLabelValues("local", "size")); got != 1 {
		t.Errorf("rejected{reason=size} = %v", got)
	}
	// Immediate mode refuses alike, before anything is sent.
	imm := *cfg
	imm.Profiles = map[string]*Profile{"sink": func() *Profile { p := *cfg.Profiles["sink"]; p.Immediate = true; return &p }()}
	if err := r.srv.Reload(&imm); err != nil {
		t.Fatal(err)
	}
	if err := sendErr(t, r.addr, attachtest.Thunderbird(attachtest.Content(60<<10, 1), nil)); !errors.As(err, &se) || se.Code != 552 ||
		!strings.Contains(se.Message, `"report.pdf" is 61440 bytes`) {
		t.Fatalf("immediate mode: %v", err)
	}
	body := attachtest.Thunderbird(attachtest.Content(20<<10, 3), attachtest.Content(1000, 4))
	if err := sendErr(t, r.addr, body); err != nil {
		t.Fatal(err)
	}
	if m := sk.wait(); !bytes.HasSuffix(m.Data, []byte(body[strings.Index(body, "\r\n\r\n"):])) {
		t.Error("a message within the limit was changed")
	}
}

// TestAttachmentOversizeLinks: the big attachment becomes a link whose GET
// answers the original octets (Range, HEAD too); the small one, the text
// parts and everything else are byte-identical. A changed token is 404; a
// revoked link (through the admin API) and an expired one are 410.
func TestAttachmentOversizeLinks(t *testing.T) {
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	attachProfile(cfg, 50<<10, AttachOversize)
	r := startAttachRelay(t, cfg)
	big, small := attachtest.Content(300<<10, 5), attachtest.Content(20<<10, 6)
	body := attachtest.Thunderbird(big, small)
	id := send(t, r.addr, "alice@example.com", []string{"bob@example.org"}, body)
	m := sk.wait()
	before, after := leafBytes([]byte(body)), leafBytes(m.Data)
	if len(after) != 4 {
		t.Fatalf("delivered %d leaves:\n%s", len(after), m.Data)
	}
	for _, i := range []int{0, 1, 3} { // text, html, the small csv
		if !bytes.Equal(before[i], after[i]) {
			t.Errorf("part %d changed:\n%s", i, after[i])
		}
	}
	if !bytes.HasSuffix(m.Data, []byte("\r\n--------------mQz3n0JmWkSdJ5yCvYq0fT4a--\r\n")) {
		t.Error("the close delimiter changed")
	}
	link, text := linkOf(t, m.Data, 2)
	if !strings.Contains(text, `"report.pdf", 300.0 KB (307200 bytes), was`) || !strings.Contains(text, "24 December 2026 09:00 UTC") {
		t.Errorf("link text:\n%s", text)
	}
	resp, got := httpGet(t, "GET", link)
	if resp.StatusCode != 200 || sha256.Sum256(got) != sha256.Sum256(big) {
		t.Fatalf("GET %s: %d, %d octets", link, resp.StatusCode, len(got))
	}
	if resp.Header.Get("Content-Type") != "application/pdf" || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
		resp.Header.Get("Content-Security-Policy") != "sandbox" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("headers %v", resp.Header)
	}
	if resp, got := httpGet(t, "GET", link, "Range", "bytes=1000-1999"); resp.StatusCode != 206 || !bytes.Equal(got, big[1000:2000]) {
		t.Errorf("Range: %d, %d octets", resp.StatusCode, len(got))
	}
	if resp, got := httpGet(t, "HEAD", link); resp.StatusCode != 200 || len(got) != 0 || resp.ContentLength != int64(len(big)) {
		t.Errorf("HEAD: %d, length %d", resp.StatusCode, resp.ContentLength)
	}
	tok := strings.Split(link, "/")[5]
	flip := "a"
	if strings.HasSuffix(tok, "a") {
		flip = "b"
	}
	if resp, _ := httpGet(t, "GET", strings.Replace(link, tok, tok[:31]+flip, 1)); resp.StatusCode != 404 {
		t.Errorf("changed token: %d", resp.StatusCode)
	}
	if got := testutil.ToFloat64(r.att.LinkedCounter("sink")); got != 1 {
		t.Errorf("relayd_attachments_linked_total{profile=sink} = %v", got)
	}

	// The admin API lists it for the message and revokes it.
	resp, lb := httpGet(t, "GET", r.api.URL+"/api/v1/attachments?message="+id)
	var items []attachments.Info
	if err := json.Unmarshal(lb, &items); err != nil || resp.StatusCode != 200 || len(items) != 1 || items[0].Token != tok ||
		items[0].File != "report.pdf" || items[0].State != "active" {
		t.Fatalf("list: %d %s", resp.StatusCode, lb)
	}
	req, _ := http.NewRequest("POST", r.api.URL+"/api/v1/attachments/"+tok+"/revoke", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	if resp, _ := httpGet(t, "GET", link); resp.StatusCode != 410 {
		t.Errorf("revoked link: %d", resp.StatusCode)
	}

	// Another message: its link works until the retention ends, then 410.
	send(t, r.addr, "alice@example.com", []string{"bob@example.org"}, body)
	link2, _ := linkOf(t, sk.wait().Data, 2)
	r.clock.Advance(30*24*time.Hour - time.Minute)
	if resp, _ := httpGet(t, "GET", link2); resp.StatusCode != 200 {
		t.Errorf("before retention: %d", resp.StatusCode)
	}
	r.clock.Advance(time.Minute)
	r.att.GC(func(string) bool { return true })
	if resp, _ := httpGet(t, "GET", link2); resp.StatusCode != 410 {
		t.Errorf("after retention: %d", resp.StatusCode)
	}
}

// TestAttachmentAlwaysOutlook: with "always" every attachment is a link,
// while Outlook's inline image (multipart/related, Content-ID) and the
// body text stay octet for octet; an RFC 2047 file name is decoded.
func TestAttachmentAlwaysOutlook(t *testing.T) {
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	attachProfile(cfg, 0, AttachAlways)
	r := startAttachRelay(t, cfg)
	img, xlsx := attachtest.Content(4000, 7), attachtest.Content(9000, 8)
	body := attachtest.Outlook(img, xlsx)
	send(t, r.addr, "carol@example.com", []string{"dave@example.org"}, body)
	m := sk.wait()
	before, after := leafBytes([]byte(body)), leafBytes(m.Data)
	for i := 0; i < 3; i++ {
		if !bytes.Equal(before[i], after[i]) {
			t.Errorf("part %d changed:\n%s", i, after[i])
		}
	}
	link, _ := linkOf(t, m.Data, 3)
	if !strings.HasSuffix(link, "/Figures%202026.xlsx") {
		t.Errorf("link %s", link)
	}
	if resp, got := httpGet(t, "GET", link); resp.StatusCode != 200 || !bytes.Equal(got, xlsx) {
		t.Errorf("GET: %d", resp.StatusCode)
	}

	// Thunderbird: both attachments, the RFC 2231 name too.
	send(t, r.addr, "alice@example.com", []string{"bob@example.org"}, attachtest.Thunderbird(attachtest.Content(100, 9), attachtest.Content(200, 10)))
	m = sk.wait()
	if _, text := linkOf(t, m.Data, 3); !strings.Contains(text, "Zahlen März.csv") {
		t.Errorf("RFC 2231 name not in the link text:\n%s", text)
	}
	linkOf(t, m.Data, 2)
}

// TestAttachmentSignedNeverAltered: a multipart/signed message goes out
// unchanged with "always"; over the limit it is refused even with
// "oversize", since a link would break its signature.
func TestAttachmentSignedNeverAltered(t *testing.T) {
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	attachProfile(cfg, 50<<10, AttachAlways)
	r := startAttachRelay(t, cfg)
	body := attachtest.Signed(attachtest.Content(10<<10, 11))
	send(t, r.addr, "erin@example.com", []string{"frank@example.org"}, body)
	if m := sk.wait(); !bytes.HasSuffix(m.Data, []byte(body[strings.Index(body, "\r\n\r\n"):])) {
		t.Errorf("signed message altered:\n%s", m.Data)
	}
	cfg2 := *cfg
	cfg2.Profiles = map[string]*Profile{"sink": func() *Profile { p := *cfg.Profiles["sink"]; return &p }()}
	attachProfile(&cfg2, 50<<10, AttachOversize)
	if err := r.srv.Reload(&cfg2); err != nil {
		t.Fatal(err)
	}
	err := sendErr(t, r.addr, attachtest.Signed(attachtest.Content(60<<10, 12)))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 552 || !strings.Contains(se.Message, "signed or encrypted") {
		t.Fatalf("signed over the limit: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(r.att.Dir(), "files")); len(ents) != 0 {
		t.Errorf("files stored for signed messages: %v", ents)
	}
}

// TestAttachmentDKIMOverRewrite: the DKIM signature is made over the
// rewritten message and verifies (go-msgauth, and dkimpy when installed).
func TestAttachmentDKIMOverRewrite(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	txt, err := upstream.DKIMRecord(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	cfg.DKIM = []upstream.DKIMKey{{Domain: "example.com", Selector: "s1", Signer: key}}
	attachProfile(cfg, 50<<10, AttachOversize)
	r := startAttachRelay(t, cfg)
	send(t, r.addr, "alice@example.com", []string{"bob@example.org"}, attachtest.Thunderbird(attachtest.Content(100<<10, 13), attachtest.Content(100, 14)))
	m := sk.wait()
	linkOf(t, m.Data, 2)
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(m.Data), &dkim.VerifyOptions{
		LookupTXT: func(string) ([]string, error) { return []string{txt}, nil }})
	if err != nil || len(verifs) != 1 || verifs[0].Err != nil {
		t.Fatalf("go-msgauth: %+v %v", verifs, err)
	}
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil || exec.Command(py, "-c", "import dkim").Run() != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("dkimpy is missing (CI=true: not skipped): apt-get install -y python3-dkim")
		}
		t.Skip("dkimpy is missing: apt-get install -y python3-dkim")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "msg"), m.Data, 0o600)
	os.WriteFile(filepath.Join(dir, "txt"), []byte(txt), 0o600)
	script := `import sys, dkim
msg = open(sys.argv[1], 'rb').read()
txt = open(sys.argv[2], 'rb').read().strip()
ok = dkim.verify(msg, dnsfunc=lambda q, timeout=5: txt)
print('pass' if ok else 'fail')
sys.exit(0 if ok else 1)
`
	out, err := exec.Command(py, "-c", script, filepath.Join(dir, "msg"), filepath.Join(dir, "txt")).CombinedOutput()
	if err != nil {
		t.Fatalf("dkimpy: %v: %s", err, out)
	}
}

// TestAttachmentPerProfileRendering: one message, recipients routed to two
// profiles: the "oversize" profile's recipient gets a link, the other
// profile's recipient the original attachment, octet for octet.
func TestAttachmentPerProfileRendering(t *testing.T) {
	cfg, sa, sb := twoUpstreams(t)
	cfg.Policy.Routes = []policy.Route{{Index: 1, Recipient: "*@example.net", Profile: "b"}}
	cfg.Profiles["a"].MaxAttachmentSize, cfg.Profiles["a"].AttachmentsAsURL = 50<<10, AttachOversize
	r := startAttachRelay(t, cfg)
	big := attachtest.Content(120<<10, 15)
	body := attachtest.Thunderbird(big, attachtest.Content(100, 16))
	send(t, r.addr, "alice@example.com", []string{"one@example.org", "two@example.net"}, body)
	ma, mb := sa.wait(), sb.wait()
	link, _ := linkOf(t, ma.Data, 2)
	if !bytes.Equal(leafBytes(mb.Data)[2], leafBytes([]byte(body))[2]) {
		t.Error("profile b's recipient did not get the original attachment")
	}
	if resp, got := httpGet(t, "GET", link); resp.StatusCode != 200 || !bytes.Equal(got, big) {
		t.Errorf("GET: %d", resp.StatusCode)
	}
}

// TestAttachmentStoreFailsAfterCommit: the spool commit and the
// attachment store's sync round run at the same time; when the round
// fails after the commit succeeded, the client gets 452 and the message
// is withdrawn from the spool: it is never delivered, not even with the
// attachment as it came. The failure is injected below relayd: the
// descriptor of the store's segment is replaced by /dev/null, whose
// fdatasync fails (EINVAL). Afterwards the failing store refuses linked
// messages before their commit, and mail without links still flows.
func TestAttachmentStoreFailsAfterCommit(t *testing.T) {
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	attachProfile(cfg, 50<<10, AttachOversize)
	r := startAttachRelay(t, cfg)
	big := attachtest.Content(100<<10, 41)
	body := attachtest.Thunderbird(big, attachtest.Content(100, 42))
	send(t, r.addr, "alice@example.com", []string{"bob@example.org"}, body)
	if m := sk.wait(); !linkRE.Match(m.Data) {
		t.Fatalf("the first message went out without a link:\n%.2000s", m.Data)
	}

	segDir := filepath.Join(r.att.Dir(), "segments")
	fds, _ := os.ReadDir("/proc/self/fd")
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	replaced := 0
	for _, e := range fds {
		if target, _ := os.Readlink("/proc/self/fd/" + e.Name()); strings.HasPrefix(target, segDir+"/") {
			fd, _ := strconv.Atoi(e.Name())
			if err := unix.Dup2(int(null.Fd()), fd); err != nil {
				t.Fatal(err)
			}
			replaced++
		}
	}
	if replaced == 0 {
		t.Fatalf("no open segment under %s", segDir)
	}

	err = sendErr(t, r.addr, body)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 452 {
		t.Fatalf("message whose attachment could not be made durable: %v, want 452", err)
	}
	n := 0
	if err := r.store.ListActive(func(*spool.Message) bool { n++; return true }); err != nil || n != 0 {
		t.Fatalf("%d messages left in the spool (%v), want none: the refused one must be withdrawn", n, err)
	}
	if r.att.Err() == nil {
		t.Fatal("the store does not report its failure")
	}
	if err := sendErr(t, r.addr, body); !errors.As(err, &se) || se.Code != 452 {
		t.Fatalf("linked message while the store fails: %v, want 452", err)
	}
	send(t, r.addr, "alice@example.com", []string{"bob@example.org"}, "Subject: plain\r\n\r\nno attachment\r\n")
	if m := sk.wait(); !bytes.Contains(m.Data, []byte("no attachment")) {
		t.Fatalf("delivered instead of the plain message:\n%.2000s", m.Data)
	}
	sk.none(r.testRelay) // the refused ones never go out
}
