package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// DefaultFile is read when no file is named and it exists.
const DefaultFile = "configs/idp.yaml"

// EnvPrefix starts every environment variable idp reads.
const EnvPrefix = "IDP"

// Sources says where Load reads from, beside the environment.
type Sources struct {
	// File is a YAML file to read. Empty: $IDP_CONFIG, else DefaultFile if
	// it exists, else defaults only.
	File string
	// Flags, when set, override file and environment for every flag that
	// was set on the command line (see BindFlags).
	Flags *pflag.FlagSet
	// Environ replaces os.Environ (tests). Nil: the process environment.
	Environ []string
}

// flagKeys maps the flags BindFlags defines to their keys.
var flagKeys = []struct{ flag, key, usage string }{
	{"http-addr", "http.addr", "listen address (host:port)"},
	{"database-url", "database.url", "PostgreSQL URL; empty: the embedded SQLite store"},
	{"sqlite-path", "database.sqlite_path", "embedded store file"},
	{"log-level", "log.level", "debug, info, warn or error"},
	{"log-format", "log.format", "text or json"},
	{"env", "env", "development or production"},
}

// BindFlags defines the command-line flags that override configuration
// keys. Their defaults are not set here: an unset flag leaves the file,
// environment and built-in defaults alone.
func BindFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "configuration file (default $IDP_CONFIG or "+DefaultFile+" if present)")
	for _, f := range flagKeys {
		fs.String(f.flag, "", f.usage+" (key "+f.key+")")
	}
}

// ConfigFileFlag returns the --config flag's value, if defined and set.
func ConfigFileFlag(fs *pflag.FlagSet) string {
	if fs == nil {
		return ""
	}
	if f := fs.Lookup("config"); f != nil {
		return f.Value.String()
	}
	return ""
}

// Load reads the configuration: defaults, then the file, then IDP_*
// environment variables, then flags. It reports every key it cannot decode
// (and every unknown key in the file) at once. It does not Validate.
func Load(src Sources) (Config, error) {
	l, err := load(src)
	return l.Config, err
}

// load is Load, also recording the file read and each key's origin.
func load(src Sources) (Loaded, error) {
	origins := map[string]Origin{}
	env := envMap(src.Environ)
	v := viper.New()
	leaves := leavesOf(reflect.TypeOf(Config{}), "")
	def := reflect.ValueOf(Default())
	for _, l := range leaves {
		v.SetDefault(l.key, fieldByIndex(def, l.index).Interface())
	}

	file := src.File
	if file == "" {
		file = ConfigFileFlag(src.Flags)
	}
	if file == "" {
		file = env["IDP_CONFIG"]
	}
	explicit := file != ""
	if file == "" {
		if _, err := os.Stat(DefaultFile); err == nil {
			file = DefaultFile
		}
	}
	var problems []string
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			if explicit || !errors.Is(err, os.ErrNotExist) {
				// YAML errors quote the offending value, which may be a
				// secret: keep the position and the reason only.
				msg := quotedValue.ReplaceAllString(err.Error(), "`…`")
				return Loaded{Config: Default()}, fmt.Errorf("read config file %s: %s", file, msg)
			}
			file = "" // the default file vanished between Stat and read
		}
		known := map[string]bool{}
		for _, l := range leaves {
			known[l.key] = true
		}
		for _, k := range v.AllKeys() {
			if !known[k] && v.InConfig(k) {
				problems = append(problems, fmt.Sprintf("%s: unknown key in %s", k, file))
			}
		}
	}

	// An IDP_* variable that names no key is almost always a typo or a
	// renamed key: refuse it rather than silently ignore it.
	knownEnv := map[string]bool{"IDP_CONFIG": true, "IDP_KEYS_ENCRYPTION_KEY": true}
	for _, l := range leaves {
		knownEnv[envName(l.key)] = true
	}
	for name := range env {
		if !knownEnv[name] && !strings.HasPrefix(name, "IDP_TEST_") {
			problems = append(problems, fmt.Sprintf("%s: unknown environment variable (keys map to IDP_<SECTION>_<KEY>, e.g. IDP_HTTP_ADDR)", name))
		}
	}
	slices.Sort(problems)

	var cfg Config
	out := reflect.ValueOf(&cfg).Elem()
	for _, l := range leaves {
		raw := v.Get(l.key)
		origin := Origin{Kind: OriginDefault}
		if file != "" && v.InConfig(l.key) {
			origin = Origin{Kind: OriginFile, Name: file}
		}
		if s, ok := env[envName(l.key)]; ok {
			raw = s
			origin = Origin{Kind: OriginEnv, Name: envName(l.key)}
		}
		if l.key == "keys.encryption_keys" {
			// The singular form is the one most deployments set.
			if s, ok := env["IDP_KEYS_ENCRYPTION_KEY"]; ok && s != "" {
				if _, both := env[envName(l.key)]; !both {
					raw = s
					origin = Origin{Kind: OriginEnv, Name: "IDP_KEYS_ENCRYPTION_KEY"}
				}
			}
		}
		if src.Flags != nil {
			for _, f := range flagKeys {
				if f.key == l.key {
					if fl := src.Flags.Lookup(f.flag); fl != nil && fl.Changed {
						raw = fl.Value.String()
						origin = Origin{Kind: OriginFlag, Name: "--" + f.flag}
					}
				}
			}
		}
		origins[l.key] = origin
		if err := decode(fieldByIndex(out, l.index), raw); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s: %v", l.key, quote(l.key, raw), err))
		}
	}
	loaded := Loaded{Config: cfg, File: file, Origins: origins}
	if len(problems) > 0 {
		return loaded, &Problems{List: problems}
	}
	return loaded, nil
}

