package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

// TestE2EOAuthLoginWithoutReload: relayd starts with an OAuth2 profile that
// has no refresh token yet (a warning). Mail for it stays deferred with
// "oauth: ... run `relayd oauth login o365`", which `relayd oauth status`
// shows from the daemon (exit 1). `relayd oauth login` (device flow)
// writes the token; with no reload, the next attempt refreshes, presents
// the access token with OAUTHBEARER and delivers, and status is healthy.
func TestE2EOAuthLoginWithoutReload(t *testing.T) {
	dir := t.TempDir()
	pki := newPKI(t, dir)
	a := newAuthServer(t)
	up := newUpstream(t, pki)
	up.bearer = func(user, token string) bool { return user == e2eUser && token == loginAccess }
	up.start()
	caPEM, _ := os.ReadFile(pki.caFile)
	authPEM, _ := os.ReadFile(a.ca)
	ca := configtest.WriteFile(t, dir, "both-ca.pem", string(caPEM)+string(authPEM), 0o644)
	secret := configtest.WriteFile(t, dir, "o365.secret", loginClientSecret+"\n", 0o600)
	refreshFile := filepath.Join(dir, "o365.refresh")
	base := a.srv.URL + "/organizations/oauth2/v2.0/"
	cfg := e2eConfig(cfgParams{SMTPPort: freePort(t), AdminPort: freePort(t), UpstreamPort: up.port, CAFile: ca,
		Secret: fmt.Sprintf(`  [profile.oauth2]
  provider = "microsoft365"
  client_id = "relayd-app"
  client_secret_file = %q
  refresh_token_file = %q
  token_url = %q
  auth_url = %q
  device_auth_url = %q
`, secret, refreshFile, base+"token", base+"authorize", base+"devicecode")})
	cfg = strings.Replace(cfg, `name = "up"`, `name = "o365"`, 1)
	cfg = strings.Replace(cfg, `default_profile = "up"`, `default_profile = "o365"`, 1)
	p := startRelayd(t, cfg)
	if !strings.Contains(p.out.String(), "run relayd oauth login o365") {
		t.Errorf("no warning about the missing refresh token:\n%s", p.out.String())
	}
	res, err := sendMail(p.smtpAddr, "app@example.com", []string{"x@example.org"}, "Subject: first\r\n\r\nhi\r\n", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var show string
	err = poll(10*time.Second, func() (bool, error) {
		_, show, _ = runRelayd(t, p.dir, p.env, "queue", "show", res.QueueID, "-config", p.cfgPath)
		return strings.Contains(show, "deferred") && strings.Contains(show, "relayd oauth login o365"), nil
	})
	if err != nil {
		t.Fatalf("message not deferred with the login diagnosis:\n%s", show)
	}
	code, status, serr := runRelayd(t, p.dir, p.env, "oauth", "status", "-config", p.cfgPath)
	if code != 1 || !strings.Contains(status, "o365: NO refresh token in "+refreshFile) ||
		!strings.Contains(status, "FAILED: oauth: cannot read the OAuth2 refresh token") {
		t.Errorf("status before the login: exit %d\n%s%s", code, status, serr)
	}

	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" },
		systemConfig: "/nonexistent/relayd.toml", oauthWait: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}
	if code := c.run([]string{"oauth", "login", "o365", "-config", p.cfgPath}); code != 0 {
		t.Fatalf("login: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if code, out, errOut := runRelayd(t, p.dir, p.env, "queue", "retry", res.QueueID, "-config", p.cfgPath); code != 0 {
		t.Fatalf("queue retry: exit %d\n%s%s", code, out, errOut)
	}
	msgs := up.waitMessages(t, 1, 10*time.Second)
	if msgs[0].User != e2eUser {
		t.Errorf("delivered as %q", msgs[0].User)
	}
	code, status2, serr := runRelayd(t, p.dir, p.env, "oauth", "status", "o365", "-config", p.cfgPath)
	if code != 0 || !strings.Contains(status2, "o365: refresh token present in "+refreshFile) ||
		!strings.Contains(status2, "access token:  valid until") || !strings.Contains(status2, ", ok\n") {
		t.Errorf("status after the login: exit %d\n%s%s", code, status2, serr)
	}
	_, js, _ := runRelayd(t, p.dir, p.env, "oauth", "status", "-json", "-config", p.cfgPath)
	if !strings.Contains(js, `"refresh_token_present": true`) {
		t.Errorf("status -json:\n%s", js)
	}
	a.check(t)
	noSecrets(t, show, status, serr, status2, js, out.String(), errb.String(), p.out.String())
}
