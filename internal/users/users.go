package users

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/users/argon2"
)

var (
	// ErrInvalidCredentials: unknown email, wrong password or inactive
	// user. The three are indistinguishable, in the answer and in time.
	ErrInvalidCredentials = errors.New("users: invalid credentials")

	// The manager's ValueErrors (Django's create_user/create_superuser),
	// worded as there.
	ErrEmailRequired            = errors.New("The Email must be set")
	ErrSuperuserMustBeStaff     = errors.New("Superuser must have is_staff=True.")
	ErrSuperuserMustBeSuperuser = errors.New("Superuser must have is_superuser=True.")
)

// Field limits of the tutorial's model and serializer.
const (
	maxNameLength     = 100
	maxEmailFieldLen  = 100
	maxPasswordLength = 128
)

// Options configure a Service.
type Options struct {
	Store storage.Users
	// Argon2 are the parameters of new hashes; zero fields → OWASP's
	// minimum, m=19456 KiB, t=2, p=1.
	Argon2 Argon2Params
	// MinPasswordLength is MinimumLengthValidator's min_length; zero → 8.
	MinPasswordLength int
	// Now is the clock; nil → time.Now.
	Now func() time.Time
	// Logger; nil → discard. Passwords and hashes are never logged.
	Logger *slog.Logger

	// Families, if set, has the user's refresh-token families revoked when
	// SetPassword changes the password or SetActive deactivates the user.
	// Nil leaves that to the caller.
	Families storage.Families
	// Audit, if set, records password changes, deactivations, deletions
	// and the sessions they revoke.
	Audit storage.Audit
	// MaxConcurrentHashes is the number of hashing workers: how many
	// password hashes (each needs Argon2.MemoryKiB of memory and a core for
	// tens of milliseconds) run at once, on threads of lowered priority
	// (Linux); the rest wait their turn, at most MaxHashWait. Zero →
	// DefaultConcurrentHashes.
	MaxConcurrentHashes int
	// MaxHashWait bounds the wait for a hashing worker: past it the call
	// fails with ErrBusy instead of queueing without bound. Zero →
	// DefaultHashWait.
	MaxHashWait time.Duration
	// ObserveHashWait, if set, is told how long each password hash or
	// verification waited for its slot (metrics).
	ObserveHashWait func(time.Duration)
}

// DefaultConcurrentHashes is one hashing worker per CPU the process had at
// start (GOMAXPROCS then: the CPU count, a container's CPU limit, or the
// operator's GOMAXPROCS). The workers' threads run at a lower priority, so
// they take only the CPU that requests leave (docs/performance.md).
func DefaultConcurrentHashes() int { return startProcs }

// startProcs is GOMAXPROCS at start, before serve raises it by the
// hashing workers.
var startProcs = max(1, runtime.GOMAXPROCS(0))

// DefaultHashWait is the default MaxHashWait: 64 logins at once queue for
// 64 hashes, which take 1.3–2.2 s on two busy cores at 30–50 hashes/s
// (measured); 3 s leaves room for that without queueing for long.
const DefaultHashWait = 3 * time.Second

// ErrBusy: no hashing worker took the hash within MaxHashWait. Answer 503
// with Retry-After; nothing was changed.
var ErrBusy = errors.New("users: too many password hashes in progress")

// Service is the accounts core shared by the HTTP API and the CLI.
type Service struct {
	store       storage.Users
	families    storage.Families
	audit       storage.Audit
	hasher      *Hasher
	policy      passwordPolicy
	now         func() time.Time
	log         *slog.Logger
	hashing     *hashPool
	hashWait    time.Duration
	observeWait func(time.Duration)
	// dummyHash is verified against when the email is unknown, so that
	// the answer takes as long as for a known user.
	dummyHash string
}