// LoadValid loads and validates, reporting decoding and validation
// problems together (a key that could not be decoded is not validated).
func LoadValid(src Sources) (Config, error) {
	l, err := Resolve(src)
	return l.Config, err
}

// Resolve is LoadValid that also says where the configuration came from:
// the file read and each key's origin (for `idp config show`). On a
// *Problems error the Loaded is still filled in.
func Resolve(src Sources) (Loaded, error) {
	loaded, err := load(src)
	cfg := loaded.Config
	var p *Problems
	if err != nil && !errors.As(err, &p) {
		return loaded, err
	}
	verr := cfg.Validate()
	var vp *Problems
	if !errors.As(verr, &vp) {
		return loaded, err
	}
	if p == nil {
		return loaded, verr
	}
	failed := map[string]bool{}
	for _, line := range p.List {
		key, _, _ := strings.Cut(line, ":")
		failed[key] = true
	}
	for _, line := range vp.List {
		key, _, _ := strings.Cut(line, ":")
		if !failed[key] {
			p.List = append(p.List, line)
		}
	}
	return loaded, p
}

// envName is the environment variable of a key: http.addr → IDP_HTTP_ADDR.
func envName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// quotedValue matches what YAML error messages quote.
var quotedValue = regexp.MustCompile("`[^`]*`")

// Problems is every configuration problem found, one line each.
type Problems struct{ List []string }

func (p *Problems) Error() string {
	return "invalid configuration:\n  " + strings.Join(p.List, "\n  ")
}

// secretKeys are never echoed in problems.
var secretKeys = map[string]bool{"keys.encryption_keys": true, "database.url": true}

func quote(key string, raw any) string {
	if secretKeys[key] {
		return "(value hidden)"
	}
	return strconv.Quote(fmt.Sprint(raw))
}

type leaf struct {
	key   string
	index []int
	typ   reflect.Type
}

var durationType = reflect.TypeOf(time.Duration(0))

func leavesOf(t reflect.Type, prefix string) []leaf {
	var out []leaf
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := f.Tag.Get("mapstructure")
		if prefix != "" {
			key = prefix + "." + key
		}
		if f.Type.Kind() == reflect.Struct {
			for _, sub := range leavesOf(f.Type, key) {
				sub.index = append([]int{i}, sub.index...)
				out = append(out, sub)
			}
			continue
		}
		out = append(out, leaf{key: key, index: []int{i}, typ: f.Type})
	}
	return out
}

func fieldByIndex(v reflect.Value, index []int) reflect.Value {
	for _, i := range index {
		v = v.Field(i)
	}
	return v
}

// decode sets dst from a YAML value, an environment string or a flag.
func decode(dst reflect.Value, raw any) error {
	if dst.Type() == durationType {
		switch r := raw.(type) {
		case time.Duration:
			dst.SetInt(int64(r))
			return nil
		case string:
			d, err := time.ParseDuration(strings.TrimSpace(r))
			if err != nil {
				return errors.New("not a duration (examples: 300ms, 5m, 24h)")
			}
			dst.SetInt(int64(d))
			return nil
		case int, int64:
			if reflect.ValueOf(r).Int() == 0 {
				dst.SetInt(0)
				return nil
			}
		}
		return errors.New("not a duration (examples: 300ms, 5m, 24h)")
	}
	switch dst.Kind() {
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			return errors.New("not a string")
		}
		dst.SetString(s)
	case reflect.Bool:
		switch r := raw.(type) {
		case bool:
			dst.SetBool(r)
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(r))
			if err != nil {
				return errors.New("not a boolean (true or false)")
			}
			dst.SetBool(b)
		default:
			return errors.New("not a boolean (true or false)")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := toInt(raw, dst.Type().Bits())
		if err != nil {
			return err
		}
		dst.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := toInt(raw, 64)
		if err != nil {
			return err
		}
		if n < 0 || (dst.Type().Bits() < 64 && n >= 1<<dst.Type().Bits()) {
			return fmt.Errorf("out of range for a %d-bit unsigned integer", dst.Type().Bits())
		}
		dst.SetUint(uint64(n))
	case reflect.Slice:
		list, err := toStrings(raw)
		if err != nil {
			return err
		}
		dst.Set(reflect.ValueOf(list))
	default:
		return fmt.Errorf("unsupported type %s", dst.Type())
	}
	return nil
}

func toInt(raw any, bits int) (int64, error) {
	switch r := raw.(type) {
	case int:
		return checkBits(int64(r), bits)
	case int32:
		return int64(r), nil
	case int64:
		return checkBits(r, bits)
	case uint8:
		return int64(r), nil
	case uint32:
		return int64(r), nil
	case float64:
		if r == float64(int64(r)) {
			return checkBits(int64(r), bits)
		}
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(r), 10, 64)
		if err == nil {
			return checkBits(n, bits)
		}
	}
	return 0, errors.New("not an integer")
}

func checkBits(n int64, bits int) (int64, error) {
	if bits < 64 && (n >= 1<<(bits-1) || n < -(1<<(bits-1))) {
		return 0, fmt.Errorf("out of range for a %d-bit integer", bits)
	}
	return n, nil
}

// toStrings accepts a YAML list or a comma-separated string.
func toStrings(raw any) ([]string, error) {
	out := []string{}
	switch r := raw.(type) {
	case []string:
		for _, s := range r {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	case []any:
		for _, e := range r {
			s, ok := e.(string)
			if !ok {
				return nil, errors.New("not a list of strings")
			}
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	case string:
		for _, s := range strings.Split(r, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	case nil:
	default:
		return nil, errors.New("not a list of strings")
	}
	return out, nil
}

func envMap(environ []string) map[string]string {
	if environ == nil {
		environ = os.Environ()
	}
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, val, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix+"_") {
			m[k] = val
		}
	}
	return m
}
