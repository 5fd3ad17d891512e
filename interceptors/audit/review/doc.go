// Package review builds access reviews from the audit log: per role and
// per principal, the permissions granted but never used in a window
// (candidates for removal), roles never exercised, denied attempts
// grouped by principal and method (probing, or a missing grant), methods
// never called, and API keys never used. Review is a pure function over
// the records; readers come from package audit (files) and package
// audit/postgres. RunReview is the `portcullis audit review` command.
package review