// New checks opts, loads the common-password list and precomputes the
// dummy hash used for unknown users.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("users: no store")
	}
	if opts.MinPasswordLength < 0 {
		return nil, fmt.Errorf("users: min password length %d is negative", opts.MinPasswordLength)
	}
	if opts.MinPasswordLength > maxPasswordLength {
		return nil, fmt.Errorf("users: min password length %d exceeds the maximum of %d", opts.MinPasswordLength, maxPasswordLength)
	}
	if opts.MaxConcurrentHashes < 0 {
		return nil, fmt.Errorf("users: max concurrent hashes %d is negative", opts.MaxConcurrentHashes)
	}
	common, err := commonPasswords()
	if err != nil {
		return nil, err
	}
	s := &Service{
		store:    opts.Store,
		families: opts.Families,
		audit:    opts.Audit,
		hasher:   NewHasher(opts.Argon2),
		policy:   passwordPolicy{minLength: cmp.Or(opts.MinPasswordLength, 8), common: common},
		now:      opts.Now,
		log:      opts.Logger,
		hashWait: cmp.Or(opts.MaxHashWait, DefaultHashWait),

		observeWait: opts.ObserveHashWait,
	}
	if p := s.hasher.Params(); p.Iterations > defaultVerifyLimits.argon2Iterations || p.MemoryKiB > defaultVerifyLimits.argon2MemoryKiB {
		return nil, fmt.Errorf("users: argon2 parameters %s exceed the verifiable maximum m=%d,t=%d",
			p, defaultVerifyLimits.argon2MemoryKiB, defaultVerifyLimits.argon2Iterations)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.hashing = newHashPool(cmp.Or(opts.MaxConcurrentHashes, DefaultConcurrentHashes()), s.hasher.Params().MemoryKiB, s.log)
	s.dummyHash, err = s.hasher.Hash(rand.Text())
	if err != nil {
		return nil, fmt.Errorf("users: dummy hash: %w", err)
	}
	return s, nil
}

// Hasher returns the service's password hasher.
func (s *Service) Hasher() *Hasher { return s.hasher }

// Registration is the body of POST register/.
type Registration struct {
	Name, Email, Password string
}

// ValidateRegistration checks r as the tutorial's serializer would (name,
// email, password; whitespace trimmed) plus idp's password policy, without
// I/O. It returns nil when r is valid.
func (s *Service) ValidateRegistration(r Registration) *ValidationError {
	return s.validateRegistration(r).orNil()
}

func (ve *ValidationError) orNil() *ValidationError {
	if ve.Empty() {
		return nil
	}
	return ve
}

func (s *Service) validateRegistration(r Registration) *ValidationError {
	ve := &ValidationError{}
	email := Strip(r.Email)
	for _, m := range checkName(Strip(r.Name), false) {
		ve.Add(FieldName, m)
	}
	for _, m := range checkEmail(email) {
		ve.Add(FieldEmail, m)
	}
	for _, m := range s.checkPassword(Strip(r.Password), email) {
		ve.Add(FieldPassword, m)
	}
	return ve
}

// ValidatePassword applies the password field's rules (blank, length,
// null characters) and the policy to password, trimmed, for a user with
// that email (used by the similarity check; may be empty). It returns nil
// when the password is acceptable.
func (s *Service) ValidatePassword(password, email string) *ValidationError {
	ve := &ValidationError{}
	for _, m := range s.checkPassword(Strip(password), Strip(email)) {
		ve.Add(FieldPassword, m)
	}
	return ve.orNil()
}

// checkName is DRF's CharField(max_length=100) on a trimmed value;
// allowBlank for the CLI, where Django's create_user does not require it.
func checkName(name string, allowBlank bool) []string {
	if name == "" {
		if allowBlank {
			return nil
		}
		return []string{MsgBlank}
	}
	var msgs []string
	if utf8.RuneCountInString(name) > maxNameLength {
		msgs = append(msgs, MsgMaxLength100)
	}
	if hasNull(name) {
		msgs = append(msgs, MsgNullCharacter)
	}
	return msgs
}

// checkEmail is DRF's EmailField(max_length=100) on a trimmed value: its
// validators run in order and all their messages are reported.
func checkEmail(email string) []string {
	if email == "" {
		return []string{MsgBlank}
	}
	var msgs []string
	if utf8.RuneCountInString(email) > maxEmailFieldLen {
		msgs = append(msgs, MsgMaxLength100)
	}
	if hasNull(email) {
		msgs = append(msgs, MsgNullCharacter)
	}
	if !validEmail(email) || mixedScriptEmail(email) {
		msgs = append(msgs, MsgInvalidEmail)
	}
	return msgs
}

// mixedScriptEmail: the address's domain mixes scripts in a label (see
// scripts.go).
func mixedScriptEmail(email string) bool {
	at := strings.LastIndexByte(email, '@')
	return at >= 0 && mixedScriptDomain(email[at+1:])
}

// checkPassword is DRF's CharField(max_length=128) on the trimmed
// password, then, if that passed, the policy.
func (s *Service) checkPassword(password, email string) []string {
	if password == "" {
		return []string{MsgBlank}
	}
	var msgs []string
	if utf8.RuneCountInString(password) > maxPasswordLength {
		msgs = append(msgs, MsgMaxLength128)
	}
	if hasNull(password) {
		msgs = append(msgs, MsgNullCharacter)
	}
	if len(msgs) > 0 {
		return msgs
	}
	return s.policy.check(password, email)
}

