package sqlstore

import (
	"strconv"
	"strings"
)

// The user import (storage.UserImport) stages users into the temporary
// table user_import, whose columns are those of users; each backend creates
// it with its own column types (UserImportColumns in this order).
const UserImportColumns = `id, email, email_key, name, password_hash, is_active, is_staff, is_superuser, is_admin,
	date_joined, last_login, password_changed_at`

// UserImportIndexes run after staging, before the clash queries.
var UserImportIndexes = []string{
	`CREATE INDEX user_import_id_idx ON user_import (id)`,
	`CREATE INDEX user_import_email_key_idx ON user_import (email_key)`,
}

// UserImportClashes select (kind, staged id, staged email, staged
// last_login, existing id, existing email) for every clash, by kind and id.
const UserImportClashes = `
SELECT 'duplicate_id', s.id, s.email, s.last_login, 0, ''
  FROM user_import s WHERE s.id IN (SELECT id FROM user_import GROUP BY id HAVING count(*) > 1)
UNION ALL
SELECT 'email_conflict', s.id, s.email, s.last_login, 0, ''
  FROM user_import s WHERE s.email_key IN (SELECT email_key FROM user_import GROUP BY email_key HAVING count(*) > 1)
UNION ALL
SELECT 'id_taken', s.id, s.email, s.last_login, u.id, u.email
  FROM user_import s JOIN users u ON u.id = s.id WHERE u.email_key <> s.email_key
UNION ALL
SELECT 'email_taken', s.id, s.email, s.last_login, u.id, u.email
  FROM user_import s JOIN users u ON u.email_key = s.email_key WHERE u.id <> s.id
ORDER BY 1, 2`

// UserImportDrop deletes staged users by id, in chunks of at most 500 ids
// (integers, so inlining them is safe).
func UserImportDrop(ids []int64) []string {
	var out []string
	for len(ids) > 0 {
		n := min(len(ids), 500)
		parts := make([]string, n)
		for i, id := range ids[:n] {
			parts[i] = strconv.FormatInt(id, 10)
		}
		out = append(out, `DELETE FROM user_import WHERE id IN (`+strings.Join(parts, ",")+`)`)
		ids = ids[n:]
	}
	return out
}

// idpHash matches the hashes an import never overwrites: idp's own
// argon2id, set by a login's rehash or a password change in idp.
const idpHash = `u.password_hash LIKE '$argon2id$%'`

// userImportDiffers: the staged row s would change the stored row u.
const userImportDiffers = `(u.email <> s.email OR u.name <> s.name
	OR u.is_active <> s.is_active OR u.is_staff <> s.is_staff
	OR u.is_superuser <> s.is_superuser OR u.is_admin <> s.is_admin
	OR u.date_joined <> s.date_joined
	OR (u.password_hash <> s.password_hash AND NOT ` + idpHash + `)
	OR (s.last_login IS NOT NULL AND (u.last_login IS NULL OR s.last_login > u.last_login)))`

// UserImportExisting counts staged ids already stored.
const UserImportExisting = `SELECT count(*) FROM user_import s JOIN users u ON u.id = s.id`

// UserImportChanged counts the stored users the staged rows would change.
const UserImportChanged = `SELECT count(*) FROM user_import s JOIN users u ON u.id = s.id WHERE ` + userImportDiffers

// UserImportUpdate applies the changes UserImportChanged counts. A new
// password hash moves password_changed_at (to the staged value, the import
// time), voiding sessions made with the old password.
const UserImportUpdate = `UPDATE users AS u SET
	email = s.email, email_key = s.email_key, name = s.name,
	is_active = s.is_active, is_staff = s.is_staff, is_superuser = s.is_superuser, is_admin = s.is_admin,
	date_joined = s.date_joined,
	password_hash = CASE WHEN ` + idpHash + ` THEN u.password_hash ELSE s.password_hash END,
	password_changed_at = CASE WHEN NOT ` + idpHash + ` AND u.password_hash <> s.password_hash
		THEN s.password_changed_at ELSE u.password_changed_at END,
	last_login = CASE WHEN s.last_login IS NOT NULL AND (u.last_login IS NULL OR s.last_login > u.last_login)
		THEN s.last_login ELSE u.last_login END
FROM user_import AS s WHERE u.id = s.id AND ` + userImportDiffers

// UserImportInsert inserts the staged users whose ids are not stored.
const UserImportInsert = `INSERT INTO users (` + UserImportColumns + `)
SELECT ` + UserImportColumns + ` FROM user_import s
 WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.id)`

// UserImportNew counts what UserImportInsert would insert.
const UserImportNew = `SELECT count(*) FROM user_import s WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.id)`
