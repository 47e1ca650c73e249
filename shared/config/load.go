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
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			return nodeError(path, n, "must be "+kindName(t.Kind()))
		}
		return nil
	}
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
