package config

import (
	"fmt"
	"net/url"
	"reflect"
	"time"
)

// Origin kinds: where a key's value came from.
const (
	OriginDefault = "default"
	OriginFile    = "file"
	OriginEnv     = "env"
	OriginFlag    = "flag"
)

// Origin is where one key's value came from.
type Origin struct {
	// Kind is OriginDefault, OriginFile, OriginEnv or OriginFlag.
	Kind string
	// Name is the file's path, the environment variable or the flag
	// ("--http-addr"); empty for a default.
	Name string
}

func (o Origin) String() string {
	if o.Name == "" {
		return o.Kind
	}
	return o.Kind + " " + o.Name
}

// Loaded is a configuration with where it came from.
type Loaded struct {
	Config
	// File is the configuration file read; empty when none was.
	File string
	// Origins maps every key (http.addr) to where its value came from.
	Origins map[string]Origin
}

// IsDefault reports whether key kept its built-in default (no file,
// variable or flag set it).
func (l Loaded) IsDefault(key string) bool {
	o, ok := l.Origins[key]
	return !ok || o.Kind == OriginDefault
}

// Setting is one key of the effective configuration, for display.
type Setting struct {
	Key string `json:"key"`
	// Value is the effective value as the YAML file would spell it
	// (durations as "5m0s"), secrets redacted.
	Value any `json:"value"`
	// Source is "default", "file PATH", "env NAME" or "flag --NAME".
	Source string `json:"source"`
}

// Redacted stands for a secret's value.
const Redacted = "(redacted)"

// Settings lists every key in file order with its value and origin.
// Secrets are redacted: each key-encryption key entirely, the database
// URL's password.
func (l Loaded) Settings() []Setting {
	v := reflect.ValueOf(l.Config)
	var out []Setting
	for _, lf := range leavesOf(reflect.TypeOf(Config{}), "") {
		out = append(out, Setting{
			Key:    lf.key,
			Value:  displayValue(lf.key, fieldByIndex(v, lf.index).Interface()),
			Source: l.Origins[lf.key].String(),
		})
	}
	return out
}

func displayValue(key string, val any) any {
	switch key {
	case "keys.encryption_keys":
		list := val.([]string)
		out := make([]string, len(list))
		for i := range list {
			out[i] = Redacted
		}
		return out
	case "database.url":
		s := val.(string)
		if s == "" {
			return s
		}
		u, err := url.Parse(s)
		if err != nil {
			return Redacted
		}
		return u.Redacted()
	}
	switch x := val.(type) {
	case time.Duration:
		return x.String()
	case []string:
		if x == nil {
			return []string{}
		}
	}
	return val
}

// Text renders a setting's value on one line.
func (s Setting) Text() string {
	switch x := s.Value.(type) {
	case string:
		if x == "" {
			return `""`
		}
		return x
	case []string:
		return fmt.Sprintf("%q", x)
	}
	return fmt.Sprint(s.Value)
}
