package djangoimport

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/users"
)

// ConflictPolicy resolves emails that Django holds for several users (it
// compares case-sensitively; idp does not).
type ConflictPolicy string

// Check reports an unknown policy, naming the flag that sets it.
func (p ConflictPolicy) Check() error {
	switch p {
	case RefuseConflicts, KeepNewestLogin, KeepLowestID:
		return nil
	}
	return fmt.Errorf("--on-conflict %q: want keep-newest-login or keep-lowest-id", string(p))
}

const (
	// RefuseConflicts (the default) imports nothing while there are any.
	RefuseConflicts ConflictPolicy = ""
	// KeepNewestLogin keeps the user who logged in last (never-logged-in
	// users lose; ties go to the lowest id).
	KeepNewestLogin ConflictPolicy = "keep-newest-login"
	// KeepLowestID keeps the oldest account.
	KeepLowestID ConflictPolicy = "keep-lowest-id"
)

// Reasons a row is refused.
const (
	ReasonInvalidID       = "invalid_id"
	ReasonInvalidText     = "invalid_text" // not UTF-8, or a NUL byte
	ReasonInvalidDate     = "invalid_date" // date_joined missing or year 1
	ReasonInvalidEmail    = "invalid_email"
	ReasonNameTooLong     = "name_too_long"
	ReasonInvalidName     = "invalid_name"
	ReasonMalformedHash   = "malformed_hash"
	ReasonUnknownHash     = "unknown_hash"
	ReasonUnsupportedHash = "unsupported_hash"
	ReasonWeakHash        = "weak_hash"
	ReasonDuplicateID     = "duplicate_id"
	ReasonIDTaken         = "id_taken"
	ReasonEmailTaken      = "email_taken"
)

// Options control an import.
type Options struct {
	OnConflict ConflictPolicy
	// Update rewrites users imported before whose Django row changed.
	Update bool
	// DryRun does everything but write (the transaction is rolled back).
	DryRun bool
	// SkipInvalid imports the valid rows when some are refused, instead of
	// nothing.
	SkipInvalid bool
	// AllowWeakHashes imports md5/sha1/unsalted hashes (replaced at the
	// first login) instead of refusing their rows.
	AllowWeakHashes bool
	// BatchSize rows are staged at a time (default 5000).
	BatchSize int
	// Progress, if set, is called as the import advances.
	Progress func(Progress)
	// Now stamps password_changed_at of imported users (default time.Now).
	Now func() time.Time
}

// Progress is where an import is.
type Progress struct {
	Phase string // "reading", "checking", "applying", "committing"
	Read  int64
	Total int64 // -1 if unknown
}

