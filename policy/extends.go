package policy

import (
	"slices"
	"strings"
)

// ExtendsError is ResolveExtends' error: a profile whose `extends` names a
// profile that does not exist, or a cycle of `extends`. Profile is the name
// whose extends key the config loader should point at (with its line).
type ExtendsError struct {
	Profile string   // the profile whose extends is wrong
	Parent  string   // the unknown parent; "" for a cycle
	Cycle   []string // the cycle, its first name repeated at the end; nil for an unknown parent
}

// Error implements error: "extends cycle: a -> b -> a" or
// "profile x extends unknown profile y".
func (e *ExtendsError) Error() string {
	if e.Cycle != nil {
		return "extends cycle: " + strings.Join(e.Cycle, " -> ")
	}
	return "profile " + e.Profile + " extends unknown profile " + e.Parent
}

// ResolveExtends resolves profile inheritance for the config loader. parents
// maps every profile name to the name it extends ("" for none). For each name
// it returns the chain from its root ancestor down to itself (a profile that
// extends nothing gets a one-element chain), so the loader can apply values
// root first and let each descendant override them.
//
// A parent that is not a key of parents, or a cycle (a profile extending
// itself included), is an *ExtendsError. Names are examined in sorted order,
// so the error reported for a broken config is always the same one. Every
// name is walked once; the chains returned share no memory.
func ResolveExtends(parents map[string]string) (map[string][]string, error) {
	names := make([]string, 0, len(parents))
	for n := range parents {
		names = append(names, n)
	}
	slices.Sort(names)
	chains := make(map[string][]string, len(parents))
	for _, n := range names {
		if err := resolveOne(n, parents, chains); err != nil {
			return nil, err
		}
	}
	return chains, nil
}

// resolveOne walks up from name until it reaches a root or a name whose chain
// is already known, then fills in the chains of every name on the way.
func resolveOne(name string, parents map[string]string, chains map[string][]string) error {
	var path []string // name, its parent, its grandparent, ...
	onPath := map[string]int{}
	var base []string // the chain of the first already-resolved ancestor
	for cur := name; ; {
		if c, ok := chains[cur]; ok {
			base = c
			break
		}
		if i, ok := onPath[cur]; ok {
			cycle := slices.Clone(path[i:])
			return &ExtendsError{Profile: cur, Cycle: append(cycle, cur)}
		}
		onPath[cur] = len(path)
		path = append(path, cur)
		parent := parents[cur]
		if parent == "" {
			break
		}
		if _, ok := parents[parent]; !ok {
			return &ExtendsError{Profile: cur, Parent: parent}
		}
		cur = parent
	}
	for i := len(path) - 1; i >= 0; i-- {
		chain := make([]string, len(base), len(base)+1)
		copy(chain, base)
		chain = append(chain, path[i])
		chains[path[i]] = chain
		base = chain
	}
	return nil
}