func hasNull(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

// Register validates r and creates an active, unprivileged user with the
// normalised email. Field problems, a taken email included (in any case,
// and also when a concurrent registration wins the race), come back as a
// *ValidationError; anything else is a storage failure.
func (s *Service) Register(ctx context.Context, r Registration) (storage.User, error) {
	ve := s.validateRegistration(r)
	now := s.now()
	u := storage.User{
		Email:             NormalizeEmail(Strip(r.Email)),
		Name:              Strip(r.Name),
		IsActive:          true,
		DateJoined:        now,
		PasswordChangedAt: now,
	}
	created, err := s.create(ctx, u, Strip(r.Password), ve)
	if err != nil {
		return storage.User{}, err
	}
	s.log.InfoContext(ctx, "user registered", "user_id", created.ID)
	return created, nil
}

// create finishes ve with the uniqueness check (a read, which spares a
// hash for an obvious duplicate), hashes the password and inserts u. The
// unique index decides races: ErrConflict is the same field error.
func (s *Service) create(ctx context.Context, u storage.User, password string, ve *ValidationError) (storage.User, error) {
	if !ve.Has(FieldEmail) {
		_, err := s.store.GetUserByEmail(ctx, u.Email)
		switch {
		case err == nil:
			ve.Add(FieldEmail, MsgEmailTaken)
		case !errors.Is(err, storage.ErrNotFound):
			return storage.User{}, fmt.Errorf("create user: %w", err)
		}
	}
	if !ve.Empty() {
		return storage.User{}, sortFields(ve)
	}
	hash, err := s.hash(ctx, password, prioOther)
	if err != nil {
		return storage.User{}, err
	}
	u.PasswordHash = hash
	created, err := s.store.CreateUser(ctx, u)
	if errors.Is(err, storage.ErrConflict) {
		taken := &ValidationError{}
		taken.Add(FieldEmail, MsgEmailTaken)
		return storage.User{}, taken
	}
	if err != nil {
		return storage.User{}, fmt.Errorf("create user: %w", err)
	}
	return created, nil
}

// sortFields puts ve's fields in the contract's order name, email,
// password (the uniqueness check may add email after password).
func sortFields(ve *ValidationError) *ValidationError {
	out := &ValidationError{}
	for _, f := range []string{FieldName, FieldEmail, FieldPassword} {
		for _, m := range ve.Messages(f) {
			out.Add(f, m)
		}
	}
	for _, f := range ve.Fields {
		if f.Field != FieldName && f.Field != FieldEmail && f.Field != FieldPassword {
			for _, m := range f.Messages {
				out.Add(f.Field, m)
			}
		}
	}
	return out
}

// onHashWorker runs fn on a hashing worker at prio (logins before other
// hashes), waiting at most hashWait for one: past it ErrBusy, or ctx's
// error if ctx ended.
func (s *Service) onHashWorker(ctx context.Context, prio int, fn func(*argon2.Memory)) error {
	waited, err := s.hashing.do(ctx, prio, s.hashWait, fn)
	if s.observeWait != nil {
		s.observeWait(waited)
	}
	if errors.Is(err, errPoolBusy) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return ErrBusy
	}
	return err
}

// HashWorkers is the number of hashing workers (MaxConcurrentHashes).
func (s *Service) HashWorkers() int { return s.hashing.size }

// HashQueueDepth is how many password hashes and verifications are
// waiting for a hashing worker right now.
func (s *Service) HashQueueDepth() int { return s.hashing.queued() }

// hash computes a new argon2id hash on a hashing worker at prio.
func (s *Service) hash(ctx context.Context, password string, prio int) (string, error) {
	var hash string
	var herr error
	if err := s.onHashWorker(ctx, prio, func(mem *argon2.Memory) { hash, herr = s.hasher.hash(mem, password) }); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hash, herr
}

// verify checks password against encoded on a hashing worker. A hash of no
// known format (an unusable password, say) costs a verification of the
// dummy hash, so that it cannot be told apart by time.
func (s *Service) verify(ctx context.Context, encoded, password string) (ok, needsRehash bool, err error) {
	err = s.onHashWorker(ctx, prioLogin, func(mem *argon2.Memory) {
		if !recognizes(encoded) {
			s.hasher.verify(mem, s.dummyHash, password)
			return
		}
		ok, needsRehash = s.hasher.verify(mem, encoded, password)
		if isWeakHash(encoded) {
			// A fast legacy hash would otherwise tell by time that the
			// account still has one.
			s.hasher.verify(mem, s.dummyHash, password)
		}
	})
	if err != nil {
		return false, false, fmt.Errorf("verify password: %w", err)
	}
	return ok, needsRehash, nil
}