// Refusal is a row that cannot be imported.
type Refusal struct {
	ID     int64  `json:"id"`
	Email  string `json:"email"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

// ConflictMember is one user of an email conflict.
type ConflictMember struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	LastLogin time.Time `json:"last_login,omitzero"`
}

// Conflict is a set of Django users whose emails idp considers the same.
type Conflict struct {
	Users []ConflictMember `json:"users"`
	// Kept is the id imported, 0 while unresolved.
	Kept int64 `json:"kept,omitempty"`
}

// Report says what an import did or, dry or blocked, would do.
type Report struct {
	Source string `json:"source"`
	DryRun bool   `json:"dry_run"`
	// Written: the import was committed.
	Written bool `json:"written"`
	// Blocked says why nothing was written ("" if it was, or for a dry run
	// that would succeed).
	Blocked string `json:"blocked,omitempty"`
	Read    int64  `json:"read"`
	// Imported are new accounts; Updated existing ones rewritten (with
	// Update); Unchanged existing ones already as in Django; NotUpdated
	// existing ones that differ but were left (no Update).
	Imported   int64 `json:"imported"`
	Updated    int64 `json:"updated"`
	Unchanged  int64 `json:"unchanged"`
	NotUpdated int64 `json:"not_updated"`
	// Skipped: refused rows left out (SkipInvalid) plus the losers of
	// resolved conflicts.
	Skipped   int64            `json:"skipped"`
	Refused   []Refusal        `json:"refused"`
	Conflicts []Conflict       `json:"conflicts"`
	Formats   map[string]int64 `json:"hash_formats"`
	Elapsed   time.Duration    `json:"elapsed_ns"`
}

// RefusedByReason counts the refusals by reason.
func (r *Report) RefusedByReason() map[string]int {
	m := map[string]int{}
	for _, x := range r.Refused {
		m[x.Reason]++
	}
	return m
}

// ErrBlocked: refused rows or unresolved conflicts stopped the import;
// nothing was written. The Report lists them.
var ErrBlocked = errors.New("import blocked")

// Import reads every user of src, checks them, and writes them to store in
// one transaction. It returns the report and, when nothing was written
// because of the rows, an error wrapping ErrBlocked (for a dry run: when
// a real import would be blocked).
func Import(ctx context.Context, src Source, store storage.UserImports, opts Options) (*Report, error) {
	start := time.Now()
	if opts.BatchSize <= 0 {
		opts.BatchSize = 5000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := opts.OnConflict.Check(); err != nil {
		return nil, err
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(Progress) {}
	}
	rep := &Report{Source: src.Describe(), DryRun: opts.DryRun, Refused: []Refusal{}, Conflicts: []Conflict{}, Formats: map[string]int64{}}
	total, err := src.Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("count users: %w", err)
	}

	im, err := store.BeginUserImport(ctx)
	if err != nil {
		return nil, err
	}
	defer im.Rollback(ctx)

	now := opts.Now()
	batch := make([]storage.User, 0, opts.BatchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := im.Stage(ctx, batch); err != nil {
			return err
		}
		batch = batch[:0]
		progress(Progress{Phase: "reading", Read: rep.Read, Total: total})
		return nil
	}
	progress(Progress{Phase: "reading", Total: total})
	err = src.Rows(ctx, func(r Row) error {
		rep.Read++
		u, format, refusal := convert(r, now, opts.AllowWeakHashes)
		if refusal != nil {
			rep.Refused = append(rep.Refused, *refusal)
			return nil
		}
		rep.Formats[format]++
		batch = append(batch, u)
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return nil, err
	}

	progress(Progress{Phase: "checking", Read: rep.Read, Total: total})
	clashes, err := im.Clashes(ctx)
	if err != nil {
		return nil, err
	}
	drop, losers := resolve(clashes, opts, rep)
	refused := len(rep.Refused) > 0 && !opts.SkipInvalid
	unresolved := slices.ContainsFunc(rep.Conflicts, func(c Conflict) bool { return c.Kept == 0 })
	switch {
	case refused && unresolved:
		rep.Blocked = fmt.Sprintf("%d rows refused and %d email conflicts unresolved", len(rep.Refused), countUnresolved(rep))
	case refused:
		rep.Blocked = fmt.Sprintf("%d rows refused (--skip-invalid imports the rest)", len(rep.Refused))
	case unresolved:
		rep.Blocked = fmt.Sprintf("%d email conflicts unresolved (--on-conflict=keep-newest-login|keep-lowest-id)", countUnresolved(rep))
	}
	if rep.Blocked != "" && !opts.DryRun {
		rep.Elapsed = time.Since(start)
		return rep, fmt.Errorf("%w: %s; nothing written", ErrBlocked, rep.Blocked)
	}
	if err := im.Drop(ctx, drop); err != nil {
		return nil, err
	}
	rep.Skipped = int64(losers)
	if opts.SkipInvalid {
		rep.Skipped += int64(len(rep.Refused))
	}

	progress(Progress{Phase: "applying", Read: rep.Read, Total: total})
	res, err := im.Apply(ctx, opts.Update, opts.DryRun)
	if err != nil {
		return nil, err
	}
	rep.Imported = res.Inserted
	rep.Unchanged = res.Existing - res.Changed
	if opts.Update {
		rep.Updated = res.Changed
	} else {
		rep.NotUpdated = res.Changed
	}
	if !opts.DryRun {
		progress(Progress{Phase: "committing", Read: rep.Read, Total: total})
		if err := im.Commit(ctx); err != nil {
			return nil, err
		}
		rep.Written = true
	}
	rep.Elapsed = time.Since(start)
	if rep.Blocked != "" {
		return rep, fmt.Errorf("%w: %s", ErrBlocked, rep.Blocked)
	}
	return rep, nil
}

func countUnresolved(rep *Report) int {
	n := 0
	for _, c := range rep.Conflicts {
		if c.Kept == 0 {
			n++
		}
	}
	return n
}

// convert checks one Django row and makes it an idp user, or says why not.
func convert(r Row, now time.Time, allowWeak bool) (storage.User, string, *Refusal) {
	refuse := func(reason, detail string) (storage.User, string, *Refusal) {
		return storage.User{}, "", &Refusal{ID: r.ID, Email: printable(r.Email), Reason: reason, Detail: detail}
	}
	if r.ID <= 0 {
		return refuse(ReasonInvalidID, fmt.Sprintf("id %d: idp ids are positive", r.ID))
	}
	if r.DateJoined.IsZero() {
		return refuse(ReasonInvalidDate, "date_joined is not set")
	}
	for field, v := range map[string]string{"email": r.Email, "name": r.Name, "first_name": r.FirstName, "last_name": r.LastName, "password": r.Password} {
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			return refuse(ReasonInvalidText, field+" is not valid UTF-8 or holds a NUL byte")
		}
	}
	name := r.Name
	if name == "" { // Django's get_full_name
		name = strings.TrimSpace(r.FirstName + " " + r.LastName)
	}
	acct, ve := users.CheckImported(users.ImportedAccount{Email: r.Email, Name: name})
	if ve != nil {
		switch {
		case ve.Has(users.FieldEmail):
			return refuse(ReasonInvalidEmail, "email: "+strings.Join(ve.Messages(users.FieldEmail), " "))
		case slices.Contains(ve.Messages(users.FieldName), users.MsgMaxLength100):
			return refuse(ReasonNameTooLong, fmt.Sprintf("name has %d characters, idp allows 100", utf8.RuneCountInString(users.Strip(name))))
		default:
			return refuse(ReasonInvalidName, "name: "+strings.Join(ve.Messages(users.FieldName), " "))
		}
	}
	f, err := users.IdentifyHash(r.Password)
	switch {
	case errors.Is(err, users.ErrMalformedHash):
		return refuse(ReasonMalformedHash, err.Error())
	case errors.Is(err, users.ErrUnsupportedHash):
		return refuse(ReasonUnsupportedHash, err.Error())
	case err != nil:
		return refuse(ReasonUnknownHash, err.Error())
	case f.Weak && !allowWeak:
		return refuse(ReasonWeakHash, f.Algorithm+" (--allow-weak-hashes imports it; replaced at the first login)")
	}
	return storage.User{
		ID: r.ID, Email: acct.Email, Name: acct.Name, PasswordHash: r.Password,
		IsActive: r.IsActive, IsStaff: r.IsStaff, IsSuperuser: r.IsSuperuser, IsAdmin: r.IsAdmin,
		DateJoined: r.DateJoined, LastLogin: r.LastLogin, PasswordChangedAt: now,
	}, f.Algorithm, nil
}

// printable keeps a refused email readable in reports.
func printable(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", `\0`), "\uFFFD")
	if utf8.RuneCountInString(s) > 120 {
		s = string([]rune(s)[:120]) + "…"
	}
	return s
}

// resolve turns the store's clashes into refusals and conflicts, and
// returns the staged ids to drop — every clashing row except each resolved
// conflict's keeper — and how many conflict losers there are. A keeper
// that also clashes otherwise (its email taken in idp, say) is refused
// like any other row.
func resolve(clashes []storage.ImportClash, opts Options, rep *Report) ([]int64, int) {
	losers := 0
	var drop []int64
	groups := map[string][]storage.ImportClash{}
	var order []string
	for _, c := range clashes {
		switch c.Kind {
		case storage.ClashEmail:
			k := storage.EmailKey(c.Email)
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], c)
		case storage.ClashDuplicateID:
			rep.Refused = append(rep.Refused, Refusal{ID: c.ID, Email: c.Email, Reason: ReasonDuplicateID, Detail: "the source holds this id more than once"})
			drop = append(drop, c.ID)
		case storage.ClashIDTaken:
			rep.Refused = append(rep.Refused, Refusal{ID: c.ID, Email: c.Email, Reason: ReasonIDTaken,
				Detail: fmt.Sprintf("idp already has user %d with email %s", c.ExistingID, c.ExistingEmail)})
			drop = append(drop, c.ID)
		case storage.ClashEmailTaken:
			rep.Refused = append(rep.Refused, Refusal{ID: c.ID, Email: c.Email, Reason: ReasonEmailTaken,
				Detail: fmt.Sprintf("idp already has this email as user %d (%s)", c.ExistingID, c.ExistingEmail)})
			drop = append(drop, c.ID)
		}
	}
	refusedIDs := map[int64]bool{}
	for _, id := range drop {
		refusedIDs[id] = true
	}
	for _, k := range order {
		g := groups[k]
		conf := Conflict{}
		for _, c := range g {
			conf.Users = append(conf.Users, ConflictMember{ID: c.ID, Email: c.Email, LastLogin: c.LastLogin})
		}
		slices.SortFunc(conf.Users, func(a, b ConflictMember) int { return int(a.ID - b.ID) })
		switch opts.OnConflict {
		case KeepLowestID:
			conf.Kept = conf.Users[0].ID
		case KeepNewestLogin:
			best := conf.Users[0]
			for _, m := range conf.Users[1:] {
				if m.LastLogin.After(best.LastLogin) {
					best = m
				}
			}
			conf.Kept = best.ID
		}
		for _, m := range conf.Users {
			if m.ID != conf.Kept {
				drop = append(drop, m.ID)
				if conf.Kept != 0 && !refusedIDs[m.ID] { // a refused loser counts once
					losers++
				}
			}
		}
		rep.Conflicts = append(rep.Conflicts, conf)
	}
	slices.Sort(drop)
	return slices.Compact(drop), losers
}
