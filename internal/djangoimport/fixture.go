package djangoimport

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// DefaultModel is the tutorial app's user model, as dumpdata names it.
const DefaultModel = "djangojwtapp.user"

// fixtureSource reads `manage.py dumpdata djangojwtapp.User` output: a
// JSON array of {"model", "pk", "fields"} objects, decoded one object at a
// time. Objects of other models are skipped (and counted).
type fixtureSource struct {
	path, model string
	// Ignored counts objects of other models, after Rows.
	Ignored int64
}

// OpenFixture opens a dumpdata JSON file; model "" = DefaultModel.
func OpenFixture(path, model string) (Source, error) {
	if model == "" {
		model = DefaultModel
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--fixture: %w", err)
	}
	f.Close()
	return &fixtureSource{path: path, model: strings.ToLower(model)}, nil
}

func (s *fixtureSource) Describe() string { return "fixture " + s.path + " model " + s.model }

// Count is unknown without reading the file twice.
func (s *fixtureSource) Count(context.Context) (int64, error) { return -1, nil }

type fixtureObject struct {
	Model  string                     `json:"model"`
	PK     json.RawMessage            `json:"pk"`
	Fields map[string]json.RawMessage `json:"fields"`
}

func (s *fixtureSource) Rows(ctx context.Context, fn func(Row) error) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("--fixture: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(f, 1<<16))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return fmt.Errorf("%w: %s is not a dumpdata JSON array", ErrNotDjango, s.path)
	}
	for i := 0; dec.More(); i++ {
		if i%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		var obj fixtureObject
		if err := dec.Decode(&obj); err != nil {
			return fmt.Errorf("%s: object %d: %w", s.path, i+1, err)
		}
		if strings.ToLower(obj.Model) != s.model {
			s.Ignored++
			continue
		}
		r, err := fixtureRow(obj)
		if err != nil {
			return fmt.Errorf("%s: object %d (pk %s): %w", s.path, i+1, obj.PK, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	return nil
}

func fixtureRow(obj fixtureObject) (Row, error) {
	var r Row
	if err := json.Unmarshal(obj.PK, &r.ID); err != nil {
		return r, fmt.Errorf("pk: want an integer id: %w", err)
	}
	var missing []string
	for _, c := range requiredColumns[1:] { // id is the pk
		if _, ok := obj.Fields[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return r, fmt.Errorf("%w: missing fields %s", ErrNotDjango, strings.Join(missing, ", "))
	}
	var lastLogin, joined *string
	for name, dst := range map[string]any{
		"password": &r.Password, "last_login": &lastLogin, "is_superuser": &r.IsSuperuser, "email": &r.Email,
		"date_joined": &joined, "is_active": &r.IsActive, "is_staff": &r.IsStaff,
		"name": &r.Name, "is_admin": &r.IsAdmin, "first_name": &r.FirstName, "last_name": &r.LastName,
	} {
		raw, ok := obj.Fields[name]
		if !ok {
			continue // optional
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return r, fmt.Errorf("field %s: %w", name, err)
		}
	}
	var err error
	if lastLogin != nil {
		if r.LastLogin, err = parseDjangoTime(*lastLogin); err != nil {
			return r, fmt.Errorf("field last_login: %w", err)
		}
	}
	if joined == nil {
		return r, errors.New("field date_joined: null")
	}
	if r.DateJoined, err = parseDjangoTime(*joined); err != nil {
		return r, fmt.Errorf("field date_joined: %w", err)
	}
	return r, nil
}

func (s *fixtureSource) Close() error { return nil }
