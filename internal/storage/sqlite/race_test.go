//go:build race

package sqlite_test

// raceDetector reports a -race build.
const raceDetector = true
