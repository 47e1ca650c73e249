package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads the configuration file at path (YAML or JSON), then parses and validates it like Parse.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes one YAML document (JSON is YAML, so JSON works too) and validates it. It returns the
// configuration as written; Validate returns its resolved form, with the defaults applied.
// Unknown keys, values of the wrong type and duplicate keys are errors naming the field path and line,
// e.g. `sets[0].endpoints[1].signing.encodng: unknown field (line 9)`.
func Parse(data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("config is empty")
		}
		return nil, fmt.Errorf("parse config: %w", err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return nil, errors.New("parse config: more than one YAML document")
	}
	if err := checkAliases(doc.Content[0]); err != nil {
		return nil, err
	}
	if err := checkNode(doc.Content[0], reflect.TypeFor[Config](), ""); err != nil {
		return nil, err
	}

	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	var cfg Config
	if err := strict.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("decode config: %w", err)
	}
	if _, err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// MaxAliasExpansion bounds the YAML nodes that a configuration's aliases and merge keys may add to it: nested
// aliases grow exponentially (a "billion laughs" file of a few hundred bytes would take hours to walk),
// while real uses (a shared retry or signing block) add a few nodes per endpoint.
const MaxAliasExpansion = 100_000

// checkAliases refuses a document whose aliases expand it by more than MaxAliasExpansion nodes, before
// anything walks the expansion. It sizes each node once, so it takes time linear in the file.
func checkAliases(root *yaml.Node) error {
	const saturated = 1 << 50 // sums of two sizes stay far from overflowing
	sizes := map[*yaml.Node]int{}
	var size func(n *yaml.Node) int
	size = func(n *yaml.Node) int {
		if s, ok := sizes[n]; ok {
			return s
		}
		sizes[n] = saturated // an alias back into its own anchor (which the parser refuses anyway)
		s := 1
		if n.Kind == yaml.AliasNode {
			s = size(n.Alias)
		}
		for _, c := range n.Content {
			s = min(s+size(c), saturated)
		}
		sizes[n] = s
		return s
	}
	if added := size(root) - len(sizes); added > MaxAliasExpansion {
		return fmt.Errorf("parse config: its aliases and merge keys expand it by more than %d YAML nodes; "+
			"write the repeated parts out or use fewer levels of aliases", MaxAliasExpansion)
	}
	return nil
}

// checkNode walks a YAML node against the Go type it will be decoded into, so that unknown keys, duplicate
// keys and ill-typed values are reported with the path of the field rather than only a line number.
func checkNode(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nodeError(path, n, "must be a mapping")
		}
		var errs []error
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			if key.Tag == "!!merge" {
				errs = append(errs, checkMerge(val, t, path))
				continue
			}
			p := join(path, key.Value)
			if line, dup := seen[key.Value]; dup {
				errs = append(errs, nodeError(p, key, fmt.Sprintf("duplicate key, first at line %d", line)))
				continue
			}
			seen[key.Value] = key.Line
			field, ok := fieldByTag(t, key.Value)
			if !ok {
				errs = append(errs, nodeError(p, key, "unknown field"))
				continue
			}
			if err := checkNode(val, field.Type, p); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return nodeError(path, n, "must be a list")
		}
		var errs []error
		for i, item := range n.Content {
			if err := checkNode(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	default:
		if n.Kind != yaml.ScalarNode {
			return nodeError(path, n, "must be a single value")
		}
		if t.Kind() == reflect.Bool && !isBool(n) {
			return nodeError(path, n, fmt.Sprintf("must be true or false, not %q", n.Value))
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			return nodeError(path, n, "must be "+kindName(t.Kind()))
		}
		return nil
	}
}

// isBool reports whether n is a YAML boolean: true or false (YAML 1.2), unquoted. The YAML 1.1 words that the
// decoder would also read into a bool (yes, no, on, off, y, n) and quoted strings are not.
func isBool(n *yaml.Node) bool {
	return n.ShortTag() == "!!bool" && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 &&
		(strings.EqualFold(n.Value, "true") || strings.EqualFold(n.Value, "false"))
}

// checkMerge checks the mappings merged into a struct's mapping by a `<<` key: one mapping or a list of them.
func checkMerge(val *yaml.Node, t reflect.Type, path string) error {
	if val.Kind == yaml.AliasNode {
		val = val.Alias
	}
	if val.Kind != yaml.SequenceNode {
		return checkNode(val, t, path)
	}
	var errs []error
	for _, m := range val.Content {
		errs = append(errs, checkNode(m, t, path))
	}
	return errors.Join(errs...)
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	default:
		return "a string"
	}
}

func nodeError(path string, n *yaml.Node, msg string) error {
	if path == "" {
		path = "(top level)"
	}
	return &FieldError{Path: path, Message: fmt.Sprintf("%s (line %d)", msg, n.Line)}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
