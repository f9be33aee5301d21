package config

import (
	"errors"
	"reflect"
	"sort"

	"github.com/relayd/relayd/policy"
)

// secretGroups are keys that are one setting: a profile that sets any of a
// group inherits none of it, so `password_env` in a child replaces the
// parent's `password_file` instead of conflicting with it.
var secretGroups = [][]string{
	{"password", "password_file", "password_env"},
	{"client_secret", "client_secret_file", "client_secret_env"},
}

// resolveExtends makes every profile inherit, from the profile its `extends`
// names (recursively), each key it does not set itself. It runs before
// setDefaults, so an inherited value beats a default. Unknown parents and
// cycles are reported at the `extends` key; such profiles inherit nothing.
func resolveExtends(f *File, p *problems) {
	byName := map[string]*ProfileTable{}
	for i := range f.Profiles {
		pr := &f.Profiles[i]
		if _, dup := byName[pr.Name]; pr.Name != "" && !dup {
			byName[pr.Name] = pr
		}
	}
	parents := map[string]string{}
	for name, pr := range byName {
		parents[name] = pr.Extends
		if pr.Extends == "" {
			continue
		}
		if _, ok := byName[pr.Extends]; !ok {
			p.err(&pr.tableMeta, "extends", "no profile is named %q", pr.Extends)
			parents[name] = ""
		}
	}
	chains, err := policy.ResolveExtends(parents)
	if err != nil {
		var ee *policy.ExtendsError
		if errors.As(err, &ee) && byName[ee.Profile] != nil {
			p.err(&byName[ee.Profile].tableMeta, "extends", "%v", err)
		} else {
			p.errAt("profile", "extends", "%v", err)
		}
		return
	}
	names := make([]string, 0, len(chains))
	for n := range chains {
		names = append(names, n)
	}
	// Parents first: a shorter chain is never a descendant of a longer one.
	sort.Slice(names, func(i, j int) bool {
		if len(chains[names[i]]) != len(chains[names[j]]) {
			return len(chains[names[i]]) < len(chains[names[j]])
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		child := byName[n]
		child.chain = chains[n]
		if len(child.chain) > 1 {
			parent := byName[child.chain[len(child.chain)-2]]
			inherit(reflect.ValueOf(child).Elem(), reflect.ValueOf(parent).Elem())
		}
	}
}

// inherit copies into the table dst every key src has and dst does not set,
// merging nested tables key by key.
func inherit(dst, src reflect.Value) {
	dm := dst.Addr().Interface().(metaHolder).meta()
	sm := src.Addr().Interface().(metaHolder).meta()
	skip := map[string]bool{"name": true, "extends": true}
	for _, g := range secretGroups {
		for _, k := range g {
			if dm.set[k] {
				for _, k2 := range g {
					skip[k2] = true
				}
			}
		}
	}
	for tag, i := range tomlFields(dst.Type()) {
		if skip[tag] || !sm.set[tag] {
			continue
		}
		dv, sv := dst.Field(i), src.Field(i)
		if sv.Kind() == reflect.Pointer && (sv.IsNil() || dm.set[tag] && dv.IsNil()) {
			continue // a table that failed to decode
		}
		if sv.Kind() == reflect.Pointer && isTable(sv.Type().Elem()) && dm.set[tag] {
			inherit(dv.Elem(), sv.Elem()) // both set the table: merge key by key
			continue
		}
		if dm.set[tag] {
			continue
		}
		if sv.Kind() == reflect.Pointer && isTable(sv.Type().Elem()) {
			dv.Set(reflect.New(sv.Type().Elem()))
			nm := dv.Interface().(metaHolder).meta()
			nm.path = sv.Interface().(metaHolder).meta().path
			nm.set = map[string]bool{}
			inherit(dv.Elem(), sv.Elem())
		} else {
			dv.Set(cloneValue(sv))
		}
		dm.set[tag] = true
		if dm.inherited == nil {
			dm.inherited = map[string]string{}
		}
		origin := sm.path
		if o, ok := sm.inherited[tag]; ok {
			origin = o
		}
		dm.inherited[tag] = origin
	}
}

// cloneValue copies slices so that parent and child share no memory.
func cloneValue(v reflect.Value) reflect.Value {
	if v.Kind() != reflect.Slice || v.IsNil() {
		return v
	}
	c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
	reflect.Copy(c, v)
	return c
}
