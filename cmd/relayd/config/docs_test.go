package config

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// configReference is the configuration reference, the source of the
// relayd.toml(5) man page.
const configReference = "../../../docs/relayd.toml.5.md"

var (
	refSectionRE = regexp.MustCompile(`^#{1,2} \[\[?([a-z0-9_.]+)\]\]?\s*$`)
	refKeyRE     = regexp.MustCompile(`\*\*([a-z0-9_]+)\*\*`)
	refSubRE     = regexp.MustCompile(`^\*\*\[\[?([a-z0-9_.]+)\]\]?\*\*`)
)

// TestConfigReferenceDocumentsEveryKey checks that docs/relayd.toml.5.md
// names every key of the schema under its table, as config.example.toml
// must (TestExampleDocumentsEveryKey), so the reference and the man page
// cannot miss a key that relayd reads.
func TestConfigReferenceDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile(configReference)
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	table := ""
	for _, line := range strings.Split(string(b), "\n") {
		if m := refSectionRE.FindStringSubmatch(line); m != nil {
			table = m[1]
			continue
		}
		if strings.HasPrefix(line, "# ") { // NAME, ROUTING, FILES...
			table = ""
			continue
		}
		if m := refSubRE.FindStringSubmatch(line); m != nil { // **[[team.user]]**: its keys follow
			table = m[1]
		}
		if table == "" {
			continue
		}
		for _, m := range refKeyRE.FindAllStringSubmatch(line, -1) {
			documented[table+"."+m[1]] = true
		}
	}
	schema := map[string]bool{}
	schemaKeys(reflect.TypeFor[File](), "", schema)
	var missing []string
	for k := range schema {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%s does not document: %s", configReference, strings.Join(missing, ", "))
	}
}