// NewUser is an account created by an operator (the CLI). Nil flags take
// the defaults of CreateUser or CreateSuperuser.
type NewUser struct {
	Email, Name, Password                   string
	IsActive, IsStaff, IsSuperuser, IsAdmin *bool
}

// CreateUser is Django's create_user: the email is required
// (ErrEmailRequired) and normalised; name, email and password are checked
// like a registration's (the name may be blank) and the password policy
// applies, so operators cannot create weak passwords either. Flags
// default to active and unprivileged.
func (s *Service) CreateUser(ctx context.Context, nu NewUser) (storage.User, error) {
	email := Strip(nu.Email)
	if email == "" {
		return storage.User{}, ErrEmailRequired
	}
	ve := &ValidationError{}
	name := Strip(nu.Name)
	for _, m := range checkName(name, true) {
		ve.Add(FieldName, m)
	}
	for _, m := range checkEmail(email) {
		ve.Add(FieldEmail, m)
	}
	for _, m := range s.checkPassword(Strip(nu.Password), email) {
		ve.Add(FieldPassword, m)
	}
	now := s.now()
	u := storage.User{
		Email:             NormalizeEmail(email),
		Name:              name,
		IsActive:          flag(nu.IsActive, true),
		IsStaff:           flag(nu.IsStaff, false),
		IsSuperuser:       flag(nu.IsSuperuser, false),
		IsAdmin:           flag(nu.IsAdmin, false),
		DateJoined:        now,
		PasswordChangedAt: now,
	}
	created, err := s.create(ctx, u, Strip(nu.Password), ve)
	if err != nil {
		return storage.User{}, err
	}
	s.log.InfoContext(ctx, "user created", "user_id", created.ID,
		"is_staff", created.IsStaff, "is_superuser", created.IsSuperuser, "is_admin", created.IsAdmin)
	return created, nil
}

// CreateSuperuser is Django's create_superuser: staff, superuser and
// active default to true, and an explicit false staff or superuser flag is
// an error (ErrSuperuserMustBeStaff, ErrSuperuserMustBeSuperuser).
func (s *Service) CreateSuperuser(ctx context.Context, nu NewUser) (storage.User, error) {
	nu.IsStaff = defaultFlag(nu.IsStaff, true)
	nu.IsSuperuser = defaultFlag(nu.IsSuperuser, true)
	nu.IsActive = defaultFlag(nu.IsActive, true)
	if !*nu.IsStaff {
		return storage.User{}, ErrSuperuserMustBeStaff
	}
	if !*nu.IsSuperuser {
		return storage.User{}, ErrSuperuserMustBeSuperuser
	}
	return s.CreateUser(ctx, nu)
}

