package users

// ImportedAccount is an account brought over from another system (the
// Django app) with its email and name as that system stored them.
type ImportedAccount struct {
	Email, Name string
}

// CheckImported applies registration's rules to an imported account:
// the email is stripped, checked and normalised exactly as Register and
// CreateUser do (the same functions, so that a change to them changes
// imports too); the name is stripped and checked like CreateUser's (blank
// allowed, at most 100 characters, no NUL). It returns the account as idp
// would store it and, if it cannot be stored, the problems by field
// (FieldEmail, FieldName), nil otherwise.
func CheckImported(a ImportedAccount) (ImportedAccount, *ValidationError) {
	ve := &ValidationError{}
	email, name := Strip(a.Email), Strip(a.Name)
	for _, m := range checkName(name, true) {
		ve.Add(FieldName, m)
	}
	for _, m := range checkEmail(email) {
		ve.Add(FieldEmail, m)
	}
	return ImportedAccount{Email: NormalizeEmail(email), Name: name}, ve.orNil()
}
