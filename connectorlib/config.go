package connectorlib

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/kelseyhightower/envconfig"
)

// EnvPrefix prefixes every environment variable sfconnect reads. A prefix
// keeps Kubernetes' injected service variables (KAFKA_PORT=tcp://...) from
// ever being mistaken for configuration.
const EnvPrefix = "SFCONNECT"

// ConfigError lists every problem found in the configuration, each naming
// its environment variable. Commands exit with code 2 on a ConfigError.
type ConfigError struct {
	Problems []error
}

// Error implements error: one problem per line.
func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return "invalid configuration:\n  " + strings.Join(lines, "\n  ")
}

// Unwrap returns the individual problems.
func (e *ConfigError) Unwrap() []error { return e.Problems }

// Validator is implemented by configuration structs with cross-field rules.
// Validate returns every problem at once (errors.Join), each naming its
// variable.
type Validator interface {
	Validate() error
}

// LoadEnv fills each of load (pointers to structs tagged for
// github.com/kelseyhightower/envconfig) from the environment, with every
// tag name prefixed by EnvPrefix. Nested structs without an envconfig tag
// are walked. After loading, each spec implementing Validator is validated.
//
// Unlike a plain envconfig.Process it collects every problem instead of
// stopping at the first, rejects SFCONNECT_* variables that no spec of the
// binary reads (a typo must not silently fall back to a default; known
// lists the specs of the binary's other commands, whose variables a shared
// ConfigMap may also set), and never echoes the value of a field tagged
// secret:"true". It returns nil or a *ConfigError.
func LoadEnv(load []any, known ...any) error {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	knownNames := map[string]bool{}
	for _, v := range EnvVars(known...) {
		knownNames[v.Name] = true
	}
	var problems []error
	for _, spec := range load {
		rv := reflect.ValueOf(spec)
		if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
			problems = append(problems, fmt.Errorf("load configuration: %T is not a pointer to a struct", spec))
			continue
		}
		problems = append(problems, loadStruct(env, knownNames, rv.Elem())...)
	}
	var unknown []string
	for k := range env {
		if strings.HasPrefix(k, EnvPrefix+"_") && !knownNames[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		problems = append(problems, fmt.Errorf("%s: unknown variable (check the spelling)", k))
	}
	// Cross-field rules run even when some variable failed to load, so
	// every problem is reported at once; a rule's complaint about a variable
	// that already failed to load would only repeat it and is dropped.
	failed := map[string]bool{}
	for _, p := range problems {
		name, _, _ := strings.Cut(p.Error(), ":")
		failed[name] = true
	}
	for _, spec := range load {
		v, ok := spec.(Validator)
		if !ok {
			continue
		}
		if err := v.Validate(); err != nil {
			for _, p := range flatten(err) {
				if name, _, _ := strings.Cut(p.Error(), ":"); !failed[name] {
					problems = append(problems, p)
				}
			}
		}
	}
	if len(problems) > 0 {
		return &ConfigError{Problems: problems}
	}
	return nil
}

// flatten splits an errors.Join tree into its leaves.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// EnvVar describes one configuration variable, for generated reference
// documentation.
type EnvVar struct {
	Name     string
	Type     string
	Default  string
	Required bool
	Secret   bool
	Desc     string
}

// EnvVars lists the variables the given specs read, in declaration order.
func EnvVars(specs ...any) []EnvVar {
	var out []EnvVar
	for _, spec := range specs {
		walkFields(reflect.ValueOf(spec).Elem(), func(f reflect.StructField, _ reflect.Value, name string) {
			out = append(out, EnvVar{
				Name:     name,
				Type:     typeName(f.Type),
				Default:  f.Tag.Get("default"),
				Required: f.Tag.Get("required") == "true",
				Secret:   f.Tag.Get("secret") == "true",
				Desc:     f.Tag.Get("desc"),
			})
		})
	}
	return out
}

func typeName(t reflect.Type) string {
	switch {
	case t.String() == "time.Duration":
		return "duration"
	case t.Kind() == reflect.Slice:
		return "list of " + typeName(t.Elem())
	}
	return t.Kind().String()
}

// walkFields calls fn for every leaf field of v that carries an envconfig
// tag, with its full variable name.
func walkFields(v reflect.Value, fn func(f reflect.StructField, fv reflect.Value, name string)) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Tag.Get("ignored") == "true" {
			continue
		}
		tag := f.Tag.Get("envconfig")
		if tag == "" && f.Type.Kind() == reflect.Struct {
			walkFields(v.Field(i), fn)
			continue
		}
		if tag == "" {
			continue
		}
		fn(f, v.Field(i), EnvPrefix+"_"+strings.ToUpper(tag))
	}
}

// loadStruct loads each leaf field through envconfig on its own, so that one
// bad variable does not hide the next.
func loadStruct(env map[string]string, known map[string]bool, v reflect.Value) []error {
	var problems []error
	walkFields(v, func(f reflect.StructField, fv reflect.Value, name string) {
		known[name] = true
		// A one-field struct whose tag carries the full name: envconfig then
		// looks up exactly that name (no unprefixed fallback).
		tag := strings.Replace(string(f.Tag), `envconfig:"`+f.Tag.Get("envconfig")+`"`, `envconfig:"`+name+`"`, 1)
		single := reflect.New(reflect.StructOf([]reflect.StructField{{
			Name: f.Name, Type: f.Type, Tag: reflect.StructTag(tag),
		}}))
		if err := envconfig.Process("", single.Interface()); err != nil {
			problems = append(problems, describeEnvError(name, f, env, err))
			return
		}
		fv.Set(single.Elem().Field(0))
	})
	return problems
}

func describeEnvError(name string, f reflect.StructField, env map[string]string, err error) error {
	var pe *envconfig.ParseError
	if errors.As(err, &pe) {
		if f.Tag.Get("secret") == "true" {
			return fmt.Errorf("%s: not a valid %s", name, typeName(f.Type))
		}
		return fmt.Errorf("%s: not a valid %s: %q", name, typeName(f.Type), env[name])
	}
	if _, set := env[name]; !set && f.Tag.Get("required") == "true" {
		return fmt.Errorf("%s: required but not set", name)
	}
	return fmt.Errorf("%s: %w", name, err)
}