func flag(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func defaultFlag(p *bool, def bool) *bool {
	if p == nil {
		return &def
	}
	return p
}

// Authenticate checks an email and password (trimmed, as DRF does) and
// returns the user, recording the login time. Unknown email, wrong
// password and inactive user all give ErrInvalidCredentials after the same
// hashing work. A hash in an outdated format or with other parameters is
// replaced by a fresh argon2id hash (without touching PasswordChangedAt).
// Storage failures are returned wrapped.
func (s *Service) Authenticate(ctx context.Context, email, password string) (storage.User, error) {
	password = Strip(password)
	u, err := s.store.GetUserByEmail(ctx, Strip(email))
	if errors.Is(err, storage.ErrNotFound) {
		if _, _, err := s.verify(ctx, s.dummyHash, password); err != nil {
			return storage.User{}, err
		}
		return storage.User{}, ErrInvalidCredentials
	}
	if err != nil {
		return storage.User{}, fmt.Errorf("authenticate: %w", err)
	}
	// The password first, is_active after: the same work either way.
	ok, needsRehash, err := s.verify(ctx, u.PasswordHash, password)
	if err != nil {
		return storage.User{}, err
	}
	if !ok || !u.IsActive {
		return storage.User{}, ErrInvalidCredentials
	}
	now := s.now()
	if err := s.store.SetLastLogin(ctx, u.ID, now); err != nil {
		if errors.Is(err, storage.ErrNotFound) { // deleted meanwhile
			return storage.User{}, ErrInvalidCredentials
		}
		return storage.User{}, fmt.Errorf("authenticate: record login: %w", err)
	}
	u.LastLogin = now
	if needsRehash {
		if hash, ok := s.rehash(ctx, u, password); ok {
			u.PasswordHash = hash
		}
	}
	return u, nil
}

// rehash upgrades u's hash after a successful login. It is best-effort:
// a failure is logged and the login stands.
func (s *Service) rehash(ctx context.Context, u storage.User, password string) (string, bool) {
	hash, err := s.hash(ctx, password, prioLogin)
	if err != nil {
		s.log.WarnContext(ctx, "password rehash failed", "user_id", u.ID, "err", err)
		return "", false
	}
	// Conditional on the hash just verified: an administrator's concurrent
	// password change is never undone.
	err = s.store.SwapPasswordHash(ctx, u.ID, u.PasswordHash, hash)
	if errors.Is(err, storage.ErrNotFound) {
		s.log.InfoContext(ctx, "password rehash skipped: password changed meanwhile", "user_id", u.ID)
		return "", false
	}
	if err != nil {
		s.log.WarnContext(ctx, "password rehash failed", "user_id", u.ID, "err", err)
		return "", false
	}
	s.log.InfoContext(ctx, "password rehashed", "user_id", u.ID, "params", s.hasher.Params().String())
	// Audited: for an imported account this is the moment its Django hash
	// (perhaps a weak one) leaves the store.
	s.event(ctx, s.now(), "password.rehashed", u.ID,
		fmt.Sprintf("%s -> argon2id (%s)", hashFormatName(u.PasswordHash), s.hasher.Params()))
	return hash, true
}

// Find returns the user with that email (case-insensitively), or a
// wrapped storage.ErrNotFound.
func (s *Service) Find(ctx context.Context, email string) (storage.User, error) {
	u, err := s.store.GetUserByEmail(ctx, NormalizeEmail(email))
	if err != nil {
		return storage.User{}, fmt.Errorf("find user %q: %w", email, err)
	}
	return u, nil
}

// Get returns the user with that id (storage.ErrNotFound, wrapped, if
// none).
func (s *Service) Get(ctx context.Context, id int64) (storage.User, error) {
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return storage.User{}, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

// List returns up to limit users with id > afterID, by id.
func (s *Service) List(ctx context.Context, afterID int64, limit int) ([]storage.User, error) {
	us, err := s.store.ListUsers(ctx, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// SetPassword sets a new password (trimmed) after the password rules and
// policy (a *ValidationError on "password"), records PasswordChangedAt
// and, with Options.Families, revokes the user's sessions.
func (s *Service) SetPassword(ctx context.Context, id int64, password string) error {
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	password = Strip(password)
	if ve := s.ValidatePassword(password, u.Email); ve != nil {
		return ve
	}
	hash, err := s.hash(ctx, password, prioOther)
	if err != nil {
		return err
	}
	now := s.now()
	if err := s.store.SetPasswordHash(ctx, id, hash, now); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	s.event(ctx, now, "password.changed", id, "")
	return s.revokeSessions(ctx, id, now, "password_changed")
}

// SetActive activates or deactivates the user; deactivating revokes its
// sessions when Options.Families is set.
func (s *Service) SetActive(ctx context.Context, id int64, active bool) error {
	if err := s.store.SetUserActive(ctx, id, active); err != nil {
		return fmt.Errorf("set user active: %w", err)
	}
	typ := "user.deactivated"
	if active {
		typ = "user.activated"
	}
	s.event(ctx, s.now(), typ, id, "")
	if active {
		return nil
	}
	return s.revokeSessions(ctx, id, s.now(), "user_deactivated")
}

// Delete removes the user (its refresh families go with it, by cascade).
func (s *Service) Delete(ctx context.Context, id int64) error {
	if err := s.store.DeleteUser(ctx, id); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	s.event(ctx, s.now(), "user.deleted", id, "its sessions deleted with it")
	return nil
}

// event logs an account event and records it in the audit log.
func (s *Service) event(ctx context.Context, at time.Time, typ string, userID int64, detail string) {
	s.log.InfoContext(ctx, "audit", "event", typ, "user_id", userID, "detail", detail)
	if s.audit == nil {
		return
	}
	if err := s.audit.RecordAudit(ctx, storage.AuditEvent{At: at, Type: typ, UserID: userID, Detail: detail}); err != nil {
		s.log.ErrorContext(ctx, "record audit event", "event", typ, "err", err)
	}
}

func (s *Service) revokeSessions(ctx context.Context, id int64, at time.Time, reason string) error {
	if s.families == nil {
		return nil
	}
	n, err := s.families.RevokeUserFamilies(ctx, id, at, reason)
	if err != nil {
		return fmt.Errorf("revoke sessions of user %d: %w", id, err)
	}
	if n > 0 {
		s.event(ctx, at, "family.revoked", id, fmt.Sprintf("%s (%d sessions)", reason, n))
	}
	return nil
}
