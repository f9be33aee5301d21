package config

import (
	"strconv"
	"strings"
	"testing"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

const profileS = "[[profile]]\nname = \"s\"\nhost = \"smtp.example.com\"\nusername = \"u@example.com\"\n"

func TestPasswordFileTrimmed(t *testing.T) {
	dir := t.TempDir()
	for _, content := range []string{"pa ss\n", "pa ss\r\n", "pa ss", "pa ss\n\n"} {
		pw := configtest.WriteFile(t, dir, "pw", content, 0o600)
		f, w := mustLoad(t, configtest.Minimal+profileS+"password_file = "+configtest.TOMLPath(pw)+"\n")
		rc, err := f.Relay()
		if err != nil {
			t.Fatal(err)
		}
		if got := rc.Profiles["s"].Upstream.Password; got != "pa ss" {
			t.Errorf("password_file %q: password %q", content, got)
		}
		if len(w) != 0 {
			t.Errorf("warnings for a 0600 password file: %q", w)
		}
	}
	pw := configtest.WriteFile(t, dir, "pw644", "x\n", 0o644)
	_, w := mustLoad(t, configtest.Minimal+profileS+"password_file = "+configtest.TOMLPath(pw)+"\n")
	if len(w) != 1 || !strings.Contains(w[0], `profile "s": password_file`) || !strings.Contains(w[0], "readable by every user") {
		t.Errorf("world-readable password file: warnings %q", w)
	}
}

func TestPasswordEnv(t *testing.T) {
	t.Setenv("RELAYD_TEST_PW", "from-env")
	f, _ := mustLoad(t, configtest.Minimal+profileS+"password_env = \"RELAYD_TEST_PW\"\n")
	rc, _ := f.Relay()
	if got := rc.Profiles["s"].Upstream.Password; got != "from-env" {
		t.Errorf("password_env: %q", got)
	}
	t.Setenv("RELAYD_TEST_PW", "")
	if _, _, err := loadText(t, configtest.Minimal+profileS+"password_env = \"RELAYD_TEST_PW\"\n"); err == nil || !strings.Contains(err.Error(), "RELAYD_TEST_PW is empty") {
		t.Errorf("empty variable: %v", err)
	}
}

func TestLiteralPasswordWarning(t *testing.T) {
	dir := t.TempDir()
	body := configtest.Minimal + profileS + "password = \"literal-pw\"\n"
	for _, tc := range []struct {
		perm uint32
		warn bool
	}{{0o600, false}, {0o640, false}, {0o644, true}, {0o604, true}} { // 0640: the group is this process's
		path := configtest.WriteFile(t, dir, "relayd.toml", body, 0o600)
		chmod(t, path, tc.perm)
		f, w, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		got := len(w) == 1 && strings.Contains(w[0], `profile "s": password: the config file holds a literal password and is readable by every user`) &&
			strings.Contains(w[0], ":"+strconv.Itoa(lineOf(t, body, "password ="))+":")
		if got != tc.warn || (!tc.warn && len(w) != 0) {
			t.Errorf("mode %04o: warnings %q, want warning=%v", tc.perm, w, tc.warn)
		}
		if rc, _ := f.Relay(); rc.Profiles["s"].Upstream.Password != "literal-pw" {
			t.Error("literal password not used")
		}
	}
	// The embedded default is not a file anyone can read.
	if _, w, _ := Load(""); len(w) != 0 {
		t.Errorf("embedded default warns: %q", w)
	}
}

// TestSecretsNeverInErrors feeds broken configs holding a secret in every
// place a secret can be, and checks no error or warning text contains it.
func TestSecretsNeverInErrors(t *testing.T) {
	const secret = "S3cr3t-Value-42"
	dir := t.TempDir()
	secretFile := configtest.WriteFile(t, dir, "secret", secret+"\n", 0o644)
	t.Setenv("RELAYD_TEST_SECRET", secret)
	configs := []string{
		// Two forms at once, file world-readable, config group-readable.
		configtest.Minimal + profileS + "password = \"" + secret + "\"\npassword_file = " + configtest.TOMLPath(secretFile) + "\n",
		configtest.Minimal + profileS + "password = \"" + secret + "\"\npassword_env = \"RELAYD_TEST_SECRET\"\n",
		// A password without a username, a bad mechanism.
		configtest.Minimal + "[[profile]]\nname = \"s\"\nhost = \"smtp.example.com\"\npassword = \"" + secret + "\"\nauth_mechanisms = [\"XOAUTH2\"]\n",
		// A secret of the wrong type, and unquoted (a syntax error).
		configtest.Minimal + profileS + "password = " + "42" + "\n",
		configtest.Minimal + profileS + "password = " + secret + "\n",
		configtest.Minimal + profileS + "password = \"" + secret + "\n",
		configtest.Minimal + profileS + "password = '''" + secret + "\n",
		// OAuth2 client secrets.
		configtest.Minimal + profileS + "[profile.oauth2]\ntoken_url = \"ftp://x\"\nclient_secret = \"" + secret + "\"\nclient_secret_file = " + configtest.TOMLPath(secretFile) + "\n",
		configtest.Minimal + profileS + "[profile.oauth2]\nclient_secret = " + secret + "\n",
		// A secret file used as something that is parsed.
		configtest.Minimal + "[server]\nspool_key_file = " + configtest.TOMLPath(secretFile) + "\n[admin]\nlisten = \"0.0.0.0:1\"\ntoken_file = " + configtest.TOMLPath(secretFile) + "\n",
		configtest.Minimal + "[[dkim]]\ndomain = \"example.com\"\nselector = \"s\"\nkey_file = " + configtest.TOMLPath(secretFile) + "\n",
		configtest.Minimal + "[[listener]]\nname = \"t\"\naddress = \"127.0.0.1:1\"\ntls = \"implicit\"\ncert_file = " + configtest.TOMLPath(secretFile) + "\nkey_file = " + configtest.TOMLPath(secretFile) + "\n",
		configtest.Minimal + profileS + "ca_file = " + configtest.TOMLPath(secretFile) + "\npassword_env = \"RELAYD_TEST_SECRET\"\n",
		// Inherited.
		configtest.Minimal + profileS + "password = \"" + secret + "\"\npassword_env = \"RELAYD_TEST_SECRET\"\n[[profile]]\nname = \"c\"\nextends = \"s\"\n",
	}
	for i, body := range configs {
		path := configtest.WriteFile(t, dir, "relayd.toml", body, 0o600)
		chmod(t, path, 0o644)
		_, warnings, err := Load(path)
		text := strings.Join(warnings, "\n")
		if err != nil {
			text += "\n" + err.Error()
		}
		if err == nil && len(warnings) == 0 {
			t.Errorf("config %d: neither error nor warning", i)
		}
		if strings.Contains(text, secret) || strings.Contains(text, "S3cr3t") {
			t.Errorf("config %d: secret in message:\n%s", i, text)
		}
	}
}
