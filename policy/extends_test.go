package policy

import (
	"errors"
	"reflect"
	"testing"
)

// extendsTests are TestResolveExtends' cases: a result or an error text.
var extendsTests = []struct {
	name    string
	parents map[string]string
	want    map[string][]string
	wantErr string
}{
	{
		name:    "empty",
		parents: map[string]string{},
		want:    map[string][]string{},
	},
	{
		name:    "chain",
		parents: map[string]string{"base": "", "agent": "base", "alice": "agent", "bob": "agent", "other": ""},
		want: map[string][]string{
			"base":  {"base"},
			"agent": {"base", "agent"},
			"alice": {"base", "agent", "alice"},
			"bob":   {"base", "agent", "bob"},
			"other": {"other"},
		},
	},
	{
		name:    "cycle",
		parents: map[string]string{"a": "b", "b": "a", "c": ""},
		wantErr: "extends cycle: a -> b -> a",
	},
	{
		name:    "longer cycle reached from outside",
		parents: map[string]string{"a": "c", "c": "d", "d": "e", "e": "c"},
		wantErr: "extends cycle: c -> d -> e -> c",
	},
	{
		name:    "self cycle",
		parents: map[string]string{"base": "", "x": "x"},
		wantErr: "extends cycle: x -> x",
	},
	{
		name:    "missing parent",
		parents: map[string]string{"base": "", "x": "base", "y": "x", "z": "y", "w": "nope"},
		wantErr: "profile w extends unknown profile nope",
	},
	{
		name:    "missing parent up the chain",
		parents: map[string]string{"a": "b", "b": "c", "c": "gone"},
		wantErr: "profile c extends unknown profile gone",
	},
}

func TestResolveExtends(t *testing.T) {
	for _, tt := range extendsTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveExtends(tt.parents)
			if tt.wantErr != "" {
				var ee *ExtendsError
				if err == nil || err.Error() != tt.wantErr || !errors.As(err, &ee) {
					t.Fatalf("err = %v, want *ExtendsError %q", err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("result = %v, want nil on error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestResolveExtendsErrorFields(t *testing.T) {
	_, err := ResolveExtends(map[string]string{"a": "b", "b": "a"})
	var ee *ExtendsError
	if !errors.As(err, &ee) || ee.Profile != "a" || !reflect.DeepEqual(ee.Cycle, []string{"a", "b", "a"}) {
		t.Errorf("cycle error = %#v", err)
	}
	_, err = ResolveExtends(map[string]string{"x": "y"})
	if !errors.As(err, &ee) || ee.Profile != "x" || ee.Parent != "y" || ee.Cycle != nil {
		t.Errorf("missing parent error = %#v", err)
	}
}

func TestResolveExtendsNoAliasing(t *testing.T) {
	got, err := ResolveExtends(map[string]string{"r": "", "a": "r", "b": "r"})
	if err != nil {
		t.Fatal(err)
	}
	got["a"][0] = "changed"
	if got["r"][0] != "r" || got["b"][0] != "r" {
		t.Errorf("chains share memory: %v", got)
	}
}
